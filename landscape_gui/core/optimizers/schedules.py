"""Learning-rate schedules with torch.optim.lr_scheduler's names, arguments, defaults and arithmetic.

A schedule is written as text beside the optimizer's own call::

    CosineAnnealingLR(T_max=300, eta_min=1e-5)
    SequentialLR([LinearLR(start_factor=0.1, total_iters=20), CosineAnnealingLR(T_max=280)], milestones=[20])
    OneCycleLR(max_lr=0.1)                  # total_steps: the run's steps when left out
    LambdaLR(0.95^t)                        # a formula of t in the formula language, never eval

and read through a Python ``ast`` whitelist (calls of the schedulers below, numbers, strings,
True/False/None, lists). Each scheduler here is a port of torch's class (torch 2.13) that steps a
plain parameter-group dict exactly as torch steps ``optimizer.param_groups[0]``: the recursive
("chainable") form where torch uses it, the same floating-point expressions in the same order, so
the rates are bit-equal to torch's (tested against recorded fixtures). One scheduler step per
optimizer step: the rate of step t is the group's lr after t - 1 scheduler steps.

``ReduceLROnPlateau`` depends on the loss: its rule runs inside the trajectory kernel (the loss at
each step is its metric); ``Schedule.rates(..., losses=...)`` replays it afterwards.

Arguments torch leaves unchecked (``T_max=-3`` divides by a negative period) are refused here with
the argument at fault, so a schedule that cannot be built is never run at a constant rate.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

MAX_TEXT = 2000


class ScheduleError(ValueError):
    """A schedule that cannot be built; ``position`` is the 0-based offset in the text (or None)."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position


# --- argument checks ------------------------------------------------------------------------------

_REQUIRED = object()


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def pos_int(v):
    return (_num(v) and float(v) == int(v) and v > 0, "must be a positive integer")


def nonneg_int(v):
    return (_num(v) and float(v) == int(v) and v >= 0, "must be a whole number >= 0")


def nonneg(v):
    return (_num(v) and v >= 0, "must be a number >= 0")


def positive(v):
    return (_num(v) and v > 0, "must be a number > 0")


def number(v):
    return (_num(v), "must be a finite number")


def unit(v):
    return (_num(v) and 0 <= v <= 1, "must be a number in [0, 1]")


def unit_open_low(v):
    return (_num(v) and 0 < v <= 1, "must be a number in (0, 1]")


def factor_below_one(v):
    return (_num(v) and 0 <= v < 1, "must be a number in [0, 1)")


def boolean(v):
    return (isinstance(v, bool), "must be True or False")


def one_of(*choices):
    def check(v):
        return (v in choices, "must be one of " + ", ".join(repr(c) for c in choices))
    return check


def optional(check):
    def inner(v):
        return (True, "") if v is None else check(v)
    return inner


def int_list(v):
    ok = isinstance(v, list) and all(_num(e) and float(e) == int(e) and e >= 0 for e in v)
    return (ok, "must be a list of whole numbers >= 0, e.g. [100, 200]")


def increasing_int_list(v):
    ok, why = int_list(v)
    if ok and any(b <= a for a, b in zip(v, v[1:])):
        return False, "must increase, e.g. [100, 200]"
    return ok, why


def schedulers_list(v):
    return (isinstance(v, list) and len(v) >= 1 and all(isinstance(e, _Node) for e in v),
            "must be a list of schedulers, e.g. [LinearLR(total_iters=10), CosineAnnealingLR(T_max=90)]")


def formula(v):
    return (isinstance(v, _Formula), "must be a formula of t, e.g. 0.95^t")


