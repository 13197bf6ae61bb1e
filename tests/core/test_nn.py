"""Neural-network landscapes: datasets, exact gradients, training with the engine's rules,
landscape planes (filter-normalised, PCA), sharpness, and depth vs skip connections."""

import pickle

import numpy as np
import pytest

from landscape_gui.core import nn, optimizers
from landscape_gui.core.nn import kernels, reference
from landscape_gui.core.optimizers.reference import ReferenceOptimizer


def layout_and_targets(model, data):
    return model.fit_to(data).layout, data.kernel_targets()


# --- datasets ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", nn.DATASETS)
def test_datasets_are_seeded_shaped_and_balanced(name):
    a = nn.make_dataset(name, n=400, noise=0.1, seed=3)
    b = nn.make_dataset(name, n=400, noise=0.1, seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, nn.make_dataset(name, n=400, noise=0.1, seed=4).X)
    if name == "regression":
        assert a.X.shape == (400, 1) and a.task == "regression"
    else:
        assert a.X.shape == (400, 2) and a.task == "classification" and a.n_classes == 2
        assert 0.4 < a.y.mean() < 0.6
    train, test = a.split(test=0.2, seed=0)
    assert len(train) == 320 and len(test) == 80
    assert not set(map(tuple, train.X)) & set(map(tuple, test.X))


def test_bad_dataset_arguments_are_refused_with_reasons():
    with pytest.raises(nn.DatasetError, match="did you mean 'moons'"):
        nn.make_dataset("moon")
    with pytest.raises(nn.DatasetError, match="noise"):
        nn.make_dataset("moons", noise=-1)
    with pytest.raises(nn.DatasetError, match="test share"):
        nn.make_dataset("moons").split(test=1.5)


def test_csv_loading_and_its_errors(tmp_path):
    good = tmp_path / "points.csv"
    rows = ["x1,x2,label"] + [f"{i * 0.1},{-i * 0.2},{'3' if i % 2 else '7'}" for i in range(20)]
    good.write_text("\n".join(rows) + "\n")
    d = nn.load_csv(good, label_column="label")
    assert d.task == "classification" and d.X.shape == (20, 2) and d.classes == [3.0, 7.0]
    assert set(d.y) == {0, 1}
    reg = tmp_path / "reg.csv"
    reg.write_text("\n".join(f"{i},{i * 0.37 + 0.01}" for i in range(10)))
    assert nn.load_csv(reg).task == "regression"
    cases = {
        "ragged.csv": ("a,b,c\n1,2,0\n1,2\n3,4,1\n5,6,0\n7,8,1\n", "line 3: 2 columns, expected 3"),
        "text.csv": ("1,2,0\n1,abc,1\n3,4,1\n5,6,0\n", "line 2, column 2: 'abc' is not a number"),
        "nan.csv": ("1,2,0\n1,nan,1\n3,4,1\n5,6,0\n", "line 2, column 2: nan is not finite"),
        "short.csv": ("1,2,0\n", "at least 4"),
        "one.csv": ("1\n2\n3\n4\n", "at least two columns"),
        "empty.csv": ("", "empty"),
    }
    for name, (text, message) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(nn.DatasetError, match=message):
            nn.load_csv(p)
    with pytest.raises(nn.DatasetError, match="no column named 'y'"):
        nn.load_csv(good, label_column="y")
    with pytest.raises(nn.DatasetError, match="cannot read"):
        nn.load_csv(tmp_path / "missing.csv")


# --- the network's numbers ---------------------------------------------------------------------


ARCHS = [nn.MLP(2, 8, "tanh", False), nn.MLP(3, 6, "tanh", True), nn.MLP(2, 5, "relu", False),
         nn.MLP(4, 5, "relu", True)]


