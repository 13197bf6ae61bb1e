"""A checked :class:`~.custom.Rule` as code: a Numba trajectory kernel, and torch.optim source.

The kernel has the built-in kernels' signature (``runner.TRAJECTORY``), so the runner
treats a typed rule exactly like a built-in: same driver, threads, noise, divergence
and endpoint (basin) modes. Every statement becomes one loop over the coordinates;
reductions (``norm``, ``dot``, ``sum``) and ``grad(...)`` calls inside it are
computed first, in order, so a statement reads the values from before it assigns.
The source is generated from the checked tree, never from user text, and is written
to a file so Numba's disk cache keeps it between launches.
"""

from __future__ import annotations

import ast
import hashlib
import math

import numpy as np
from numba import njit

from .custom import CONSTANTS, GRAD, REDUCTIONS, SCALAR, VECTOR, Rule

N_HYPER_FOR_WARMUP = 10
_HELPER = dict(cache=True, nogil=True, error_model="numpy", inline="always")


@njit(**_HELPER)
def relu(a):
    return a if a > 0.0 else 0.0


@njit(**_HELPER)
def sigmoid(a):
    if a >= 0.0:
        return 1.0 / (1.0 + np.exp(-a))
    e = np.exp(a)
    return e / (1.0 + e)


@njit(**_HELPER)
def softplus(a):
    return max(a, 0.0) + np.log1p(np.exp(-abs(a)))


@njit(**_HELPER)
def fmin(a, b):
    """np.fmin: a NaN argument loses (as in the numpy reference)."""
    if a != a:
        return b
    if b != b:
        return a
    return a if a < b else b


@njit(**_HELPER)
def fmax(a, b):
    if a != a:
        return b
    if b != b:
        return a
    return a if a > b else b


_FUNCS = {"sqrt": "np.sqrt", "abs": "abs", "sign": "np.sign", "exp": "np.exp", "log": "np.log",
          "log2": "np.log2", "log10": "np.log10", "sin": "np.sin", "cos": "np.cos", "tan": "np.tan",
          "asin": "np.arcsin", "acos": "np.arccos", "atan": "np.arctan", "sinh": "np.sinh",
          "cosh": "np.cosh", "tanh": "np.tanh", "relu": "H.relu", "sigmoid": "H.sigmoid",
          "softplus": "H.softplus", "min": "H.fmin", "max": "H.fmax", "atan2": "np.arctan2",
          "hypot": "np.hypot"}
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