#: name -> [(argument, default or _REQUIRED, check)], in torch's positional order (after the optimizer)
SCHEDULERS: dict[str, list] = {
    "LambdaLR": [("lr_lambda", _REQUIRED, formula)],
    "MultiplicativeLR": [("lr_lambda", _REQUIRED, formula)],
    "StepLR": [("step_size", _REQUIRED, pos_int), ("gamma", 0.1, nonneg)],
    "MultiStepLR": [("milestones", _REQUIRED, increasing_int_list), ("gamma", 0.1, nonneg)],
    "ConstantLR": [("factor", 1.0 / 3, unit), ("total_iters", 5, nonneg_int)],
    "LinearLR": [("start_factor", 1.0 / 3, unit_open_low), ("end_factor", 1.0, unit),
                 ("total_iters", 5, pos_int)],
    "ExponentialLR": [("gamma", _REQUIRED, nonneg)],
    "SequentialLR": [("schedulers", _REQUIRED, schedulers_list), ("milestones", _REQUIRED, increasing_int_list)],
    "PolynomialLR": [("total_iters", 5, pos_int), ("power", 1.0, nonneg)],
    "CosineAnnealingLR": [("T_max", _REQUIRED, pos_int), ("eta_min", 0.0, nonneg)],
    "ChainedScheduler": [("schedulers", _REQUIRED, schedulers_list)],
    "ReduceLROnPlateau": [("mode", "min", one_of("min", "max")), ("factor", 0.1, factor_below_one),
                          ("patience", 10, nonneg_int), ("threshold", 1e-4, nonneg),
                          ("threshold_mode", "rel", one_of("rel", "abs")), ("cooldown", 0, nonneg_int),
                          ("min_lr", 0.0, nonneg), ("eps", 1e-8, nonneg)],
    "CyclicLR": [("base_lr", None, optional(nonneg)), ("max_lr", _REQUIRED, nonneg),
                 ("step_size_up", 2000, pos_int), ("step_size_down", None, optional(pos_int)),
                 ("mode", "triangular", one_of("triangular", "triangular2", "exp_range")),
                 ("gamma", 1.0, nonneg), ("scale_fn", None, one_of(None)),
                 ("scale_mode", "cycle", one_of("cycle", "iterations")), ("cycle_momentum", True, boolean),
                 ("base_momentum", 0.8, factor_below_one), ("max_momentum", 0.9, factor_below_one)],
    "CosineAnnealingWarmRestarts": [("T_0", _REQUIRED, pos_int), ("T_mult", 1, pos_int), ("eta_min", 0.0, nonneg)],
    "OneCycleLR": [("max_lr", _REQUIRED, positive), ("total_steps", None, optional(pos_int)),
                   ("epochs", None, optional(pos_int)), ("steps_per_epoch", None, optional(pos_int)),
                   ("pct_start", 0.3, unit), ("anneal_strategy", "cos", one_of("cos", "linear")),
                   ("cycle_momentum", True, boolean), ("base_momentum", 0.85, factor_below_one),
                   ("max_momentum", 0.95, factor_below_one), ("div_factor", 25.0, positive),
                   ("final_div_factor", 1e4, positive), ("three_phase", False, boolean)],
}

#: one line each, for tooltips and completion
SUMMARIES = {
    "StepLR": "multiply by gamma every step_size steps",
    "MultiStepLR": "multiply by gamma at each milestone",
    "ExponentialLR": "multiply by gamma every step",
    "CosineAnnealingLR": "cosine from lr down to eta_min over T_max steps",
    "CosineAnnealingWarmRestarts": "cosine over T_0 steps, then restart (periods x T_mult)",
    "OneCycleLR": "warm up to max_lr, then anneal far below; momentum cycles the other way",
    "CyclicLR": "triangle waves between base_lr and max_lr; momentum cycles the other way",
    "LinearLR": "linear ramp of the factor from start_factor to end_factor (warmup)",
    "ConstantLR": "lr x factor for total_iters steps, then lr",
    "PolynomialLR": "polynomial decay to 0 over total_iters steps",
    "SequentialLR": "one scheduler after another, switching at the milestones",
    "ChainedScheduler": "every scheduler's factor at once",
    "ReduceLROnPlateau": "lr x factor when the loss stops improving for patience steps",
    "LambdaLR": "lr x a formula of the step t, e.g. LambdaLR(0.95^t)",
    "MultiplicativeLR": "lr multiplied by a formula of t at every step",
}

_COMPOSITE = {"SequentialLR", "ChainedScheduler"}
_INT_KEYS = {"step_size", "total_iters", "T_max", "T_0", "T_mult", "patience", "cooldown", "total_steps", "epochs",
             "steps_per_epoch", "step_size_up", "step_size_down"}


@dataclass
class _Formula:
    text: str
    fn: object = field(repr=False)


@dataclass
class _Node:
    name: str
    args: dict
    position: int


@dataclass(frozen=True)
class PlateauRule:
    """ReduceLROnPlateau's settings (the kernel's ``ctl`` vector packs them)."""

    mode: str
    factor: float
    patience: int
    threshold: float
    threshold_mode: str
    cooldown: int
    min_lr: float
    eps: float


