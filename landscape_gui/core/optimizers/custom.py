"""Optimizers typed as update rules: the rule language, its checks and its numpy reference.

    hyper lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8
    state m = 0, v = 0
    m = beta1*m + (1 - beta1)*g
    v = beta2*v + (1 - beta2)*g^2
    x = x - lr*(m/(1 - beta1^t)) / (sqrt(v/(1 - beta2^t)) + eps)

``hyper`` lines name hyperparameters with numeric defaults; ``state`` lines name
per-parameter state with its value before the first step (an expression of ``x``,
``g``, ``f`` and the hyperparameters, evaluated at step 1). The other lines are
assignments run in order each step; ``x`` (the parameters), ``g`` (the gradient at
``x``), ``f`` (the loss at ``x``) and ``t`` (the step, 1, 2, ...) are read-only,
assigning ``x`` is the update, and a name assigned without a declaration is a
temporary of that step. Arithmetic is element-wise over the parameter vector;
``norm(v)``, ``dot(a, b)`` and ``sum(v)`` reduce it to a number; ``grad(p)`` is
the gradient at another point (one more evaluation: Nesterov, SAM, extragradient).

Each line is parsed with Python's ``ast`` under the formula language's whitelist
(never ``eval``); errors carry the line and column. The rule is checked once into a
:class:`Rule` whose statements know which operands are vectors and which numbers;
``custom_codegen`` turns it into a Numba kernel, ``RuleInterpreter`` below interprets it
with numpy (the fallback while that kernel compiles, and its test twin).
"""

from __future__ import annotations

import ast
import difflib
import keyword
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..formula.expression import ExpressionError, _check_brackets, _check_tokens, _normalise
from .kinds import N_HYPER

VECTOR, SCALAR = "vector", "scalar"

#: read-only names of every rule: the parameters, the gradient there, the loss there, the step
READ_ONLY = {"x": VECTOR, "g": VECTOR, "f": SCALAR, "t": SCALAR}
#: element-wise functions (name -> number of arguments), as in formulas
ELEMENTWISE = {"sqrt": 1, "abs": 1, "sign": 1, "exp": 1, "log": 1, "log2": 1, "log10": 1, "sin": 1,
               "cos": 1, "tan": 1, "asin": 1, "acos": 1, "atan": 1, "sinh": 1, "cosh": 1, "tanh": 1,
               "relu": 1, "sigmoid": 1, "softplus": 1, "min": 2, "max": 2, "atan2": 2, "hypot": 2}
#: functions over the whole parameter vector, giving a number
REDUCTIONS = {"norm": 1, "dot": 2, "sum": 1}
#: the gradient at another point
GRAD = "grad"
FUNCTIONS = {**ELEMENTWISE, **REDUCTIONS, GRAD: 1}
CONSTANTS = {"pi": math.pi, "e": math.e}

MAX_RULE_TEXT = 20_000
MAX_LINES = 200
MAX_NODES = 4_000
MAX_DEPTH = 60
MAX_GRAD_CALLS = 8
MAX_NAME = 40


class RuleError(ExpressionError):
    """A rule the app cannot use; ``line`` and ``column`` are 1-based (``position``: 0-based offset)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 position: int | None = None):
        where = f" (line {line}, column {column})" if line is not None and column is not None else (
            f" (line {line})" if line is not None else "")
        super().__init__(message + where, position)
        self.line, self.column = line, column
        self.reason = message


@dataclass(frozen=True)
class Statement:
    """``target = expr`` with every sub-expression's kind known (see ``Rule.kind_of``)."""

    target: str
    expr: ast.expr
    line: int
    kind: str          # the kind of the value assigned


@dataclass
class Rule:
    name: str
    text: str
    hypers: list[tuple[str, float]]
    states: list[tuple[str, ast.expr]]
    body: list[Statement]
    locals: dict[str, str]               # temporaries of a step: name -> kind
    kinds: dict[int, str] = field(repr=False, default_factory=dict)   # id(node) -> kind
    grad_calls: int = 0

    def kind_of(self, node: ast.AST) -> str:
        return self.kinds[id(node)]

    @property
    def hyper_names(self) -> list[str]:
        return [k for k, _ in self.hypers]

    @property
    def state_names(self) -> list[str]:
        return [k for k, _ in self.states]

    @property
    def moment_names(self) -> tuple[str | None, str | None]:
        """The state drawn as first moment (``m``, else the first state) and second moment (``v``)."""
        names = self.state_names
        first = "m" if "m" in names else (names[0] if names else None)
        second = "v" if "v" in names and first != "v" else None
        return first, second


