"""loss-landscape's .h5 surfaces and .npz planes: orientation, holes, bad files (no torch)."""

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from landscape_gui.core.files.landscapes import (LandscapeFileError, LandscapePlane, describe,  # noqa: E402
                                                 load_landscape)


def lopsided(x, y):
    """Not symmetric under x <-> y nor under sign flips: a transposition or a flip shows."""
    return (x - 0.3) ** 2 + 3 * (y + 0.2) ** 2 + 0.5 * x + 2.0


def write_like_loss_landscape(path, xs, ys, f, failed=()):
    """What plot_surface.py does: a (nx, ny) array of -1, filled through meshgrid(x, y) flat
    indices (net_plotter / scheduler.get_job_indices), points in ``failed`` never computed."""
    losses = -np.ones((len(xs), len(ys)))
    accs = -np.ones((len(xs), len(ys)))
    X, Y = np.meshgrid(xs, ys)
    s1, s2 = X.ravel(), Y.ravel()
    for ind in range(losses.size):
        if ind in failed:
            continue
        losses.ravel()[ind] = f(s1[ind], s2[ind])
        accs.ravel()[ind] = 100.0 - f(s1[ind], s2[ind])
    with h5py.File(path, "w") as fh:
        fh["xcoordinates"] = xs
        fh["ycoordinates"] = ys
        fh["train_loss"] = losses
        fh["train_acc"] = accs


@pytest.mark.parametrize("nx,ny", [(11, 11), (13, 7)])
def test_a_loss_landscape_surface_opens_the_right_way_round(tmp_path, nx, ny):
    xs, ys = np.linspace(-1, 1, nx), np.linspace(-2, 0.5, ny)
    p = tmp_path / "resnet56_sgd_lr=0.1.h5_[-1.0,1.0,11]x[-1.0,1.0,11].h5"
    write_like_loss_landscape(p, xs, ys, lopsided)
    land = load_landscape(p)
    assert land.values.shape == (ny, nx)
    j, i = 2, nx - 3
    assert land.values[j, i] == pytest.approx(lopsided(xs[i], ys[j]))
    np.testing.assert_allclose(land.values, lopsided(*np.meshgrid(xs, ys)))
    np.testing.assert_allclose(land.accuracy, 100.0 - land.values)
    assert land.value_at(xs[i], ys[j]) == pytest.approx(lopsided(xs[i], ys[j]))
    assert "train loss" in describe(land) and "train accuracy" in describe(land)


def test_points_loss_landscape_never_computed_are_holes(tmp_path):
    xs = ys = np.linspace(-1, 1, 9)
    p = tmp_path / "partial.h5"
    write_like_loss_landscape(p, xs, ys, lopsided, failed={0, 40, 41})
    with h5py.File(p, "a") as fh:
        fh["train_loss"][3, 3] = np.nan     # a diverged point
    land = load_landscape(p)
    assert np.isnan(land.values.ravel()[[0, 40, 41]]).all()
    assert np.isnan(land.values).sum() == 4
    assert "4 missing points" in describe(land)


def test_our_own_save_round_trips_in_both_formats(tmp_path):
    xs, ys = np.linspace(-1, 2, 8), np.linspace(0, 1, 5)
    vals = lopsided(*np.meshgrid(xs, ys))
    path = np.array([[0.5, 0.2], [0.1, 0.1], [0.0, 0.0]])
    plane = LandscapePlane(xs, ys, vals, 1 - vals / vals.max(), path, info={"directions": "pca"})
    for name in ("plane.h5", "plane.npz"):
        out = plane.save(tmp_path / name)
        back = load_landscape(out)
        np.testing.assert_allclose(back.values, vals)
        np.testing.assert_allclose(back.accuracy, 100 * plane.accuracy)  # fractions are written in percent
        assert back.info["accuracy_unit"] == "percent"
        np.testing.assert_allclose(back.trajectory_xy, path)
        np.testing.assert_allclose(back.trajectory_losses, back.value_at(path[:, 0], path[:, 1]))
        assert back.info["directions"] == "pca"
    # the stored (nx, ny) array is loss-landscape's: its plot_2D reads it with meshgrid(x, y)
    with h5py.File(tmp_path / "plane.h5") as fh:
        assert fh["train_loss"].shape == (8, 5)
        flat = fh["train_loss"][()].ravel()
    X, Y = np.meshgrid(xs, ys)
    np.testing.assert_allclose(flat, lopsided(X.ravel(), Y.ravel()))


