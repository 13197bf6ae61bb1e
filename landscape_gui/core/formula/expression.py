"""Formula text -> validated Python AST -> sympy expression.

User text is never passed to ``eval``/``exec``: it is parsed with :mod:`ast`
and every node is checked against a whitelist before it becomes a sympy
expression. Errors carry the 0-based character offset into the *original*
text so the editor can underline the right character.
"""

from __future__ import annotations

import ast
import difflib
import io
import math
import re
import tokenize
from dataclasses import dataclass

import numpy as np
import sympy as sp

MAX_TEXT_LENGTH = 2000
MAX_DEPTH = 60
MAX_EXPONENT = 1000.0

X = sp.Symbol("x", real=True)
Y = sp.Symbol("y", real=True)


class ExpressionError(ValueError):
    """A formula the app cannot use; ``position`` is a 0-based offset or None."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position


# --- functions with derivatives sympy does not define the way we want -------------


class Sigmoid(sp.Function):
    """1 / (1 + exp(-x)); a named function so codegen can print a stable form."""

    def fdiff(self, argindex=1):
        # s(u) * s(-u), not s * (1 - s): 1 - s(u) cancels to 0 for u > 37, this stays exact
        u = self.args[0]
        return Sigmoid(u) * Sigmoid(-u)

    def _eval_evalf(self, prec):  # lets sympy compare constants, e.g. max(3, sigmoid(1))
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class Softplus(sp.Function):
    """log(1 + exp(x)), printed as a form that does not overflow."""

    def fdiff(self, argindex=1):
        return Sigmoid(self.args[0])

    def _eval_evalf(self, prec):
        return sp.log(1 + sp.exp(self.args[0]))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class Relu(sp.Function):
    """max(x, 0) with derivative 0 at 0, as torch defines it."""

    def fdiff(self, argindex=1):
        return Step(self.args[0], sp.S.Zero)

    def _eval_evalf(self, prec):
        return Maximum(self.args[0], 0)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


# abs, sign, min and max as real functions. sympy's own Abs differentiates a sub-expression
# it cannot prove real (log(x), acos(x - 1.5), x^y) through re/im/arg and Derivative, which
# no kernel can compute; the formulas here are real-valued by definition (a complex
# value is NaN), so these carry torch's derivatives instead: d|u| = sign(u) (0 at 0),
# d sign(u) = 0, and maximum/minimum pass the gradient to the larger/smaller argument
# (half to each on a tie, as torch.maximum does).


class Step(sp.Function):
    """Heaviside step with value ``h0`` at 0, for any argument: sympy's Heaviside refuses an
    argument it cannot prove real. Its derivative is 0 (almost everywhere), as torch's."""

    nargs = 2

    @classmethod
    def eval(cls, u, h0):
        if u.is_Number and u.is_real:
            return sp.S.One if u > 0 else (h0 if u == 0 else sp.S.Zero)

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _eval_is_real(self):
        return True


class RealAbs(sp.Function):
    @classmethod
    def eval(cls, u):
        if u.is_Number and u.is_real:
            return abs(u)
        if isinstance(u, (RealAbs, sp.Abs)):
            return u

    def fdiff(self, argindex=1):
        return RealSign(self.args[0])

    def _eval_evalf(self, prec):
        return sp.Abs(self.args[0])._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_nonnegative(self):
        return True if self.args[0].is_real else None


class RealSign(sp.Function):
    @classmethod
    def eval(cls, u):
        if u.is_Number and u.is_real:
            return sp.sign(u)

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _eval_evalf(self, prec):
        return sp.sign(self.args[0])._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class _Pairwise(sp.Function):
    """maximum/minimum of two arguments (n arguments nest: max(a, b, c) = max(max(a, b), c))."""

    nargs = 2
    _pick = None  # max or min, for constant arguments

    @classmethod
    def eval(cls, a, b):
        if a.is_Number and b.is_Number and a.is_real and b.is_real:
            return cls._pick(a, b)

    def _eval_evalf(self, prec):
        a, b = (arg.evalf(prec) for arg in self.args)
        if a.is_Number and b.is_Number and a.is_real and b.is_real:
            return self._pick(a, b)
        return None

    def _eval_is_real(self):
        return self.args[0].is_real and self.args[1].is_real


