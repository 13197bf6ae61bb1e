"""Loss planes of PyTorch models: exact against direct torch evaluation, loss-landscape's
directions, the caller's model untouched, files, and a Dask cluster."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("h5py")

from landscape_gui.pytorch import load_landscape, loss_line, loss_plane  # noqa: E402
from landscape_gui.pytorch.models import random_images, small_cnn, warm_bn  # noqa: E402
from landscape_gui.pytorch.reference import plain_loop_plane  # noqa: E402


def tiny_cnn(dtype=torch.float32, seed=0):
    """conv-BN-ReLU, conv-BN-ReLU, linear on 3x6x6 images: small enough for exact checks."""
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                            torch.nn.Conv2d(4, 5, 3, padding=1), torch.nn.BatchNorm2d(5), torch.nn.ReLU(),
                            torch.nn.Flatten(), torch.nn.Linear(5 * 36, 3)).to(dtype)
    return m


def data(dtype=torch.float32, n=96, seed=0, batch=32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 6, 6, generator=g).to(dtype)
    y = torch.randint(0, 3, (n,), generator=g)
    return [(x[s:s + batch], y[s:s + batch]) for s in range(0, n, batch)]


@pytest.fixture(scope="module")
def trained():
    """A CNN with real BatchNorm statistics (so a point's stats matter) and a training path."""
    m, b = tiny_cnn(), data()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    lf = torch.nn.CrossEntropyLoss()
    path = []
    for epoch in range(6):
        m.train()
        for x, y in b:
            opt.zero_grad()
            lf(m(x), y).backward()
            opt.step()
        path.append(copy.deepcopy(m.state_dict()))
    m.eval()
    return m, b, lf, path


def direct_loss(model, state, batches, lf):
    """The plain torch evaluation of one state: load it into a copy and run the batches."""
    net = copy.deepcopy(model).eval()
    net.load_state_dict(state)
    with torch.no_grad():
        total = sum(lf(net(x), y).item() * len(y) for x, y in batches)
        correct = sum(int((net(x).argmax(1) == y).sum()) for x, y in batches)
    n = sum(len(y) for _, y in batches)
    return total / n, 100.0 * correct / n   # percent, as loss-landscape


def state_at(model, plane, a, b, centre=None):
    centre = centre or model.state_dict()
    out = {k: v.clone() for k, v in centre.items()}
    for n, (d1, d2) in plane.directions.items():
        out[n] = centre[n] + a * torch.as_tensor(d1) + b * torch.as_tensor(d2)
    return out


@pytest.mark.parametrize("dtype,rtol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize("method", ["vmap", "loop"])
def test_plane_values_equal_a_direct_torch_evaluation(trained, dtype, rtol, method):
    m, b, lf, _ = trained
    m = copy.deepcopy(m).to(dtype)
    b = [(x.to(dtype), y) for x, y in b]
    plane = loss_plane(m, lf, b, directions="filter", grid=(7, 5), span=0.8, seed=3, method=method)
    assert plane.values.shape == (5, 7) and plane.info["dtype"] == str(dtype).replace("torch.", "")
    assert plane.info["method"] == method
    for j, i in [(0, 0), (2, 3), (4, 6), (1, 5)]:
        loss, acc = direct_loss(m, state_at(m, plane, plane.alphas[i], plane.betas[j]), b, lf)
        assert plane.values[j, i] == pytest.approx(loss, rel=rtol)
        assert plane.accuracy[j, i] == pytest.approx(acc)
    assert plane.values[2, 3] == pytest.approx(direct_loss(m, m.state_dict(), b, lf)[0], rel=rtol)  # the centre


def test_automatic_method_agrees_with_the_plain_loop_of_loss_landscape(trained):
    m, b, lf, _ = trained
    plane = loss_plane(m, lf, b, grid=(6, 4), seed=1)
    assert plane.info["method"] in ("vmap", "loop")
    centre = {k: v.detach().clone() for k, v in (dict(m.named_parameters()) | dict(m.named_buffers())).items()}
    d1 = {n: torch.as_tensor(v[0]) for n, v in plane.directions.items()}
    d2 = {n: torch.as_tensor(v[1]) for n, v in plane.directions.items()}
    ref, acc = plain_loop_plane(m, lf, b, centre, d1, d2, plane.alphas, plane.betas)
    np.testing.assert_allclose(plane.values, ref, rtol=1e-5)
    np.testing.assert_allclose(plane.accuracy, acc)


def test_filter_directions_as_loss_landscape_makes_them(trained):
    m, b, lf, _ = trained
    plane = loss_plane(m, lf, b, grid=(3, 3), seed=0)
    for name, p in m.named_parameters():
        for d in plane.directions[name]:
            if p.dim() <= 1:   # biases and BatchNorm weights: ignore='biasbn'
                assert not d.any(), name
            else:              # every filter as long as theta*'s filter
                w = p.detach().numpy().reshape(p.shape[0], -1)
                np.testing.assert_allclose(np.linalg.norm(d.reshape(d.shape[0], -1), axis=1),
                                           np.linalg.norm(w, axis=1), rtol=1e-5)
    assert not any("running" in n for n in plane.directions) or all(
        not v[0].any() for n, v in plane.directions.items() if "running" in n)
    # the seed decides the directions
    again = loss_plane(m, lf, b, grid=(3, 3), seed=0)
    other = loss_plane(m, lf, b, grid=(3, 3), seed=1)
    np.testing.assert_array_equal(again.values, plane.values)
    assert not np.allclose(other.values, plane.values)


def test_the_callers_model_is_unchanged(trained):
    m, b, lf, _ = trained
    m = copy.deepcopy(m)
    m.train()   # left in training mode by its owner: it must stay so, and BN must be in eval inside
    before = {k: v.clone() for k, v in m.state_dict().items()}
    plane = loss_plane(m, lf, b, grid=(4, 4), directions="random", seed=2)
    assert m.training
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.requires_grad for p in m.parameters())
    m.eval()
    assert plane.values[0, 0] == pytest.approx(direct_loss(m, state_at(m, plane, plane.alphas[0], plane.betas[0]),
                                                           b, lf)[0], rel=1e-5)


def test_pca_directions_are_the_centred_pca_of_the_path(trained):
    m, b, lf, path = trained
    plane = loss_plane(m, lf, b, directions="pca", checkpoints=path, grid=(9, 7))
    names = [n for n, _ in m.named_parameters()]
    theta = np.concatenate([m.state_dict()[n].numpy().ravel() for n in names]).astype(np.float64)
    M = np.stack([np.concatenate([s[n].numpy().ravel() for n in names]) for s in path]) - theta
    # sklearn's PCA: centre the rows, then the top right singular vectors
    _, _, vt = np.linalg.svd(M - M.mean(0), full_matrices=False)
    D = np.stack([np.concatenate([plane.directions[n][k].ravel() for n in names]) for k in range(2)])
    for k in range(2):
        assert abs(D[k] @ vt[k]) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(plane.trajectory_xy, M @ D.T, rtol=1e-6, atol=1e-8)
    assert np.allclose(plane.trajectory_xy[-1], 0.0)
    assert plane.alphas[0] < plane.trajectory_xy[:, 0].min() and plane.alphas[-1] > plane.trajectory_xy[:, 0].max()
    assert plane.betas[0] < plane.trajectory_xy[:, 1].min() and plane.betas[-1] > plane.trajectory_xy[:, 1].max()
    k = 2
    a, bb = plane.trajectory_xy[k]
    assert plane.trajectory_losses[k] == pytest.approx(direct_loss(m, state_at(m, plane, a, bb), b, lf)[0], rel=1e-5)
    assert 0 < sum(plane.info["explained_variance"]) <= 1 + 1e-9


def test_the_plane_through_three_checkpoints_passes_through_them(trained):
    m, b, lf, path = trained
    pts = [path[0], path[2], path[5]]
    plane = loss_plane(m, lf, b, directions="points", checkpoints=pts, grid=(5, 5))
    xy = plane.trajectory_xy
    assert xy[0].tolist() == [0.0, 0.0] and xy[1, 1] == 0.0 and xy[2, 1] > 0
    # at each checkpoint's coordinates the loss is that checkpoint's (BN statistics included)
    for k in range(3):
        assert plane.trajectory_losses[k] == pytest.approx(direct_loss(m, pts[k], b, lf)[0], rel=1e-4), k
    beyond = {k: 2 * path[1][k] - path[0][k] if v.is_floating_point() else v for k, v in path[0].items()}
    with pytest.raises(ValueError, match="one line"):
        loss_plane(m, lf, b, directions="points", checkpoints=[path[0], path[1], beyond], grid=(3, 3))
    with pytest.raises(ValueError, match="equals"):
        loss_plane(m, lf, b, directions="points", checkpoints=[path[0], path[0], path[1]], grid=(3, 3))


def test_loss_line_between_two_checkpoints_and_its_file(trained, tmp_path):
    m, b, lf, path = trained
    line = loss_line(m, lf, b, checkpoints=[path[0], path[-1]], points=13)  # t = 0 and 1 on the grid
    assert line.is_line and line.alphas[0] == -0.25 and line.alphas[-1] == 1.25
    i0, i1 = np.argmin(np.abs(line.alphas)), np.argmin(np.abs(line.alphas - 1))
    assert line.values[i0] == pytest.approx(direct_loss(m, path[0], b, lf)[0], rel=1e-5)
    assert line.values[i1] == pytest.approx(direct_loss(m, path[-1], b, lf)[0], rel=1e-5)
    line.save(tmp_path / "line.h5")
    import h5py

    with h5py.File(tmp_path / "line.h5") as fh:   # loss-landscape's 1-D layout
        assert set(fh.keys()) >= {"xcoordinates", "train_loss", "train_acc"}
    back = load_landscape(tmp_path / "line.h5")
    assert back.is_line
    np.testing.assert_allclose(back.values, line.values)
    random_line = loss_line(m, lf, b, points=9, span=0.5)
    assert random_line.alphas[0] == -0.5 and random_line.values[4] == pytest.approx(
        direct_loss(m, m.state_dict(), b, lf)[0], rel=1e-5)


def test_checkpoints_as_files_and_bad_checkpoints(trained, tmp_path):
    m, b, lf, path = trained
    files = []
    for k, s in enumerate(path):
        f = tmp_path / f"model_{k}.t7"
        torch.save({"state_dict": s, "epoch": k}, f)  # loss-landscape's checkpoint layout
        files.append(f)
    a = loss_plane(m, lf, b, directions="pca", checkpoints=files, grid=(4, 4))
    c = loss_plane(m, lf, b, directions="pca", checkpoints=path, grid=(4, 4))
    np.testing.assert_allclose(a.values, c.values)
    with pytest.raises(ValueError, match="missing"):
        loss_plane(m, lf, b, directions="pca", checkpoints=[{"x": torch.zeros(1)}] * 3, grid=(3, 3))
    with pytest.raises(ValueError, match="needs checkpoints"):
        loss_plane(m, lf, b, directions="pca", grid=(3, 3))
    with pytest.raises(ValueError, match="directions must be one of"):
        loss_plane(m, lf, b, directions="up", grid=(3, 3))


def test_max_batches_and_a_regression_loss():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(64, 2)
    y = x.sum(1, keepdim=True)
    batches = [(x[s:s + 16], y[s:s + 16]) for s in range(0, 64, 16)]
    plane = loss_plane(m, torch.nn.MSELoss(), batches, grid=(4, 4), max_batches=2)
    assert plane.accuracy is None
    assert plane.values[0, 0] == pytest.approx(direct_loss_mse(m, plane, batches[:2]), rel=1e-5)


def direct_loss_mse(m, plane, batches):
    st = state_at(m, plane, plane.alphas[0], plane.betas[0])
    net = copy.deepcopy(m)
    net.load_state_dict(st)
    with torch.no_grad():
        return sum(torch.nn.functional.mse_loss(net(x), y).item() * len(y) for x, y in batches) / sum(
            len(y) for _, y in batches)


def test_cancel_stops_a_plane(trained):
    from landscape_gui.core.cancel import Cancelled

    m, b, lf, _ = trained
    calls = []
    with pytest.raises(Cancelled):
        loss_plane(m, lf, b, grid=(20, 20), cancel=lambda: calls.append(1) or len(calls) > 2)


DASK_CHILD = """
import functools, sys
import numpy as np
import torch
import distributed
from landscape_gui.core import nn
from landscape_gui.pytorch import loss_plane
from landscape_gui.pytorch.curvature import TorchHessian
from landscape_gui.pytorch.models import random_images, small_cnn

if __name__ == "__main__":
    factory = functools.partial(small_cnn, channels=3, size=8, classes=4, seed=0)  # picklable: built once a worker
    batches = random_images(64, channels=3, size=8, classes=4, batch_size=32)
    lf = torch.nn.CrossEntropyLoss()
    local = loss_plane(factory, lf, batches, grid=(5, 4), seed=0, method="loop")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        remote = loss_plane(factory, lf, batches, grid=(5, 4), seed=0, method="loop",
                            executor=nn.DaskExecutor(client))
        cached = client.run(lambda: len(__import__("landscape_gui.pytorch.planes",
                                                   fromlist=["_WORKER_CACHE"])._WORKER_CACHE))
        # the spectrum's Hessian-vector products map-reduced over the workers (issue 27; the
        # spectrum around them is tested with LocalExecutor, whose map is the same contract)
        V = np.random.default_rng(3).standard_normal((3, sum(p.numel() for p in factory().parameters())))
        spread = TorchHessian(factory(), lf, batches, executor=nn.DaskExecutor(client), factory=factory)
        remote_hv = spread.matmat(V)
    local_hv = TorchHessian(factory(), lf, batches).matmat(V)
    assert spread.groups == 2
    np.testing.assert_allclose(remote_hv, local_hv, rtol=1e-4, atol=1e-6 * np.abs(local_hv).max())
    np.testing.assert_allclose(remote.values, local.values, rtol=1e-6)
    np.testing.assert_allclose(remote.accuracy, local.accuracy)
    assert remote.info["method"] == "executor", remote.info
    assert sorted(cached.values()) == [1, 1], cached   # each worker built the model once and kept it
    print("DASK OK")
"""


def test_on_a_dask_cluster_the_plane_is_the_local_one(tmp_path):
    """In a child process: a cluster's threads and event loop must not outlive it in the test
    process, where the GUI tests run next."""
    import subprocess
    import sys

    pytest.importorskip("distributed")
    script = tmp_path / "dask_child.py"
    script.write_text(DASK_CHILD)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "DASK OK" in out.stdout, (out.stdout[-2000:], out.stderr[-3000:])


def test_bench_model_is_the_documented_size():
    m = warm_bn(small_cnn(), random_images(256))
    assert 40_000 <= sum(p.numel() for p in m.parameters()) <= 60_000
    assert not m.training
