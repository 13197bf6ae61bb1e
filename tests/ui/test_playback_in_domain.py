"""Playback never draws outside the box: heads, arrows and exit marks of a diverging run stay in
the domain in both views, at every step, and each exit mark has its run's colour."""

import numpy as np
import pyqtgraph as pg

from landscape_gui.ui.views.surface_view import HALF


def _inside(xy, xrange, yrange, tol=1e-9):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    (x0, x1), (y0, y1) = xrange, yrange
    return bool(((xy[:, 0] >= x0 - tol) & (xy[:, 0] <= x1 + tol) & (xy[:, 1] >= y0 - tol)
                 & (xy[:, 1] <= y1 + tol)).all())


def test_every_drawn_point_of_the_learning_rate_example_lies_in_the_domain(window, qtbot):
    assert window.open_example("learning-rate")
    c = window.controller
    s = c.session
    assert np.nanmax(np.abs(c.batch.points)) > 1e3  # one run really diverges
    sv, cv = window.surface_view, window.contour_view
    for step in range(0, s.steps + 1, max(1, s.steps // 60)):
        c.set_step(step)
        # 2-D: heads, arrows, exits in data coordinates
        hx, hy = cv.heads.getData()
        assert _inside(np.c_[hx, hy], s.xrange, s.yrange), step
        ax, ay = cv.arrows.getData()
        if ax is not None and len(ax):
            assert _inside(np.c_[ax, ay], s.xrange, s.yrange), step
        # 3-D: scene coordinates within the box [-HALF, HALF]^2
        for item in (sv.heads, sv.arrows, sv.exits, *sv.lines):
            pos = item.pos
            if pos is not None and len(pos):
                assert np.all(np.abs(pos[:, :2]) <= HALF + 1e-6), (step, item)
    for curve in cv.curves:
        x, y = curve.getData()
        if x is not None and len(x):
            assert _inside(np.c_[x, y], s.xrange, s.yrange)


def test_exit_marks_take_their_runs_colour(window, qtbot):
    assert window.open_example("learning-rate")
    c = window.controller
    cv = window.contour_view
    ex, ey = cv.exits.getData()
    assert len(ex) >= 1
    colours = {pg.mkColor(o.color).name() for o in c.session.enabled_optimizers()}
    for spot in cv.exits.points():
        assert spot.brush().color().name() in colours
    # 3-D: the exit marks' colours are run colours, never a red that belongs to no run
    sv = window.surface_view
    cols = np.asarray(sv.exits.color, dtype=np.float64).reshape(-1, 4)
    rgba = {tuple(np.round(pg.mkColor(o.color).getRgbF(), 3)) for o in c.session.enabled_optimizers()}
    assert len(cols) >= 1 and all(tuple(np.round(col, 3)) in rgba for col in cols)