@pytest.mark.parametrize("model", ARCHS, ids=lambda m: m.describe())
@pytest.mark.parametrize("dataset", ["moons", "regression"])
def test_backprop_gradient_matches_finite_differences_and_the_numpy_twin(model, dataset):
    data = nn.make_dataset(dataset, n=60, noise=0.2, seed=1)
    m = model.fit_to(data)
    layout, (yi, yf) = m.layout, data.kernel_targets()
    theta = m.init(5)
    idx = np.arange(len(data), dtype=np.int64)
    g = np.empty_like(theta)
    loss = kernels.loss_and_grad(theta, data.X, yi, yf, idx, *layout, g)
    ref_loss, ref_g = reference.loss_and_grad(theta, data.X, yi, yf, idx, *layout)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(g, ref_g, rtol=1e-9, atol=1e-12)
    assert kernels.dataset_loss(theta, data.X, yi, yf, *layout)[0] == pytest.approx(loss, rel=1e-12)
    eps = 1e-6
    fd = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = eps
        fd[k] = (kernels.dataset_loss(theta + e, data.X, yi, yf, *layout)[0]
                 - kernels.dataset_loss(theta - e, data.X, yi, yf, *layout)[0]) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


def test_init_follows_torch_linear_bounds_and_sizes():
    m = nn.MLP(depth=2, width=32)
    assert m.n_params == 2 * 32 + 32 + 32 * 32 + 32 + 32 * 2 + 2
    theta = m.init(0)
    dims, woff, boff, *_ = m.layout
    W1 = theta[woff[1]: woff[1] + 32 * 32]
    assert np.abs(W1).max() <= 1 / np.sqrt(32) and np.abs(W1).max() > 0.9 / np.sqrt(32)
    assert np.array_equal(theta, m.init(0)) and not np.array_equal(theta, m.init(1))
    with pytest.raises(ValueError, match="activation"):
        nn.MLP(activation="sigmoidish")


# --- training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", nn.DATASETS)
def test_training_reduces_the_loss_on_every_dataset(name):
    data = nn.make_dataset(name, n=400, noise=0.1, seed=0)
    epochs = 150 if name == "checkerboard" else 30   # 16 cells take longer to carve out
    run = nn.train(nn.MLP(2, 32, "tanh" if name == "regression" else "relu"), data, "Adam", {"lr": 0.01},
                   epochs=epochs, batch_size=32, seed=0)
    assert run.trajectory.shape == (epochs + 1, run.model.n_params)
    np.testing.assert_array_equal(run.trajectory[-1], run.params)
    assert run.losses[-1] < 0.6 * run.losses[0]
    assert len(run.test_losses) == epochs + 1 and np.isfinite(run.test_losses).all()
    if name in ("moons", "circles"):
        assert run.accuracy > 0.9
    if name == "xor":  # jitter moves points across the cell borders: not all are learnable
        assert run.accuracy > 0.8
    assert len(run.step_losses) == epochs * 10