class _Emitter:
    """Python expressions of the rule's sub-expressions for one coordinate (``[i]``: the kernel)
    or one parameter tensor (``[k]``: the torch source); subclasses say how reductions and
    ``grad(...)`` are computed before the expression that uses them (``hoist``)."""

    INDEX = "i"
    FUNCS = _FUNCS
    READS = {"x": "q[i]", "g": "g[i]", "f": "fval", "t": "tf"}

    def __init__(self, rule: Rule):
        self.rule = rule
        self.states = set(rule.state_names)
        self.hypers = set(rule.hyper_names)
        self.temps: dict[int, str] = {}   # id(reduction, grad or hoisted node) -> its temporary
        self.n_red = 0
        self.n_grad = 0

    def name(self, word: str) -> str:
        r, i = self.rule, self.INDEX
        if word in self.READS:
            return self.READS[word]
        if word in self.hypers:
            return f"h_{word}"
        if word in self.states:
            return f"s_{word}[{i}]"
        if word in r.locals:
            return f"v_{word}[{i}]" if r.locals[word] == VECTOR else f"l_{word}"
        return repr(CONSTANTS[word])

    def expr(self, node) -> str:
        if id(node) in self.temps:
            return self.temps[id(node)]
        if isinstance(node, ast.Constant):
            return repr(float(node.value))
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp):
            inner = self.expr(node.operand)
            return f"(-{inner})" if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            return f"({self.expr(node.left)} {_OPS[type(node.op)]} {self.expr(node.right)})"
        word = node.func.id
        return f"{self.FUNCS[word]}({', '.join(self.expr(a) for a in node.args)})"

    def hoist(self, node, out: list[str], indent: str) -> None:
        """Code computing the reductions and grad() calls under ``node``, innermost first, in
        the order the numpy interpreter evaluates them (so noise draws are numbered alike)."""
        for child in ast.iter_child_nodes(node):
            self.hoist(child, out, indent)
        if isinstance(node, ast.Call) and node.func.id == GRAD:
            self.n_grad += 1
            self._grad(node, out, indent)
        elif isinstance(node, ast.Call) and node.func.id in REDUCTIONS:
            self.n_red += 1
            self._reduce(node, node.func.id, out, indent)

    def _grad(self, node, out: list[str], indent: str) -> None:
        k = self.n_grad
        out.append(f"{indent}for i in range(n):")
        out.append(f"{indent}    P{k}[i] = {self.expr(node.args[0])}")
        out.append(f"{indent}_, gx, gy = value_and_gradient(P{k}[0], P{k}[1], p)")
        out.append(f"{indent}G{k}[0] = gx")
        out.append(f"{indent}G{k}[1] = gy")
        out.append(f"{indent}add_noise(G{k}, noise, seed, stream, t, {k})")
        self.temps[id(node)] = f"G{k}[i]"

    def _reduce(self, node, word: str, out: list[str], indent: str) -> None:
        r = f"r{self.n_red}"
        a = self.expr(node.args[0])
        if word == "dot":
            term = f"_a * {self.expr(node.args[1])}"
        else:
            term = "_a * _a" if word == "norm" else "_a"
        out.append(f"{indent}{r} = 0.0")
        out.append(f"{indent}for i in range(n):")
        out.append(f"{indent}    _a = {a}")
        out.append(f"{indent}    {r} += {term}")
        if word == "norm":
            out.append(f"{indent}{r} = np.sqrt({r})")
        self.temps[id(node)] = r


def _children(node) -> list:
    return (node.args if isinstance(node, ast.Call) else [node.operand] if isinstance(node, ast.UnaryOp)
            else [node.left, node.right] if isinstance(node, ast.BinOp) else [])


def _step_only(rule: Rule, node) -> bool:
    """A number that depends on the hyperparameters and the step alone (``1 - beta1^t``)."""
    if isinstance(node, ast.Name):
        return node.id == "t" or node.id in rule.hyper_names or (
            node.id in CONSTANTS and node.id not in rule.locals and node.id not in rule.state_names)
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Call) and node.func.id in (*REDUCTIONS, GRAD):
        return False
    return rule.kind_of(node) == SCALAR and all(_step_only(rule, c) for c in _children(node))


def _table_columns(rule: Rule) -> list:
    """Up to N_COEF step-only numbers that involve ``t`` (powers, mostly): computed once per step for
    every start of a batch (``coefficients``), as the built-ins' bias corrections are."""
    from .kinds import N_COEF

    found: list = []

    def visit(node):
        if len(found) >= N_COEF:
            return
        if (not isinstance(node, (ast.Name, ast.Constant)) and _step_only(rule, node)
                and any(isinstance(n, ast.Name) and n.id == "t" for n in ast.walk(node))):
            found.append(node)
            return
        for c in _children(node):
            visit(c)

    for st in rule.body:
        visit(st.expr)
    return found


