"""The real window under Xvfb: typing, clicking and dragging on both views, what the model and the
rendered pixels show afterwards."""

import numpy as np
from PySide6 import QtCore, QtWidgets

from landscape_gui.core import compile_function, grid_axes
from landscape_gui.ui.views.surface_view import LIFT, ZSPAN

from gui_helpers import contour_pixel, framebuffer, mouse, pixel_of

Qt = QtCore.Qt


def test_window_has_the_named_parts(window):
    for name in ("functionEditor", "optimizerPanel", "surfaceView", "contourView", "lossPlot"):
        assert window.findChild(QtWidgets.QWidget, name) is not None, name
    s = window.session
    assert s.function_text and s.params == {} and s.xrange and s.yrange and s.starts and s.optimizers


def test_typing_a_formula_updates_the_surface_mesh(window, qtbot):
    editor = window.function_editor
    qtbot.keyClicks(editor.editor, "")  # focus
    editor.editor.selectAll()
    editor.editor.clear()
    qtbot.keyClicks(editor.editor, "sin(x)*cos(y) + 0.1*x^2")
    qtbot.waitUntil(lambda: window.session.function_text == "sin(x)*cos(y) + 0.1*x^2", timeout=3000)
    s = window.session
    f = compile_function("sin(x)*cos(y) + 0.1*x^2")
    expected = f.grid(s.xrange, s.yrange, (s.resolution, s.resolution))
    np.testing.assert_allclose(window.controller.grid, expected, rtol=1e-12)
    mesh_z = window.surface_view.surface._z  # (nx, ny) as pyqtgraph stores it
    np.testing.assert_allclose(mesh_z, window.controller.heights(expected).T * ZSPAN, rtol=1e-6, atol=1e-6)
    assert editor.error.isHidden()


def test_bad_formula_shows_inline_error_and_keeps_the_surface(window, qtbot):
    before = window.controller.grid.copy()
    window.function_editor.set_formula("x^2 + sinn(y)")
    err = window.function_editor.error
    assert err.isVisible() and "sinn" in err.text() and "did you mean 'sin'" in err.text()
    assert window.function_editor.highlighter.error_position == 6
    np.testing.assert_array_equal(window.controller.grid, before)
    window.function_editor.set_formula("x^2 + sin(y)")
    assert err.isHidden()


def test_parameter_slider_changes_surface_without_recompiling(window, qtbot):
    window.function_editor.set_formula("a*x^2 + y^2")
    compiled = window.controller.function.compiled
    spin = window.findChild(QtWidgets.QDoubleSpinBox, "param_a_spin")
    slider = window.findChild(QtWidgets.QSlider, "param_a_slider")
    assert spin is not None and slider is not None
    g1 = window.controller.grid.copy()
    slider.setValue(slider.value() + 200)
    qtbot.waitUntil(lambda: window.session.params["a"] != 1.0, timeout=2000)
    a = window.session.params["a"]
    assert window.controller.function.compiled is compiled
    s = window.session
    xs, ys = grid_axes(s.xrange, s.yrange, (s.resolution, s.resolution))
    np.testing.assert_allclose(window.controller.grid, a * xs[None, :] ** 2 + ys[:, None] ** 2, rtol=1e-12)
    assert not np.allclose(window.controller.grid, g1)
    window.function_editor.set_formula("x^2 + y^2")  # the parameter row disappears
    assert window.findChild(QtWidgets.QSlider, "param_a_slider") is None or not window.session.params


def test_click_on_the_3d_surface_adds_a_start_at_the_ray_cast_point(window, qtbot):
    view = window.surface_view
    c = window.controller
    cell = (c.session.xrange[1] - c.session.xrange[0]) / (c.session.resolution - 1)
    for elevation, azimuth, target in ((30, -60, (0.6, 1.4)), (65, 25, (-1.2, 0.2))):
        view.setCameraPosition(elevation=elevation, azimuth=azimuth)
        qtbot.wait(30)
        px, py = pixel_of(view, *target)
        n = len(c.session.starts)
        mouse(view, "press", (px, py))
        mouse(view, "release", (px, py))
        assert len(c.session.starts) == n + 1
        x, y = c.session.starts[-1]
        assert abs(x - target[0]) <= 1.5 * cell and abs(y - target[1]) <= 1.5 * cell, (x, y, target)


