"""The formula language: what it accepts, and the errors (with positions) for what it refuses."""

import time

import numpy as np
import pytest

from landscape_gui.core import ExpressionError, compile_function
from landscape_gui.core.formula.expression import parse_expression


def error_of(text):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    return info.value


@pytest.mark.parametrize("text, x, y, expected", [
    ("x^2 + y^2", 3.0, 4.0, 25.0),
    ("x**2 + y**2", 3.0, 4.0, 25.0),
    ("2^3^2", 0.0, 0.0, 512.0),                      # right-associative, like Python's **
    ("-x^2", 3.0, 0.0, -9.0),                         # unary minus binds looser than ^
    ("pi + e", 0.0, 0.0, np.pi + np.e),
    ("atan2(y, x)", -1.0, 1.0, np.arctan2(1.0, -1.0)),
    ("arcsin(x) + asin(x)", 0.5, 0.0, 2 * np.arcsin(0.5)),
    ("min(x, y, 3) + max(x, y)", 5.0, 4.0, 3.0 + 5.0),
    ("hypot(x, y)", 3.0, 4.0, 5.0),
    ("log2(x) + log10(y) + log(x, 2)", 8.0, 100.0, 3.0 + 2.0 + 3.0),
    ("relu(x) + relu(y)", -1.0, 2.0, 2.0),
    ("sigmoid(x)", 0.0, 0.0, 0.5),
    ("softplus(x)", 800.0, 0.0, 800.0),               # no overflow for large x
    ("softplus(x)", -800.0, 0.0, 0.0),
    ("abs(x) * sign(y)", -2.0, -3.0, -2.0),
    ("sqrt(x) + exp(y) + tanh(0)", 4.0, 0.0, 3.0),
    ("3 \u2212 x\u00b2 \u00d7 y", 2.0, 1.0, -1.0),    # pasted unicode minus, square, times
    ("1e-3*x + 1_000*y", 1000.0, 0.001, 2.0),
])
def test_values(text, x, y, expected):
    f = compile_function(text, background=False)
    assert f.value(x, y) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_parameters_are_free_names_other_than_x_and_y():
    f = compile_function("a*(1-x)**2 + 100*(y - x^2)^2", params={"a": 1.0})
    assert f.text == "a*(1-x)**2 + 100*(y - x^2)^2"
    assert f.parameters == {"a": 1.0}
    g = compile_function("lr*x^2 + b*y + c")
    assert g.parameters == {"b": 1.0, "c": 1.0, "lr": 1.0}
    with pytest.raises(ExpressionError, match="not a parameter"):
        compile_function("a*x", params={"b": 2.0})


@pytest.mark.parametrize("text, position, fragment", [
    ("sinn(x)", 0, "unknown name 'sinn' at 0 — did you mean 'sin'?"),
    ("x + (y*2", 4, "unbalanced parenthesis at 4"),
    ("(x + y))", 7, "unbalanced parenthesis at 7"),
    ("2x + 1", 1, "write 2*x, not 2x"),
    ("x + 3y", 5, "write 3*y, not 3y"),
    ("x y", 2, "missing operator"),
    ("x.__class__", 0, "'x.__class__': attribute access is not allowed"),
    ("x[0]", 0, "indexing is not allowed"),
    ("lambda: 1", 0, "lambda is not allowed"),
    ("[x for x in y]", 0, "comprehensions are not allowed"),
    ("'abc'", 0, "text is not allowed"),
    ("sin(x=1)", 0, "no keyword arguments"),
    ("x**10**10", 3, "too large"),
    ("x > y", 0, "comparisons are not allowed"),
    ("x if y else 1", 0, "'if ... else' is not allowed"),
    ("x % 2", 0, "'%' is not allowed"),
    ("x // 2", 0, "'//' is not allowed"),
    ("sin", 0, "'sin' is a function"),
    ("sin(x, y)", 0, "sin() takes 1 argument, got 2"),
    ("atan2(x)", 0, "atan2() takes 2 arguments, got 1"),
    ("__import__('os')", 0, "unknown name"),
    ("_a + x", 0, "names starting with '_'"),
    ("x +", 3, "ends too early"),
    ("x * * y", 4, "syntax error"),
    ("(x+1)(x-1)", 0, "write (x+1)*(...)"),
    ("x, y", 0, "not a list or tuple"),
    ("f(x)", 0, "to multiply, write f*(...)"),
    ("x + \u03bb", 4, "unexpected character"),
    ("1/0", 0, "division by zero"),
    ("(-8)^(1/3)", 0, "no finite real value"),
    ("1j * x", 0, "complex is not allowed"),
])
def test_errors_have_messages_and_positions(text, position, fragment):
    err = error_of(text)
    assert fragment in err.message, err.message
    assert err.position == position, (err.position, err.message)
    assert isinstance(err, ValueError)


def test_caret_is_power_and_positions_refer_to_the_original_text():
    # '^' became '**' internally; the error must still point into the typed text
    err = error_of("x^2 + y^2 + sinn(x)")
    assert err.position == 12


@pytest.mark.parametrize("text", [
    "", "   ", "(" * 300 + "x" + ")" * 300, "x" + "+x" * 1500, "sin(" * 80 + "x" + ")" * 80,
    "x**10**10**10", "10**10**10", "exp(exp(exp(exp(1000))))", "9" * 400, "x" * 5000,
])
def test_hostile_input_is_refused_quickly(text):
    t0 = time.perf_counter()
    try:
        f = compile_function(text, background=False)
    except ExpressionError as err:
        assert err.message
    else:  # accepted ones must evaluate without raising
        with np.errstate(all="ignore"):
            f.value(0.5, 0.5)
    assert time.perf_counter() - t0 < 1.0