def coefficients_source(rule: Rule, columns: list) -> list[str]:
    em = _Emitter(rule)
    lines = ["@njit(cache=True, nogil=True, error_model='numpy')",
             "def coefficients(h, steps, table, sched, ctl):",
             '    """The step-only numbers of the rule, table[t - 1, k] for step t (its rate from sched)."""',
             "    hv = h.copy()",
             "    scheduled = sched.shape[0] > 0"]
    lines.append("    for t in range(1, steps + 1):")
    lines.append("        if scheduled:")
    lines.append("            apply_schedule(hv, sched, t, int(ctl[CTL_LR]), int(ctl[CTL_MOMENTUM]))")
    for k, (name, _) in enumerate(rule.hypers):
        lines.append(f"        h_{name} = hv[{k}]")
    lines.append("        tf = float(t)")
    for k, node in enumerate(columns):
        lines.append(f"        table[t - 1, {k}] = {em.expr(node)}")
    lines.append("")
    return lines


def _hoist_scalars(rule: Rule, em: _Emitter, node, out: list[str], indent: str) -> None:
    """Number-valued parts of a vector expression (``1 - beta1^t``) computed once before its
    loop over the coordinates, not once per coordinate: the typed rule then costs what the
    built-in costs, whose per-step numbers come from a table."""
    if rule.kind_of(node) == SCALAR:
        if not isinstance(node, (ast.Name, ast.Constant)) and id(node) not in em.temps:
            em.n_red += 1
            name = f"c{em.n_red}"
            out.append(f"{indent}{name} = {em.expr(node)}")
            em.temps[id(node)] = name
        return
    for child in _children(node):
        _hoist_scalars(rule, em, child, out, indent)


def _statements(rule: Rule, em: _Emitter, indent: str) -> list[str]:
    out: list[str] = []
    for st in rule.body:
        out.append(f"{indent}# line {st.line}: {st.target}")
        em.hoist(st.expr, out, indent)
        if st.kind == VECTOR:
            _hoist_scalars(rule, em, st.expr, out, indent)
        value = em.expr(st.expr)
        if st.kind == SCALAR:
            out.append(f"{indent}l_{st.target} = {value}")
            continue
        target = "q" if st.target == "x" else (f"s_{st.target}" if st.target in em.states else f"v_{st.target}")
        out.append(f"{indent}for i in range(n):")
        out.append(f"{indent}    {target}[i] = {value}")
    return out