# --- parsing --------------------------------------------------------------------------------------


def parse_schedule(text: str) -> Schedule:
    """Read a schedule's text; ``ScheduleError`` (with a position) names what is wrong."""
    if isinstance(text, str) and len(text) <= MAX_TEXT:
        return _parse_cached(text)
    return _parse(text)


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> Schedule:
    return _parse(text)


def _parse(text) -> Schedule:
    if not isinstance(text, str):
        raise ScheduleError("a schedule must be text, e.g. CosineAnnealingLR(T_max=300)", None)
    if len(text) > MAX_TEXT:
        raise ScheduleError(f"the schedule is too long ({len(text)} characters; limit {MAX_TEXT})", MAX_TEXT)
    if not text.strip():
        raise ScheduleError("the schedule is empty", 0)
    lead = len(text) - len(text.lstrip())
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = max(0, (exc.offset or 1) - 1)
        raise ScheduleError(f"syntax error at {lead + col}: write e.g. StepLR(step_size=100, gamma=0.5)",
                            lead + col) from None
    except (RecursionError, MemoryError, ValueError):
        raise ScheduleError("the schedule is nested too deeply", 0) from None
    node = _Reader(text, lead).scheduler(tree.body)
    return Schedule(text.strip(), node)


class _Reader:
    def __init__(self, text: str, lead: int):
        self.text, self.lead = text, lead

    def pos(self, node) -> int:
        return self.lead + getattr(node, "col_offset", 0)

    def fail(self, node, message):
        raise ScheduleError(f"{message} (at {self.pos(node)})", self.pos(node))

    def scheduler(self, node) -> _Node:
        if isinstance(node, ast.Name):   # "CosineAnnealingWarmRestarts" alone: all defaults
            node = ast.Call(func=node, args=[], keywords=[], col_offset=node.col_offset)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            self.fail(node, "write a scheduler call, e.g. CosineAnnealingLR(T_max=300)")
        name = node.func.id
        if name not in SCHEDULERS:
            lower = {n.lower(): n for n in SCHEDULERS}
            if name.lower() in lower:
                name = lower[name.lower()]
            else:
                hint = difflib.get_close_matches(name, list(SCHEDULERS), n=1, cutoff=0.5)
                extra = f" — did you mean {hint[0]}?" if hint else f" (choose from {', '.join(SCHEDULERS)})"
                self.fail(node, f"unknown scheduler '{name}'{extra}")
        spec = SCHEDULERS[name]
        names = [a for a, _, _ in spec]
        given: dict = {}
        if len(node.args) > len(spec):
            self.fail(node, f"{name}: takes at most {len(spec)} arguments by position ({', '.join(names)})")
        for k, a in enumerate(node.args):
            given[names[k]] = (self.value(a, name, names[k]), a)
        for kw in node.keywords:
            if kw.arg is None:
                self.fail(kw.value, f"{name}: '**' is not allowed")
            key = kw.arg
            if key not in names:
                if key in ("optimizer", "last_epoch", "verbose"):
                    self.fail(kw.value, f"{name}: {key} is set by the run, leave it out")
                hint = difflib.get_close_matches(key, names, n=1)
                extra = f" — did you mean '{hint[0]}'?" if hint else f" (it takes {', '.join(names)})"
                self.fail(kw.value, f"{name}: unknown argument '{key}'{extra}")
            if key in given:
                self.fail(kw.value, f"{name}: {key} is given twice")
            given[key] = (self.value(kw.value, name, key), kw.value)
        args = {}
        for key, default, check in spec:
            if key in given:
                value, at = given[key]
                ok, why = check(value)
                if not ok:
                    shown = value.text if isinstance(value, _Formula) else _show(value)
                    self.fail(at, f"{name}: {key} {why}, got {shown}")
                args[key] = int(value) if key in _INT_KEYS and _num(value) else value
                if key == "milestones":
                    args[key] = [int(e) for e in value]
            elif default is _REQUIRED:
                self.fail(node, f"{name}: {key} is required, e.g. {name}({_example(name)})")
            else:
                args[key] = default
        self.check_together(name, args, node)
        return _Node(name, args, self.pos(node))

    def check_together(self, name, args, node):
        if name in _COMPOSITE:
            for child in args["schedulers"]:
                if child.name == "ReduceLROnPlateau":
                    self.fail(node, f"{name} does not support ReduceLROnPlateau (it needs the loss at "
                                    "each step): use it alone")
        if name == "SequentialLR" and len(args["milestones"]) != len(args["schedulers"]) - 1:
            self.fail(node, f"SequentialLR: {len(args['schedulers'])} schedulers need "
                            f"{len(args['schedulers']) - 1} milestones, got {len(args['milestones'])}")
        if name == "OneCycleLR" and args["total_steps"] is None and (args["epochs"] is None) != (
                args["steps_per_epoch"] is None):
            self.fail(node, "OneCycleLR: give total_steps, or both epochs and steps_per_epoch "
                            "(or neither: the run's steps)")
        if name == "ReduceLROnPlateau" and args["mode"] == "min" and args["threshold_mode"] == "rel" \
                and args["threshold"] >= 1:
            self.fail(node, "ReduceLROnPlateau: threshold must be < 1 with mode='min', threshold_mode='rel'")

    def value(self, node, name, key):
        if isinstance(node, ast.Call):
            if key == "lr_lambda":
                return self.formula(node)
            return self.scheduler(node)
        if key == "lr_lambda" and not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            return self.formula(node)
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float, str))):
            if isinstance(node.value, str) and key == "lr_lambda":
                return self.formula_text(node.value, node)
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.value(node.operand, name, key)
            if _num(v):
                return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(e, name, key) for e in node.elts]
        if isinstance(node, ast.Name) and node.id in SCHEDULERS:
            return self.scheduler(node)
        if isinstance(node, ast.BinOp) and key != "lr_lambda":
            try:   # 1/3, 1e-3*2: constant arithmetic only
                v = _constant(node)
                if v is not None:
                    return v
            except (ArithmeticError, ValueError):
                pass
        self.fail(node, f"{name}: {key} must be a number, True/False, a word in quotes or a list")

    def formula(self, node):
        if isinstance(node, ast.Lambda) and len(node.args.args) == 1 and not node.args.vararg:
            word = node.args.args[0].arg    # lambda epoch: 0.95 ** epoch  ->  0.95^t
            seg = ast.get_source_segment(self.text.strip(), node.body)
            if word != "t":
                import re

                seg = re.sub(rf"\b{re.escape(word)}\b", "t", seg)
            return self.formula_text(seg, node.body)
        seg = ast.get_source_segment(self.text.strip(), node)
        return self.formula_text(seg, node)

    def formula_text(self, text, node):
        from ..formula.expression import ExpressionError, parse_expression

        try:
            parsed = parse_expression(text)
        except ExpressionError as exc:
            at = self.pos(node) + (exc.position or 0)
            raise ScheduleError(f"lr_lambda: {exc.message}", at) from None
        extra = [p for p in parsed.parameters if p != "t"]
        if extra or parsed.expr.has(*_xy()):
            bad = extra[0] if extra else "x/y"
            self.fail(node, f"lr_lambda: a formula of t only (the step), found '{bad}'")
        import sympy as sp

        t = sp.Symbol("t")
        fn = sp.lambdify(t, parsed.expr, modules="math")
        return _Formula(text, fn)


