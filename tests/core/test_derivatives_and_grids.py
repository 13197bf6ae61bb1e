"""Exact derivatives against finite differences; grids against numpy; both tiers agree."""

import numpy as np
import pytest

from landscape_gui.core import compile_function, functions, grid_axes

EXPRESSIONS = [
    "(1 - x)^2 + 100*(y - x^2)^2",
    "sin(3*x*y) + cos(x + y)*exp(-0.1*(x^2 + y^2))",
    "log(1 + x^2 + y^2) * atan(x - y) + tanh(x*y)",
    "sqrt(1 + x^2 + 2*y^2) + x^3*y - y^4/7",
    "sigmoid(x*y) + softplus(x - 2*y) + hypot(x + 3, y - 2)",
    "atan2(y + 3, x + 4) + exp(-x^2)*sinh(y/2) + cosh(x/3)",
    "a*x^2 + b*sin(y)*x + c",
    "x^5/120 - y^3/6 + x*y^2",
    "log10(2 + x^2) + log2(3 + y^2) + exp(x/3)*cos(y)",
] + [f.formula for f in functions.FUNCTIONS if f.key not in ("bukin6", "holder_table", "cross_in_tray",
                                                            "ackley", "eggholder")]


def central(fn, x, y, h=1e-5):
    return (fn(x + h, y) - fn(x - h, y)) / (2 * h), (fn(x, y + h) - fn(x, y - h)) / (2 * h)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_gradient_and_hessian_match_finite_differences(text):
    f = compile_function(text, params={"a": 1.7, "b": -0.4, "c": 2.0} if "a*" in text else None,
                         background=False)
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    x, y = rng.uniform(-1.5, 1.5, 40), rng.uniform(-1.5, 1.5, 40)
    gx, gy = f.gradient(x, y)
    fdx, fdy = central(f.value, x, y)
    scale = 1 + np.abs(f.value(x, y))
    np.testing.assert_allclose(gx, fdx, rtol=1e-6, atol=1e-6 * scale.max())
    np.testing.assert_allclose(gy, fdy, rtol=1e-6, atol=1e-6 * scale.max())
    (hxx, hxy), (hyx, hyy) = f.hessian(x, y)
    (dxx, dxy), (dyx, dyy) = [central(lambda a, b, k=k: f.gradient(a, b)[k], x, y) for k in (0, 1)]
    gscale = 1 + np.abs(gx).max() + np.abs(gy).max()
    for exact, fd in ((hxx, dxx), (hxy, dxy), (hyx, dyx), (hyy, dyy)):
        np.testing.assert_allclose(exact, fd, rtol=1e-5, atol=1e-5 * gscale)
    assert hxy is hyx  # symmetric by construction


@pytest.mark.parametrize("text", EXPRESSIONS[:6] + ["x", "y", "3.5", "x*y", "exp(y)*2"])
def test_grid_matches_numpy_and_orientation(text):
    f = compile_function(text, background=False)
    xr, yr, shape = (-1.2, 0.9), (-0.7, 1.6), (37, 23)  # nx != ny catches transposes
    xs, ys = grid_axes(xr, yr, shape)
    expected = f.value(xs[None, :], ys[:, None])
    grid = f.grid(xr, yr, shape)
    assert grid.shape == (23, 37) and grid.dtype == np.float64
    assert f.compiled_ready  # this grid came from the Numba kernel
    np.testing.assert_allclose(grid, expected, rtol=1e-13, atol=1e-13)
    for j, i in ((0, 0), (22, 0), (0, 36), (11, 17)):
        assert grid[j, i] == pytest.approx(f.value(xs[i], ys[j]), rel=1e-13, abs=1e-13)