# --- parsing -----------------------------------------------------------------------------------


def _line_offsets(text: str) -> list[int]:
    offsets, k = [], 0
    for line in text.split("\n"):
        offsets.append(k)
        k += len(line) + 1
    return offsets


class _Parser:
    def __init__(self, name: str, text: str):
        self.name, self.text = name, text
        self.offsets = _line_offsets(text)
        self.nodes = 0

    def fail(self, message: str, line: int, column: int | None = None):
        """Raise at (line, 0-based column within the original line)."""
        col = 0 if column is None else column
        pos = self.offsets[line - 1] + col if 0 < line <= len(self.offsets) else None
        raise RuleError(message, line, col + 1, pos)

    def parse_expr(self, source: str, line: int, start: int) -> ast.expr:
        """One expression of ``line`` that starts at column ``start`` of that line."""
        lead = len(source) - len(source.lstrip())
        source, start = source[lead:].rstrip(), start + lead
        try:
            norm, origin = _normalise(source)
            _check_brackets(norm, origin)
            _check_tokens(norm, origin)
        except ExpressionError as exc:
            self.fail(_strip_at(exc.message), line, start + (exc.position or 0))
        if not norm.strip():
            self.fail("an expression is missing", line, start)
        try:
            tree = ast.parse(norm, mode="eval")
        except SyntaxError as exc:
            col = origin[min(max((exc.offset or 1) - 1, 0), len(origin) - 1)]
            self.fail("syntax error", line, start + col)
        except (RecursionError, MemoryError, ValueError):
            self.fail("the expression is nested too deeply", line, start)
        self._relocate(tree.body, origin, start)
        self._check_depth(tree.body, line)
        return tree.body

    def _relocate(self, node: ast.AST, origin: list[int], start: int) -> None:
        """Column offsets of the normalised text -> columns of the original line."""
        for sub in ast.walk(node):
            if hasattr(sub, "col_offset"):
                sub.col_offset = start + origin[min(sub.col_offset, len(origin) - 1)]
            self.nodes += 1
        if self.nodes > MAX_NODES:
            raise RuleError(f"the rule is too long ({self.nodes} operations; at most {MAX_NODES})")

    def _check_depth(self, node: ast.AST, line: int) -> None:
        stack = [(node, 1)]
        while stack:
            n, d = stack.pop()
            if d > MAX_DEPTH:
                self.fail(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)", line,
                          getattr(n, "col_offset", 0))
            stack.extend((c, d + 1) for c in ast.iter_child_nodes(n))


def _strip_at(message: str) -> str:
    """The formula parser's messages end in 'at N' (an offset in its text): the rule says line/column."""
    return re.sub(r"\s*\(?at \d+\)?(?=$|:| —)", "", message)


def _split_items(body: str, start: int) -> list[tuple[str, int]]:
    """``a = 1, b = (2, 3)`` -> [('a = 1', col), (' b = (2, 3)', col)] at top-level commas."""
    items, depth, begin = [], 0, 0
    for k, ch in enumerate(body):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append((body[begin:k], start + begin))
            begin = k + 1
    items.append((body[begin:], start + begin))
    return items


_ASSIGN = re.compile(r"^(\s*)([A-Za-z_][A-Za-z_0-9]*)(\s*)(\+=|-=|\*=|/=|\^=|=)(?!=)")
_DECLARATION = re.compile(r"^(\s*)(hyper|state)(\s+|$)")
_AUG = {"+=": ast.Add, "-=": ast.Sub, "*=": ast.Mult, "/=": ast.Div, "^=": ast.Pow}