def _xy():
    from ..formula.expression import X, Y

    return X, Y


def _constant(node):
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}
    if isinstance(node, ast.Constant) and _num(node.value):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _constant(node.operand)
        return None if v is None else -v
    if isinstance(node, ast.BinOp) and type(node.op) in ops:
        a, b = _constant(node.left), _constant(node.right)
        if a is None or b is None or (isinstance(node.op, ast.Pow) and abs(b) > 1000):
            return None
        v = ops[type(node.op)](a, b)
        return v if _num(v) else None
    return None


def _show(v):
    if isinstance(v, _Node):
        return v.name + "(...)"
    if isinstance(v, list):
        return "[" + ", ".join(_show(e) for e in v) + "]"
    return repr(v)


def _example(name):
    return {"StepLR": "step_size=100", "MultiStepLR": "milestones=[100, 200]", "ExponentialLR": "gamma=0.99",
            "CosineAnnealingLR": "T_max=300", "CosineAnnealingWarmRestarts": "T_0=100",
            "OneCycleLR": "max_lr=0.1", "CyclicLR": "base_lr=0.001, max_lr=0.1",
            "SequentialLR": "[LinearLR(total_iters=10), CosineAnnealingLR(T_max=90)], milestones=[10]",
            "ChainedScheduler": "[LinearLR(total_iters=10), ExponentialLR(gamma=0.99)]",
            "LambdaLR": "0.95^t", "MultiplicativeLR": "0.99"}.get(name, "")


