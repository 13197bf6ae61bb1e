"""Optimizers with torch.optim's names, hyperparameters, defaults and update rules.

>>> t = run(f, "SGD", start=(-1.5, 2.0), steps=1000, lr=0.001, momentum=0.9)
>>> batch = run_many(f, [("Adam", {"lr": 0.05}), ("SGD", {"lr": 0.01})], starts, 500)

The (optimizer, start) pairs of a batch run in one parallel Numba call per
optimizer kind (``runner.run_batches``), with the formula's exact gradient passed in
as a compiled function. Each kind's kernel compiles the first time it is needed
(``prepare`` starts that early, off the caller's thread); until the formula's and
the kind's kernels are ready, ``wait=False`` runs the numpy reference instead
(same numbers, slower), so the window never blocks.
"""

from __future__ import annotations

import ast
import difflib
import math
from dataclasses import dataclass

import numpy as np

from . import kinds as K

from .warmup import kernel_progress as kernel_progress, prepare as prepare, runner_ready  # noqa: E402  (re-exported)


# name -> (kernel id, [(hyperparameter, default), ...]); the order is the packing
# order of the kernel's ``h`` vector ("betas" takes two slots). A name starting
# with "=" is fixed (not a user hyperparameter), e.g. AdamW's decoupled decay.
SPECS: dict[str, tuple[int, list[tuple[str, object]]]] = {
    "SGD": (K.SGD, [("lr", 1e-3), ("momentum", 0.0), ("dampening", 0.0), ("weight_decay", 0.0),
                    ("nesterov", False), ("maximize", False)]),
    "Adagrad": (K.ADAGRAD, [("lr", 1e-2), ("lr_decay", 0.0), ("weight_decay", 0.0),
                            ("initial_accumulator_value", 0.0), ("eps", 1e-10), ("maximize", False)]),
    "RMSprop": (K.RMSPROP, [("lr", 1e-2), ("alpha", 0.99), ("eps", 1e-8), ("weight_decay", 0.0),
                            ("momentum", 0.0), ("centered", False), ("maximize", False)]),
    "Adadelta": (K.ADADELTA, [("lr", 1.0), ("rho", 0.9), ("eps", 1e-6), ("weight_decay", 0.0),
                              ("maximize", False)]),
    "Adam": (K.ADAM, [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0.0),
                      ("amsgrad", False), ("maximize", False), ("decoupled_weight_decay", False)]),
    "AdamW": (K.ADAMW, [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 1e-2),
                        ("amsgrad", False), ("maximize", False), ("=decoupled_weight_decay", True)]),
    "Adamax": (K.ADAMAX, [("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0.0),
                          ("maximize", False)]),
    "NAdam": (K.NADAM, [("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0.0),
                        ("momentum_decay", 4e-3), ("decoupled_weight_decay", False), ("maximize", False)]),
    "RAdam": (K.RADAM, [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0.0),
                        ("decoupled_weight_decay", False), ("maximize", False)]),
    "Lion": (K.LION, [("lr", 1e-4), ("betas", (0.9, 0.99)), ("weight_decay", 0.0), ("maximize", False)]),
    "SAM": (K.SAM, [("lr", 1e-2), ("momentum", 0.9), ("dampening", 0.0), ("weight_decay", 0.0),
                    ("nesterov", False), ("maximize", False), ("rho", 0.05), ("adaptive", False)]),
    "Newton": (K.NEWTON, [("lr", 1.0), ("damping", 1e-3)]),
    "Rprop": (K.RPROP, [("lr", 1e-2), ("etas", (0.5, 1.2)), ("step_sizes", (1e-6, 50.0)), ("maximize", False)]),
    "ASGD": (K.ASGD, [("lr", 1e-2), ("lambd", 1e-4), ("alpha", 0.75), ("t0", 1e6), ("weight_decay", 0.0),
                      ("maximize", False)]),
    "Adafactor": (K.ADAFACTOR, [("lr", 1e-2), ("beta2_decay", -0.8), ("eps", (None, 1e-3)), ("d", 1.0),
                                ("weight_decay", 0.0), ("maximize", False)]),
    "LBFGS": (K.LBFGS, [("lr", 1.0), ("max_iter", 20), ("max_eval", None), ("tolerance_grad", 1e-7),
                        ("tolerance_change", 1e-9), ("history_size", 100), ("line_search_fn", None)]),
}

