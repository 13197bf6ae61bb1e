"""Issue 26: every faster path against its twin — vectorised exp/sin/cos against numpy,
the blocked basin kernel against the general runner (bit for bit), grids dealt to
threads against one call, and the same numbers whatever the threads do."""

import numpy as np
import pytest
from numba import njit

from landscape_gui.core import analysis, compile_function, grid_axes, optimizers
from landscape_gui.core.formula.vmath import TRIG_LIMIT, vcos, vexp, vsin
from landscape_gui.core.optimizers import endpoints, runner
from landscape_gui.core.threads import run_shared


@njit(error_model="numpy")
def _apply(which, a, out):
    for i in range(a.shape[0]):
        if which == 0:
            out[i] = vexp(a[i])
        elif which == 1:
            out[i] = vsin(a[i])
        else:
            out[i] = vcos(a[i])


def _ulps(ours, ref):
    with np.errstate(all="ignore"):
        return np.abs(ours - ref) / np.spacing(np.abs(ref))


@pytest.mark.parametrize("which, fn, lo, hi", [(0, np.exp, -745.5, 709.9), (0, np.exp, -3, 3),
                                               (1, np.sin, -TRIG_LIMIT, TRIG_LIMIT), (1, np.sin, -7, 7),
                                               (2, np.cos, -TRIG_LIMIT, TRIG_LIMIT), (2, np.cos, -7, 7)])
def test_vectorised_functions_are_within_two_ulps_of_numpy(which, fn, lo, hi):
    a = np.random.default_rng(which).uniform(lo, hi, 400_000)
    out = np.empty_like(a)
    _apply(which, a, out)
    with np.errstate(all="ignore"):
        ref = fn(a)
    tiny = np.abs(ref) < 1e-12   # sin/cos near their zeros: absolute error, as libm's own reduction
    assert np.nanmax(_ulps(out[~tiny], ref[~tiny])) <= 2.0
    assert np.all(np.abs(out[tiny] - ref[tiny]) < 1e-20)


def test_vectorised_log_is_within_an_ulp_of_numpy_and_exact_at_special_values():
    from landscape_gui.core.formula.vmath import vlog

    @njit(error_model="numpy")
    def apply(a, out):
        for i in range(a.shape[0]):
            out[i] = vlog(a[i])

    rng = np.random.default_rng(9)
    a = np.concatenate([np.exp(rng.uniform(-745, 709, 300_000)), rng.uniform(0.5, 2.0, 200_000),
                        1.0 + rng.uniform(-1e-7, 1e-7, 100_000), [5e-324, 1e-310, 2.2250738585072014e-308]])
    out = np.empty_like(a)
    apply(a, out)
    ref = np.log(a)
    assert np.max(_ulps(out, ref)[ref != 0]) <= 1.0
    special = np.array([0.0, -0.0, -1.0, -np.inf, np.inf, np.nan, 1.0])
    out = np.empty_like(special)
    apply(special, out)
    with np.errstate(all="ignore"):
        assert np.array_equal(out, np.log(special), equal_nan=True)


def test_vectorised_functions_special_values():
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, -745.13, -745.2, -740.0, 1e-300,
                        TRIG_LIMIT * 2, -1e300])
    out = np.empty_like(special)
    _apply(0, special, out)
    with np.errstate(all="ignore"):
        ref = np.exp(special)
    assert np.array_equal(out[np.isinf(ref) | (ref == 0)], ref[np.isinf(ref) | (ref == 0)])
    assert np.isnan(out[4])
    assert np.all(_ulps(out[np.isfinite(ref) & (ref > 0)], ref[np.isfinite(ref) & (ref > 0)]) <= 1.0)
    for which in (1, 2):   # beyond the fast reduction, inf and NaN: NaN, for the caller to redo with libm
        _apply(which, special, out)
        assert np.all(np.isnan(out[[2, 3, 4, 11, 12]]))


def test_the_network_kernels_name_the_vmath_they_inline():
    """Numba's cache checks only nn/kernels.py's own file: after a change to vmath it must change too."""
    from landscape_gui.core.formula.codegen import _VMATH_VERSION
    from landscape_gui.core.nn import kernels

    assert kernels.VMATH_VERSION == _VMATH_VERSION, "vmath changed: set nn/kernels.py's VMATH_VERSION to its new hash"