# --- the schedulers, as torch steps them -----------------------------------------------------------


class _Optimizer:
    """What a scheduler sees of an optimizer: one parameter group and the defaults' keys."""

    def __init__(self, lr: float, momentum_key: str | None, momentum: float | None):
        self.group = {"lr": lr}
        self.defaults = set()
        if momentum_key == "betas":
            self.group["betas"] = (momentum, 0.999)
            self.defaults.add("betas")
        elif momentum_key == "momentum":
            self.group["momentum"] = momentum
            self.defaults.add("momentum")

    def momentum(self):
        if "betas" in self.group:
            return self.group["betas"][0]
        return self.group.get("momentum", math.nan)


class _LR:
    _is_initial = False

    def __init__(self, opt: _Optimizer):
        self.opt = opt
        opt.group.setdefault("initial_lr", opt.group["lr"])
        self.base_lr = opt.group["initial_lr"]
        self.last_epoch = -1
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def step(self):
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            value = self.get_lr()
        else:
            self.last_epoch = epoch
            value = self._closed() if hasattr(self, "_closed") else self.get_lr()
        self.opt.group["lr"] = value

    @property
    def lr(self):
        return self.opt.group["lr"]


class LambdaLR(_LR):
    def __init__(self, opt, lr_lambda):
        self.fn = lr_lambda.fn
        super().__init__(opt)

    def get_lr(self):
        return self.base_lr * self.fn(self.last_epoch)


class MultiplicativeLR(_LR):
    def __init__(self, opt, lr_lambda):
        self.fn = lr_lambda.fn
        super().__init__(opt)

    def get_lr(self):
        if not self._is_initial:
            return self.lr * self.fn(self.last_epoch)
        return self.lr


class StepLR(_LR):
    def __init__(self, opt, step_size, gamma):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(opt)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self.lr
        return self.lr * self.gamma

    def _closed(self):
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class MultiStepLR(_LR):
    def __init__(self, opt, milestones, gamma):
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(opt)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self.lr
        return self.lr * self.gamma ** self.milestones[self.last_epoch]

    def _closed(self):
        ms = sorted(self.milestones.elements())
        return self.base_lr * self.gamma ** bisect_right(ms, self.last_epoch)


class ConstantLR(_LR):
    def __init__(self, opt, factor, total_iters):
        self.factor, self.total_iters = factor, total_iters
        super().__init__(opt)

    def get_lr(self):
        if self.last_epoch == 0:
            return self.lr * self.factor
        if self.last_epoch != self.total_iters:
            return self.lr
        return self.lr * (1.0 / self.factor)

    def _closed(self):
        return self.base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))


class LinearLR(_LR):
    def __init__(self, opt, start_factor, end_factor, total_iters):
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(opt)

    def get_lr(self):
        if self.last_epoch == 0:
            return self.lr * self.start_factor
        if self._is_initial or self.last_epoch > self.total_iters:
            return self.lr
        return self.lr * (1.0 + (self.end_factor - self.start_factor) / (
            self.total_iters * self.start_factor + (self.last_epoch - 1) * (self.end_factor - self.start_factor)))

    def _closed(self):
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                               * min(self.total_iters, self.last_epoch) / self.total_iters)


class ExponentialLR(_LR):
    def __init__(self, opt, gamma):
        self.gamma = gamma
        super().__init__(opt)

    def get_lr(self):
        if self._is_initial:
            return self.lr
        return self.lr * self.gamma

    def _closed(self):
        return self.base_lr * self.gamma ** self.last_epoch