#: What each optimizer is, in one line (tooltips, --help).
SUMMARIES = {
    "SGD": "stochastic gradient descent, optional (Nesterov) momentum — torch.optim.SGD",
    "Adagrad": "per-coordinate steps shrinking with the sum of squared gradients — torch.optim.Adagrad",
    "RMSprop": "steps divided by a running RMS of the gradient — torch.optim.RMSprop",
    "Adadelta": "RMSprop with a unit-correcting running average of steps — torch.optim.Adadelta",
    "Adam": "momentum + RMSprop with bias correction — torch.optim.Adam",
    "AdamW": "Adam with decoupled weight decay — torch.optim.AdamW",
    "Adamax": "Adam with an infinity-norm second moment — torch.optim.Adamax",
    "NAdam": "Adam with Nesterov momentum — torch.optim.NAdam",
    "RAdam": "Adam with a rectified warm-up of the adaptive step — torch.optim.RAdam",
    "Lion": "sign of interpolated momentum (Chen et al. 2023)",
    "SAM": "sharpness-aware minimization around SGD with momentum (Foret et al. 2021)",
    "Newton": "damped saddle-free Newton: (|H| + damping·I)⁻¹ ∇f",
    "Rprop": "per-coordinate step sizes that grow while the gradient's sign holds — torch.optim.Rprop",
    "ASGD": "SGD with a decaying rate and iterate averaging — torch.optim.ASGD",
    "Adafactor": "relative step sizes and a clipped RMS-normalised update — torch.optim.Adafactor",
    "LBFGS": "limited-memory BFGS, up to max_iter quasi-Newton iterations a step — torch.optim.LBFGS",
}

#: LBFGS's whole-number settings and their ranges; line_search_fn is None or "strong_wolfe"
_COUNTS = {"max_iter": (1, 10_000), "max_eval": (1, 100_000), "history_size": (1, 1000)}

#: hyperparameters that are pairs (two slots of the packed vector); None allowed where torch allows it
PAIRS = {"betas": ("beta1", "beta2"), "etas": ("etaminus", "etaplus"), "step_sizes": ("min", "max")}
_PAIR_OF = {("Adafactor", "eps"): ("eps1", "eps2")}

_BOOL = {"nesterov", "maximize", "centered", "amsgrad", "decoupled_weight_decay", "adaptive"}
MAX_STEPS = 1_000_000
BUILT_IN = tuple(SPECS)


def names() -> list[str]:
    """All optimizer names: the built-ins (torch's first), then the rules defined with ``define``."""
    return list(SPECS)


# --- optimizers typed as update rules --------------------------------------------------------------

_custom: dict[str, "custom.Rule"] = {}     # name -> its current rule  # noqa: F821  (custom: imported when first used)
_kind_of_text: dict[tuple[str, str], int] = {}
_next_custom_kind = [K.CUSTOM_BASE]


def define(name: str, text: str):
    """Register the optimizer ``name`` written as an update rule (see ``custom``) and return its Rule.

    Raises ``custom.RuleError`` (an ExpressionError with ``.line`` and ``.column``) for bad
    text. Defining a name again replaces its rule; the built-ins' names are taken.
    """
    from . import custom

    if isinstance(name, str) and name in BUILT_IN or str(name).lower() in {b.lower() for b in BUILT_IN}:
        raise custom.RuleError(f"'{name}' is a built-in optimizer: give your rule another name")
    rule = custom.parse_rule(name, text)
    key = (name, rule.text)
    kind = _kind_of_text.get(key)
    if kind is None:
        kind = _kind_of_text[key] = _next_custom_kind[0]
        _next_custom_kind[0] += 1
        custom.register(rule, kind)
    _custom[name] = rule
    SPECS[name] = (kind, list(rule.hypers))
    SUMMARIES[name] = f"your rule: {_first_update(rule)}"
    K.KIND_NAMES[kind] = name
    return rule