class Maximum(_Pairwise):
    _pick = staticmethod(max)

    def fdiff(self, argindex=1):
        a, b = self.args
        return Step(a - b, sp.S.Half) if argindex == 1 else Step(b - a, sp.S.Half)


class Minimum(_Pairwise):
    _pick = staticmethod(min)

    def fdiff(self, argindex=1):
        a, b = self.args
        return Step(b - a, sp.S.Half) if argindex == 1 else Step(a - b, sp.S.Half)


def _fold(pairwise):
    """max(a, b, c) as pairwise(pairwise(a, b), c): for sympy builders and their float64 twins."""
    def build(*args):
        out = args[0]
        for a in args[1:]:
            out = pairwise(out, a)
        return out
    return build


def _is_sigmoid(e) -> bool:
    return isinstance(e, Sigmoid)


def _log_rewrite(arg):
    """log of a logistic form, written so that it neither underflows nor overflows.

    log(sigmoid(u)) = -softplus(-u); log(1 - sigmoid(u)) = -softplus(u);
    log(1 + exp(u)) = softplus(u). Otherwise None (keep the log).
    """
    if isinstance(arg, Sigmoid):
        return -Softplus(-arg.args[0])
    if arg.is_Add and len(arg.args) == 2 and sp.S.One in arg.args:
        other = arg.args[1] if arg.args[0] == sp.S.One else arg.args[0]
        if isinstance(other, sp.exp):
            return Softplus(other.args[0])
        if other.is_Mul and len(other.args) == 2 and other.args[0] == -1 and isinstance(other.args[1], Sigmoid):
            return -Softplus(other.args[1].args[0])
    if arg.is_Pow and arg.exp == -1:  # log(1/g) = -log(g)
        inner = _log_rewrite(arg.base)
        if inner is not None:
            return -inner
    return None


def stabilise(expr: sp.Expr) -> sp.Expr:
    """Rewrite the logistic losses ML users type into forms that stay finite over +-700."""
    def fix(e):
        if isinstance(e, sp.log) and len(e.args) == 1:
            new = _log_rewrite(e.args[0])
            return e if new is None else new
        return e

    return expr.replace(lambda e: isinstance(e, sp.log), fix)


def _log(arg, base=None):
    return sp.log(arg) if base is None else sp.log(arg) / sp.log(base)


def _hypot(a, b):
    return sp.sqrt(a**2 + b**2)


# name -> (builder, min args, max args)
FUNCTIONS: dict[str, tuple] = {
    "sin": (sp.sin, 1, 1), "cos": (sp.cos, 1, 1), "tan": (sp.tan, 1, 1),
    "asin": (sp.asin, 1, 1), "acos": (sp.acos, 1, 1), "atan": (sp.atan, 1, 1),
    "atan2": (sp.atan2, 2, 2),
    "sinh": (sp.sinh, 1, 1), "cosh": (sp.cosh, 1, 1), "tanh": (sp.tanh, 1, 1),
    "asinh": (sp.asinh, 1, 1), "acosh": (sp.acosh, 1, 1), "atanh": (sp.atanh, 1, 1),
    "exp": (sp.exp, 1, 1), "log": (_log, 1, 2), "ln": (sp.log, 1, 1),
    "log2": (lambda a: sp.log(a) / sp.log(2), 1, 1),
    "log10": (lambda a: sp.log(a) / sp.log(10), 1, 1),
    "sqrt": (sp.sqrt, 1, 1), "abs": (RealAbs, 1, 1), "sign": (RealSign, 1, 1),
    "min": (_fold(Minimum), 2, 16), "max": (_fold(Maximum), 2, 16), "hypot": (_hypot, 2, 2),
    "relu": (Relu, 1, 1), "sigmoid": (Sigmoid, 1, 1), "softplus": (Softplus, 1, 1),
}
ALIASES = {
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2",
    "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
    "fabs": "abs", "minimum": "min", "maximum": "max", "logistic": "sigmoid",
}
CONSTANTS = {"pi": sp.pi, "e": sp.E}
RESERVED = {"x", "y"} | set(FUNCTIONS) | set(ALIASES) | set(CONSTANTS)

