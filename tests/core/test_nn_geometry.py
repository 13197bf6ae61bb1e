"""The network's geometry: exact Hessian-vector products, the spectrum (Lanczos, Hutchinson,
SLQ), sharpness along training and the edge of stability, Bézier curves, batch-size sweeps."""

import numpy as np
import pytest

from landscape_gui.core import nn
from landscape_gui.core.nn import curvature, reference
from landscape_gui.core.nn.connectivity import curve_loss
from landscape_gui.core.nn.settings import edge_of_stability


def exact_hessian(m, data, theta):
    """By complex-step differentiation of the numpy backprop (independent of the R-operator)."""
    yi, yf = data.kernel_targets()
    return reference.exact_hessian(theta, data.X, yi, yf, *m.layout)


def small_net(dataset, activation, residual, seed=0, width=6):
    data = nn.make_dataset(dataset, n=120, noise=0.1, seed=seed)
    m = nn.MLP(depth=2, width=width, activation=activation, residual=residual).fit_to(data)
    theta = m.init(seed) + 0.2 * np.random.default_rng(seed).standard_normal(m.n_params)
    return m, data, theta


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("dataset", ["moons", "regression"])   # cross-entropy and MSE
def test_exact_hvp_equals_the_full_hessian_times_v(activation, residual, dataset):
    m, data, theta = small_net(dataset, activation, residual)
    H = exact_hessian(m, data, theta)
    rng = np.random.default_rng(1)
    V = rng.standard_normal((4, theta.size))
    op = nn.HessianOperator(m, data, theta)
    HV = op.matmat(V)
    for v, hv in zip(V, HV):
        want = H @ v
        assert np.linalg.norm(hv - want) <= 1e-10 * np.linalg.norm(want)
        assert np.linalg.norm(nn.hessian_vector_product(m, data, theta, v) - want) <= 1e-10 * np.linalg.norm(want)
        yi, yf = data.kernel_targets()
        _, _, ref = reference.hessian_vector_product(theta, v, data.X, yi, yf, *m.layout)
        assert np.linalg.norm(ref - want) <= 1e-10 * np.linalg.norm(want)
    loss, g = nn.loss_and_gradient(m, data, theta)
    assert loss == pytest.approx(op.loss, rel=1e-12)
    np.testing.assert_allclose(g, op.grad, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("dataset", ["moons", "spirals", "regression"])   # two classes, three, MSE
def test_a_relu_networks_trace_is_exact_and_equals_the_full_hessians(dataset, residual):
    """For ReLU networks each logit is linear in any single weight, so the Hessian's diagonal is
    the Gauss-Newton one and the trace needs no probes: it must equal the trace of the full
    Hessian (complex-step differentiation of the numpy backprop, independent of both) to
    rounding, and the spectrum reports it as exact."""
    m, data, theta = small_net(dataset, "relu", residual, width=7)
    H = exact_hessian(m, data, theta)
    op = nn.HessianOperator(m, data, theta)
    assert op.exact_trace() == pytest.approx(np.trace(H), rel=1e-11, abs=1e-13)
    spec = nn.hessian_spectrum(m, data, theta, k=2, trace_samples=100, density=False)
    assert (spec.trace_method, spec.trace_stderr) == ("exact", 0.0)
    assert spec.trace == pytest.approx(np.trace(H), rel=1e-11, abs=1e-13)
    # no Hutchinson probe was multiplied
    assert spec.products == nn.hessian_spectrum(m, data, theta, k=2, trace_samples=0, density=False).products
    # tanh's logits are curved in each weight: its trace stays Hutchinson's estimate
    m2, data2, theta2 = small_net(dataset, "tanh", residual, width=7)
    assert nn.HessianOperator(m2, data2, theta2).exact_trace() is None
    assert nn.hessian_spectrum(m2, data2, theta2, k=2, trace_samples=20, density=False).trace_method == "Hutchinson"


def test_spectrum_top_eigenvalues_trace_and_density():
    data = nn.make_dataset("moons", n=150, noise=0.2, seed=0)
    run = nn.train(nn.MLP(2, 8, "tanh"), data, "Adam", {"lr": 0.03}, epochs=30, batch_size=32, test=None)
    m, theta = run.model, run.params
    H = exact_hessian(m, data, theta)
    H = 0.5 * (H + H.T)
    true = np.linalg.eigvalsh(H)
    spec = nn.hessian_spectrum(m, data, theta, k=5, trace_samples=100, density=True, seed=0)
    np.testing.assert_allclose(spec.eigenvalues, true[::-1][:5], rtol=1e-6)
    assert spec.lambda_max == pytest.approx(true[-1], rel=1e-6)
    assert abs(spec.trace - np.trace(H)) <= 3 * spec.trace_stderr
    assert spec.trace_stderr > 0
    # the density: a probability density whose mass sits where the true eigenvalues are
    xs, d = spec.density_grid, spec.density
    assert np.trapezoid(d, xs) == pytest.approx(1.0, abs=1e-9)
    assert (d >= 0).all()
    sigma = 0.01 * (true.max() - true.min())
    near = np.zeros_like(xs, dtype=bool)
    for lam in true:
        near |= np.abs(xs - lam) <= 4 * sigma
    assert np.trapezoid(np.where(near, d, 0.0), xs) > 0.95
    # weights follow the eigenvalue counts: the mean of the density is the mean eigenvalue
    assert np.trapezoid(xs * d, xs) == pytest.approx(true.mean(), abs=0.15 * np.abs(true).max())


def test_sharpness_is_lambda_max_and_cancellable():
    m, data, theta = small_net("moons", "relu", False, width=5)
    top = np.linalg.eigvalsh(0.5 * (exact_hessian(m, data, theta) + exact_hessian(m, data, theta).T))[-1]
    assert nn.sharpness(m, data, theta, tol=1e-12) == pytest.approx(top, rel=1e-8)
    with pytest.raises(nn.Cancelled):
        nn.hessian_spectrum(m, data, theta, cancel=lambda: True)


def test_sharpness_tracking_equals_sharpness_at_the_recorded_steps():
    data = nn.make_dataset("regression", n=100, noise=0.1, seed=0)
    run = nn.train(nn.MLP(2, 8, "tanh"), data, "SGD", {"lr": 0.05}, epochs=60, batch_size=None, test=None,
                   track_sharpness_every=10)
    steps = run.sharpness[:, 0].astype(int)
    assert steps.tolist() == [0, 10, 20, 30, 40, 50, 60]
    for step, lam in run.sharpness:
        # full batch: one step an epoch, so the snapshot after epoch s is the state at step s
        assert lam == pytest.approx(nn.sharpness(run.model, data, run.trajectory[int(step)], tol=1e-10), rel=1e-5)
    # mini-batches: measurements fall mid-epoch, every 7 steps
    mini = nn.train(nn.MLP(2, 8, "tanh"), data, "SGD", {"lr": 0.05}, epochs=3, batch_size=16, test=None,
                    track_sharpness_every=7)
    assert mini.sharpness[:, 0].tolist() == [0, 7, 14, 21]
    with pytest.raises(ValueError, match="track_sharpness_every"):
        nn.train(nn.MLP(1, 2), data, "SGD", {"lr": 0.1}, epochs=1, track_sharpness_every=0.5)


def test_full_batch_gd_sharpens_up_to_the_edge_of_stability():
    s = edge_of_stability()
    data = nn.make_dataset(s.dataset, n=s.n, noise=s.noise, seed=s.data_seed)
    run = nn.train(nn.MLP(s.depth, s.width, s.activation), data, s.optimizer, s.hyperparameters, epochs=s.epochs,
                   batch_size=s.batch_size, test=None, seed=s.seed, track_sharpness_every=s.track_sharpness)
    lam = run.sharpness[:, 1]
    edge = 2 / s.hyperparameters["lr"]
    assert lam[0] < 0.5 * edge                        # it starts flat...
    last = lam[len(lam) * 3 // 4:]
    assert np.all(np.abs(last - edge) <= 0.2 * edge), (last.min(), last.max(), edge)   # ...and hovers at 2/lr
    assert run.losses[-1] < 0.1 * run.losses[0] and run.diverged_at_epoch is None


@pytest.fixture(scope="module")
def two_solutions():
    data = nn.make_dataset("moons", n=500, noise=0.1, seed=0)
    a = nn.train(nn.MLP(2, 16), data, "Adam", {"lr": 0.02}, epochs=60, batch_size=32, seed=0, test=None)
    b = nn.train(nn.MLP(2, 16), data, "Adam", {"lr": 0.02}, epochs=60, batch_size=32, seed=1, test=None)
    return data, a, b


def test_a_trained_bezier_curve_goes_around_the_barrier(two_solutions):
    data, a, b = two_solutions
    curve = nn.connect(a.model, data, a.params, b.params, method="bezier", epochs=50, seed=0)
    assert curve.barrier_linear > 0.1
    assert curve.barrier_curve < 0.5 * curve.barrier_linear
    # the losses are what they say: the line, and the curve through the trained bend
    np.testing.assert_allclose(curve.loss_curve, curve_loss(a.model, data, a.params, b.params, curve.bend, curve.t),
                               rtol=1e-10)
    mid = len(curve.t) // 2
    assert curve.loss_linear[mid] == pytest.approx(
        nn.evaluate(a.model, data, 0.5 * (a.params + b.params))[0], rel=1e-10)
    # the plane holds both paths: its value at the projected curve is the curve's loss
    plane = curve.plane
    origin, (e1, e2) = plane.params, plane.directions
    k = 17
    q = origin + curve.curve_xy[k, 0] * e1 + curve.curve_xy[k, 1] * e2
    assert nn.evaluate(a.model, data, q)[0] == pytest.approx(curve.loss_curve[k], rel=1e-8)
    assert np.allclose(curve.linear_xy[-1], [np.linalg.norm(b.params - a.params), 0.0])
    assert plane.alphas[0] < 0 < np.linalg.norm(b.params - a.params) < plane.alphas[-1]
    with pytest.raises(ValueError, match="same point"):
        nn.connect(a.model, data, a.params, a.params)


def test_a_batch_size_sweep_measures_every_run():
    data = nn.make_dataset("moons", n=300, noise=0.2, seed=0)
    sweep = nn.batch_size_sweep(nn.MLP(1, 8), data, "SGD", {"lr": 0.1}, batch_sizes=[8, 64, None], epochs=5,
                                seed=0)
    assert sweep.batch_sizes == [8, 64, None] and len(sweep.runs) == 3
    assert [r.batch_size for r in sweep.runs] == [8, 64, 240]   # None: the whole training split
    for k, run in enumerate(sweep.runs):
        assert sweep.sharpness[k] == pytest.approx(nn.sharpness(run.model, run.train_data, run.params, tol=1e-8),
                                                   rel=1e-5)
        assert sweep.train_loss[k] == run.losses[-1] and sweep.test_loss[k] == run.test_losses[-1]
        assert 0 <= sweep.test_accuracy[k] <= 1 and sweep.sam_sharpness[k] >= 0
    assert sweep.label(2) == "full batch"
    with pytest.raises(ValueError, match="batch sizes"):
        nn.batch_size_sweep(nn.MLP(1, 8), data, batch_sizes=[0])


def test_the_spectrum_operator_agrees_with_its_one_vector_reference():
    m, data, theta = small_net("moons", "tanh", True)
    ref = curvature.ReferenceOperator(m, data, theta)
    fast = nn.HessianOperator(m, data, theta)
    a = curvature.spectrum_of(ref, k=3, trace_samples=10, density=False)
    b = curvature.spectrum_of(fast, k=3, trace_samples=10, density=False)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-9)
    assert a.trace == pytest.approx(b.trace, rel=1e-9)