def _first_update(rule) -> str:
    lines = [ln.split("#", 1)[0].strip() for ln in rule.text.splitlines()]
    body = [ln for ln in lines if ln and not ln.startswith(("hyper", "state"))]
    return "; ".join(body)[:120]


def remove(name: str) -> None:
    """Forget a rule defined with ``define`` (the built-ins stay)."""
    if name not in _custom:
        raise ValueError(f"'{name}' is not a rule defined with optimizers.define")
    del _custom[name], SPECS[name], SUMMARIES[name]


def is_custom(name: str) -> bool:
    return name in _custom


def rule_text(name: str) -> str:
    """The text of a defined rule."""
    if name not in _custom:
        raise ValueError(f"'{name}' is not a rule defined with optimizers.define")
    return _custom[name].text


def custom_rules() -> dict[str, str]:
    """Every defined rule: name -> text (what a session saves)."""
    return {n: r.text for n, r in _custom.items()}


def to_torch_source(name: str) -> str:
    """Python source of a ``torch.optim.Optimizer`` subclass named ``name`` implementing its rule."""
    from .custom_codegen import torch_source

    if name not in _custom:
        raise ValueError(f"'{name}' is not a rule defined with optimizers.define "
                         "(the built-ins are in torch.optim already)")
    return torch_source(_custom[name])


def _canonical(name: str) -> str:
    if name in SPECS:
        return name
    lower = {n.lower(): n for n in SPECS}
    if isinstance(name, str) and name.lower() in lower:
        return lower[name.lower()]
    hint = difflib.get_close_matches(str(name), list(SPECS), n=1, cutoff=0.5)
    extra = f" — did you mean '{hint[0]}'?" if hint else f" (choose from {', '.join(SPECS)})"
    raise ValueError(f"unknown optimizer '{name}'{extra}")


def defaults(name: str) -> dict:
    """torch's defaults for ``name`` (a fresh dict; betas as a tuple)."""
    return {k: v for k, v in SPECS[_canonical(name)][1] if not k.startswith("=")}


def hyperparameter_names(name: str) -> list[str]:
    return list(defaults(name))


def validate(name: str, hyper: dict | None = None) -> tuple[str, dict]:
    """Canonical name and the full hyperparameter dict; ``ValueError`` naming the argument."""
    cname = _canonical(name)
    full = defaults(cname)
    hyper = dict(hyper or {})
    schedule = hyper.pop("schedule", None)
    for key, value in hyper.items():
        if key not in full:
            hint = difflib.get_close_matches(key, list(full), n=1)
            extra = f" — did you mean '{hint[0]}'?" if hint else f" (it takes {', '.join(full)})"
            raise ValueError(f"{cname}: unknown hyperparameter '{key}'{extra}")
        full[key] = _coerce(cname, key, value)
    _check(cname, full)
    if schedule is not None and not (isinstance(schedule, str) and not schedule.strip()):
        full["schedule"] = _check_schedule(cname, schedule)
    return cname, full


def _check_schedule(cname: str, text) -> str:
    """The schedule's text, checked against the optimizer (``ScheduleError`` names what is wrong)."""
    from .schedules import ScheduleError, lr_slot, momentum_slot, parse_schedule

    sched = parse_schedule(text)
    if lr_slot(cname) < 0:
        raise ScheduleError(f"{cname} has no hyperparameter lr for the schedule to set", None)
    if sched.cycles_momentum() and momentum_slot(cname)[1] < 0:
        raise ScheduleError(f"{sched.name}: {cname} has no momentum or beta1 to cycle: "
                            "write cycle_momentum=False", sched.node.position)
    if sched.plateau is not None and cname == "LBFGS":
        raise ScheduleError("ReduceLROnPlateau: not with LBFGS here (its line search re-evaluates "
                            "the loss inside a step); use a fixed schedule", sched.node.position)
    return sched.text


def schedule_values(text: str, base_lr: float, steps: int, optimizer: str | None = None, **kw) -> np.ndarray:
    """The learning rate of each of ``steps`` steps under schedule ``text`` (``[t - 1]``: step t)."""
    from .schedules import schedule_values as values

    return values(text, base_lr, steps, optimizer, **kw)