def test_vectorised_functions_compile_to_simd_without_scalar_conversions():
    """int() and float() of a double are one scalar instruction per lane under AVX2 (no vector form):
    vmath converts with integer arithmetic on the bits, and its polynomials use fused multiply-adds."""
    import re

    @njit("void(float64[::1], float64[::1], float64[::1], float64[::1])", error_model="numpy")
    def loops(a, e, s, c):
        for i in range(a.shape[0]):
            e[i] = vexp(a[i])
        for i in range(a.shape[0]):
            s[i] = vsin(a[i])
        for i in range(a.shape[0]):
            c[i] = vcos(a[i])

    asm = "\n".join(loops.inspect_asm().values())
    assert "ymm" in asm or "zmm" in asm or "xmm" in asm
    assert not re.search(r"cvtt?sd2si|cvtsi2sd", asm), "a scalar float<->int conversion in vexp/vsin/vcos"
    from llvmlite import binding

    if binding.get_host_cpu_features().get("fma"):
        assert re.search(r"vfn?madd", asm), "vmath's polynomials without fused multiply-adds"


@pytest.mark.parametrize("text", [
    "sin(3*x*y) + cos(x + y)*exp(-0.1*(x^2 + y^2))",
    "-cos(x)*cos(y)*exp(-((x - pi)^2 + (y - pi)^2))",
    "-20*exp(-0.2*sqrt(0.5*(x^2 + y^2))) - exp(0.5*(cos(2*pi*x) + cos(2*pi*y))) + e + 20",
    "log(1 + x^2 + y^2) + tanh(x*y)",              # numpy twin in row blocks (its SIMD tanh/log)
    "sin(x*y + 2e5*y) + cos(3e5*y - x*y)",         # arguments beyond the fast reduction: libm rows
    "sqrt(x*y) + cos(x*y)",                        # NaN in half the domain: those rows redone, still NaN
    "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
])
def test_grids_equal_the_numpy_twin(text):
    f = compile_function(text, background=False)
    for shape, xr, yr in [((1024, 700), (-4, 5), (-3, 4)), ((37, 23), (-1, 1), (-2, 2))]:
        xs, ys = grid_axes(xr, yr, shape)
        grid = f.grid(xr, yr, shape)
        with np.errstate(all="ignore"):
            ref = f.compiled.numpy_value(xs[None, :], ys[:, None], f.param_array)
        assert np.array_equal(np.isnan(grid), np.isnan(ref))
        np.testing.assert_allclose(grid, ref, rtol=1e-13, atol=1e-13)


def test_grid_kernel_choice_is_a_rule_on_the_text():
    fast = compile_function("sin(3*x*y) + exp(-x^2*y^2)", background=False).kernels()
    assert not fast.GRID_BY_NUMPY and fast.GRID_POINT_COST > 0
    assert compile_function("tanh(x*y) + x", background=False).kernels().GRID_BY_NUMPY
    assert not compile_function("x^2 + y^2", background=False).kernels().GRID_BY_NUMPY


def test_run_shared_covers_every_index_once_from_any_thread_count():
    for n, task, threads in [(0, 4, 2), (1, 4, 2), (10, 3, 2), (1000, 7, 4), (64, 64, 2), (5, 1, 1)]:
        hits = np.zeros(n, dtype=np.int64)

        def fn(i0, i1):
            hits[i0:i1] += 1

        run_shared(fn, n, task, threads=threads)
        assert np.all(hits == 1)
        hits[:] = 0
        run_shared(fn, n, task, background=True, threads=threads)
        assert np.all(hits == 1)


def test_run_shared_passes_errors_on():
    def fn(i0, i1):
        if i0 >= 8:
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_shared(fn, 32, 4, threads=2)