def kernel_source(rule: Rule) -> str:
    """The module source of ``rule``'s trajectory kernel (conventions of ``runner.trajectory``)."""
    em = _Emitter(rule)
    columns = _table_columns(rule)
    for k, node in enumerate(columns):
        em.temps[id(node)] = f"tc{k}"
    first, second = rule.moment_names
    lines = [
        f"# generated from the optimizer rule {rule.name!r}; see landscape_gui/core/optimizers/custom_codegen.py",
        "import numpy as np",
        "from numba import njit",
        "from landscape_gui.core.optimizers import custom_codegen as H",
        "from landscape_gui.core.optimizers.kinds import CTL_LR, CTL_MODE_MAX, CTL_MOMENTUM, CTL_PLATEAU",
        "from landscape_gui.core.optimizers.rules import add_noise, apply_schedule, escaped, plateau_update",
        "from landscape_gui.core.optimizers.runner import _TRAJECTORY_SIG, _blank_from",
        "",
        "",
        "@njit(_TRAJECTORY_SIG, cache=True, nogil=True, error_model='numpy')",
        "def trajectory(value_and_gradient, hessian, p, h, table, sched, ctl, start, steps, noise, seed, stream,",
        "               box, record, pts, ls, gr, m1, m2):",
        "    hv = h.copy()",
        "    scheduled = sched.shape[0] > 0",
        "    plateau = ctl[CTL_PLATEAU] != 0.0",
        "    lr_slot = int(ctl[CTL_LR])",
        "    slot = int(ctl[CTL_MOMENTUM])",
        "    P = np.zeros(3)",
        "    P[0] = np.inf if ctl[CTL_MODE_MAX] == 0.0 else -np.inf",
        "    n = start.shape[0]",
        "    q = start.copy()",
        "    g = np.empty(n)",
    ]
    for k, (name, _) in enumerate(rule.hypers):
        lines.append(f"    h_{name} = h[{k}]")
    for k in range(len(columns)):
        lines.append(f"    tc{k} = 0.0")
    for name in rule.state_names:
        lines.append(f"    s_{name} = np.zeros(n)")
    for name, kind in rule.locals.items():
        lines.append(f"    v_{name} = np.zeros(n)" if kind == VECTOR else f"    l_{name} = 0.0")
    for k in range(1, rule.grad_calls + 1):
        lines.append(f"    P{k} = np.empty(n)")
        lines.append(f"    G{k} = np.empty(n)")
    lines += [
        "    full = pts.shape[0] > steps",
        "    mask = pts.shape[0] - 1",
        "    pts[0, 0] = q[0]",
        "    pts[0, 1] = q[1]",
        "    for t in range(1, steps + 2):",
        "        fval, gx, gy = value_and_gradient(q[0], q[1], p)",
        "        ls[(t - 1) if full else ((t - 1) & mask)] = fval",
        "        if not np.isfinite(fval):",
        "            _blank_from(pts, ls, t - 1)",
        "            return t - 1",
        "        if t == steps + 1:",
        "            break",
        "        g[0] = gx",
        "        g[1] = gy",
        "        add_noise(g, noise, seed, stream, t, 0)",
        "        if record:",
        "            gr[t - 1, 0] = g[0]",
        "            gr[t - 1, 1] = g[1]",
        "        tf = float(t)",
        "        if scheduled:",
        "            apply_schedule(hv, sched, t, lr_slot, slot)",
        "        if scheduled or plateau:",
    ]
    lines += [f"            h_{name} = hv[{k}]" for k, (name, _) in enumerate(rule.hypers)] or ["            pass"]
    for k, node in enumerate(columns):
        lines += ["        if plateau:",
                  f"            tc{k} = {_Emitter(rule).expr(node)}",
                  "        else:",
                  f"            tc{k} = table[t - 1, {k}]"]
    if rule.states:
        init = _Emitter(rule)
        lines.append("        if t == 1:")
        for name, expr in rule.states:
            lines.append("            for i in range(n):")
            lines.append(f"                s_{name}[i] = {init.expr(expr)}")
    lines += _statements(rule, em, "        ")
    lines += [
        "        if plateau:",
        "            plateau_update(ctl, P, fval, hv)",
        "        if record:",
        "            for i in range(2):",
        f"                m1[t - 1, i] = {f's_{first}[i]' if first else 'np.nan'}",
        f"                m2[t - 1, i] = {f's_{second}[i]' if second else 'np.nan'}",
        "        if escaped(q, box):",
        "            _blank_from(pts, ls, t)",
        "            return t",
        "        j = t if full else (t & mask)",
        "        pts[j, 0] = q[0]",
        "        pts[j, 1] = q[1]",
        "    return -1",
        "",
        "",
    ]
    lines += coefficients_source(rule, columns)
    return "\n".join(lines)


def kernel_module(rule: Rule) -> tuple[str, str]:
    """(source, module key) of the rule's kernel module: the key names its file in the kernel folder."""
    source = kernel_source(rule)
    return source, "rule_" + hashlib.sha1(source.encode()).hexdigest()[:16]


def compile_kernel(rule: Rule):
    """The rule's compiled (trajectory, coefficients) kernels (from Numba's disk cache when this
    source was compiled before, by this process or by a ``compile_child``)."""
    from ..formula.codegen import load_numba_module

    source, key = kernel_module(rule)
    module = load_numba_module(source, key)
    warm_module(module)
    return module.trajectory, module.coefficients


def warm_module(module) -> None:
    """Compile (or load from the cache) a rule module's lazily typed ``coefficients`` with the
    argument types the runner passes (its ``trajectory`` has a signature: compiled on import).
    One place for this process and a ``compile_child``: a child that called it with other
    types compiled nothing useful (or failed) and the app compiled again."""
    from .kinds import N_COEF
    from .runner import no_schedule

    module.coefficients(np.zeros(N_HYPER_FOR_WARMUP), 1, np.zeros((1, N_COEF)), np.empty((0, 2)),
                        no_schedule(1)[0])