def schedule_arrays(canon, steps: int):
    """Per config: (its (steps, 2) rows of rate and cycled momentum, or None at a constant rate) and
    the kernels' ``ctl`` rows (``kinds.CTL_*``)."""
    from .schedules import PlateauRule, lr_slot, momentum_slot, parse_schedule

    n = len(canon)
    ctls = np.zeros((n, K.N_CTL))
    ctls[:, K.CTL_MOMENTUM] = -1.0
    rows = [None] * n
    for c, (name, full) in enumerate(canon):
        ctls[c, K.CTL_LR] = max(lr_slot(name), 0)
        text = full.get("schedule")
        if not text:
            continue
        sched = parse_schedule(text)
        rule = sched.plateau
        if isinstance(rule, PlateauRule):
            ctls[c, K.CTL_PLATEAU] = 1.0
            ctls[c, K.CTL_MODE_MAX] = rule.mode == "max"
            ctls[c, K.CTL_FACTOR] = rule.factor
            ctls[c, K.CTL_PATIENCE] = rule.patience
            ctls[c, K.CTL_THRESHOLD] = rule.threshold
            ctls[c, K.CTL_REL] = rule.threshold_mode == "rel"
            ctls[c, K.CTL_COOLDOWN] = rule.cooldown
            ctls[c, K.CTL_MIN_LR] = rule.min_lr
            ctls[c, K.CTL_EPS] = rule.eps
            continue
        key, slot = momentum_slot(name)
        lrs, mom = sched.rates(full["lr"], steps, momentum_key=key, momentum=_base_momentum(full, key),
                               optimizer=name)
        row = np.empty((steps, 2))
        row[:, 0] = lrs
        row[:, 1] = np.nan if mom is None else mom
        if mom is not None:
            ctls[c, K.CTL_MOMENTUM] = slot
        rows[c] = row
    return rows, ctls


def _base_momentum(full: dict, key: str | None):
    if key == "betas":
        return full["betas"][0] if "betas" in full else full.get("beta1", 0.0)
    if key == "momentum":
        return full.get("momentum", 0.0)
    return None


def step_rates(name: str, hyper: dict, steps: int, losses=None) -> np.ndarray:
    """The rate each of ``steps`` steps used (a plateau rule replayed from the run's ``losses``)."""
    from .schedules import parse_schedule

    cname, full = validate(name, hyper)
    base = float(full.get("lr", math.nan))
    text = full.get("schedule")
    if not text:
        return np.full(steps, base)
    from .schedules import momentum_key

    key = momentum_key(cname)
    return parse_schedule(text).rates(base, steps, momentum_key=key, momentum=_base_momentum(full, key),
                                      losses=losses, optimizer=cname)[0]


def _coerce(cname: str, key: str, value):
    if cname in _custom:   # a typed rule's hyperparameters are all numbers
        return _number(cname, key, value)
    if cname == "LBFGS" and key == "line_search_fn":
        if value is None or value == "strong_wolfe":
            return value
        raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {value!r}")
    if cname == "LBFGS" and key in _COUNTS:
        if value is None and key == "max_eval":
            return None   # torch: max_iter * 5 // 4
        v = _number(cname, key, value)
        lo, hi = _COUNTS[key]
        if v != int(v) or not lo <= v <= hi:
            raise ValueError(f"{cname}: {key} must be a whole number from {lo} to {hi:,}, got {value!r}")
        return int(v)
    if key in _BOOL:
        if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
            return bool(value)
        raise ValueError(f"{cname}: {key} must be True or False, got {value!r}")
    parts = pair_parts(cname, key)
    if parts:
        if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
            raise ValueError(f"{cname}: {key} must be a pair ({parts[0]}, {parts[1]}), got {value!r}")
        none_ok = cname == "Adafactor" and key == "eps"   # torch: eps1 None = the dtype's epsilon
        return tuple(None if (v is None and none_ok and k == 0) else _number(cname, f"{key}[{k}]", v)
                     for k, v in enumerate(value))
    return _number(cname, key, value)


