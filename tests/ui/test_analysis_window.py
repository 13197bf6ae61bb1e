"""The Analysis dock in the real window: critical points, basins (with progress and cancel),
learning-rate sweep; what the views draw and what the pixels show."""

import math

import numpy as np
from PySide6 import QtCore

from landscape_gui.core import analysis
from landscape_gui.ui.state.analysis_model import KIND_STYLE

from gui_helpers import contour_pixel, framebuffer, grab_rgb, mouse, pixel_of

Qt = QtCore.Qt


def load(window, qtbot, preset):
    window.controller.load_preset(preset)
    window.controller.function.kernels(wait=True)
    qtbot.wait(20)



def near_colour(img, px, py, colour, radius=4, tol=40):
    from PySide6 import QtGui

    want = np.array(QtGui.QColor(colour).getRgb()[:3])
    x, y = int(round(px)), int(round(py))
    patch = img[max(y - radius, 0): y + radius + 1, max(x - radius, 0): x + radius + 1]
    return (np.abs(patch - want).max(axis=-1) <= tol).any()


def test_critical_points_toggle_draws_markers_in_both_views_and_fills_the_table(window, qtbot):
    load(window, qtbot, "himmelblau")
    model = window.analysis
    window.analysis_actions["critical"].trigger()           # the Analysis menu
    assert window.analysis_panel.critical_check.isChecked()
    assert window.analysis_panel.tabs.currentIndex() == 0 and window.analysis_dock.isVisible()
    qtbot.waitUntil(lambda: len(model.critical_points) == 9, timeout=10000)
    kinds = sorted(c.kind for c in model.critical_points)
    assert kinds == ["maximum"] + ["minimum"] * 4 + ["saddle"] * 4
    # 2-D: one marker per point, coloured by kind, and those colours on screen at those places
    pts = window.contour_overlay.points
    assert len(pts.data) == 9
    qtbot.wait(100)
    img = grab_rgb(window.contour_view)
    for c in model.critical_points:
        px, py = contour_pixel(window.contour_view, c.x, c.y)
        assert near_colour(img, px, py, KIND_STYLE[c.kind][0]), (c.kind, c.x, c.y)
    # 3-D: the GL markers at the points, and the minimum's green rendered at its projected pixel
    assert window.surface_overlay.points.pos.shape == (9, 3)
    window.surface_view.update()
    qtbot.wait(100)
    fb = framebuffer(window.surface_view)
    sharpest = max((c for c in model.critical_points if c.kind == "minimum"), key=lambda c: c.y)
    px, py = pixel_of(window.surface_view, sharpest.x, sharpest.y)
    assert near_colour(fb, px, py - 1, KIND_STYLE["minimum"][0], radius=7, tol=60)
    # the table: one row per point with eigenvalues and, for minima, SAM sharpness
    table = window.analysis_panel.table
    assert table.rowCount() == 9
    assert table.item(0, 0).data(Qt.ItemDataRole.UserRole) == "minimum" and table.item(0, 7).text() != ""
    lam = float(table.item(0, 5).text())
    assert lam == model.critical_points[0].eigenvalues[1] or math.isclose(lam, model.critical_points[0].eigenvalues[1], rel_tol=1e-3)
    # switching off removes the markers
    window.analysis_actions["critical"].trigger()
    assert len(window.contour_overlay.points.data) == 0 and table.rowCount() == 0
    assert window.surface_overlay.points.pos.shape[0] == 0