# --- torch.optim source ---------------------------------------------------------------------------

_TORCH_FUNCS = {name: "_F." + {"min": "fmin", "max": "fmax"}.get(name, name) for name in _FUNCS}

_TORCH_HELPERS = '''
class _F:
    """Element-wise functions for tensors and plain numbers alike (hyperparameter arithmetic)."""

    @staticmethod
    def _t(a, like):
        return a if torch.is_tensor(a) else torch.as_tensor(a, dtype=like.dtype)

    @staticmethod
    def _one(fn, a):
        return fn(a) if torch.is_tensor(a) else float(fn(torch.tensor(float(a), dtype=torch.float64)))

    @staticmethod
    def _two(fn, a, b):
        if not torch.is_tensor(a) and not torch.is_tensor(b):
            return float(fn(torch.tensor(float(a), dtype=torch.float64), torch.tensor(float(b), dtype=torch.float64)))
        like = a if torch.is_tensor(a) else b
        return fn(_F._t(a, like), _F._t(b, like))


for _name in ("sqrt", "abs", "sign", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos",
              "atan", "sinh", "cosh", "tanh", "relu", "sigmoid"):
    setattr(_F, _name, staticmethod(lambda a, _fn=getattr(torch, _name): _F._one(_fn, a)))
_F.softplus = staticmethod(lambda a: _F._one(torch.nn.functional.softplus, a))
for _name, _fn in (("fmin", torch.fmin), ("fmax", torch.fmax), ("atan2", torch.atan2), ("hypot", torch.hypot)):
    setattr(_F, _name, staticmethod(lambda a, b, _fn=_fn: _F._two(_fn, a, b)))
'''


class _TorchEmitter(_Emitter):
    """Expressions over one parameter tensor ``k`` (vectors are lists of tensors, one per parameter)."""

    INDEX = "k"
    FUNCS = _TORCH_FUNCS
    READS = {"x": "x[k]", "g": "g[k]", "f": "f", "t": "t"}

    def vector(self, node) -> str:
        """A list comprehension over the parameters (a number broadcast to each one's shape)."""
        body = self.expr(node)
        if self.rule.kind_of(node) == SCALAR:
            body = f"(torch.zeros_like(x[k]) + {body})"
        return f"[{body} for k in range(len(x))]"

    def _grad(self, node, out: list[str], indent: str) -> None:
        name = f"_G{self.n_grad}"
        out.append(f"{indent}{name} = self._gradient_at(params, {self.vector(node.args[0])}, closure)")
        self.temps[id(node)] = f"{name}[k]"

    def _reduce(self, node, word: str, out: list[str], indent: str) -> None:
        r = f"_r{self.n_red}"
        a = self.vector(node.args[0])
        if word == "norm":
            out.append(f"{indent}{r} = torch.sqrt(sum((_a * _a).sum() for _a in {a}))")
        elif word == "sum":
            out.append(f"{indent}{r} = sum(_a.sum() for _a in {a})")
        else:
            out.append(f"{indent}{r} = sum((_a * _b).sum() for _a, _b in zip({a}, {self.vector(node.args[1])}))")
        self.temps[id(node)] = r