def test_drag_in_3d_moves_the_point_and_retraces_every_trajectory(window, qtbot):
    view = window.surface_view
    c = window.controller
    view.reset_camera()
    qtbot.wait(30)
    x0, y0 = c.session.starts[0]
    px, py = pixel_of(view, x0, y0 + 0.0)
    before = c.batch.points[:, 0].copy()
    mouse(view, "press", (px, py))
    assert view._dragging == 0
    seen = []
    target = (0.5, 0.5)
    tx, ty = pixel_of(view, *target)
    for k in range(1, 6):
        u = k / 5
        mouse(view, "move", (px + u * (tx - px), py + u * (ty - py)))
        seen.append(c.batch.points[:, 0].copy())
    mouse(view, "release", (tx, ty))
    assert view._dragging is None
    x1, y1 = c.session.starts[0]
    cell = 4.0 / (c.session.resolution - 1)
    assert abs(x1 - target[0]) < 2 * cell and abs(y1 - target[1]) < 2 * cell
    # during the move every enabled optimizer's trajectory changed, more than once
    for ci in range(before.shape[0]):
        assert not np.allclose(seen[0][ci], before[ci])
        assert not np.allclose(seen[-1][ci], seen[0][ci])
    np.testing.assert_array_equal(c.batch.points[:, 0, 0], np.broadcast_to([x1, y1], (before.shape[0], 2)))


def test_drag_and_click_in_the_contour_view(window, qtbot):
    plot = window.contour_view
    view = plot.viewport()  # a QGraphicsView gets its mouse events through its viewport
    c = window.controller

    def pix(x, y):
        return contour_pixel(plot, x, y)

    x0, y0 = c.session.starts[0]
    before = c.batch.points[:, 0].copy()
    mouse(view, "press", pix(x0, y0))
    mouse(view, "move", pix(0.0, 1.0))
    mid = c.batch.points[:, 0].copy()
    mouse(view, "move", pix(1.0, 0.5))
    mouse(view, "release", pix(1.0, 0.5))
    x1, y1 = c.session.starts[0]
    assert abs(x1 - 1.0) < 0.05 and abs(y1 - 0.5) < 0.05
    assert not np.allclose(mid, before) and not np.allclose(c.batch.points[:, 0], mid)
    n = len(c.session.starts)
    mouse(view, "press", pix(-1.0, 2.5))
    mouse(view, "release", pix(-1.0, 2.5))
    assert len(c.session.starts) == n + 1
    assert abs(c.session.starts[-1][0] + 1.0) < 0.05 and abs(c.session.starts[-1][1] - 2.5) < 0.05
    mouse(view, "press", pix(-1.0, 2.5), button=Qt.MouseButton.RightButton)
    assert len(c.session.starts) == n


def test_adding_and_removing_optimizers_updates_every_view(window, qtbot):
    c = window.controller
    n_starts = len(c.session.starts)
    n = len(c.session.enabled_optimizers())
    c.add_optimizer("Adam", {"lr": 0.1})
    assert c.batch.points.shape[0] == n + 1
    assert len(window.surface_view.lines) == (n + 1) * n_starts
    assert len(window.contour_view.curves) == (n + 1) * n_starts
    qtbot.waitUntil(lambda: len(window.loss_plot.curves) == (n + 1) * n_starts, timeout=1000)
    assert window.optimizer_panel.cards.count() - 1 == len(c.session.optimizers)
    c.remove_optimizer(0)
    c.update_optimizer(0, enabled=False)
    m = len(c.session.enabled_optimizers())
    assert c.batch.points.shape[0] == m
    assert m * n_starts == len(window.surface_view.lines)
    # the loss plot redraws once a burst of changes ends (within ~0.1 s)
    qtbot.waitUntil(lambda: len(window.loss_plot.curves) == m * n_starts, timeout=1000)


