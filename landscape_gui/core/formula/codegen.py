"""sympy expression -> Python source for the numpy tier and the Numba tier.

One printer serves both tiers: it only emits operators and ``np.*`` functions
that work on numpy arrays *and* on scalars inside Numba. The grid kernel hoists
every subexpression that depends only on x (evaluated once per column) or only
on y (once per row) out of the inner loop, because Numba's transcendental calls
are scalar libm calls while numpy's broadcasting gets that hoisting for free.
"""

from __future__ import annotations

import hashlib
import math
import re
import os
import sys
import threading
import importlib.util
from pathlib import Path

import sympy as sp

from .expression import (X, Y, ExpressionError, Maximum, Minimum, RealAbs, RealSign, Relu, Sigmoid,
                         Softplus, Step)
from ..files import atomic_write_text
from ..kernel_files import kernel_dir  # noqa: F401  (where generated modules live; re-exported)

CODEGEN_VERSION = "7"  # bump when the generated source changes shape


#: a hash of ``vmath``'s source, part of every generated module's name: Numba's disk cache checks
#: only the module's own file, while the grid kernel inlines vmath's functions (a faster vexp would
#: otherwise never reach formulas compiled before it)
_VMATH_VERSION = hashlib.sha1(Path(__file__).with_name("vmath.py").read_bytes()).hexdigest()[:8]

_UNARY = {
    sp.sin: "np.sin", sp.cos: "np.cos", sp.tan: "np.tan",
    sp.asin: "np.arcsin", sp.acos: "np.arccos", sp.atan: "np.arctan",
    sp.sinh: "np.sinh", sp.cosh: "np.cosh", sp.tanh: "np.tanh",
    sp.asinh: "np.arcsinh", sp.acosh: "np.arccosh", sp.atanh: "np.arctanh",
    sp.exp: "np.exp", sp.log: "np.log", sp.Abs: "np.abs", sp.sign: "np.sign",
    RealAbs: "np.abs", RealSign: "np.sign",
}


def _float_literal(value) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        v = math.nan  # complex or undefined constant, e.g. log(-1)
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "(-np.inf)"
    return repr(v)


_SIMPLE = re.compile(r"\(?-?[0-9.e+-]+\)?\Z|p\[[0-9]+\]\Z|np\.(nan|inf)\Z")


