"""Display heights, isolines and the 3-D picking geometry (no screen needed)."""

import numpy as np
import pytest

from landscape_gui.core import compile_function, grid_axes
from landscape_gui.core.scene.picking import intersect_heightfield, pixel_ray, project
from landscape_gui.core.session import Session, default_optimizers
from landscape_gui.core.scene.surface import height_map, isolines


def test_height_map_modes():
    g = np.array([[0.0, 1.0], [10.0, 1000.0]])
    lin = height_map(g, "linear")
    np.testing.assert_allclose(lin(g), g / 1000.0)
    log = height_map(g, "log")
    h = log(g)
    assert h[0, 0] == 0 and h[1, 1] == pytest.approx(1.0) and 0.2 < h[0, 1] < h[1, 0] < 1
    assert log.value_at(1.0) == pytest.approx(1000.0) and log.value_at(0.0) == pytest.approx(0.0, abs=1e-9)
    clip = height_map(np.arange(101.0).reshape(1, -1), "clip", percentile=50)
    assert clip(50.0) == 1.0 and clip(100.0) == 1.0 and clip(25.0) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        height_map(g, "cubic")


def test_height_map_survives_nan_inf_and_constants():
    g = np.array([[np.nan, 1.0], [np.inf, 3.0]])
    hm = height_map(g, "log")
    assert hm.undefined == 0.5
    h = hm(g)
    assert np.isnan(h[0, 0]) and h[1, 0] == 1.0 and h[0, 1] == 0.0
    flat = height_map(np.full((3, 3), 7.0))
    assert np.allclose(flat(np.full((3, 3), 7.0)), 0.5)
    empty = height_map(np.full((2, 2), np.nan))
    assert empty.undefined == 1.0
    big = compile_function("1e300*x^2")  # overflows to inf in parts of the grid
    gb = big.grid((-1e10, 1e10), (-1, 1), (16, 16))
    assert np.isfinite(height_map(gb, "log")(gb)[np.isfinite(gb)]).all()


def test_isolines_follow_the_level_sets():
    f = compile_function("x^2 + y^2")
    xs, ys = grid_axes((-1, 1), (-1, 1), (101, 101))
    g = f.grid((-1, 1), (-1, 1), (101, 101))
    h = height_map(g, "linear")(g)
    lines = isolines(xs, ys, h, n_levels=4)
    pts = lines[np.isfinite(lines[:, 0])]
    r2 = (pts ** 2).sum(axis=1) / 2.0  # height = r^2 / 2 for this grid
    levels = (np.arange(4) + 0.5) / 4
    assert np.all(np.min(np.abs(r2[:, None] - levels[None, :]), axis=1) < 0.01)


def test_ray_through_a_projected_point_hits_that_point():
    xs = np.linspace(-5, 5, 81)
    ys = np.linspace(-5, 5, 61)
    z = 2 + np.sin(xs[None, :] / 2) * np.cos(ys[:, None] / 3)
    # a camera looking down at the surface from an angle
    eye = np.array([12.0, -9.0, 10.0])
    target = np.array([0.0, 0.0, 1.0])
    f = target - eye
    f /= np.linalg.norm(f)
    s = np.cross(f, [0, 0, 1.0])
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    view = np.eye(4)
    view[0, :3], view[1, :3], view[2, :3] = s, u, -f
    view[:3, 3] = -view[:3, :3] @ eye
    n, far, t = 0.1, 100.0, 0.06
    proj = np.array([[n / t, 0, 0, 0], [0, n / t * 4 / 3, 0, 0],
                     [0, 0, -(far + n) / (far - n), -2 * far * n / (far - n)], [0, 0, -1, 0]])
    mvp = proj @ view
    for i, j in ((40, 30), (10, 50), (70, 5)):
        point = np.array([xs[i], ys[j], z[j, i]])
        px, py = project(point[None, :], mvp, 800, 600)[0]
        origin, direction = pixel_ray(px, py, mvp, 800, 600)
        hit = intersect_heightfield(origin, direction, xs, ys, z)
        assert hit is not None and np.linalg.norm(hit - point) < 0.05, (hit, point)
    # a ray into the sky misses
    origin, direction = pixel_ray(400, -2000, mvp, 800, 600)
    assert intersect_heightfield(origin, direction, xs, ys, z) is None


def test_session_defaults_and_presets():
    s = Session.default()
    assert s.function_text and s.starts and len(s.optimizers) >= 3
    assert len({o.color for o in s.optimizers}) == len(s.optimizers)
    p = Session.from_preset("himmelblau")
    assert p.xrange == (-5.0, 5.0) and p.preset == "himmelblau"
    d = p.to_dict()
    assert d["format_version"] == 1 and d["starts"][0] == list(p.starts[0])
    assert default_optimizers()[1].label == "SGD(lr=0.001, momentum=0.9)"


def test_colour_bar_ends_are_named_to_three_digits():
    from landscape_gui.core.scene.surface import height_map, tick_text

    assert tick_text(0.0011574) == "0.001157" and tick_text(0.0011574, digits=3) == "0.00116"
    assert tick_text(-0.99971, digits=3) == "-1"
    hm = height_map(np.array([[-0.99971, 0.5], [0.25, 2.0]]))
    assert tick_text(hm.value_at(0.0), digits=3) == "-1"