def pair_parts(cname: str, key: str) -> tuple[str, str] | None:
    """The names of a pair-valued hyperparameter's two values, or None if it is a single value."""
    if cname in _custom:
        return None
    return _PAIR_OF.get((cname, key)) or PAIRS.get(key)


def _number(cname, key, value) -> float:
    if value is None:
        raise ValueError(f"{cname}: {key} must be a number, got None")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{cname}: {key} must be a number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise ValueError(f"{cname}: {key} must be finite, got {str(value)[:40]}")
    if abs(v) > MAX_HYPERPARAMETER:
        raise ValueError(f"{cname}: {key} = {v:g} is beyond any usable value (|{key}| <= {MAX_HYPERPARAMETER:g})")
    return v


#: larger hyperparameters only overflow at the first step
MAX_HYPERPARAMETER = 1e12


def _check(cname: str, h: dict) -> None:
    if cname in _custom:   # no ranges are known for a rule's own hyperparameters
        return

    def need(ok, key, rule):
        if not ok:
            raise ValueError(f"{cname}: invalid {key} {h[key.split('[')[0]]!r}: {rule}")

    for key in ("lr", "eps", "weight_decay", "momentum", "dampening", "lr_decay",
                "initial_accumulator_value", "momentum_decay", "alpha", "rho", "damping"):
        if key in h and not isinstance(h[key], tuple):   # Adafactor's eps is a pair: checked below
            need(h[key] >= 0.0, key, "must be >= 0")
    if "betas" in h:
        b1, b2 = h["betas"]
        if not 0.0 <= b1 < 1.0:
            raise ValueError(f"{cname}: invalid betas[0] {b1!r}: must be in [0, 1)")
        if not 0.0 <= b2 < 1.0:
            raise ValueError(f"{cname}: invalid betas[1] {b2!r}: must be in [0, 1)")
    if cname == "Adadelta":
        need(h["rho"] <= 1.0, "rho", "must be in [0, 1]")
    if cname == "Rprop":
        lo, hi = h["etas"]
        if not 0.0 < lo < 1.0 < hi:
            raise ValueError(f"Rprop: invalid etas {h['etas']!r}: need 0 < etaminus < 1 < etaplus")
        if not 0.0 <= h["step_sizes"][0] <= h["step_sizes"][1]:
            raise ValueError(f"Rprop: invalid step_sizes {h['step_sizes']!r}: need 0 <= min <= max")
    if cname == "Adafactor":
        need(h["beta2_decay"] <= 0.0, "beta2_decay", "must be <= 0")
        need(h["d"] >= 1.0, "d", "the clipping threshold must be >= 1")
        e1, e2 = h["eps"]
        if (e1 is not None and e1 < 0.0) or e2 < 0.0:
            raise ValueError(f"Adafactor: invalid eps {h['eps']!r}: must be >= 0 (eps1 may be None)")
    if cname in ("SGD", "SAM") and h["nesterov"]:
        if h["momentum"] <= 0.0 or h["dampening"] != 0.0:
            raise ValueError(f"{cname}: nesterov=True requires momentum > 0 and dampening = 0")


def pack(name: str, hyper: dict | None = None) -> tuple[int, np.ndarray]:
    """(kernel id, packed hyperparameter vector) for the Numba kernels."""
    return _pack_valid(*validate(name, hyper))


def _pack_valid(cname: str, full: dict) -> tuple[int, np.ndarray]:
    """``pack`` for a config ``validate`` has already checked (no second validation)."""
    kind, spec = SPECS[cname]
    h = np.zeros(K.N_HYPER)
    i = 0
    for key, default in spec:
        value = default if key.startswith("=") else full[key]
        if cname == "LBFGS" and key == "max_eval" and value is None:
            value = full["max_iter"] * 5 // 4
        elif cname == "LBFGS" and key == "line_search_fn":
            value = value == "strong_wolfe"
        if isinstance(value, tuple):
            h[i], h[i + 1] = (np.nan if v is None else v for v in value)   # None -> NaN ("use the default")
            i += 2
        else:
            h[i] = float(value)
            i += 1
    return kind, h