class Printer:
    """Prints a sympy tree as an expression over the names in ``symbols``."""

    def __init__(self, symbols: dict[sp.Symbol, str], prefix: str = "t"):
        self.symbols = symbols
        self.prefix = prefix
        #: assignments the next printed line needs first (see ``bind``)
        self.pending: list[str] = []
        #: sub-expressions used more than once: printed once, then by name
        self.shared: set = set()
        self._heights: dict = {}
        self._count = 0

    def __call__(self, e) -> str:
        return self.p(e)

    def bind(self, code: str, force: bool = False) -> str:
        """A name for ``code`` when it is used more than once in one printed form.

        sigmoid(u), softplus(u), step(u) and u*u*u use their argument twice; printed inline,
        softplus(softplus(...)) would double the source at each level. A temporary keeps
        the generated code linear in the expression.
        """
        if not force and (code.isidentifier() or _SIMPLE.match(code)):
            return code
        name = f"{self.prefix}t{self._count}"
        self._count += 1
        self.pending.append(f"{name} = {code}")
        return name

    def take_pending(self, indent: str) -> list[str]:
        lines = [indent + line for line in self.pending]
        self.pending = []
        return lines

    def p(self, e) -> str:
        if e in self.symbols:
            return self.symbols[e]
        if e in self.shared or (e.args and self.height(e) % 12 == 0):
            # shared, or deep enough that Python's parser (200 nested brackets) needs a break
            name = self.bind(self.p_node(e), force=True)
            self.symbols[e] = name
            return name
        return self.p_node(e)

    def height(self, e) -> int:
        h = self._heights.get(e)
        if h is None:
            h = 1 + max((self.height(a) for a in e.args), default=0)
            self._heights[e] = h
        return h

    def p_node(self, e) -> str:
        if e.is_Number or e.is_NumberSymbol or (e.is_number and not e.free_symbols):
            # constants as float64 literals: pi**999 must be inf, as numpy has it, not a
            # Python-float power raising OverflowError at run time
            lit = _float_literal(e)
            return f"({lit})" if lit.startswith("-") else lit
        if e.is_Symbol:
            raise ExpressionError(f"internal: unbound symbol {e}")
        if e.is_Add:
            return "(" + " + ".join(self.p(a) for a in e.args) + ")"
        if e.is_Mul:
            num, den = [], []
            for a in e.args:
                if a.is_Pow and a.exp.is_Number and a.exp < 0:
                    den.append(self.pow(a.base, -a.exp))
                elif a.is_Rational and a.p == -1 and a.q == 1:
                    num.insert(0, "-1.0")
                else:
                    num.append(self.p(a))
            s = " * ".join(num) if num else "1.0"
            if den:
                s = f"{s} / ({' * '.join(den)})"
            return f"({s})"
        if e.is_Pow:
            if e.exp.is_Number and e.exp < 0:
                return f"(1.0 / {self.pow(e.base, -e.exp)})"
            return self.pow(e.base, e.exp)
        f = e.func
        args = e.args
        if f in _UNARY:
            return f"{_UNARY[f]}({self.p(args[0])})"
        if f is sp.atan2:
            return f"np.arctan2({self.p(args[0])}, {self.p(args[1])})"
        if f in (sp.Min, sp.Max, Minimum, Maximum):
            name = "np.minimum" if f in (sp.Min, Minimum) else "np.maximum"
            s = self.p(args[0])
            for a in args[1:]:
                s = f"{name}({s}, {self.p(a)})"
            return s
        if f is sp.Heaviside or f is Step:
            a = self.bind(self.p(args[0]))
            h0 = _float_literal(args[1]) if len(args) > 1 else "0.5"
            return f"(1.0 * ({a} > 0.0) + {h0} * ({a} == 0.0))"
        if f is sp.DiracDelta:
            return "0.0"  # derivative of sign/step: zero almost everywhere
        if f is Relu:
            return f"np.maximum({self.p(args[0])}, 0.0)"
        if f is Sigmoid:  # exp of a non-positive number only: no overflow, no 1 - 1 cancellation
            a = self.bind(self.p(args[0]))
            return f"(np.exp(np.minimum({a}, 0.0)) / (1.0 + np.exp(-np.abs({a}))))"
        if f is Softplus:
            a = self.bind(self.p(args[0]))
            return f"(np.maximum({a}, 0.0) + np.log1p(np.exp(-np.abs({a}))))"
        raise ExpressionError(f"cannot compile '{f.__name__}' (internal: no code for it)")

    def pow(self, base, exp) -> str:
        b = self.p(base)
        if exp.is_Integer:
            n = int(exp)
            if n == 0:
                return "1.0"
            if n == 1:
                return b
            if n <= 4:
                b = self.bind(b)
                return "(" + " * ".join([b] * n) + ")"
            return f"({b} ** {n}.0)"
        if exp == sp.Rational(1, 2):
            return f"np.sqrt({b})"
        if exp == sp.Rational(3, 2):
            b = self.bind(b)
            return f"({b} * np.sqrt({b}))"
        if exp.is_Number:
            return f"({b} ** {_float_literal(exp)})"
        return f"({b} ** {self.p(exp)})"


def _cse_lines(exprs, printer: Printer, prefix: str, indent: str):
    """Assignment lines and final expressions, each shared sub-expression computed once.

    A sub-expression met more than once anywhere in ``exprs`` is printed once, into a
    temporary, and named after that. (sympy's ``cse`` does the same but rebuilds every
    expression it touches, a second per 1,000 operations.)
    """
    counts: dict = {}
    stack = list(exprs)
    while stack:
        e = stack.pop()
        seen = counts.get(e, 0)
        counts[e] = seen + 1
        if not seen and e.args:
            stack.extend(e.args)
    printer.shared = {e for e, c in counts.items()
                      if c > 1 and e.args and not e.is_number and e not in printer.symbols}
    printer.prefix = prefix
    finals = [printer(e) for e in exprs]
    return printer.take_pending(indent), finals


# --- hoisting x-only / y-only subexpressions out of the grid's inner loop ------------