def test_clicking_a_table_row_centres_the_views_on_that_point(window, qtbot):
    load(window, qtbot, "himmelblau")
    window.analysis_panel.critical_check.setChecked(True)
    qtbot.waitUntil(lambda: window.analysis_panel.table.rowCount() == 9, timeout=10000)
    vb = window.contour_view.getPlotItem().getViewBox()
    row = 8  # the maximum
    target = window.analysis.critical_points[row]
    table = window.analysis_panel.table
    rect = table.visualRect(table.model().index(row, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    (xa, xb), (ya, yb) = vb.viewRange()
    assert abs((xa + xb) / 2 - target.x) < 1e-6 and abs((ya + yb) / 2 - target.y) < 1e-6
    centre = window.surface_view.opts["center"]
    sx, sy, _ = window.surface_view.to_scene(target.x, target.y, 0.0)
    assert abs(centre.x() - sx) < 1e-5 and abs(centre.y() - sy) < 1e-5


def test_more_newton_seeds_find_finer_structure(window, qtbot):
    panel, model = window.analysis_panel, window.analysis
    panel.seeds_spin.setValue(32)
    model.set_seed_resolution(32)
    panel.critical_check.setChecked(True)
    window.function_editor.set_formula("sin(40*x)*sin(40*y)")   # 51² + 51·50 = 5151 critical points
    qtbot.waitUntil(lambda: len(model.critical_points) > 100 and not model.running, timeout=10000)
    coarse = len(model.critical_points)
    panel.seeds_spin.setValue(256)
    model.set_seed_resolution(256)
    qtbot.waitUntil(lambda: len(model.critical_points) > coarse and not model.running, timeout=30000)
    assert coarse < 1000 and len(model.critical_points) == 5151


def test_critical_points_follow_the_formula(window, qtbot):
    window.analysis_panel.critical_check.setChecked(True)
    window.function_editor.set_formula("x^2 - y^2")
    qtbot.waitUntil(lambda: [c.kind for c in window.analysis.critical_points] == ["saddle"], timeout=10000)
    window.function_editor.set_formula("(x^2 - 1)^2 + 0.5*y^2")
    qtbot.waitUntil(lambda: sorted(c.kind for c in window.analysis.critical_points)
                    == ["minimum", "minimum", "saddle"], timeout=10000)
    assert window.analysis_panel.table.rowCount() == 3


def test_basins_overlay_legend_drape_and_area_column(window, qtbot):
    load(window, qtbot, "himmelblau")
    panel, model = window.analysis_panel, window.analysis
    panel.resolution_box.setCurrentIndex(0)   # 64 x 64
    panel.optimizer_box.setCurrentIndex(0)
    surface_colors = window.surface_view.surface._colors.copy()
    window.analysis_actions["basins"].trigger()
    assert panel.tabs.currentIndex() == 1
    qtbot.waitUntil(lambda: model.basins is not None and not model.running, timeout=20000)
    b = model.basins
    assert b.labels.shape == (64, 64) and len(b.attractors) == 4
    assert b.optimizer == model.selected_optimizer().name
    # the same map as the core computes for the chosen optimizer
    o = model.selected_optimizer()
    ref = analysis.basins(window.controller.function, o.name, o.hyperparameters, window.session.xrange,
                          window.session.yrange, shape=(64, 64), steps=window.session.steps)
    assert (ref.labels == b.labels).all()
    assert panel.progress.value() == 100 and not panel.cancel_button.isEnabled()
    # overlay image over the domain in the 2-D view, one colour per attractor
    image = window.contour_overlay.image
    assert image.isVisible() and image.image.shape == (64, 64, 4)
    assert panel.legend.count() == 4 + (1 if b.unsettled_fraction else 0) + (1 if b.diverged_fraction else 0)
    assert "%" in panel.legend.item(0).text()
    qtbot.wait(100)
    img = grab_rgb(window.contour_view)
    colours = []
    for k, (ax, ay) in enumerate(b.attractors):  # a cell in each basin, away from the minimum marker
        j, i = np.argwhere(b.labels == k)[len(np.argwhere(b.labels == k)) // 3]
        xs, ys = analysis.cell_centres(b.xrange, b.yrange, (64, 64))
        px, py = contour_pixel(window.contour_view, xs[i], ys[j])
        colours.append(img[int(py), int(px)])
    assert len({tuple(c // 8) for c in colours}) == 4   # four visibly different regions
    # basin area column for minima in the critical-point table
    panel.critical_check.setChecked(True)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 9, timeout=10000)
    areas = [panel.table.item(r, 8).text() for r in range(4)]
    assert all(a.endswith("%") for a in areas)
    assert abs(sum(float(a[:-1]) for a in areas) - 100 * sum(b.fractions)) < 0.5
    # drape on the 3-D surface changes its vertex colours; undrape restores them
    panel.drape_check.setChecked(True)
    draped = window.surface_view.surface._colors
    assert not np.allclose(draped, surface_colors)
    panel.drape_check.setChecked(False)
    np.testing.assert_allclose(window.surface_view.surface._colors, surface_colors)
    # switching the overlay off hides it
    window.analysis_actions["basins"].trigger()
    assert not image.isVisible() and panel.legend.count() == 0


def test_basins_recompute_when_the_optimizer_changes_and_can_be_cancelled(window, qtbot):
    load(window, qtbot, "himmelblau")
    panel, model = window.analysis_panel, window.analysis
    panel.resolution_box.setCurrentIndex(0)
    panel.basins_check.setChecked(True)
    qtbot.waitUntil(lambda: model.basins is not None and not model.running, timeout=20000)
    first = model.basins
    window.controller.update_optimizer(model.optimizer_index, hyperparameters={"lr": 0.004})
    qtbot.waitUntil(lambda: model.basins is not first and model.basins is not None and not model.running,
                    timeout=20000)
    assert model.basins.hyperparameters["lr"] == 0.004
    # a large, slow map: the progress bar moves, Cancel stops it and clears the overlay
    window.controller.set_run_options(steps=20000)
    panel.resolution_box.setCurrentIndex(3)   # 512 x 512 x 20000 steps: minutes if not stopped
    qtbot.waitUntil(lambda: "basins" in model.running and panel.cancel_button.isEnabled(), timeout=5000)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=30000)
    assert panel.progress.value() < 100
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert "basins" not in model.running and model.basins is None
    assert not panel.cancel_button.isEnabled() and "cancelled" in panel.status.text()
    assert not window.contour_overlay.image.isVisible()
    # the window stays responsive and nothing arrives later from the cancelled run
    qtbot.wait(1500)
    assert model.basins is None
    window.controller.set_run_options(steps=300)


def test_lr_sweep_marks_the_stability_edge_of_gradient_descent(window, qtbot):
    load(window, qtbot, "ill_conditioned")          # 0.5*(x^2 + k*y^2), k = 25: edge 2/25
    panel, model = window.analysis_panel, window.analysis
    sgd = [i for i, o in enumerate(window.session.optimizers)
           if o.name == "SGD" and o.hyperparameters["momentum"] == 0.0][0]
    panel.optimizer_box.setCurrentIndex(sgd)
    window.analysis_actions["sweep"].trigger()
    assert panel.tabs.currentIndex() == 2
    qtbot.waitUntil(lambda: model.sweep is not None, timeout=10000)
    s = model.sweep
    assert math.isclose(s.edge, 2 / 25, rel_tol=1e-6) and math.isclose(s.lambda_max, 25, rel_tol=1e-6)
    i = np.flatnonzero(s.diverged)[0]
    assert s.lrs[i - 1] <= s.edge <= s.lrs[i]
    plot = panel.sweep_plot
    assert plot.edges[0].isVisible() and math.isclose(10 ** plot.edges[0].value(), 2 / 25, rel_tol=1e-9)
    x, y = plot.loss_curve.getData()
    assert len(x) == 200 and np.isfinite(y[: i]).sum() > 100
    assert "0.08" in panel.sweep_note.text()
    # a narrower, finer sweep around the edge
    panel.sweep_from.setValue(0.05)
    panel.sweep_to.setValue(0.12)
    panel.sweep_count.setValue(50)
    panel._sweep_range_edited()
    qtbot.waitUntil(lambda: model.sweep is not s and len(model.sweep.lrs) == 50, timeout=10000)
    fine = model.sweep
    j = np.flatnonzero(fine.diverged)[0]
    assert fine.lrs[0] == 0.05 and fine.lrs[j - 1] <= 0.08 <= fine.lrs[j] and fine.lrs[j] / fine.lrs[j - 1] < 1.02
    s = fine
    # a new start point and parameter k move the sweep: edge 2/k
    window.controller.set_param("k", 10.0)
    qtbot.waitUntil(lambda: model.sweep is not s and math.isclose(model.sweep.edge, 0.2, rel_tol=1e-6),
                    timeout=10000)


def test_dragging_a_start_keeps_the_window_responsive_while_basins_compute(window, qtbot):
    load(window, qtbot, "himmelblau")
    panel, model = window.analysis_panel, window.analysis
    window.controller.set_run_options(steps=3000)
    panel.resolution_box.setCurrentIndex(2)   # 256 x 256 x 3000 Adam/SGD steps: seconds
    panel.basins_check.setChecked(True)
    qtbot.waitUntil(lambda: "basins" in model.running, timeout=5000)
    view = window.contour_view.viewport()
    x0, y0 = window.session.starts[0]
    p0 = contour_pixel(window.contour_view, x0, y0)
    mouse(view, "press", p0)
    import time

    times = []
    for k in range(1, 12):
        t = time.perf_counter()
        mouse(view, "move", (p0[0] + 4 * k, p0[1] + 3 * k))
        times.append(time.perf_counter() - t)
    mouse(view, "release", (p0[0] + 44, p0[1] + 33))
    assert "basins" in model.running  # the map was computing throughout
    assert window.session.starts[0] != (x0, y0)
    # optimizer runs share no lock with the basin map's threads: a move never waits for a chunk
    # (~50 ms a move on an idle 2-core machine; the bound leaves room for a loaded CI machine)
    times.sort()
    assert times[len(times) // 2] < 0.1 and times[-1] < 0.3, times
    panel.basins_check.setChecked(False)
    assert "basins" not in model.running
    window.controller.set_run_options(steps=300)


def test_rastrigins_critical_points_do_not_bury_its_surface(window, qtbot):
    """441 critical points: the views mark MAX_DRAWN of them (minima first, lowest first) and say so;
    the table lists them all."""
    from landscape_gui.ui.state.analysis_model import MAX_DRAWN

    model, panel = window.analysis, window.analysis_panel
    messages = []
    model.message.connect(messages.append)
    window.controller.load_preset("rastrigin")
    panel.critical_check.setChecked(True)
    qtbot.waitUntil(lambda: len(model.critical_points) > 400 and not model.running, timeout=30000)
    x, _ = window.contour_overlay.points.getData()
    assert len(x) == MAX_DRAWN == len(window.surface_overlay.points.pos)
    drawn = model.drawn_critical_points()
    minima = sorted(c.value for c in model.critical_points if c.kind == "minimum")
    assert [c.value for c in drawn] == minima[:MAX_DRAWN]
    assert panel.table.rowCount() == len(model.critical_points)
    assert any(f"the views mark {MAX_DRAWN}" in m for m in messages), messages