@pytest.mark.parametrize("name, hyper, noise", [
    ("Adam", {"lr": 0.05}, 0.0), ("AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}, 0.0),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}, 0.5), ("SGD", {"lr": 0.2}, 0.0),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}, 0.0), ("Adagrad", {"lr": 2.0}, 0.0),
    ("Adadelta", {"lr": 1.0}, 0.0), ("Adamax", {"lr": 0.1}, 0.0), ("NAdam", {"lr": 0.1}, 0.2),
    ("RAdam", {"lr": 0.1}, 0.0), ("Lion", {"lr": 0.01}, 0.0), ("Rprop", {"lr": 0.01}, 0.0),
    ("ASGD", {"lr": 0.01}, 0.0)])
def test_blocked_basin_kernel_is_bit_identical_to_the_runner(name, hyper, noise):
    f = compile_function("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", background=False)
    module = f.kernels(wait=True)
    kind, h = optimizers.pack(name, hyper)
    assert kind in endpoints.BLOCKED_KINDS
    xs, ys = analysis.cell_centres((-6, 6), (-6, 6), (29, 23))   # 667 starts: a short last block
    starts = np.ascontiguousarray(np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2))
    results = []
    for steps, ring in [(300, 32), (20, 32)]:   # a ring of the last points, and whole paths
        for fast in (False, True):
            last = np.full((len(starts), ring, 2), 7.0)   # rows past the last step stay as they were
            loss = np.full((len(starts), ring), 7.0)
            div = np.full(len(starts), -9, dtype=np.int64)
            args = (f.param_array, kind, h, starts, steps, noise, 11, 5, 200.0, last, loss, div)
            if fast:
                endpoints.run(module, *args)
            else:
                runner.run_endpoints(module.value_and_gradient, module.hessian, *args)
            results.append((last, loss, div))
    for a, b in (results[:2], results[2:]):
        for x, y in zip(a, b):
            assert np.array_equal(x, y, equal_nan=True)
    if name == "SGD" and hyper["lr"] == 0.2:
        assert (results[0][2] >= 0).any()   # some runs left the box: blanked and dated alike


@pytest.mark.parametrize("name, hyper", [("SGD", {"lr": 1.0}), ("Adam", {"lr": 0.1})])
def test_blocked_basin_kernel_ends_runs_whose_loss_stops_being_finite_as_the_runner(name, hyper):
    """A loss that becomes NaN inside the box (sqrt of a negative) after the ring has wrapped: the
    runs end at the same step, and their rings, losses and dates are the runner's, bit for bit."""
    f = compile_function("0.1*x + 1e-9*sqrt(x + 1) + y^2", background=False)
    module = f.kernels(wait=True)
    kind, h = optimizers.pack(name, hyper)
    starts = np.ascontiguousarray(np.stack(np.meshgrid(np.linspace(2, 9, 19), np.linspace(-1, 1, 9)),
                                           axis=-1).reshape(-1, 2))
    results = []
    for fast in (False, True):
        last = np.full((len(starts), 32, 2), 7.0)
        loss = np.full((len(starts), 32), 7.0)
        div = np.full(len(starts), -9, dtype=np.int64)
        args = (f.param_array, kind, h, starts, 400, 0.0, 0, 0, 1e3, last, loss, div)
        if fast:
            endpoints.run(module, *args)
        else:
            runner.run_endpoints(module.value_and_gradient, module.hessian, *args)
        results.append((last, loss, div))
    for x, y in zip(*results):
        assert np.array_equal(x, y, equal_nan=True)
    div = results[0][2]
    assert (div > 32).sum() > 10 and (div < 0).sum() == 0


def test_basins_use_the_blocked_kernel_and_are_unchanged_under_threads():
    f = compile_function("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", background=False)
    a = analysis.basins(f, "Adam", {"lr": 0.05}, (-5, 5), (-5, 5), shape=(48, 40), steps=200)
    b = analysis.basins(f, "Adam", {"lr": 0.05}, (-5, 5), (-5, 5), shape=(48, 40), steps=200, background=True)
    assert np.array_equal(a.labels, b.labels) and len(a.attractors) == 4
    assert any(key[0] == f.kernels().__name__ for key in endpoints._modules)


def test_vectorised_tanh_is_within_a_dozen_ulps():
    from landscape_gui.core.formula.vmath import vtanh

    @njit(error_model="numpy")
    def apply(a, out):
        for i in range(a.shape[0]):
            out[i] = vtanh(a[i])

    a = np.concatenate([np.random.default_rng(4).uniform(-30, 30, 300_000),
                        np.random.default_rng(5).uniform(-0.3, 0.3, 100_000), [0.0, np.inf, -np.inf, 1e-310]])
    out = np.empty_like(a)
    apply(a, out)
    ref = np.tanh(a)
    nz = ref != 0
    assert np.max(_ulps(out[nz], ref[nz])) <= 12 and np.all(out[~nz] == 0)
    apply(np.array([np.nan]), out[:1])
    assert np.isnan(out[0])