class PolynomialLR(_LR):
    def __init__(self, opt, total_iters, power):
        self.total_iters, self.power = total_iters, power
        super().__init__(opt)

    def get_lr(self):
        if self._is_initial or self.last_epoch > self.total_iters:
            return self.lr
        decay = ((1.0 - self.last_epoch / self.total_iters)
                 / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return self.lr * decay

    def _closed(self):
        return self.base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power


class CosineAnnealingLR(_LR):
    def __init__(self, opt, T_max, eta_min):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(opt)

    def get_lr(self):
        if self._is_initial:
            return self.lr
        if self._step_count == 1 and self.last_epoch > 0:
            return self.eta_min + (self.base_lr - self.eta_min) * (
                1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return self.lr + (self.base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
        return ((1 + math.cos(math.pi * self.last_epoch / self.T_max))
                / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max)) * (self.lr - self.eta_min)
                + self.eta_min)

    def _closed(self):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2


class CosineAnnealingWarmRestarts(_LR):
    def __init__(self, opt, T_0, T_mult, eta_min):
        self.T_0 = self.T_i = T_0
        self.T_mult, self.eta_min = T_mult, eta_min
        self.T_cur = -1
        super().__init__(opt)

    def get_lr(self):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2

    def step(self):
        if self.last_epoch < 0:
            epoch = 0
            self.T_i = self.T_0
            self.T_cur = epoch
        else:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        self.last_epoch = math.floor(epoch)
        self.opt.group["lr"] = self.get_lr()


class SequentialLR(_LR):
    def __init__(self, opt, schedulers, milestones):
        self.opt = opt
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch = 0
        opt.group["lr"] = opt.group["initial_lr"]
        self._undo(self)
        idx = bisect_right(milestones, 0)
        schedulers[idx]._initial_step()

    def _undo(self, s):
        if hasattr(s, "_schedulers"):
            for c in s._schedulers:
                self._undo(c)
        elif hasattr(s, "last_epoch"):
            s.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            s._update_lr(0)
        else:
            s.step()


class ChainedScheduler(_LR):
    def __init__(self, opt, schedulers):
        self.opt, self._schedulers = opt, schedulers

    def step(self):
        for s in self._schedulers:
            s.step()


class CyclicLR(_LR):
    def __init__(self, opt, base_lr, max_lr, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode,
                 cycle_momentum, base_momentum, max_momentum):
        base_lr = opt.group["lr"] if base_lr is None else base_lr
        opt.group["lr"] = base_lr
        self.max_lr = max_lr
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode, self.gamma = mode, gamma
        self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            _need_momentum(opt, "CyclicLR")
            self.use_beta1 = "betas" in opt.defaults
            self.base_momentum, self.max_momentum = base_momentum, max_momentum
            _set_momentum(opt, max_momentum)
        super().__init__(opt)
        self.base_lr = base_lr

    def scale_fn(self, x):
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / 2.0 ** (x - 1)
        return self.gamma ** x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        base_height = (self.max_lr - self.base_lr) * scale_factor
        arg = cycle if self.scale_mode == "cycle" else self.last_epoch
        lr = self.base_lr + base_height * self.scale_fn(arg)
        if self.cycle_momentum:
            base_height = (self.max_momentum - self.base_momentum) * scale_factor
            _set_momentum(self.opt, self.max_momentum - base_height * self.scale_fn(arg))
        return lr


class OneCycleLR(_LR):
    def __init__(self, opt, max_lr, total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy,
                 cycle_momentum, base_momentum, max_momentum, div_factor, final_div_factor, three_phase):
        if total_steps is None:
            total_steps = epochs * steps_per_epoch
        self.total_steps = total_steps
        pct_start = float(pct_start)
        if three_phase:
            self.phases = [(float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                            "max_momentum"),
                           (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self.phases = [(float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        self.cos = anneal_strategy == "cos"
        g = opt.group
        g["initial_lr"] = max_lr / div_factor
        g["max_lr"] = max_lr
        g["min_lr"] = g["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            _need_momentum(opt, "OneCycleLR")
            _set_momentum(opt, max_momentum)
            g["max_momentum"], g["base_momentum"] = max_momentum, base_momentum
        super().__init__(opt)

    def anneal(self, start, end, pct):
        if self.cos:
            cos_out = math.cos(math.pi * pct) + 1
            return end + (start - end) / 2.0 * cos_out
        return (end - start) * pct + start

    def get_lr(self):
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ScheduleError(f"OneCycleLR: stepped {step_num} times, but total_steps is {self.total_steps}")
        g = self.opt.group
        start_step = 0.0
        for i, (end_step, s_lr, e_lr, s_m, e_m) in enumerate(self.phases):
            if step_num <= end_step or i == len(self.phases) - 1:
                pct = (step_num - start_step) / (end_step - start_step)
                lr = self.anneal(g[s_lr], g[e_lr], pct)
                if self.cycle_momentum:
                    m = self.anneal(g[s_m], g[e_m], pct)
                break
            start_step = end_step
        if self.cycle_momentum:
            _set_momentum(self.opt, m)
        return lr


def _need_momentum(opt, name):
    if "momentum" not in opt.defaults and "betas" not in opt.defaults:
        raise ScheduleError(f"{name}: this optimizer has no momentum or beta1 to cycle: "
                            "write cycle_momentum=False")


def _set_momentum(opt, m):
    if "betas" in opt.defaults:
        opt.group["betas"] = (m, *opt.group["betas"][1:])
    else:
        opt.group["momentum"] = m


_CLASSES = {c.__name__: c for c in (LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR,
                                    ExponentialLR, SequentialLR, PolynomialLR, CosineAnnealingLR, ChainedScheduler,
                                    CyclicLR, CosineAnnealingWarmRestarts, OneCycleLR)}


# --- the parsed schedule --------------------------------------------------------------------------


@dataclass(eq=False)   # hashed by identity: parse_schedule keeps one object per text
class Schedule:
    """A parsed schedule: ``rates`` gives the learning rate (and the cycled momentum) per step."""

    text: str
    node: _Node

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def plateau(self) -> PlateauRule | None:
        if self.node.name != "ReduceLROnPlateau":
            return None
        a = self.node.args
        return PlateauRule(a["mode"], float(a["factor"]), int(a["patience"]), float(a["threshold"]),
                           a["threshold_mode"], int(a["cooldown"]), float(a["min_lr"]), float(a["eps"]))

    def cycles_momentum(self) -> bool:
        def walk(n):
            if n.name in _COMPOSITE:
                return any(walk(c) for c in n.args["schedulers"])
            return n.name in ("OneCycleLR", "CyclicLR") and bool(n.args["cycle_momentum"])
        return walk(self.node)

    def rates(self, base_lr: float, steps: int, *, momentum_key: str | None = None,
              momentum: float | None = None, losses=None, optimizer: str = "the optimizer"):
        """(lr per step, momentum per step or None) for a run of ``steps`` optimizer steps.

        ``momentum_key`` is ``"momentum"`` or ``"betas"`` when the optimizer has one (torch's
        defaults), ``momentum`` its value. For ReduceLROnPlateau, ``losses[t-1]`` (the loss at step t)
        drives the reductions; without losses the rates are those before any reduction.
        """
        steps = int(steps)
        if self.plateau is not None:
            return plateau_rates(self.plateau, float(base_lr), steps, losses), None
        # a drag re-runs the same schedule every frame: the rates are kept (read-only)
        return _rates_cached(self, float(base_lr), steps, momentum_key,
                             None if momentum is None else float(momentum), optimizer)

    def _rates(self, base_lr, steps, momentum_key, momentum, optimizer):
        opt = _Optimizer(float(base_lr), momentum_key, momentum)
        try:
            sched = self._build(self.node, opt, steps)
            lrs = np.empty(steps)
            mom = np.empty(steps) if self.cycles_momentum() else None
            for t in range(steps):
                if t:
                    sched.step()
                lrs[t] = opt.group["lr"]
                if mom is not None:
                    mom[t] = opt.momentum()
        except ScheduleError as exc:
            if "no momentum" in exc.message:
                exc.message = exc.message.replace("this optimizer", optimizer)
                raise ScheduleError(exc.message, self.node.position) from None
            raise
        except (ArithmeticError, ValueError, TypeError, AttributeError, RecursionError) as exc:
            raise ScheduleError(f"{self.name}: cannot compute the rates ({exc})", self.node.position) from None
        if not np.isfinite(lrs).all() or (lrs < 0).any():
            bad = int(np.flatnonzero(~(np.isfinite(lrs) & (lrs >= 0)))[0])
            raise ScheduleError(f"{self.name}: the rate at step {bad + 1} is {lrs[bad]!r}: "
                                "check the schedule's arguments", self.node.position)
        lrs.flags.writeable = False
        if mom is not None:
            mom.flags.writeable = False
        return lrs, mom

    def _build(self, node: _Node, opt: _Optimizer, steps: int):
        args = dict(node.args)
        if node.name in _COMPOSITE:
            args["schedulers"] = [self._build(c, opt, steps) for c in args["schedulers"]]
        if node.name == "OneCycleLR":
            if args["total_steps"] is None and args["epochs"] is None:
                args["total_steps"] = max(steps, 1)
            total = args["total_steps"] or args["epochs"] * args["steps_per_epoch"]
            if steps > total:
                raise ScheduleError(f"OneCycleLR: total_steps={total} is fewer than the run's {steps} steps "
                                    "(torch stops with 'Tried to step' there)", node.position)
        return _CLASSES[node.name](opt, **args)


@functools.lru_cache(maxsize=256)
def _rates_cached(schedule, base_lr, steps, momentum_key, momentum, optimizer):
    return schedule._rates(base_lr, steps, momentum_key, momentum, optimizer)


def plateau_rates(rule: PlateauRule, base_lr: float, steps: int, losses=None) -> np.ndarray:
    """ReduceLROnPlateau replayed: the lr of each step, given the loss at each step (its metric)."""
    lrs = np.full(steps, base_lr)
    if losses is None:
        return lrs
    lr, best, bad, cool = base_lr, (math.inf if rule.mode == "min" else -math.inf), 0, 0
    for t in range(steps):
        lrs[t] = lr
        if t >= len(losses) or not math.isfinite(losses[t]):
            lrs[t + 1:] = lr
            break
        lr, best, bad, cool = plateau_step(rule, float(losses[t]), lr, best, bad, cool)
    return lrs


def plateau_step(rule: PlateauRule, current, lr, best, bad, cool):
    """One ``ReduceLROnPlateau.step(current)``: returns (lr, best, num_bad_epochs, cooldown_counter)."""
    if _is_better(rule, current, best):
        best, bad = current, 0
    else:
        bad += 1
    if cool > 0:
        cool -= 1
        bad = 0
    if bad > rule.patience:
        new = max(lr * rule.factor, rule.min_lr)
        if lr - new > rule.eps:
            lr = new
        cool, bad = rule.cooldown, 0
    return lr, best, bad, cool


def _is_better(rule, a, best):
    if rule.mode == "min" and rule.threshold_mode == "rel":
        return a < best * (1.0 - rule.threshold)
    if rule.mode == "min":
        return a < best - rule.threshold
    if rule.threshold_mode == "rel":
        return a > best * (rule.threshold + 1.0)
    return a > best + rule.threshold


def schedule_values(text: str, base_lr: float, steps: int, optimizer: str | None = None, *,
                    momentum: float | None = None, losses=None) -> np.ndarray:
    """The learning rate at each of ``steps`` steps (``[t - 1]`` for step t) of ``text`` from ``base_lr``.

    ``optimizer``: its name, for schedules that cycle momentum (OneCycleLR, CyclicLR): without it,
    an optimizer with momentum is assumed.
    """
    sched = parse_schedule(text)
    key = momentum_key(optimizer) if optimizer else "momentum"
    return sched.rates(base_lr, steps, momentum_key=key, momentum=0.0 if momentum is None else momentum,
                       losses=losses, optimizer=optimizer or "the optimizer")[0]


#: optimizer name -> (which key torch's defaults hold, the packed slot of its value)
_MOMENTUM_SLOT = {"SGD": ("momentum", 1), "SAM": ("momentum", 1), "RMSprop": ("momentum", 4),
                  "Adam": ("betas", 1), "AdamW": ("betas", 1), "Adamax": ("betas", 1), "NAdam": ("betas", 1),
                  "RAdam": ("betas", 1), "Lion": ("betas", 1)}


def momentum_key(name: str) -> str | None:
    return momentum_slot(name)[0]


def momentum_slot(name: str) -> tuple[str | None, int]:
    """('momentum' | 'betas' | None, slot in the packed hyperparameter vector or -1)."""
    if name in _MOMENTUM_SLOT:
        return _MOMENTUM_SLOT[name]
    from . import SPECS, is_custom

    if is_custom(name):
        keys = [k for k, _ in SPECS[name][1]]
        for key, word in (("momentum", "momentum"), ("beta1", "betas")):
            if key in keys:
                return word, keys.index(key)
    return None, -1


def lr_slot(name: str) -> int:
    """The packed slot of the learning rate (0 for the built-ins; a typed rule's 'lr', or -1)."""
    from . import SPECS, is_custom

    if is_custom(name):
        keys = [k for k, _ in SPECS[name][1]]
        return keys.index("lr") if "lr" in keys else -1
    return 0