def test_undefined_points_give_nan_or_inf_without_warnings():
    f = compile_function("log(x) + sqrt(y) + 1/(x - 1)", background=False)
    with np.errstate(all="raise"):  # any numpy warning would become an error here
        assert np.isnan(f.value(-1.0, 1.0))
        assert np.isinf(f.value(1.0, 1.0))
        g = f.grid((-1, 2), (-1, 2), (16, 16))
        gx, gy = f.gradient(np.array([-1.0, 2.0]), np.array([1.0, -1.0]))
    assert np.isnan(g).any() and np.isfinite(g).any()
    assert gx[0] == -1.25 and np.isnan(gy[1])  # d/dx log(x) = 1/x is defined at x < 0
    h = compile_function("exp(x^2)", background=False)
    assert h.value(40.0, 0.0) == np.inf
    assert np.isinf(h.grid((30, 40), (0, 1), (4, 4))).all()


# --- derivatives of kinks of any sub-expression (abs, sign, min, max) -----------------------

KINKED = ["abs(log(x))", "abs(sqrt(x)-1)", "sign(log(x))", "abs(x^y)", "abs(acos(x-1.5))",
          "abs(log10(x)*tan(y))", "max(log(x), y)", "min(acos(x - 1.5), y^2)", "relu(log(x)) * y"]


@pytest.mark.parametrize("text", KINKED)
def test_kinks_of_any_sub_expression_have_compiled_derivatives(text):
    """Formerly accepted while the gradient raised (re/im/arg/Derivative from sympy's Abs)."""
    f = compile_function(text, background=False)
    x, y, h = 1.7, 0.45, 1e-6
    with np.errstate(all="ignore"):
        gx, gy = f.gradient(x, y)
        fd = ((f.value(x + h, y) - f.value(x - h, y)) / (2 * h), (f.value(x, y + h) - f.value(x, y - h)) / (2 * h))
        hess = f.hessian(x, y)
        k = f.kernels()
        kv = k.value_and_gradient(x, y, f.param_array)
    if np.isfinite(f.value(x, y)):
        assert gx == pytest.approx(fd[0], rel=1e-5, abs=1e-7) and gy == pytest.approx(fd[1], rel=1e-5, abs=1e-7)
        assert np.isfinite(np.array(hess, dtype=float)).all()
        assert kv == pytest.approx((f.value(x, y), gx, gy), rel=1e-12)


def test_kinks_take_torch_values_at_the_kink():
    f = compile_function("abs(x) + max(y, 0.5) + relu(x - 1)", background=False)
    assert f.gradient(0.0, 0.5) == (0.0, 0.5)   # sign(0) = 0; a tie splits maximum's gradient
    assert f.gradient(1.0, 1.0) == (1.0, 1.0)   # relu'(0) = 0 (plus d|x| = 1)


# --- logistic forms stay finite and accurate over +-700 ---------------------------------------

def _exact(text, x):
    import mpmath

    mpmath.mp.dps = 400  # 1 - sigmoid(700) ~ 1e-304 must not round to 0
    X = mpmath.mpf(x)
    sig = lambda u: 1 / (1 + mpmath.exp(-u))
    sp_ = lambda u: mpmath.log(1 + mpmath.exp(u))
    table = {"sigmoid(x)": sig(X), "-log(sigmoid(x))": -mpmath.log(sig(X)),
             "-log(1 - sigmoid(x))": -mpmath.log(1 - sig(X)), "log(1 + exp(x))": sp_(X),
             "softplus(x)": sp_(X), "log(softplus(x))": mpmath.log(sp_(X))}
    value = table[text]
    d = mpmath.diff(lambda t: {"sigmoid(x)": sig, "-log(sigmoid(x))": lambda u: -mpmath.log(sig(u)),
                               "-log(1 - sigmoid(x))": lambda u: -mpmath.log(1 - sig(u)),
                               "log(1 + exp(x))": sp_, "softplus(x)": sp_,
                               "log(softplus(x))": lambda u: mpmath.log(sp_(u))}[text](t), X)
    return float(value), float(d)


@pytest.mark.parametrize("text", ["sigmoid(x)", "-log(sigmoid(x))", "-log(1 - sigmoid(x))", "log(1 + exp(x))",
                                  "softplus(x)", "log(softplus(x))"])
def test_logistic_losses_are_accurate_from_minus_to_plus_700(text):
    f = compile_function(text, background=False)
    k = f.kernels()
    for x in (-700.0, -40.0, -1.0, 0.0, 2.5, 40.0, 700.0):
        value, slope = _exact(text, x)
        with np.errstate(all="raise"):
            v, (gx, _) = f.value(x, 0.0), f.gradient(x, 0.0)
        assert v == pytest.approx(value, rel=1e-12, abs=1e-300), (x, v, value)
        assert gx == pytest.approx(slope, rel=1e-9, abs=1e-300), (x, gx, slope)
        assert k.value_and_gradient(x, 0.0, f.param_array)[:2] == pytest.approx((value, slope), rel=1e-9,
                                                                                abs=1e-300)


@pytest.mark.parametrize("text", ["exp(1000) + x", "exp(exp(exp(exp(1000))))", "sqrt(-1 - x^2 - y^2)",
                                  # asin(2) is complex: NaN everywhere (sympy's Min raised ValueError)
                                  "minimum(-(hypot(arcsin(2), e)/x), x, cosh(y))"])
def test_a_formula_that_is_nowhere_finite_is_refused_at_once(text):
    t0 = time.perf_counter()
    # a constant part that is inf/NaN is named with its position; otherwise the whole surface
    with pytest.raises(ExpressionError, match="everywhere|has no finite real value"):
        compile_function(text)
    assert time.perf_counter() - t0 < 0.5