# characters people paste from papers, mapped to what Python parses
_UNICODE = {"\u2212": "-", "\u2013": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
            "\u00b2": "**2", "\u00b3": "**3", "\u03c0": "pi", "\t": " ", "\n": " ", "\r": " "}


@dataclass(frozen=True)
class ParsedExpression:
    text: str
    expr: sp.Expr
    parameters: tuple[str, ...]  # sorted free names other than x and y


def _normalise(text: str) -> tuple[str, list[int]]:
    """Rewrite ``^`` as ``**`` etc.; return the new text and, per new character, its origin."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        rep = "**" if ch == "^" else _UNICODE.get(ch, ch)
        if not rep.isascii() or (not rep.isprintable() and rep != " "):
            raise ExpressionError(f"unexpected character {ch!r} at {i}", i)
        out.append(rep)
        origin.extend([i] * len(rep))
    origin.append(len(text))  # end of text
    return "".join(out), origin


def _check_brackets(text: str, origin: list[int]) -> None:
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "]": "["}
    for k, ch in enumerate(text):
        if ch in "([":
            stack.append((ch, k))
        elif ch in ")]":
            if not stack or stack[-1][0] != pairs[ch]:
                raise ExpressionError(f"unbalanced parenthesis at {origin[k]}", origin[k])
            stack.pop()
    if stack:
        k = stack[-1][1]
        raise ExpressionError(f"unbalanced parenthesis at {origin[k]}", origin[k])


def _check_tokens(text: str, origin: list[int]) -> None:
    """Catch implicit multiplication (``2x``, ``2 x``, ``x y``) with a helpful hint."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER,
                                    tokenize.INDENT, tokenize.DEDENT)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return  # ast.parse reports it with a position
    for a, b in zip(tokens, tokens[1:]):
        if a.type == tokenize.NUMBER and b.type == tokenize.NAME and a.end == b.start:
            pos = origin[b.start[1]]
            raise ExpressionError(f"write {a.string}*{b.string}, not {a.string}{b.string} "
                                  f"(at {origin[a.start[1]]})", pos)
        if a.type in (tokenize.NUMBER, tokenize.NAME) and b.type in (tokenize.NUMBER, tokenize.NAME):
            if a.string in _KEYWORDS or b.string in _KEYWORDS:
                continue
            pos = origin[b.start[1]]
            raise ExpressionError(f"missing operator between '{a.string}' and '{b.string}' "
                                  f"at {pos}: write {a.string}*{b.string}", pos)


_KEYWORDS = {"lambda", "if", "else", "for", "in", "not", "and", "or", "is", "None",
             "True", "False", "await", "yield", "import"}


def parse_expression(text: str) -> ParsedExpression:
    """Parse user text into a sympy expression, or raise :class:`ExpressionError`."""
    if not isinstance(text, str):
        raise ExpressionError("the formula must be text", None)
    if len(text) > MAX_TEXT_LENGTH:
        raise ExpressionError(f"the formula is too long ({len(text)} characters; "
                              f"limit {MAX_TEXT_LENGTH})", MAX_TEXT_LENGTH)
    if not text.strip():
        raise ExpressionError("the formula is empty: type an expression in x and y", 0)
    norm, origin = _normalise(text)
    _check_brackets(norm, origin)
    _check_tokens(norm, origin)
    try:
        tree = ast.parse(norm.strip() and norm, mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1) - 1
        col = max(0, min(col, len(norm)))
        pos = origin[col]
        stripped = norm.rstrip()
        if stripped[-1] in "+-*/(,":
            col = len(stripped)
            pos = origin[col]
        if col >= len(stripped):
            raise ExpressionError(f"the formula ends too early at {pos}: "
                                  "an operand is missing", pos) from None
        raise ExpressionError(f"syntax error at {pos} near {norm[col:col + 8]!r}", pos) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("the formula is nested too deeply", 0) from None
    builder = _Builder(norm, origin, text)
    expr = builder.build(tree.body, 0)
    if isinstance(expr, sp.Expr):
        expr = stabilise(expr)
    if not isinstance(expr, sp.Expr):
        raise ExpressionError("the formula is not a number-valued expression", 0)
    if expr.has(sp.zoo, sp.nan, sp.I, sp.oo, -sp.oo):
        raise ExpressionError("the formula is undefined or complex everywhere "
                              "(e.g. a division by zero or the log of a negative constant)", 0)
    params = tuple(sorted(s.name for s in expr.free_symbols if s not in (X, Y)))
    # A parameter that cancels out (a - a) still counts: the user typed it.
    for name in builder.names:
        if name not in params:
            params = tuple(sorted(set(params) | {name}))
    return ParsedExpression(text=text, expr=expr, parameters=params)