class _Hoister:
    def __init__(self, params: set):
        self.params = params
        self.defs = {"x": {}, "y": {}, "c": {}}  # kind -> {expr: symbol}

    def kind(self, e) -> str:
        fs = e.free_symbols
        hx, hy = X in fs, Y in fs
        if hx and hy:
            return "xy"
        return "x" if hx else "y" if hy else "c"

    def hoist(self, e, kind):
        if e.is_Number or e.is_NumberSymbol or e in self.params:
            return e
        if kind in ("x", "y") and e in (X, Y):
            return e if kind == "y" else self._sym("x", e)
        return self._sym(kind, e)

    def _sym(self, kind, e):
        table = self.defs[kind]
        if e not in table:
            table[e] = sp.Symbol(f"_{kind.upper()}{len(table)}", real=True)
        return table[e]

    def split(self, e):
        k = self.kind(e)
        if k != "xy":
            return self.hoist(e, k)
        if e.is_Add or e.is_Mul:
            groups = {"x": [], "y": [], "c": [], "xy": []}
            for a in e.args:
                groups[self.kind(a)].append(a)
            new = [self.split(a) for a in groups["xy"]]
            for kk in ("x", "y", "c"):
                if groups[kk]:
                    new.append(self.hoist(e.func(*groups[kk]), kk))
            return e.func(*new, evaluate=False)
        return e.func(*[self.split(a) for a in e.args], evaluate=False)


# --- module source ------------------------------------------------------------------


def _param_symbols(params: tuple[str, ...]) -> dict:
    return {sp.Symbol(n, real=True): f"p[{i}]" for i, n in enumerate(params)}


def _function_source(name, exprs, params, prefix, numba: bool) -> str:
    pr = Printer({X: "x", Y: "y", **_param_symbols(params)})
    lines, finals = _cse_lines(exprs, pr, prefix, "    ")
    out = finals[0] if len(finals) == 1 else "(" + ", ".join(finals) + ")"
    deco = (f"@njit({_SIGNATURES[name]!r}, cache=True, error_model='numpy', nogil=True)\n"
            if numba else "")
    return f"{deco}def {name}(x, y, p):\n" + "\n".join(lines + [f"    return {out}"]) + "\n"


_OPERATION = re.compile(r"np\.\w+\(|\*\*|[-+*/]")
#: value + gradient + Hessian of the numpy tier, after common sub-expressions are bound once.
#: ~20 us per operation on a 64 x 64 grid keeps the whole evaluation under 0.2 s.
MAX_OPERATIONS = 8000


def count_operations(source: str) -> int:
    """Arithmetic operators and numpy calls in generated source (a cost measure)."""
    return len(_OPERATION.findall(source))


def derivatives(expr):
    """Exact first and second derivatives: ((fx, fy), (fxx, fxy, fyy))."""
    fx, fy = diff(expr, X), diff(expr, Y)
    return (fx, fy), (diff(fx, X), diff(fx, Y), diff(fy, Y))


def diff(expr, s):
    """d expr / d s by the chain rule, each shared sub-expression differentiated once.

    The rules of each function are sympy's own (``fdiff``); only the walk is ours:
    ``sp.diff`` re-walks the whole argument at every level of a nested call (a
    ``replace`` per function), so 40 nested functions took 5 s there and 0.3 s here.
    """
    memo: dict = {}

    def times(*factors):
        # unevaluated: d(inner) stays one shared sub-tree instead of being flattened into
        # every product above it (which made the code quadratic in the nesting depth)
        factors = [f for f in factors if f != 1]
        if any(f == 0 for f in factors):
            return sp.S.Zero
        if not factors:
            return sp.S.One
        return factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)

    def plus(terms):
        terms = [t for t in terms if t != 0]
        if not terms:
            return sp.S.Zero
        return terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)

    def d(e):
        r = memo.get(e)
        if r is not None:
            return r
        if s not in e.free_symbols:
            r = sp.S.Zero
        elif e == s:
            r = sp.S.One
        elif e.is_Add:
            r = plus([d(a) for a in e.args])
        elif e.is_Mul:
            args = e.args
            r = plus([times(*args[:i], d(a), *args[i + 1:]) for i, a in enumerate(args)])
        elif e.is_Pow:
            base, exponent = e.args
            if s not in exponent.free_symbols:
                r = times(exponent * base ** (exponent - 1), d(base))
            else:
                r = times(e, plus([times(d(exponent), sp.log(base)), times(exponent, d(base), 1 / base)]))
        elif isinstance(e, sp.Function):
            r = plus([times(e.fdiff(i + 1), d(a)) for i, a in enumerate(e.args)])
        else:  # anything else sympy knows how to differentiate
            r = sp.diff(e, s)
        memo[e] = r
        return r

    return d(expr)