def test_rendered_pixels_show_surface_and_trajectories(window, qtbot):
    view = window.surface_view
    c = window.controller
    view.reset_camera()
    qtbot.wait(50)
    with_paths = framebuffer(view)
    background = np.array([0x15, 0x17, 0x1C])
    drawn = np.abs(with_paths - background).sum(axis=2) > 30
    assert drawn.mean() > 0.1  # the surface covers a good part of the view
    # hide every trajectory: the pixels along each projected path must change
    for item in view.lines:
        item.setVisible(False)
    without = framebuffer(view)
    for item in view.lines:
        item.setVisible(True)
    changed = np.abs(with_paths - without).sum(axis=2) > 40
    from landscape_gui.core.scene.picking import project

    for ci, o in enumerate(c.session.enabled_optimizers()):
        pts = c.batch.points[ci, 0]
        pts = pts[np.isfinite(pts[:, 0])][:: max(1, len(pts) // 40)]
        hz = c.heights(c.batch.losses[ci, 0][np.isfinite(c.batch.points[ci, 0, :, 0])][:: max(1, len(c.batch.points[ci, 0]) // 40)])
        sx, sy, sz = view.to_scene(pts[:, 0], pts[:, 1], hz)
        screen = project(np.c_[sx, sy, sz + LIFT], view.mvp(), view.width(), view.height())
        ratio = with_paths.shape[1] / view.width()
        hits = sum(changed[max(int(py * ratio) - 2, 0): int(py * ratio) + 3,
                           max(int(px * ratio) - 2, 0): int(px * ratio) + 3].any()
                   for px, py in screen)
        assert hits >= 0.8 * len(screen), (o.label, hits, len(screen))


def test_playback_moves_the_heads(window, qtbot):
    c = window.controller
    c.set_step(0)
    pos0 = window.contour_view.heads.getData()[0].copy()
    window.playback.speed.setValue(2000)
    window.playback.toggle()
    qtbot.waitUntil(lambda: c.step > 50, timeout=3000)
    window.playback.toggle()
    assert not np.allclose(window.contour_view.heads.getData()[0], pos0)
    assert window.playback.slider.value() == c.step



def test_drag_frames_reuse_the_rendered_landscape_but_camera_changes_redraw_it(window, qtbot):
    view = window.surface_view
    c = window.controller
    view.reset_camera()
    calls = []
    original = view.surface.paint
    view.surface.paint = lambda *a, **k: (calls.append(1), original(*a, **k))
    try:
        for _ in range(2):  # a landscape is cached once it stayed the same for two frames
            framebuffer(view)  # each grab renders one frame
        first = framebuffer(view)
        calls.clear()
        frames = []
        for k in range(5):
            c.move_start(0, -1.5 + 0.05 * k, 2.0)
            frames.append(framebuffer(view))
        assert calls == []  # drag frames paint only the trajectories over the cached image
        assert not np.array_equal(frames[-1], first)  # ... which did change
        view.setCameraPosition(azimuth=10)
        framebuffer(view)
        assert calls  # a new camera renders the surface again
    finally:
        view.surface.paint = original


def test_numerical_extremes_render_and_are_reported(window, qtbot):
    c = window.controller
    status = window.status_label
    for text in ("exp(100*x^2) + y", "log(x) + sqrt(y)", "3", "1e300*(x^2 + y^2)", "1/(x*y)", "x^2 - 1e308*y^4"):
        window.function_editor.set_formula(text)
        assert window.session.function_text == text, text
        view = window.surface_view
        img = framebuffer(view)  # renders: no exception escapes into paint
        assert img.shape[0] > 0
        assert c.grid.shape == (c.session.resolution, c.session.resolution)
    window.function_editor.set_formula("log(x) + sqrt(y)")
    assert "undefined" in status.text() and "%" in status.text()
    window.function_editor.set_formula("x^2 + y^2")
    c.add_optimizer("SGD", {"lr": 1.5})  # |1 - 2 lr| > 1: diverges
    assert "diverged at step" in status.text()


def test_gui_benchmark_runs(qtbot):
    from landscape_gui.devtools.bench_gui import bench_gui

    rows = bench_gui(quick=True)
    names = " ".join(r["figure"] for r in rows)
    assert "drag" in names and "slider" in names and "launch" in names
    assert all("ours_ms" in r and r["ours_ms"] > 0 for r in rows), rows


def test_delete_removes_the_start_under_the_mouse(window, qtbot):
    c = window.controller
    c.add_start(0.5, 0.5)
    c.add_start(-1.0, 2.5)
    first = c.session.starts[0]
    plot = window.contour_view
    mouse(plot.viewport(), "move", contour_pixel(plot, *first), buttons=Qt.MouseButton.NoButton)
    assert c.hovered_start == 0
    window.remove_start_point()
    assert first not in c.session.starts and (-1.0, 2.5) in c.session.starts
    n = len(c.session.starts)
    window.remove_start_point()  # nothing hovered now: the most recent one goes
    assert len(c.session.starts) == n - 1 and (-1.0, 2.5) not in c.session.starts


def test_every_preset_and_every_optimizer_in_the_window(window, qtbot):
    from landscape_gui.core import functions, optimizers

    c = window.controller
    for name in optimizers.names():
        c.add_optimizer(name)
    assert len(c.session.enabled_optimizers()) == 4 + len(optimizers.names())
    for lf in functions.FUNCTIONS:
        c.load_preset(lf.key)
        assert window.session.function_text == lf.formula
        assert window.function_editor.editor.toPlainText() == lf.formula
        assert c.batch.points.shape[:2] == (len(c.session.enabled_optimizers()), len(c.session.starts))
        assert np.isfinite(c.height_grid).mean() > 0.99, lf.key
        for mode in ("linear", "log", "clip"):
            c.set_zscale(mode)
        framebuffer(window.surface_view)  # renders without errors
    c.set_resolution(64)
    c.undo_stack.undo()
    assert c.session.resolution != 64
