"""Hypothesis: valid formulas evaluate, anything else only ever raises ExpressionError."""

import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landscape_gui.core import ExpressionError
from landscape_gui.core.formula.loss_function import LossFunction, compile_expression

UNARY = ["sin", "cos", "tanh", "exp", "log", "sqrt", "abs", "atan", "sigmoid", "softplus", "relu", "sinh"]
BINARY = ["atan2", "min", "max", "hypot"]

leaves = st.one_of(st.sampled_from(["x", "y", "a", "pi", "e"]),
                   st.floats(0.01, 50, allow_nan=False).map(lambda v: f"{v:.4g}"),
                   st.integers(0, 9).map(str))


def extend(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "^"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})" if t[1] != "^" else f"({t[0]})^{min(len(t[2]) % 4, 3)}"),
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(BINARY), children, children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        children.map(lambda c: f"-{c}"),
    )


formulas = st.recursive(leaves, extend, max_leaves=12)


def build(text):
    compiled = compile_expression(text)  # parse + numpy tier, no Numba compile per example
    return LossFunction(compiled, {n: 1.3 for n in compiled.parsed.parameters})


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas)
def test_generated_formulas_evaluate_with_exact_derivatives(text):
    t0 = time.perf_counter()
    try:
        f = build(text)
    except ExpressionError as err:
        # the only refusals a well-formed formula can meet: constant nonsense like 0^-1 or log(0)
        assert err.message
        return
    xs = np.array([-1.3, 0.4, 2.2])
    ys = np.array([0.7, -0.9, 1.6])
    v = f.value(xs, ys)  # NaN/inf where undefined, never an exception
    gx, gy = f.gradient(xs, ys)
    assert v.shape == (3,) and gx.shape == (3,) and gy.shape == (3,)
    h = 1e-6
    with np.errstate(all="ignore"):
        fd = (f.value(xs + h, ys) - f.value(xs - h, ys)) / (2 * h)
    ok = np.isfinite(fd) & np.isfinite(gx) & (np.abs(v) < 1e6) & (np.abs(gx) < 1e4)
    # away from kinks (abs, min, relu) the symbolic derivative equals the numerical one
    close = np.abs(fd[ok] - gx[ok]) <= 1e-3 * (1 + np.abs(gx[ok]))
    assert close.mean() >= 0.5 if ok.any() else True
    assert time.perf_counter() - t0 < 2.0


garbage = st.text(alphabet="xy0123456789.+-*/^()[]{},:;=<>!&|%@~'\"_ abcdefghijklmnopqrstuvwz\n\t\\#$",
                  max_size=60)


@settings(max_examples=600, deadline=None)
@given(garbage)
def test_garbage_only_raises_expression_error(text):
    t0 = time.perf_counter()
    try:
        f = build(text)
    except ExpressionError as err:
        assert isinstance(err.message, str) and err.message
        assert err.position is None or 0 <= err.position <= len(text)
    else:
        with np.errstate(all="ignore"):
            f.value(0.3, -0.2)
            f.gradient(0.3, -0.2)
            f.hessian(0.3, -0.2)
    assert time.perf_counter() - t0 < 2.0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_unicode_only_raises_expression_error(text):
    try:
        build(text)
    except ExpressionError:
        pass