def numpy_value_source(expr, params) -> str:
    """Tier 1, the part needed for a first picture: f alone (no derivatives yet)."""
    return HEADER_NUMPY + _function_source("value", [expr], params, "v", False)


def numpy_derivative_source(expr, params, derivs=None) -> str:
    (fx, fy), (fxx, fxy, fyy) = derivs or derivatives(expr)
    return (HEADER_NUMPY + _function_source("gradient", [fx, fy], params, "g", False) + "\n\n"
            + _function_source("hessian", [fxx, fxy, fyy], params, "h", False))


def numba_source(expr, params, derivs=None) -> tuple[str, str]:
    """Tier 2: scalar kernels and the hoisted parallel grid; returns (source, key)."""
    (fx, fy), (fxx, fxy, fyy) = derivs or derivatives(expr)
    parts = [HEADER_NUMBA,
             _function_source("value", [expr], params, "v", True),
             _function_source("value_and_gradient", [expr, fx, fy], params, "g", True),
             _function_source("hessian", [fxx, fxy, fyy], params, "h", True),
             _grid_kernel(expr, params)]
    source = "\n\n".join(parts)
    key = hashlib.sha1((CODEGEN_VERSION + _VMATH_VERSION + source).encode()).hexdigest()[:16]
    return source, key


#: in the grid's inner loop: vectorisable versions (``vmath``) of these libm calls
_FAST_CALLS = {"np.exp(": "vexp(", "np.sin(": "vsin(", "np.cos(": "vcos("}
#: calls a loop can vectorise without help
_VECTOR_CALLS = {"np.sqrt", "np.abs", "np.sign", "np.minimum", "np.maximum"}
_CALL = re.compile(r"np\.\w+(?=\()")


def _vectorised(lines: list[str]) -> tuple[list[str], bool]:
    """The inner loop's lines with exp/sin/cos replaced by ``vmath``'s, and whether any other
    scalar libm call (tanh, log, a power, ...) is left in them: for such formulas numpy's SIMD
    loops beat a scalar call per point, so the grid runs the numpy twin in row blocks instead.
    A rule on the generated code, not a timing: the same text always gives the same numbers."""
    out = []
    for line in lines:
        for a, b in _FAST_CALLS.items():
            line = line.replace(a, b)
        out.append(line)
    text = "\n".join(out)
    scalar = "**" in text or any(c not in _VECTOR_CALLS for c in _CALL.findall(text))
    return out, scalar


