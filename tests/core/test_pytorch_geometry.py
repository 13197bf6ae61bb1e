"""Every geometry tool for your own PyTorch model, against exact references built here: full
Hessians by ``torch.func.hessian`` (float64), direct evaluations, a centred PCA."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
h5py = pytest.importorskip("h5py")

from landscape_gui.core.nn import LocalExecutor
from landscape_gui.pytorch import SharpnessTracker, connect, hessian_spectrum, loss_plane
from landscape_gui.pytorch.reference import autograd_hvp_matmat


def bn_cnn(seed=0, act=torch.nn.ReLU):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.BatchNorm2d(3), act(),
                            torch.nn.Flatten(), torch.nn.Linear(3 * 16, 3)).double()
    return m


def image_data(n=40, seed=0, batch=16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, 4, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    return [(x[s:s + batch], y[s:s + batch]) for s in range(0, n, batch)]   # 16, 16, 8: unequal sizes


def mlp(seed=0, width=6):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.Tanh(), torch.nn.Linear(width, width),
                               torch.nn.Tanh(), torch.nn.Linear(width, 2)).double()


def blobs(n=120, seed=0, batch=40):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64) + 1.5 * (2 * y[:, None] - 1)
    return [(x[s:s + batch], y[s:s + batch]) for s in range(0, n, batch)]


@pytest.fixture(scope="module")
def cnn():
    m, b = bn_cnn(), image_data()
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.cat([x for x, _ in b]))      # real running statistics
    m.eval()
    return m, b, torch.nn.CrossEntropyLoss()


def full_hessian(m, b, lf, names=None):
    """∇²L over the flattened parameters (``names``: that block, the rest fixed), float64."""
    params = {n: p.detach() for n, p in m.named_parameters()}
    names = names or list(params)
    bufs = dict(m.named_buffers())
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]
    N = sum(len(y) for _, y in b)

    def f(flat):
        d, k = dict(params), 0
        for n, s, z in zip(names, shapes, sizes):
            d[n] = flat[k:k + z].view(s)
            k += z
        return sum(lf(torch.func.functional_call(m, d | bufs, (x,)), y) * len(y) for x, y in b) / N

    return torch.func.hessian(f)(torch.cat([params[n].reshape(-1) for n in names])).numpy()


def flat(d, names):
    return torch.cat([d[n].reshape(-1) for n in names]).double().numpy()


@pytest.mark.parametrize("which", ["cnn", "mlp"])
def test_spectrum_equals_the_full_hessians(cnn, which):
    if which == "cnn":
        m, b, lf = cnn
    else:
        m, b, lf = mlp(), blobs(), torch.nn.CrossEntropyLoss()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m.train(which == "mlp")   # the spectrum runs in eval mode whatever the caller's flag
    spec = hessian_spectrum(m, lf, b, k=4, trace_samples=200, density=True, seed=1)
    H = full_hessian(m, b, lf)
    w, _ = np.linalg.eigh(H)
    np.testing.assert_allclose(spec.eigenvalues, w[::-1][:4], rtol=1e-6)
    names = [n for n, _ in m.named_parameters()]
    for lam, vec in zip(spec.eigenvalues, spec.eigenvectors):
        v = flat(vec, names)
        assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-12)
        assert np.linalg.norm(H @ v - lam * v) <= 1e-7 * abs(spec.eigenvalues[0])
        assert set(vec) == set(names) and all(vec[n].shape == dict(m.named_parameters())[n].shape for n in names)
    assert (spec.residuals < 1e-8).all() and spec.info["residuals"] == list(spec.residuals)
    assert abs(spec.trace - np.trace(H)) <= 3 * spec.trace_stderr
    assert np.trapezoid(spec.density, spec.density_grid) == pytest.approx(1.0, abs=1e-9)
    assert spec.loss == pytest.approx(sum(float(lf(m.eval()(x), y).detach()) * len(y) for x, y in b) / 40
                                      if which == "cnn" else spec.loss)
    assert m.training == (which == "mlp")
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_per_layer_blocks_are_the_diagonal_blocks(cnn):
    m, b, lf = cnn
    spec = hessian_spectrum(m, lf, b, k=2, trace_samples=12, density=False, blocks="layer")
    assert list(spec.blocks) == ["0", "1", "4"]
    for name, block in spec.blocks.items():
        names = [n for n, _ in m.named_parameters() if n.startswith(name + ".")]
        Hb = full_hessian(m, b, lf, names)
        np.testing.assert_allclose(block.eigenvalues, np.linalg.eigvalsh(Hb)[::-1][:2], rtol=1e-6)
        assert set(block.eigenvectors[0]) == set(names)
        assert abs(block.trace - np.trace(Hb)) <= 3 * block.trace_stderr + 1e-12
    custom = hessian_spectrum(m, lf, b, k=1, trace_samples=0, density=False, blocks={"head": ["4.weight"]})
    Hh = full_hessian(m, b, lf, ["4.weight"])
    assert custom.blocks["head"].eigenvalues[0] == pytest.approx(np.linalg.eigvalsh(Hh)[-1], rel=1e-6)


def test_products_are_those_of_double_backward_and_a_map_reduce_equals_local(cnn):
    m, b, lf = cnn
    from landscape_gui.pytorch.curvature import TorchHessian

    op = TorchHessian(m, lf, b)
    V = np.random.default_rng(0).standard_normal((3, op.n))
    ref = autograd_hvp_matmat(copy.deepcopy(m), lf, b, V)
    np.testing.assert_allclose(op.matmat(V), ref, rtol=1e-10, atol=1e-12)
    spread = TorchHessian(m, lf, b, executor=LocalExecutor())
    assert spread.groups == 3
    np.testing.assert_allclose(spread.matmat(V), ref, rtol=1e-10, atol=1e-12)
    a = hessian_spectrum(m, lf, b, k=2, trace_samples=20, density=False)
    c = hessian_spectrum(m, lf, b, k=2, trace_samples=20, density=False, executor=LocalExecutor())
    np.testing.assert_allclose(c.eigenvalues, a.eigenvalues, rtol=1e-9)
    assert c.trace == pytest.approx(a.trace, rel=1e-9)


def test_float32_models_converge_to_their_rounding():
    m, b, lf = mlp().float(), [(x.float(), y) for x, y in blobs()], torch.nn.CrossEntropyLoss()
    spec = hessian_spectrum(m, lf, b, k=3, trace_samples=0, density=False)
    H = full_hessian(mlp(), blobs(), lf)
    np.testing.assert_allclose(spec.eigenvalues, np.linalg.eigvalsh(H)[::-1][:3], rtol=1e-4)
    assert spec.eigenvectors[0]["0.weight"].dtype == torch.float32


def test_hessian_plane_curves_by_lambda_max_along_alpha():
    # smooth (a ReLU kink crossed within the step would add its own curvature)
    m, b, lf = bn_cnn(act=torch.nn.Tanh), image_data(), torch.nn.CrossEntropyLoss()
    m.train()
    with torch.no_grad():
        m(torch.cat([x for x, _ in b]))
    m.eval()
    h = 1e-3
    plane = loss_plane(m, lf, b, directions="hessian", grid=(3, 3), span=h)
    lam = plane.info["trust"]["eigenvalues"][0]
    v = plane.values
    curvature = (v[1, 0] - 2 * v[1, 1] + v[1, 2]) / h ** 2
    assert curvature == pytest.approx(lam, rel=1e-4)
    d1, d2 = plane.info["directions"]
    names = [n for n, _ in m.named_parameters()]
    assert np.linalg.norm(flat(d1, names)) == pytest.approx(1.0) and abs(flat(d1, names) @ flat(d2, names)) < 1e-9
    assert plane.info["trust"]["centre_matches"] and max(plane.info["trust"]["residuals"]) < 1e-8
    assert plane.info["kind"] == "hessian"


def test_your_own_directions_and_a_direction_file(cnn, tmp_path):
    m, b, lf = cnn
    g = torch.Generator().manual_seed(5)
    d1 = {n: torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.05 for n, p in m.named_parameters()}
    d2 = {"4.weight": torch.randn(m[4].weight.shape, generator=g, dtype=torch.float64) * 0.05}
    plane = loss_plane(m, lf, b, directions=[d1, d2], grid=(4, 3), span=1.0)
    for j, i in [(0, 0), (2, 3), (1, 2)]:
        net = copy.deepcopy(m).eval()
        with torch.no_grad():
            for n, p in net.named_parameters():
                p.add_(plane.alphas[i] * d1[n] + plane.betas[j] * d2.get(n, torch.zeros_like(p)))
            want = sum(float(lf(net(x), y)) * len(y) for x, y in b) / 40
        assert plane.values[j, i] == pytest.approx(want, rel=1e-12)
    used1, used2 = plane.info["directions"]
    assert torch.equal(used1["0.weight"], d1["0.weight"]) and not used2["0.weight"].any()
    # loss-landscape's direction file (h5_util.write_list: groups of "0", "1", … in parameters() order)
    f = tmp_path / "dirs.h5"
    with h5py.File(f, "w") as fh:
        for gname, d in (("xdirection", d1), ("ydirection", d1 | d2)):
            grp = fh.create_group(gname)
            for i, (n, p) in enumerate(m.named_parameters()):
                grp.create_dataset(str(i), data=d.get(n, torch.zeros_like(p)).numpy())
    from_file = loss_plane(m, lf, b, directions=str(f), grid=(4, 3), span=1.0)
    np.testing.assert_array_equal(from_file.values[:, :], loss_plane(m, lf, b, directions=[d1, d1 | d2],
                                                                     grid=(4, 3), span=1.0).values)
    with pytest.raises(ValueError, match="shape"):
        loss_plane(m, lf, b, directions=[d1, {"4.weight": torch.zeros(2, 2)}], grid=(3, 3))
    with pytest.raises(ValueError, match="not in the model"):
        loss_plane(m, lf, b, directions=[d1, {"nope": torch.zeros(2)}], grid=(3, 3))
    with pytest.raises(ValueError, match="zero everywhere"):
        loss_plane(m, lf, b, directions=[d1, {"4.weight": torch.zeros_like(m[4].weight)}], grid=(3, 3))
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as fh:
        fh["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="bad.h5: no xdirection"):
        loss_plane(m, lf, b, directions=str(bad), grid=(3, 3))


def test_pca_ignoring_biases_and_batchnorm_is_the_centred_pca_of_the_weights(cnn):
    m, b, lf = cnn
    g = torch.Generator().manual_seed(2)
    path = []
    for k in range(6):
        s = copy.deepcopy(m.state_dict())
        for n, p in m.named_parameters():
            s[n] = p.detach() + (0.3 - 0.05 * k) * torch.randn(p.shape, generator=g, dtype=p.dtype)
        path.append(s)
    plane = loss_plane(m, lf, b, directions="pca", checkpoints=path, ignore="biasbn", grid=(5, 5))
    weights = [n for n, p in m.named_parameters() if p.dim() > 1]
    theta = flat(dict(m.named_parameters()), weights)
    M = np.stack([flat(s, weights) for s in path]) - theta
    _, sv, vt = np.linalg.svd(M - M.mean(axis=0), full_matrices=False)
    d1, d2 = plane.info["directions"]
    for got, want in ((d1, vt[0]), (d2, vt[1])):
        v = flat(got, weights)
        assert abs(abs(v @ want) - 1.0) < 1e-10
        assert all(not got[n].any() for n, p in m.named_parameters() if p.dim() <= 1)
    trust = plane.info["trust"]
    np.testing.assert_allclose(trust["explained_variance"], sv[:2] ** 2 / (sv ** 2).sum())
    assert 0 < trust["path_off_plane_relative"] < 1 and trust["centre_matches"]


def test_identical_calls_give_bit_identical_planes(cnn):
    m, b, lf = cnn
    p1 = loss_plane(m.float(), lf, [(x.float(), y) for x, y in b], grid=(6, 5), seed=3)
    p2 = loss_plane(m.float(), lf, [(x.float(), y) for x, y in b], grid=(6, 5), seed=3)
    m.double()
    assert p1.info["method"] == "loop"       # images on a CPU: the rule, not a timing
    np.testing.assert_array_equal(p1.values, p2.values)


def trained_mlp(seed, data, steps=300):
    net = mlp(seed, width=8)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    lf = torch.nn.CrossEntropyLoss()
    for _ in range(steps):
        for x, y in data:
            opt.zero_grad()
            lf(net(x), y).backward()
            opt.step()
    return net.eval()


def xor_data(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
    return [(x[s:s + 50], y[s:s + 50]) for s in range(0, n, 50)]


@pytest.mark.parametrize("method", ["bezier", "polychain"])
def test_connect_lowers_the_barrier_of_two_independent_nets(method):
    data = xor_data()
    lf = torch.nn.CrossEntropyLoss()
    a, b = trained_mlp(1, data), trained_mlp(2, data)
    before = copy.deepcopy(a.state_dict())
    curve = connect(a, b, lf, data, method=method, epochs=60, seed=0, grid=(9, 9))
    assert curve.barrier_linear > 0.2
    assert curve.barrier_curve < 0.5 * curve.barrier_linear
    # the ends are the two models; model_at gives a module at any t
    for t, net in ((0.0, a), (1.0, b)):
        want = sum(float(lf(net(x), y)) * len(y) for x, y in data) / 200
        assert curve.loss_curve[0 if t == 0 else -1] == pytest.approx(want, rel=1e-12)
        assert curve.loss_linear[0 if t == 0 else -1] == pytest.approx(want, rel=1e-12)
    mid = curve.model_at(0.5)
    with torch.no_grad():
        want = sum(float(lf(mid(x), y)) * len(y) for x, y in data) / 200
    assert curve.loss_curve[30] == pytest.approx(want, rel=1e-12)
    assert curve.plane.values.shape == (9, 9) and curve.plane.trajectory_xy.shape == (61, 2)
    for k, v in a.state_dict().items():
        assert torch.equal(v, before[k])


def test_sharpness_tracker_agrees_with_the_spectrum():
    data = blobs()
    lf = torch.nn.CrossEntropyLoss()
    net = mlp(3)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    tracker = SharpnessTracker(net, lf, data, every=5)
    for step in range(12):
        opt.zero_grad()
        sum(lf(net(x), y) * len(y) / 120 for x, y in data).backward()
        opt.step()
        out = tracker.step()
        assert (out is None) == ((step + 1) % 5 != 0)
    assert tracker.steps == [0, 5, 10]
    spec = hessian_spectrum(net, lf, data, k=1, trace_samples=0, density=False)
    # the tracker measured at step 10; two more steps since: compare at the same weights
    tracker.measure()
    assert tracker.sharpness[-1] == pytest.approx(spec.eigenvalues[0], rel=1e-8)
    assert all(s > 0 for s in tracker.sharpness)