class _Builder:
    """Walks the AST, allowing only arithmetic, numbers, names and known functions."""

    def __init__(self, text: str, origin: list[int], original: str | None = None):
        self.text = text
        self.original = original
        self.origin = origin
        self.names: set[str] = set()
        self._constant: dict[int, bool] = {}

    def pos(self, node) -> int:
        col = getattr(node, "col_offset", 0) or 0
        return self.origin[min(col, len(self.origin) - 1)]

    def segment(self, node) -> str:
        """The node's text as the user typed it (``^``, not the parser's ``**``)."""
        end = getattr(node, "end_col_offset", None)
        if self.original is None or end is None:
            return ast.get_source_segment(self.text, node) or type(node).__name__
        start = self.origin[min(node.col_offset, len(self.origin) - 1)]
        stop = self.origin[min(end, len(self.origin) - 1)]
        return self.original[start:stop].strip() or type(node).__name__

    def fail(self, node, message: str):
        pos = self.pos(node)
        raise ExpressionError(f"{message} (at {pos})", pos)

    def literal(self, node: ast.Constant):
        """A number literal as a Python int (exact, below 10^15) or a finite float."""
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            kind = "text" if isinstance(v, str) else type(v).__name__
            self.fail(node, f"'{self.segment(node)}': {kind} is not allowed, only numbers")
        if isinstance(v, int) and abs(v) < 10**15:
            return v
        try:
            fv = float(v)
        except OverflowError:
            fv = math.inf
        if not math.isfinite(fv):
            self.fail(node, f"the number '{self.segment(node)}' is too large")
        return fv

    def build(self, node, depth: int):
        if depth > MAX_DEPTH:
            self.fail(node, f"the formula is nested too deeply (limit {MAX_DEPTH} levels)")
        d = depth + 1
        if isinstance(node, ast.Constant):
            v = self.literal(node)
            return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
        if not isinstance(node, ast.Name) and self.is_constant(node):
            folded = self.fold(node, d)
            if folded is not None:
                return folded
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand, d)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand, d)
            self.fail(node, f"'{_OP_TEXT.get(type(node.op), '?')}' is not allowed")
        if isinstance(node, ast.BinOp):
            return self.binop(node, d)
        if isinstance(node, ast.Call):
            return self.call(node, d)
        if isinstance(node, ast.Attribute):
            self.fail(node, f"'{self.segment(node)}': attribute access is not allowed")
        if isinstance(node, ast.Subscript):
            self.fail(node, f"'{self.segment(node)}': indexing is not allowed")
        if isinstance(node, ast.Lambda):
            self.fail(node, "lambda is not allowed")
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            self.fail(node, "comprehensions are not allowed")
        if isinstance(node, ast.Compare):
            self.fail(node, "comparisons are not allowed (use min, max, relu, sign or abs)")
        if isinstance(node, ast.BoolOp):
            self.fail(node, "'and'/'or' are not allowed")
        if isinstance(node, ast.IfExp):
            self.fail(node, "'if ... else' is not allowed (use min, max, relu or sign)")
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            self.fail(node, "write one expression, not a list or tuple")
        if isinstance(node, ast.JoinedStr):
            self.fail(node, "text is not allowed, only numbers")
        self.fail(node, f"'{self.segment(node)}' is not allowed in a formula")

    # -- constant sub-expressions ------------------------------------------------------
    # A part of the formula without x, y or parameters is a number. Left to sympy,
    # exp(exp(10^300)) or asin(e) turn into arbitrary-precision or complex-number work that
    # can run for minutes or fail deep inside sympy; as float64 (numpy's rules) it is
    # instant and is exactly what the kernels would compute. Plain rational arithmetic
    # (1/3, 2*pi, 3^2) stays exact, so derivatives and the LaTeX title keep it.

    def is_constant(self, node) -> bool:
        key = id(node)
        hit = self._constant.get(key)
        if hit is None:
            if isinstance(node, ast.Constant):
                hit = True
            elif isinstance(node, ast.Name):
                hit = node.id in CONSTANTS
            elif isinstance(node, ast.UnaryOp):
                hit = self.is_constant(node.operand)
            elif isinstance(node, ast.BinOp):
                hit = self.is_constant(node.left) and self.is_constant(node.right)
            elif isinstance(node, ast.Call):
                hit = (isinstance(node.func, ast.Name) and not node.keywords and bool(node.args)
                       and all(self.is_constant(a) for a in node.args))
            else:
                hit = False
            self._constant[key] = hit
        return hit

    def is_exact(self, node) -> bool:
        """Rational arithmetic on small literals, pi and e, with small integer powers."""
        if isinstance(node, (ast.Constant, ast.Name)):
            return True
        if isinstance(node, ast.UnaryOp):
            return self.is_exact(node.operand)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                r = node.right
                while isinstance(r, ast.UnaryOp) and isinstance(r.op, (ast.USub, ast.UAdd)):
                    r = r.operand
                if not (isinstance(r, ast.Constant) and isinstance(r.value, int)
                        and not isinstance(r.value, bool) and abs(r.value) <= 64):
                    return False
            return self.is_exact(node.left) and self.is_exact(node.right)
        return False

    def fold(self, node, d: int):
        """The constant ``node`` as a sympy number, or None to build it symbolically."""
        if self.is_exact(node):
            expr = self.build_exact(node, d)
            try:
                v = float(expr)
            except (TypeError, ValueError, OverflowError):
                v = math.nan
        else:
            expr = None
            with np.errstate(all="ignore"):
                v = float(self.numeric(node))
        if not math.isfinite(v):
            seg = self.segment(node)
            seg = seg if len(seg) <= 40 else seg[:37] + "..."
            why = "it is undefined (NaN)" if math.isnan(v) else "it overflows to infinity"
            self.fail(node, f"'{seg}' has no finite real value: {why}")
        if expr is not None:
            return expr
        return sp.Integer(int(v)) if v.is_integer() and abs(v) < 2**53 else sp.Float(v)

    def build_exact(self, node, d: int):
        if isinstance(node, ast.Constant):
            v = self.literal(node)
            return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
        if isinstance(node, ast.Name):
            return CONSTANTS[node.id]
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.build_exact(node.operand, d + 1)
            if isinstance(node.op, ast.UAdd):
                return self.build_exact(node.operand, d + 1)
            self.fail(node, f"'{_OP_TEXT.get(type(node.op), '?')}' is not allowed")
        return self.binop(node, d + 1, self.build_exact)

    def numeric(self, node):
        """float64 value of a constant sub-tree, with numpy's inf/NaN instead of errors."""
        if isinstance(node, ast.Constant):
            return np.float64(self.literal(node))
        if isinstance(node, ast.Name):
            return np.float64(float(CONSTANTS[node.id]))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.numeric(node.operand)
            if isinstance(node.op, ast.UAdd):
                return self.numeric(node.operand)
            self.fail(node, f"'{_OP_TEXT.get(type(node.op), '?')}' is not allowed")
        if isinstance(node, ast.BinOp):
            op = self.check_binop(node)
            a, b = self.numeric(node.left), self.numeric(node.right)
            if op is ast.Div and b == 0:
                self.fail(node, "division by zero")
            return _NUMERIC_OPS[op](a, b)
        name = self.check_call(node)
        return np.float64(NUMERIC[name](*[self.numeric(a) for a in node.args]))

    def name(self, node: ast.Name):
        n = node.id
        if n == "x":
            return X
        if n == "y":
            return Y
        if n in CONSTANTS:
            return CONSTANTS[n]
        if n in FUNCTIONS or n in ALIASES:
            self.fail(node, f"'{n}' is a function: write {n}(...)")
        if n.startswith("_"):
            self.fail(node, f"'{n}': names starting with '_' are not allowed")
        if n in _KEYWORDS:
            self.fail(node, f"'{n}' is not allowed")
        self.names.add(n)
        return sp.Symbol(n, real=True)

    def check_binop(self, node: ast.BinOp):
        op = type(node.op)
        if op not in (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow):
            sym = _OP_TEXT.get(op, "?")
            self.fail(node, f"the operator '{sym}' is not allowed (use + - * / ^)")
        return op

    def binop(self, node: ast.BinOp, d: int, build=None):
        op = self.check_binop(node)
        build = build or self.build
        a = build(node.left, d)
        b = build(node.right, d)
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        if op is ast.Div:
            if b == 0:
                self.fail(node, "division by zero")
            return a / b
        # Power: refuse exponents that would make sympy or the kernels blow up.
        if b.is_number:
            try:
                bv = float(b)
            except (TypeError, ValueError, OverflowError):
                bv = math.inf
            if not math.isfinite(bv) or abs(bv) > MAX_EXPONENT:
                self.fail(node.right, f"the exponent {b} is too large (limit {MAX_EXPONENT:g})")
            if a.is_number:
                try:
                    val = float(a) ** bv
                except (OverflowError, ZeroDivisionError, TypeError, ValueError):
                    val = math.nan
                if isinstance(val, complex) or not math.isfinite(val):
                    self.fail(node, f"'{self.segment(node)}' has no finite real value")
        return a ** b

    def call(self, node: ast.Call, d: int):
        name = self.check_call(node)
        builder = FUNCTIONS[name][0]
        args = [self.build(a, d) for a in node.args]
        if name == "log" and len(args) == 2 and args[1].is_number:
            base = float(args[1])
            if not (base > 0 and base != 1):
                self.fail(node.args[1], f"the base of log() must be positive and not 1, got {base:g}")
        try:
            # unevaluated: sympy's automatic simplification of a call asks the assumptions of
            # the whole argument tree (is it real? positive?), 0.7 s for 40 nested calls;
            # constants are already folded, so nothing is lost
            with sp.evaluate(False):
                return builder(*args)
        except (TypeError, ValueError, ZeroDivisionError) as exc:  # sympy refusing odd input
            self.fail(node, f"cannot use {node.func.id}() here: {exc}")

    def check_call(self, node) -> str:
        """The canonical function name of a well-formed call, or an error at its position."""
        if not isinstance(node, ast.Call):
            self.build(node, 0)  # reports what is not allowed there
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                self.fail(node.func, f"'{self.segment(node.func)}': attribute access is not allowed")
            self.fail(node, f"write ({self.segment(node.func)})*(...), not "
                            f"({self.segment(node.func)})(...)")
        name = ALIASES.get(node.func.id, node.func.id)
        if name not in FUNCTIONS:
            hint = difflib.get_close_matches(node.func.id, list(FUNCTIONS) + list(ALIASES), n=1)
            extra = (f" — did you mean '{hint[0]}'?" if hint
                     else f": to multiply, write {node.func.id}*(...)")
            pos = self.pos(node.func)
            raise ExpressionError(f"unknown name '{node.func.id}' at {pos}{extra}", pos)
        if node.keywords:
            self.fail(node, f"{name}() takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            self.fail(node, "'*' arguments are not allowed")
        _, lo, hi = FUNCTIONS[name]
        n = len(node.args)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            self.fail(node, f"{node.func.id}() takes {want} argument{'s' if hi > 1 else ''}, got {n}")
        return name


_OP_TEXT = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&",
            ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~",
            ast.Not: "not", ast.BitXor: "^"}

#: float64 twins of FUNCTIONS, for constant sub-expressions (same results as the kernels)
NUMERIC = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "atan2": np.arctan2, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "exp": np.exp,
    "log": lambda a, b=None: np.log(a) if b is None else np.log(a) / np.log(b),
    "ln": np.log, "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt, "abs": np.abs,
    "sign": np.sign, "min": _fold(np.minimum), "max": _fold(np.maximum),
    "hypot": np.hypot, "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": lambda a: np.exp(np.minimum(a, 0.0)) / (1.0 + np.exp(-np.abs(a))),
    "softplus": lambda a: np.logaddexp(0.0, a),
}
_NUMERIC_OPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
                ast.Div: np.divide, ast.Pow: np.power}
assert set(NUMERIC) == set(FUNCTIONS)

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def is_parameter_name(name: str) -> bool:
    """True if ``name`` can be a formula parameter (identifier, not reserved)."""
    return bool(_IDENT.match(name)) and name not in RESERVED and name not in _KEYWORDS