def _grid_kernel(expr, params) -> str:
    psyms = _param_symbols(params)
    h = _Hoister(set(psyms))
    inner = h.split(expr)
    xdefs, ydefs, cdefs = h.defs["x"], h.defs["y"], h.defs["c"]
    lines = ["",
             "",
             f"@njit({GRID_SIGNATURE!r}, cache=True, error_model='numpy', nogil=True)",
             "def grid(xs, ys, p, out, j0, j1):",
             "    nx = xs.shape[0]",
             "    ny = ys.shape[0]"]
    syms = {X: "x", Y: "y", **psyms}
    if cdefs:
        pr = Printer(dict(syms))
        cl, cf = _cse_lines(list(cdefs), pr, "c", "    ")
        lines += cl
        for s, code in zip(cdefs.values(), cf):
            lines.append(f"    {s.name} = {code}")
            syms[s] = s.name
    if xdefs:
        pr = Printer(dict(syms))
        for s in xdefs.values():
            lines.append(f"    {s.name}a = np.empty(nx)")
        lines.append("    for i in range(nx):")
        lines.append("        x = xs[i]")
        xl, xf = _cse_lines(list(xdefs), pr, "xc", "        ")
        lines += xl
        for s, code in zip(xdefs.values(), xf):
            lines.append(f"        {s.name}a[i] = {code}")
            syms[s] = s.name
    lines.append("    for j in range(j0, j1):")
    lines.append("        y = ys[j]")
    if ydefs:
        pr = Printer(dict(syms))
        yl, yf = _cse_lines(list(ydefs), pr, "yc", "        ")
        lines += yl
        for s, code in zip(ydefs.values(), yf):
            lines.append(f"        {s.name} = {code}")
            syms[s] = s.name
    lines.append("        row = out[j]")
    pr = Printer(dict(syms))
    il, fin = _cse_lines([inner], pr, "ic", "            ")
    exact = il + [f"            row[i] = {fin[0]}"]
    fast, scalar = _vectorised(exact)
    loads = [f"            {s.name} = {s.name}a[i]" for s in xdefs.values()]
    lines += ["        for i in range(nx):", *loads, *fast]
    if any("vsin(" in line or "vcos(" in line for line in fast):
        # vsin/vcos give NaN for |argument| > vmath.TRIG_LIMIT: such a row (rare) is recomputed with libm
        lines += ["        bad = 0",
                  "        for i in range(nx):",
                  "            bad += row[i] != row[i]",
                  "        if bad:",
                  "            for i in range(nx):", *("    " + line for line in loads + exact)]
    lines.insert(0, f"GRID_BY_NUMPY = {scalar}")
    text = "\n".join(fast)
    cost = count_operations(text) + 20 * sum(text.count(c) for c in _FAST_CALLS.values())
    lines.insert(0, f"GRID_POINT_COST = {cost}")
    lines.insert(0, "#: operations per point in the inner loop (a vectorised exp/sin/cos counted as 20)")
    lines.insert(0, "#: the inner loop calls a libm function numpy has in SIMD: the grid runs the numpy twin")
    return "\n".join(lines) + "\n"


HEADER_NUMPY = "import numpy as np\n"
HEADER_NUMBA = ("# Generated by landscape_gui.core.codegen: do not edit.\n"
                "import numpy as np\n"
                "from numba import njit\n"
                "from landscape_gui.core.formula.vmath import vexp, vsin, vcos\n")

# Explicit signatures: kernels compile (or load from Numba's disk cache) at import,
# and the gradient can be handed to the fixed optimizer runner as a function pointer.
_SIGNATURES = {
    "value": "float64(float64, float64, float64[::1])",
    "value_and_gradient": "UniTuple(float64, 3)(float64, float64, float64[::1])",
    "hessian": "UniTuple(float64, 3)(float64, float64, float64[::1])",
}
#: rows j0 <= j < j1 of the grid: serial and without the GIL; ``LossFunction.grid`` deals row
#: blocks to threads (a busy core then takes fewer blocks instead of holding up the rest)
GRID_SIGNATURE = "void(float64[::1], float64[::1], float64[::1], float64[:, ::1], int64, int64)"



# --- loading generated modules (disk-cached so Numba's cache=True works) -------------

_load_lock = threading.Lock()


def load_numba_module(source: str, key: str):
    """Write the tier-2 source to a file (atomically) and import it.

    A real file (not exec) is what lets Numba's ``cache=True`` keep the machine
    code between launches, so a formula compiled once loads in milliseconds.
    """
    name = f"lk_{key}"
    with _load_lock:
        if name in sys.modules:
            return sys.modules[name]
        path = kernel_dir() / f"{name}.py"
        if not path.exists() or path.read_text() != source:
            atomic_write_text(path, source)
            prune_kernel_dir(path.parent)
        else:
            os.utime(path)  # recently used: pruned last
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # Numba looks the module up while compiling it
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module


MAX_CACHED_FORMULAS = 400


def prune_kernel_dir(folder: Path, keep: int = MAX_CACHED_FORMULAS) -> None:
    """Forget the least recently used formulas beyond ``keep`` (module and Numba cache files),
    so a year of typing does not fill the disk."""
    modules = sorted(folder.glob("lk_*.py"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in modules[keep:]:
        for f in [old, *(old.parent / "__pycache__").glob(f"{old.stem}.*")]:
            try:
                f.unlink()
            except OSError:
                pass


def load_numpy_functions(source: str) -> dict:
    """Tier 1: plain numpy functions, built from generated (never user) source."""
    import numpy as np

    ns: dict = {"np": np}
    exec(compile(source, "<landscape_gui numpy tier>", "exec"), ns)  # noqa: S102 - generated code
    return ns