def describe(name: str, hyper: dict | None = None) -> str:
    """Short label with the values that differ from torch's defaults: ``SGD(lr=0.01, momentum=0.9)``."""
    cname, full = validate(name, hyper)
    base = defaults(cname)
    parts = [f"lr={full['lr']:g}"] if "lr" in full else []
    for k, v in full.items():
        if k == "schedule":   # long ones by their outer scheduler (the full text is in the config)
            parts.append(f"schedule={v if len(v) <= 44 else v.split('(', 1)[0] + '(…)'}")
        elif k != "lr" and v != base[k]:
            if isinstance(v, tuple):
                parts.append(f"{k}=({', '.join('None' if e is None else f'{e:g}' for e in v)})")
            elif isinstance(v, bool) or v is None:
                parts.append(f"{k}={v}")
            elif isinstance(v, str):
                parts.append(f"{k}={v!r}")
            else:
                parts.append(f"{k}={v:g}")
    return f"{cname}({', '.join(parts)})"


def parse_call(text: str) -> tuple[str, dict]:
    """Parse ``"Adam(lr=0.05, betas=(0.9, 0.999))"`` safely (ast, literals only, no eval)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"cannot read optimizer {text!r}: syntax error at {max((exc.offset or 1) - 1, 0)}") from None
    if isinstance(node, ast.Name):
        return validate(node.id, {})
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"cannot read optimizer {text!r}: write Name(key=value, ...), e.g. SGD(lr=0.01)")
    _canonical(node.func.id)  # unknown names first: "__import__(...)" is not an optimizer
    if node.args:
        raise ValueError(f"optimizer {node.func.id}: give hyperparameters by name, e.g. lr=0.01")
    hyper = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"optimizer {node.func.id}: '**' is not allowed")
        if kw.arg in hyper:
            raise ValueError(f"optimizer {node.func.id}: {kw.arg} is given twice")
        hyper[kw.arg] = _literal(kw.value, node.func.id, kw.arg)
    return validate(node.func.id, hyper)


def _literal(node, opt, key):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _literal(node.operand, opt, key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e, opt, key) for e in node.elts)
    if isinstance(node, ast.Name) and node.id in ("True", "False"):
        return node.id == "True"
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str)):
        return node.value
    raise ValueError(f"{opt}: {key} must be a number, True/False or a tuple of numbers")


# --- results ------------------------------------------------------------------------


@dataclass
class Trajectory:
    """One optimizer from one start. Arrays stop before the divergence, if any.

    ``gradients[t]`` is the (noisy) gradient used for step t+1 (at ``points[t]``);
    ``first_moment``/``second_moment`` the optimizer's state after that step
    (NaN where the optimizer has none); present when run with ``record_state``.
    """

    name: str
    hyperparameters: dict
    start: tuple[float, float]
    points: np.ndarray
    losses: np.ndarray
    diverged_at: int | None = None
    gradients: np.ndarray | None = None
    first_moment: np.ndarray | None = None
    second_moment: np.ndarray | None = None

    @property
    def final_point(self) -> np.ndarray:
        return self.points[-1]

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1]) if len(self.losses) else math.nan

    @property
    def label(self) -> str:
        return describe(self.name, self.hyperparameters)

    @property
    def lrs(self) -> np.ndarray:
        """The learning rate of each step taken (``lrs[t - 1]``: step t), schedule included."""
        steps = max(len(self.points) - 1, 0)
        return step_rates(self.name, self.hyperparameters, steps, self.losses)


@dataclass
class Batch:
    """Configs x starts trajectories in fixed-shape arrays (NaN after a divergence)."""

    configs: list[tuple[str, dict]]
    starts: np.ndarray
    points: np.ndarray          # (n_configs, n_starts, steps+1, 2)
    losses: np.ndarray          # (n_configs, n_starts, steps+1)
    diverged: np.ndarray        # (n_configs, n_starts) int: step of divergence, -1 if none
    gradients: np.ndarray | None = None      # (n_configs, n_starts, steps, 2) with record_state
    first_moment: np.ndarray | None = None
    second_moment: np.ndarray | None = None
    used_kernels: bool = True   # False when the numpy fallback ran (kernels still compiling)

    def diverged_at(self, c: int, s: int) -> int | None:
        d = int(self.diverged[c, s])
        return None if d < 0 else d

    def trajectory(self, c: int, s: int) -> Trajectory:
        name, hyper = self.configs[c]
        d = self.diverged_at(c, s)
        end = self.points.shape[2] if d is None else d
        rec = self.gradients is not None
        return Trajectory(name=name, hyperparameters=hyper, start=tuple(self.starts[s]),
                          points=self.points[c, s, :end].copy(), losses=self.losses[c, s, :end].copy(),
                          diverged_at=d,
                          gradients=self.gradients[c, s, :end].copy() if rec else None,
                          first_moment=self.first_moment[c, s, :end].copy() if rec else None,
                          second_moment=self.second_moment[c, s, :end].copy() if rec else None)


# --- running ------------------------------------------------------------------------


def _box(starts: np.ndarray, domain) -> float:
    """Half-width of the box outside which a run counts as diverged (1e6 x the domain)."""
    extent = float(np.max(np.abs(starts))) if starts.size else 1.0
    if domain is not None:
        (x0, x1), (y0, y1) = domain
        extent = max(extent, abs(x0), abs(x1), abs(y0), abs(y1))
    return 1e6 * max(1.0, extent)


def _prepare(configs, starts, steps, noise, seed):
    canon = [validate(n, h) for n, h in configs]
    packed = [_pack_valid(n, h) for n, h in canon]
    starts = np.ascontiguousarray(np.asarray(starts, dtype=np.float64).reshape(-1, 2))
    if not np.isfinite(starts).all():
        raise ValueError("starts must be finite (x, y) pairs")
    steps = int(steps)
    if not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 0 and {MAX_STEPS}, got {steps}")
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0.0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    seed = int(seed) & 0x7FFF_FFFF_FFFF_FFFF
    kinds = np.array([k for k, _ in packed], dtype=np.int64)
    hypers = np.ascontiguousarray(np.array([h for _, h in packed]).reshape(len(packed), K.N_HYPER))
    return canon, kinds, hypers, starts, steps, noise, seed


def _group_schedules(rows, ctls, hypers, idx, steps):
    """The (configs, steps or 0, 2) rates and ctl rows of the configs ``idx`` of one kind."""
    if all(rows[i] is None for i in idx):
        return np.empty((len(idx), 0, 2)), np.ascontiguousarray(ctls[idx])
    out = np.empty((len(idx), steps, 2))
    for j, i in enumerate(idx):
        if rows[i] is None:
            out[j] = np.nan   # keep the config's own (or its plateau rule's) rate
        else:
            out[j] = rows[i]
    return out, np.ascontiguousarray(ctls[idx])


def run_many(f, configs, starts, steps: int, *, noise: float = 0.0, seed: int = 0, domain=None,
             record_state: bool = False, wait: bool = True, stream_offset: int = 0,
             schedule_steps: int | None = None) -> Batch:
    """Run every config from every start: one parallel Numba call for all of them.

    ``configs`` is a list of ``(name, hyperparameters)``; ``starts`` is (k, 2).
    ``noise`` adds Gaussian noise of that std to every gradient (a model of
    mini-batch noise), reproducible from ``seed`` and independent per start.
    With ``wait=False`` and the formula's kernels still compiling, the numpy
    reference runs instead (slower, same numbers). ``stream_offset`` numbers the
    starts' noise streams (start s uses stream ``stream_offset + s``), so one start
    recomputed alone gets the noise it had in its full batch. ``schedule_steps``: the length of
    the run the schedules are laid out for, when only its first ``steps`` are computed now (a
    OneCycleLR without total_steps spans the whole run, not the part shown while kernels compile).
    """
    canon, kinds, hypers, starts, steps, noise, seed = _prepare(configs, starts, steps, noise, seed)
    horizon = steps if schedule_steps is None else max(int(schedule_steps), steps)
    sched_rows, ctls = schedule_arrays(canon, horizon)
    sched_rows = [None if r is None else np.ascontiguousarray(r[:steps]) for r in sched_rows]
    n_cfg, n_st = len(canon), starts.shape[0]
    box = _box(starts, domain)
    points = np.empty((n_cfg, n_st, steps + 1, 2))
    losses = np.empty((n_cfg, n_st, steps + 1))
    diverged = np.empty((n_cfg, n_st), dtype=np.int64)
    rshape = (n_cfg, n_st, max(steps, 1), 2)
    grads, first, second = ((np.full(rshape, np.nan) for _ in range(3)) if record_state
                            else (None, None, None))
    module = f.kernels(wait=wait) if n_cfg and n_st else None
    all_compiled = True
    compiled = []
    for kind in dict.fromkeys(kinds.tolist()):  # each kind once, in order of first use
        rows = np.flatnonzero(kinds == kind)
        if module is not None and runner_ready(kind, wait=wait):
            compiled.append((kind, rows))
            continue
        all_compiled = False
        from .reference import reference_batch

        scheds, ctl = _group_schedules(sched_rows, ctls, hypers, rows, steps)
        out = reference_batch(f, kinds[rows], hypers[rows], starts, steps, noise, seed, box,
                              record_state, int(stream_offset), scheds, ctl)
        points[rows], losses[rows], diverged[rows] = out[:3]
        if record_state:
            grads[rows], first[rows], second[rows] = out[3:]
    if compiled:
        _run_numba(f, module, compiled, hypers, starts, steps, noise, seed, stream_offset, box, record_state,
                   points, losses, diverged, grads, first, second, sched_rows, ctls)
    if record_state:
        return Batch(canon, starts, points, losses, diverged, grads[:, :, :steps], first[:, :, :steps],
                     second[:, :, :steps], used_kernels=all_compiled)
    return Batch(canon, starts, points, losses, diverged, used_kernels=all_compiled)


def _run_numba(f, module, groups, hypers, starts, steps, noise, seed, stream_offset, box, record,
               points, losses, diverged, grads, first, second, sched_rows, ctls):
    """Every (kind, rows) group in one threaded Numba run, written into the batch arrays."""
    from .runner import KindBatch, run_batches

    batches, copy_back = [], []
    n_st = starts.shape[0]
    for kind, rows in groups:
        n = rows.size
        contiguous = n == rows[-1] - rows[0] + 1  # the usual case: write straight into the batch arrays
        sl = slice(int(rows[0]), int(rows[-1]) + 1) if contiguous else rows
        pts = points[sl] if contiguous else np.empty((n, n_st, steps + 1, 2))
        ls = losses[sl] if contiguous else np.empty((n, n_st, steps + 1))
        dv = diverged[sl] if contiguous else np.empty((n, n_st), dtype=np.int64)
        if record:
            rec = [a[sl] if contiguous else np.full((n, n_st, max(steps, 1), 2), np.nan)
                   for a in (grads, first, second)]
        else:
            rec = [np.empty((1, 1, 1, 2))] * 3
        scheds, ctl = _group_schedules(sched_rows, ctls, hypers, rows, steps)
        batches.append(KindBatch(kind, module.value_and_gradient, module.hessian, f.param_array,
                                 np.ascontiguousarray(hypers[rows]), starts, steps, noise, seed,
                                 int(stream_offset), box, bool(record), pts, ls, *rec, dv, scheds, ctl))
        if not contiguous:
            copy_back.append((rows, pts, ls, dv, rec))
    run_batches(batches)
    for rows, pts, ls, dv, rec in copy_back:
        points[rows], losses[rows], diverged[rows] = pts, ls, dv
        if record:
            grads[rows], first[rows], second[rows] = rec


def run(f, name: str, start, steps: int = 1000, *, noise: float = 0.0, seed: int = 0, domain=None,
        record_state: bool = False, wait: bool = True, **hyperparameters) -> Trajectory:
    """One optimizer from one start; hyperparameters by torch's names (``lr=0.01, momentum=0.9``)."""
    batch = run_many(f, [(name, hyperparameters)], [start], steps, noise=noise, seed=seed,
                     domain=domain, record_state=record_state, wait=wait)
    return batch.trajectory(0, 0)