def torch_source(rule: Rule) -> str:
    """Python source of a ``torch.optim.Optimizer`` subclass named after the rule, implementing it.

    Vectors are the list of a parameter group's tensors; ``norm``/``dot``/``sum`` run over
    all of them; ``f`` and ``grad(p)`` need the ``closure`` torch's LBFGS also takes.
    """
    em = _TorchEmitter(rule)
    hypers = ", ".join(f"{h}={d!r}" for h, d in rule.hypers)
    uses_f = any(isinstance(n, ast.Name) and n.id == "f" for st in rule.body for n in ast.walk(st.expr)) or any(
        isinstance(n, ast.Name) and n.id == "f" for _, e in rule.states for n in ast.walk(e))
    needs_closure = uses_f or rule.grad_calls > 0
    doc_rule = "\n".join("        " + line for line in rule.text.strip().splitlines())
    out = [
        f'"""{rule.name}: an optimizer written as an update rule in landscape-gui.',
        "",
        "Rule:",
        doc_rule,
        '"""',
        "import math",
        "",
        "import torch",
        "",
        _TORCH_HELPERS,
        "",
        f"class {rule.name}(torch.optim.Optimizer):",
        f"    def __init__(self, params{', ' + hypers if hypers else ''}):",
        f"        super().__init__(params, dict({', '.join(f'{h}={h}' for h, _ in rule.hypers)}))",
        "",
        "    @torch.no_grad()",
        "    def _gradient_at(self, params, point, closure):",
        '        """The gradient at another point: move there, re-evaluate, move back."""',
        "        if closure is None:",
        f'            raise RuntimeError("{rule.name} evaluates grad(...) at other points: pass step(closure)")',
        "        saved = [p.detach().clone() for p in params]",
        "        for p, v in zip(params, point):",
        "            p.copy_(v)",
        "        with torch.enable_grad():",
        "            for p in params:",
        "                p.grad = None",
        "            closure()",
        "        grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params]",
        "        for p, v in zip(params, saved):",
        "            p.copy_(v)",
        "        return grads",
        "",
        "    @torch.no_grad()",
        "    def step(self, closure=None):",
        "        loss = None",
        "        if closure is not None:",
        "            with torch.enable_grad():",
        "                loss = closure()",
    ]
    if needs_closure:
        out += ["        if loss is None:",
                f'            raise RuntimeError("{rule.name} reads the loss f or calls grad(...): pass step(closure)")']
    out += [
        "        for group in self.param_groups:",
        "            params = [p for p in group['params'] if p.grad is not None]",
        "            if not params:",
        "                continue",
    ]
    for h, _ in rule.hypers:
        out.append(f"            h_{h} = group[{h!r}]")
    out += [
        "            x = [p.detach().clone() for p in params]",
        "            g = [p.grad.detach().clone() for p in params]",
        "            f = float(loss) if loss is not None else math.nan",
        "            states = [self.state[p] for p in params]",
        "            t = float(states[0].get('step', 0) + 1)",
        "            for st in states:",
        "                st['step'] = t",
    ]
    if rule.states:
        init = _TorchEmitter(rule)
        out.append("            if t == 1:")
        for name, expr in rule.states:
            out.append(f"                _init = {init.vector(expr)}")
            out.append("                for st, v in zip(states, _init):")
            out.append(f"                    st[{name!r}] = v.clone()")
        for name in rule.state_names:
            out.append(f"            s_{name} = [st[{name!r}] for st in states]")
    for st in rule.body:
        out.append(f"            # line {st.line}: {st.target}")
        em.hoist(st.expr, out, "            ")
        if st.kind == SCALAR:
            out.append(f"            l_{st.target} = {em.expr(st.expr)}")
        else:
            target = st.target if st.target == "x" else (
                f"s_{st.target}" if st.target in em.states else f"v_{st.target}")
            out.append(f"            {target} = {em.vector(st.expr)}")
    for name in rule.state_names:
        out.append(f"            for st, v in zip(states, s_{name}):")
        out.append(f"                st[{name!r}] = v")
    out += [
        "            for p, v in zip(params, x):",
        "                p.copy_(v)",
        "        return loss",
        "",
    ]
    return "\n".join(out)


__all__ = ["kernel_source", "compile_kernel", "torch_source", "relu", "sigmoid", "softplus", "fmin", "fmax",
           "math"]