def parse_rule(name: str, text: str) -> Rule:
    """Check ``text`` into a :class:`Rule`, or raise :class:`RuleError` naming line and column."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", name or "") or keyword.iskeyword(name):
        raise RuleError(f"the optimizer's name must be a Python-style identifier, got {name!r}")
    if len(name) > MAX_NAME:
        raise RuleError(f"the optimizer's name is too long ({len(name)} characters; at most {MAX_NAME})")
    if not isinstance(text, str):
        raise RuleError("the rule must be text")
    if len(text) > MAX_RULE_TEXT:
        raise RuleError(f"the rule is too long ({len(text)} characters; at most {MAX_RULE_TEXT})")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if len(lines) > MAX_LINES:
        raise RuleError(f"the rule has {len(lines)} lines (at most {MAX_LINES})")
    p = _Parser(name, text)
    hypers: list[tuple[str, float, int, int]] = []     # name, default, line, column
    states: list[tuple[str, ast.expr, int, int]] = []
    assigns: list[tuple[str, ast.expr, int, int]] = []
    for ln, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        decl = _DECLARATION.match(line)
        if decl:
            if assigns:
                p.fail(f"declare '{decl.group(2)}' before the update lines", ln, len(decl.group(1)))
            start = decl.end()
            for item, col in _split_items(line[start:], start):
                m = _ASSIGN.match(item)
                if not m or m.group(4) != "=":
                    lead = len(item) - len(item.lstrip())
                    p.fail(f"write {decl.group(2)} NAME = VALUE, ...", ln, col + lead)
                target, tcol = m.group(2), col + len(m.group(1))
                expr = p.parse_expr(item[m.end():], ln, col + m.end())
                if decl.group(2) == "hyper":
                    hypers.append((target, _hyper_default(p, target, expr, ln), ln, tcol))
                else:
                    states.append((target, expr, ln, tcol))
            continue
        m = _ASSIGN.match(line)
        if not m:
            lead = len(line) - len(line.lstrip())
            word = re.match(r"\s*([A-Za-z_]\w*)", line)
            if word and word.group(1) in ("hyper", "state"):
                p.fail(f"write {word.group(1)} NAME = VALUE", ln, lead)
            p.fail("each line is NAME = expression (or a 'hyper' / 'state' declaration)", ln, lead)
        target, tcol = m.group(2), len(m.group(1))
        expr = p.parse_expr(line[m.end():], ln, m.end())
        op = m.group(4)
        if op != "=":   # m -= lr*g  is  m = m - (lr*g)
            expr = ast.BinOp(left=ast.Name(id=target, ctx=ast.Load(), col_offset=tcol),
                             op=_AUG[op](), right=expr, col_offset=tcol)
        assigns.append((target, expr, ln, tcol))
    return _check(p, name, text, hypers, states, assigns)


def _hyper_default(p: _Parser, target: str, expr: ast.expr, line: int) -> float:
    node, sign = expr, 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)):
        try:
            value = sign * float(node.value)
        except OverflowError:
            value = math.inf
        if math.isfinite(value):
            return value
        p.fail(f"the default of hyperparameter '{target}' must be a finite number", line, expr.col_offset)
    p.fail(f"the default of hyperparameter '{target}' must be a number, e.g. hyper {target} = 0.01",
           line, expr.col_offset)


_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.USub, ast.UAdd)


def _check(p: _Parser, name, text, hypers, states, assigns) -> Rule:
    taken: dict[str, str] = {}

    def claim(word, what, line, col):
        if keyword.iskeyword(word) or word in _TAKEN_BY_TORCH_SOURCE:
            p.fail(f"'{word}' cannot name a {what} (a Python keyword or a name the PyTorch version needs)",
                   line, col)
        if word in READ_ONLY:
            p.fail(f"'{word}' is built in ({_READ_ONLY_MEANING[word]}): choose another name", line, col)
        if word in FUNCTIONS:
            p.fail(f"'{word}' is a function: choose another name", line, col)
        if word in taken:
            p.fail(f"'{word}' is already declared as a {taken[word]}", line, col)
        taken[word] = what

    for word, _, line, col in hypers:
        claim(word, "hyperparameter", line, col)
    for word, _, line, col in states:
        claim(word, "state", line, col)
    if len(hypers) > N_HYPER:
        p.fail(f"at most {N_HYPER} hyperparameters", hypers[N_HYPER][2], hypers[N_HYPER][3])
    if not assigns:
        raise RuleError("the rule has no update lines: assign x, e.g. x = x - lr*g",
                        len(text.split("\n")), 1, len(text))
    kinds: dict[int, str] = {}
    known: dict[str, str] = {**READ_ONLY, **{h: SCALAR for h, *_ in hypers}}
    # state initial values: x, g, f, t and the hyperparameters (states are not set yet)
    for word, expr, line, _ in states:
        _kind(p, expr, line, known, kinds, set(), None, allow_grad=False)
    known.update({s: VECTOR for s, *_ in states})
    assigned_later = {t for t, *_ in assigns}
    locals_: dict[str, str] = {}
    body: list[Statement] = []
    grad_calls = [0]
    for target, expr, line, col in assigns:
        if keyword.iskeyword(target):
            p.fail(f"'{target}' is a Python keyword: choose another name", line, col)
        if target in READ_ONLY and target != "x":
            p.fail(f"'{target}' is read-only ({_READ_ONLY_MEANING[target]}); assign a state or a new "
                   "name instead", line, col)
        if target in taken and taken[target] == "hyperparameter":
            p.fail(f"'{target}' is a hyperparameter: it cannot be assigned", line, col)
        if target in FUNCTIONS:
            p.fail(f"'{target}' is a function: it cannot be assigned", line, col)
        kind = _kind(p, expr, line, known, kinds, assigned_later, grad_calls, allow_grad=True)
        if target == "x" or target in taken:   # parameters and states are vectors (a number is broadcast)
            kind = VECTOR
        elif target not in locals_:              # a temporary of the step: as its first value
            locals_[target] = known[target] = kind
        elif locals_[target] == SCALAR and kind == VECTOR:
            p.fail(f"'{target}' was a number on an earlier line; a vector cannot be assigned to it "
                   "(use a new name)", line, col)
        else:
            kind = locals_[target]
        body.append(Statement(target, expr, line, kind))
    if not any(s.target == "x" for s in body):
        last = assigns[-1]
        raise RuleError("the rule never assigns x, so the parameters never move: add a line such as "
                        "x = x - lr*g", last[2], 1, p.offsets[last[2] - 1])
    if grad_calls[0] > MAX_GRAD_CALLS:
        raise RuleError(f"at most {MAX_GRAD_CALLS} grad(...) calls a step")
    return Rule(name, text, [(h, d) for h, d, *_ in hypers], [(s, e) for s, e, *_ in states], body,
                locals_, kinds, grad_calls[0])


#: parameter and local names of the generated torch.optim class
_TAKEN_BY_TORCH_SOURCE = {"self", "params", "closure", "torch", "math", "group", "loss", "states", "st", "k"}

_READ_ONLY_MEANING = {"x": "the parameters", "g": "the gradient at x", "f": "the loss at x",
                      "t": "the step number"}


def _kind(p: _Parser, node, line, known, kinds, assigned_later, grad_calls, allow_grad) -> str:
    """Check ``node`` against the whitelist; record and return its kind (vector or number)."""
    col = getattr(node, "col_offset", 0)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            p.fail(f"{node.value!r} is not a number", line, col)
        k = SCALAR
    elif isinstance(node, ast.Name):
        word = node.id
        if word in known:
            k = known[word]
        elif word in CONSTANTS and word not in assigned_later:
            k = SCALAR
        elif word in FUNCTIONS:
            p.fail(f"'{word}' is a function: write {word}(...)", line, col)
        elif word in assigned_later:
            p.fail(f"'{word}' is read before it is declared or assigned: declare it with "
                   f"'state {word} = 0' to carry it from step to step", line, col)
        else:
            names = list(known) + [c for c in CONSTANTS if c not in assigned_later] + list(FUNCTIONS)
            hint = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
            extra = f" — did you mean '{hint[0]}'?" if hint else " (declare it with 'hyper' or 'state')"
            p.fail(f"unknown name '{word}'{extra}", line, col)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
        a = _kind(p, node.left, line, known, kinds, assigned_later, grad_calls, allow_grad)
        b = _kind(p, node.right, line, known, kinds, assigned_later, grad_calls, allow_grad)
        k = VECTOR if VECTOR in (a, b) else SCALAR
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARY):
        k = _kind(p, node.operand, line, known, kinds, assigned_later, grad_calls, allow_grad)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            p.fail("only the listed functions can be called", line, col)
        word = node.func.id
        if word not in FUNCTIONS:
            hint = difflib.get_close_matches(word, list(FUNCTIONS), n=1, cutoff=0.6)
            extra = f" — did you mean '{hint[0]}'?" if hint else f" (functions: {', '.join(FUNCTIONS)})"
            p.fail(f"unknown function '{word}'{extra}", line, col)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            p.fail(f"{word}() takes plain arguments", line, col)
        if len(node.args) != FUNCTIONS[word]:
            n = FUNCTIONS[word]
            p.fail(f"{word}() takes {n} argument{'s' if n > 1 else ''}, got {len(node.args)}", line, col)
        args = [_kind(p, a, line, known, kinds, assigned_later, grad_calls, allow_grad) for a in node.args]
        if word == GRAD:
            if not allow_grad:
                p.fail("grad(...) cannot be used in a state's initial value", line, col)
            grad_calls[0] += 1
            k = VECTOR
        elif word in REDUCTIONS:
            k = SCALAR
        else:
            k = VECTOR if VECTOR in args else SCALAR
    else:
        what = {ast.Compare: "comparisons", ast.BoolOp: "'and'/'or'", ast.IfExp: "'if ... else'",
                ast.Attribute: "attributes ('.')", ast.Subscript: "indexing ('[...]')",
                ast.Lambda: "lambda", ast.Tuple: "tuples", ast.List: "lists"}.get(type(node))
        if isinstance(node, ast.BinOp):
            what = "this operator (use + - * / ^)"
        p.fail(f"{what or type(node).__name__} not allowed in a rule", line, col)
    kinds[id(node)] = k
    return k


# --- the numpy reference -------------------------------------------------------------------------

_NP = {"sqrt": np.sqrt, "abs": np.abs, "sign": np.sign, "exp": np.exp, "log": np.log, "log2": np.log2,
       "log10": np.log10, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin,
       "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
       "relu": lambda a: np.maximum(a, 0.0), "min": np.fmin, "max": np.fmax, "atan2": np.arctan2,
       "hypot": np.hypot}


def sigmoid(a):
    a = np.asarray(a, dtype=float)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(a):
    a = np.asarray(a, dtype=float)
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


_NP["sigmoid"] = sigmoid
_NP["softplus"] = softplus


class RuleInterpreter:
    """One rule's state on one parameter vector, stepped with numpy (vectors are float64 arrays).

    ``gradient(point, draw)`` returns the gradient at ``point``; ``draw`` numbers the
    evaluations of a step (0 for ``g``, then 1, 2, ... for each ``grad(...)`` in the
    order they are written), so noise is drawn as the kernel draws it.
    """

    def __init__(self, rule: Rule, hyper: np.ndarray, n: int):
        self.rule, self.n = rule, n
        self.scalars = {h: float(hyper[i]) for i, (h, _) in enumerate(rule.hypers)}
        self.state: dict[str, np.ndarray] = {}
        self.t = 0

    def _eval(self, node, env, gradient, draw):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return env[node.id] if node.id in env else CONSTANTS[node.id]
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, env, gradient, draw)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a = self._eval(node.left, env, gradient, draw)
            b = self._eval(node.right, env, gradient, draw)
            op = type(node.op)
            a, b = np.float64(a) if isinstance(a, float) else a, b
            return (a + b if op is ast.Add else a - b if op is ast.Sub else a * b if op is ast.Mult
                    else a / b if op is ast.Div else np.power(a, b))
        word = node.func.id
        args = [self._eval(a, env, gradient, draw) for a in node.args]
        if word == GRAD:
            draw[0] += 1
            point = np.broadcast_to(np.asarray(args[0], dtype=float), (self.n,)).copy()
            return gradient(point, draw[0])
        if word == "norm":
            v = np.broadcast_to(args[0], (self.n,))
            return float(np.sqrt(_sum(v * v)))
        if word == "dot":
            return float(_sum(np.broadcast_to(args[0] * args[1], (self.n,))))
        if word == "sum":
            return float(_sum(np.broadcast_to(args[0], (self.n,))))
        return _NP[word](*args)

    def step(self, q: np.ndarray, g: np.ndarray, loss: float, gradient) -> np.ndarray:
        """The point after one step (``q`` is not modified)."""
        self.t += 1
        env = {**self.scalars, "x": q.copy(), "g": g, "f": float(loss), "t": float(self.t)}
        draw = [0]
        with np.errstate(all="ignore"):
            if self.t == 1:
                for s, expr in self.rule.states:
                    self.state[s] = _vector(self._eval(expr, env, gradient, draw), self.n)
            env.update(self.state)
            for st in self.rule.body:
                value = self._eval(st.expr, env, gradient, draw)
                env[st.target] = _vector(value, self.n) if st.kind == VECTOR else float(value)
        for s in self.state:
            self.state[s] = env[s]
        return env["x"]

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        first, second = self.rule.moment_names
        nan = np.full(self.n, np.nan)
        return (self.state[first].copy() if first else nan), (self.state[second].copy() if second else nan)


def _sum(v):
    """Left-to-right sum, as the kernel adds (numpy's pairwise sum rounds differently)."""
    total = 0.0
    for a in np.asarray(v, dtype=float):
        total += a
    return total


def _vector(value, n: int) -> np.ndarray:
    return np.array(np.broadcast_to(np.asarray(value, dtype=float), (n,)), dtype=float)


# --- the registry of defined rules ------------------------------------------------------------------
# kernel id -> rule; ids are never reused, so a kernel compiled for an old text of a rule
# can never run for its new text (a run in flight keeps the kernel it started with)

_RULES: dict[int, Rule] = {}


def register(rule: Rule, kind: int) -> None:
    _RULES[kind] = rule


def rule_for_kind(kind: int) -> Rule:
    try:
        return _RULES[int(kind)]
    except KeyError:
        raise ValueError(f"unknown optimizer kind {kind}") from None