def test_training_uses_the_engines_update_rules_exactly():
    """Our compiled epoch loop == the numpy reference rules (themselves checked against torch)
    applied to backprop gradients of the same mini-batches, on the whole parameter vector."""
    data = nn.make_dataset("moons", n=96, noise=0.1, seed=2)
    model = nn.MLP(2, 6, "tanh").fit_to(data)
    for name, hyper in [("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}), ("Adam", {"lr": 0.01}),
                        ("RMSprop", {"lr": 0.01, "centered": True}), ("AdamW", {"lr": 0.01}),
                        ("NAdam", {"lr": 0.01}), ("SAM", {"lr": 0.05, "rho": 0.05})]:
        run = nn.train(model, data, name, hyper, epochs=3, batch_size=16, seed=4, test=None)
        kind, h = optimizers.pack(name, hyper)
        opt = ReferenceOptimizer(kind, h, model.n_params)
        theta = model.init(4)
        rng = np.random.default_rng(5)
        yi, yf = data.kernel_targets()
        for _ in range(3):
            perm = rng.permutation(len(data))
            for b in range(0, len(data), 16):
                idx = perm[b: b + 16]
                _, g = reference.loss_and_grad(theta, data.X, yi, yf, idx, *model.layout)
                if name == "SAM":
                    from landscape_gui.core.optimizers.reference import sam_perturbation

                    e = sam_perturbation(h, theta, g)
                    _, g = reference.loss_and_grad(theta + e, data.X, yi, yf, idx, *model.layout)
                theta = opt.step(theta, g)
        np.testing.assert_allclose(run.params, theta, rtol=1e-9, atol=1e-11, err_msg=name)


def test_training_refuses_newton_and_reports_divergence():
    data = nn.make_dataset("moons", n=64, seed=0)
    with pytest.raises(ValueError, match="Newton"):
        nn.train(nn.MLP(1, 4), data, "Newton", {})
    for d in (data, nn.make_dataset("regression", n=64, seed=0)):
        run = nn.train(nn.MLP(2, 8), d, "SGD", {"lr": 1e6}, epochs=5, batch_size=8, test=None)
        assert run.diverged_at_epoch == 1 and np.isfinite(run.params).all()
        np.testing.assert_array_equal(run.params, run.model.init(0))   # what came before is kept


def test_training_can_be_cancelled_and_reports_progress():
    data = nn.make_dataset("moons", n=64, seed=0)
    seen = []
    nn.train(nn.MLP(1, 4), data, "Adam", {"lr": 0.01}, epochs=4, progress=lambda e, n: seen.append((e, n)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(nn.Cancelled):
        nn.train(nn.MLP(1, 4), data, "Adam", {"lr": 0.01}, epochs=4, cancel=lambda: True)


# --- landscapes --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moons_run():
    data = nn.make_dataset("moons", n=500, noise=0.1, seed=0)
    return nn.train(nn.MLP(depth=2, width=16), data, "Adam", {"lr": 0.01}, epochs=25, batch_size=32, seed=0)


def test_the_documented_api(moons_run):
    data = nn.make_dataset("moons", n=1000, noise=0.1, seed=0)
    model = nn.MLP(depth=2, width=32, activation="relu", residual=False)
    run = nn.train(model, data, "Adam", {"lr": 0.01}, epochs=5, batch_size=64, seed=0)
    land = nn.landscape(model, data, run.params, directions="filter", grid=(51, 51), span=1.0, seed=0)
    assert land.values.shape == (51, 51) and land.alphas.shape == (51,) and land.directions.shape == (2, model.n_params)
    assert land.values[25, 25] == pytest.approx(nn.evaluate(run.model, data, run.params)[0], rel=1e-12)
    assert np.isfinite(land.values).all() and land.values.min() <= land.values[25, 25] + 1e-12
    assert nn.sharpness(model, data, run.params) > 0


def test_filter_normalisation_gives_each_filter_the_norm_of_theta_stars(moons_run):
    m, theta = moons_run.model, moons_run.params
    land = nn.landscape(m, moons_run.train_data, theta, directions="filter", grid=(5, 5), seed=3)
    for d in land.directions:
        for s, e in m.filters():
            assert np.linalg.norm(d[s:e]) == pytest.approx(np.linalg.norm(theta[s:e]), rel=1e-12)
        assert (d[m.bias_mask()] == 0).all()
    assert not np.allclose(land.directions[0], land.directions[1])


def test_plane_values_equal_direct_evaluation_and_tiles_reassemble(moons_run):
    m, data, theta = moons_run.model, moons_run.train_data, moons_run.params
    land = nn.landscape(m, data, theta, "random", grid=(7, 5), span=0.5, seed=1, test_data=moons_run.test_data)
    for j in (0, 2, 4):
        for i in (0, 3, 6):
            q = theta + land.alphas[i] * land.directions[0] + land.betas[j] * land.directions[1]
            assert land.values[j, i] == pytest.approx(nn.evaluate(m, data, q)[0], rel=1e-12)
            assert land.test_values[j, i] == pytest.approx(nn.evaluate(m, moons_run.test_data, q)[0], rel=1e-12)
            assert land.accuracy[j, i] == pytest.approx(nn.evaluate(m, data, q)[1])

    class FakeCluster:  # what a Dask client offers: map + gather, with tasks pickled
        def map(self, fn, tiles):
            return [pickle.loads(pickle.dumps(fn))(t) for t in tiles]

        def gather(self, futures):
            return futures

    remote = nn.landscape(m, data, theta, "random", grid=(7, 5), span=0.5, seed=1,
                          executor=nn.DaskExecutor(FakeCluster()))
    np.testing.assert_array_equal(remote.values, land.values)


def test_pca_directions_and_the_projected_trajectory(moons_run):
    m, data, theta, traj = moons_run.model, moons_run.train_data, moons_run.params, moons_run.trajectory
    land = nn.landscape(m, data, theta, directions="pca", trajectory=traj, grid=(21, 21))
    D = land.directions
    np.testing.assert_allclose(D @ D.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(land.trajectory_xy, (traj - theta) @ D.T, atol=1e-12)
    assert np.allclose(land.trajectory_xy[-1], 0.0)
    assert land.explained_variance.sum() <= 1 + 1e-12 and land.explained_variance[0] > 0.5
    # the grid covers the whole projected path
    assert land.alphas[0] < land.trajectory_xy[:, 0].min() and land.alphas[-1] > land.trajectory_xy[:, 0].max()
    # drawn heights: the loss at each projected point of the plane
    k = len(traj) // 2
    q = theta + land.trajectory_xy[k, 0] * D[0] + land.trajectory_xy[k, 1] * D[1]
    assert land.trajectory_losses[k] == pytest.approx(nn.evaluate(m, data, q)[0], rel=1e-12)
    # a trajectory that lies in a plane is reproduced exactly by its projection
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((2, theta.size))
    coeffs = rng.standard_normal((12, 2))
    planar = theta + coeffs[:, :1] * u + coeffs[:, 1:] * v
    planar[-1] = theta
    flat = nn.landscape(m, data, theta, directions="pca", trajectory=planar, grid=(3, 3))
    rebuilt = theta + flat.trajectory_xy @ flat.directions
    np.testing.assert_allclose(rebuilt, planar, atol=1e-10)
    assert flat.explained_variance.sum() == pytest.approx(1.0)


def test_interpolation_between_two_seeds(moons_run):
    data = moons_run.train_data
    other = nn.train(nn.MLP(depth=2, width=16), nn.make_dataset("moons", n=500, noise=0.1, seed=0), "Adam",
                     {"lr": 0.01}, epochs=25, batch_size=32, seed=1)
    path = nn.interpolate(moons_run.model, data, moons_run.params, other.params, n=31, extend=0.25,
                          test_data=moons_run.test_data)
    assert path.alphas[0] == -0.25 and path.alphas[-1] == 1.25
    i0, i1 = np.argmin(np.abs(path.alphas)), np.argmin(np.abs(path.alphas - 1))
    assert path.losses[i0] == pytest.approx(nn.evaluate(moons_run.model, data, moons_run.params)[0], rel=1e-9)
    assert path.losses[i1] == pytest.approx(nn.evaluate(moons_run.model, data, other.params)[0], rel=1e-9)
    assert path.losses.max() > path.losses[i0]      # a barrier (or at least a rise) between two solutions


def test_power_iteration_finds_the_top_hessian_eigenvalue():
    data = nn.make_dataset("moons", n=80, noise=0.2, seed=0)
    run = nn.train(nn.MLP(1, 4, "tanh"), data, "Adam", {"lr": 0.05}, epochs=40, batch_size=16, test=None)
    m, theta = run.model, run.params
    n = theta.size
    H = np.stack([nn.hessian_vector_product(m, data, theta, np.eye(n)[k]) for k in range(n)])
    H = 0.5 * (H + H.T)
    top = np.linalg.eigvalsh(H)[-1]
    assert nn.sharpness(m, data, theta, iters=500, tol=1e-10) == pytest.approx(top, rel=1e-4)
    sam = nn.sam_sharpness(m, data, theta, rho=0.05)
    yi, yf = data.kernel_targets()
    g = np.empty_like(theta)
    kernels.loss_and_grad(theta, data.X, yi, yf, np.arange(len(data)), *m.layout, g)
    # Taylor: max over the ball is rho |g| + lambda rho^2 / 2 at most (up to third order)
    first_step = nn.evaluate(m, data, theta + 0.05 * g / np.linalg.norm(g))[0] - nn.evaluate(m, data, theta)[0]
    assert first_step <= sam <= 0.05 * np.linalg.norm(g) + 0.5 * top * 0.05 ** 2 * 1.2


def test_sharpness_can_be_cancelled():
    data = nn.make_dataset("moons", n=50, seed=0)
    m = nn.MLP(1, 4).fit_to(data)
    with pytest.raises(nn.Cancelled):
        nn.sharpness(m, data, m.init(0), cancel=lambda: True)
    with pytest.raises(nn.Cancelled):
        nn.sam_sharpness(m, data, m.init(0), cancel=lambda: True)


def test_deep_nets_without_skip_connections_are_rougher():
    """Measure: nn.roughness, the share of a filter-normalised plane's grid points where the surface
    is clearly non-convex (discrete Hessian lambda_min < -1% |lambda_max|). Depth 16, width 16,
    spirals, same training; with skip connections the plane is much more convex (Li et al. 2018)."""
    data = nn.make_dataset("spirals", n=300, noise=0.05, seed=0)
    diffs = []
    for seed in (0, 1, 2):
        r = {}
        for residual in (False, True):
            run = nn.train(nn.MLP(16, 16, "relu", residual), data, "Adam", {"lr": 0.002}, epochs=15,
                           batch_size=32, seed=seed, test=None)
            land = nn.landscape(run.model, data, run.params, "filter", grid=(25, 25), span=1.0, seed=seed)
            r[residual] = nn.roughness(land.values)
        assert r[False] > r[True], (seed, r)
        diffs.append(r[False] - r[True])
    assert np.mean(diffs) > 0.15


def test_roughness_of_known_surfaces():
    x = np.linspace(-1, 1, 31)
    bowl = x[None, :] ** 2 + x[:, None] ** 2
    crate = np.cos(8 * x[None, :]) + np.cos(8 * x[:, None]) + 3
    assert nn.roughness(bowl) == 0.0
    assert nn.roughness(crate) > 0.5


def _exact_hessian(m, data, theta):
    from landscape_gui.core.nn import reference

    yi, yf = data.kernel_targets()
    return reference.exact_hessian(theta, data.X, yi, yf, *m.layout)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_hessian_vector_products_match_the_exact_hessian(activation):
    """A trained ReLU net on XOR: the old 1e-4 step was 36% off here (kinks), now ~1e-10."""
    data = nn.make_dataset("xor", n=200, seed=1)
    m = nn.MLP(depth=2, width=8, activation=activation).fit_to(data)
    theta = nn.train(m, data, "Adam", {"lr": 0.02}, epochs=20, batch_size=32, seed=0, test=None).params
    H = _exact_hessian(m, data, theta)
    rng = np.random.default_rng(0)
    for _ in range(5):
        v = rng.standard_normal(theta.size)
        hv = nn.hessian_vector_product(m, data, theta, v)
        assert np.linalg.norm(hv - H @ v) <= 1e-6 * np.linalg.norm(H @ v)
    top = np.linalg.eigvalsh(H)[-1]
    assert nn.sharpness(m, data, theta, iters=1000, tol=1e-12) == pytest.approx(top, rel=1e-6)