def test_a_one_dimensional_file_is_a_line(tmp_path):
    xs = np.linspace(-0.5, 1.5, 21)
    with h5py.File(tmp_path / "interp.h5", "w") as fh:
        fh["xcoordinates"] = xs
        fh["train_loss"] = (xs - 1) ** 2
        fh["test_loss"] = (xs - 0.9) ** 2 + 0.1
    line = load_landscape(tmp_path / "interp.h5")
    assert line.is_line and line.betas is None
    np.testing.assert_allclose(line.values, (xs - 1) ** 2)
    np.testing.assert_allclose(line.test_values, (xs - 0.9) ** 2 + 0.1)
    assert "line of 21 points" in describe(line)


def test_the_apps_formula_grid_export_opens(tmp_path):
    from landscape_gui.core.files.trajectories import grid_npz

    xs, ys = np.linspace(-1, 1, 6), np.linspace(-3, 3, 4)
    grid = lopsided(*np.meshgrid(xs, ys))
    grid_npz(str(tmp_path / "grid.npz"), xs, ys, grid, "f", {})
    land = load_landscape(tmp_path / "grid.npz")
    np.testing.assert_allclose(land.values, grid)


def test_descending_coordinates_are_turned_around(tmp_path):
    xs, ys = np.linspace(1, -1, 7), np.linspace(2, -2, 5)
    p = tmp_path / "desc.h5"
    write_like_loss_landscape(p, xs, ys, lopsided)
    land = load_landscape(p)
    assert land.alphas[0] == -1 and land.betas[0] == -2
    np.testing.assert_allclose(land.values, lopsided(*np.meshgrid(land.alphas, land.betas)))


def _h5(path, **arrays):
    with h5py.File(path, "w") as fh:
        for k, v in arrays.items():
            fh[k] = v
    return path


@pytest.mark.parametrize("arrays,message", [
    ({"train_loss": np.ones((3, 3))}, "no xcoordinates"),
    ({"xcoordinates": np.linspace(0, 1, 4), "ycoordinates": np.linspace(0, 1, 3), "train_loss": np.ones((4, 4))},
     "has shape (4, 4) but the coordinates make a 4x3 grid"),
    ({"xcoordinates": np.linspace(0, 1, 3), "ycoordinates": np.linspace(0, 1, 3),
      "train_loss": np.full((3, 3), -1.0)}, "every train_loss value is NaN"),
    ({"xcoordinates": np.linspace(0, 1, 3), "ycoordinates": np.linspace(0, 1, 3)}, "no loss values"),
    ({"xcoordinates": np.array([0.0, 1.0, 0.5]), "train_loss": np.ones(3)}, "not increasing"),
    ({"xcoordinates": np.linspace(0, 1, 3), "train_loss": np.ones(5)}, "has 5 values but xcoordinates has 3"),
    ({"xcoordinates": np.linspace(0, 1, 3000), "train_loss": np.ones(3000)}, "at most 2048 per axis"),
])
def test_bad_files_are_refused_with_the_file_and_the_reason(tmp_path, arrays, message):
    p = _h5(tmp_path / "bad.h5", **arrays)
    with pytest.raises(LandscapeFileError) as err:
        load_landscape(p)
    assert "bad.h5" in str(err.value) and message in str(err.value)


def test_files_that_are_not_hdf5_at_all(tmp_path):
    (tmp_path / "text.h5").write_text("hello")
    (tmp_path / "empty.npz").write_bytes(b"")
    for name in ("text.h5", "empty.npz", "missing.h5"):
        with pytest.raises(LandscapeFileError) as err:
            load_landscape(tmp_path / name)
        assert name in str(err.value)