def test_numpy_tier_and_numba_tier_agree_and_scalars_match():
    text = "sin(3*x*y) + cos(x + y)*exp(-0.1*(x^2 + y^2)) + q*x"
    f = compile_function(text, params={"q": 0.3}, background=False)
    k = f.kernels()
    for x, y in [(0.3, -1.2), (2.0, 0.5), (-1.0, -1.0)]:
        assert k.value(x, y, f.param_array) == pytest.approx(f.value(x, y), rel=1e-14)
        v, gx, gy = k.value_and_gradient(x, y, f.param_array)
        assert (gx, gy) == pytest.approx(f.gradient(x, y), rel=1e-13)
        hxx, hxy, hyy = k.hessian(x, y, f.param_array)
        (a, b), (_, d) = f.hessian(x, y)
        assert (hxx, hxy, hyy) == pytest.approx((a, b, d), rel=1e-12, abs=1e-14)
    numpy_grid = f.compiled.numpy_value(*(lambda a, b: (a[None, :], b[:, None]))(*grid_axes((-2, 2), (-1, 1), (64, 48))), f.param_array)
    np.testing.assert_allclose(f.grid((-2, 2), (-1, 1), (64, 48)), numpy_grid, rtol=1e-13, atol=1e-13)


def test_with_params_reuses_the_compiled_kernels():
    f = compile_function("a*(1-x)**2 + 100*(y - x^2)^2", params={"a": 1.0}, background=False)
    kernels = f.kernels()
    g = f.with_params(a=2.0)
    assert g.kernels(wait=False) is kernels  # no recompilation, not even a lookup
    assert g.parameters == {"a": 2.0} and f.parameters == {"a": 1.0}
    assert g.value(0.0, 0.0) == 2.0 and f.value(0.0, 0.0) == 1.0
    np.testing.assert_allclose(g.grid((-1, 1), (-1, 1), (8, 8)) - f.grid((-1, 1), (-1, 1), (8, 8)),
                               (1 - grid_axes((-1, 1), (-1, 1), 8)[0][None, :]) ** 2 * np.ones((8, 1)),
                               atol=1e-12)


def test_same_text_compiles_once_per_process():
    a = compile_function("x^2 + 0.123456*y^2")
    b = compile_function("x^2 + 0.123456*y^2")
    assert a.compiled is b.compiled


def test_grid_reuses_a_caller_buffer_and_validates_ranges():
    f = compile_function("x + y", background=False)
    out = np.empty((5, 4))
    assert f.grid((0, 1), (0, 1), (4, 5), out=out) is out
    with pytest.raises(ValueError):
        f.grid((1, 0), (0, 1), (4, 4))
    with pytest.raises(ValueError):
        f.grid((0, 1), (0, np.inf), (4, 4))


def test_numpy_tier_is_used_before_the_kernels_are_ready():
    from landscape_gui.core.formula.loss_function import LossFunction, compile_expression

    compiled = compile_expression("x^3 - 0.777*y")  # parse + tier 1 only, Numba not started
    f = LossFunction(compiled, {})
    assert not f.compiled_ready
    grid = f.grid((-1, 1), (-1, 1), (9, 7))
    xs, ys = grid_axes((-1, 1), (-1, 1), (9, 7))
    np.testing.assert_allclose(grid, xs[None, :] ** 3 - 0.777 * ys[:, None], rtol=1e-14)


def test_hoisting_puts_separable_parts_outside_the_inner_loop():
    from landscape_gui.core.formula import codegen
    from landscape_gui.core.formula.expression import parse_expression

    src, _ = codegen.numba_source(parse_expression("20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)").expr, ())
    inner = src.split("for i in range(nx):")[-1]
    assert "np.cos" not in inner  # both cosines are evaluated once per column / row


def test_kernel_cache_keeps_the_most_recent_formulas(tmp_path):
    import os
    import time as _time

    from landscape_gui.core.formula.codegen import prune_kernel_dir

    (tmp_path / "__pycache__").mkdir()
    for k in range(6):
        p = tmp_path / f"lk_{k}.py"
        p.write_text("# kernel\n")
        (tmp_path / "__pycache__" / f"lk_{k}.value-3.py311.nbi").write_text("")
        os.utime(p, (_time.time() - 100 + k, _time.time() - 100 + k))
    prune_kernel_dir(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.glob("lk_*.py")) == ["lk_3.py", "lk_4.py", "lk_5.py"]
    assert sorted(p.name.split(".")[0] for p in (tmp_path / "__pycache__").iterdir()) == ["lk_3", "lk_4", "lk_5"]