@pytest.mark.parametrize("dataset, act, depth, width, residual", [
    ("moons", "relu", 2, 32, False), ("moons", "tanh", 3, 16, True), ("regression", "tanh", 2, 12, False),
    ("spirals", "relu", 4, 24, True)])
def test_block_backprop_equals_one_sample_backprop_and_numpy(dataset, act, depth, width, residual):
    from landscape_gui.core import nn
    from landscape_gui.core.nn import kernels, reference

    data = nn.make_dataset(dataset, n=300, noise=0.1, seed=0)
    model = nn.MLP(depth=depth, width=width, activation=act, residual=residual).fit_to(data)
    theta = model.init(3)
    yi, yf = data.kernel_targets()
    for idx in (np.random.default_rng(0).permutation(300)[:200], np.arange(7), np.arange(300)):
        idx = idx.astype(np.int64)
        g1, g2 = np.empty(theta.size), np.empty(theta.size)
        l1 = kernels.loss_and_grad(theta, data.X, yi, yf, idx, *model.layout, g1)
        l2 = kernels.loss_and_grad_by_sample(theta, data.X, yi, yf, idx, *model.layout, g2)
        l3, g3 = reference.loss_and_grad(theta, data.X, yi, yf, idx, *model.layout)
        assert l1 == pytest.approx(l2, rel=1e-13) and l1 == pytest.approx(l3, rel=1e-13)
        scale = np.max(np.abs(g3))
        np.testing.assert_allclose(g1, g2, rtol=0, atol=1e-13 * scale)
        np.testing.assert_allclose(g1, g3, rtol=0, atol=1e-13 * scale)


def test_bezier_epoch_kernel_follows_the_numpy_loop():
    from landscape_gui.core import nn

    data = nn.make_dataset("moons", n=200, noise=0.1, seed=0)
    model = nn.MLP(2, 8).fit_to(data)
    a, b = model.init(0), model.init(1)
    fast = nn.connect(model, data, a, b, epochs=6, seed=2, grid=(3, 3), points=5)
    slow = nn.connect(model, data, a, b, epochs=6, seed=2, grid=(3, 3), points=5, backend="numpy")
    np.testing.assert_allclose(fast.loss_curve, slow.loss_curve, rtol=1e-11)
    np.testing.assert_allclose(fast.train_losses, slow.train_losses, rtol=1e-11)


def test_the_compile_waits_for_the_first_picture_and_only_when_asked_for():
    from landscape_gui.core.formula.loss_function import LossFunction, compile_expression

    only = compile_expression("x^2 + 0.123456*y^2 + 0.5")   # evaluated only (as the fuzz benchmark does)
    LossFunction(only, {}).grid((-1, 1), (-1, 1), (32, 32))
    assert not only._numba_started
    f = compile_function("x^2 + 0.654321*y^2 + 0.25")       # the window's way: kernels after the picture
    f.grid((-1, 1), (-1, 1), (32, 32))
    assert f.compiled._numba_started
    assert f.kernels(wait=True) is not None


def test_a_drag_looks_up_no_compiled_function_once_warm(monkeypatch):
    """Numba finds a dispatcher's address anew each time one is passed to a kernel (a tenth of a
    millisecond, three per kind): the runner passes each function's address, looked up once."""
    from numba.core.dispatcher import Dispatcher

    f = compile_function("(1 - x)^2 + 100*(y - x^2)^2", background=False)
    configs = [("SGD", {"lr": 1e-4, "momentum": 0.9}), ("Adam", {"lr": 0.01}), ("RMSprop", {"lr": 1e-3})]
    start = np.array([[-1.2, 1.8]])
    want = optimizers.run_many(f, configs, start, 200)
    calls = []
    original = Dispatcher.get_compile_result
    monkeypatch.setattr(Dispatcher, "get_compile_result", lambda self, sig: calls.append(self) or original(self, sig))
    for _ in range(3):
        got = optimizers.run_many(f, configs, start, 200)
    assert calls == []
    assert got.used_kernels
    np.testing.assert_array_equal(got.points, want.points)
    wrapped = runner.first_class(f.kernels().value_and_gradient)
    assert runner.first_class(f.kernels().value_and_gradient) is wrapped
    assert wrapped.__wrapper_address__() > 0
