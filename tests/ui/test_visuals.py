"""Issue 14: what the window shows matches the model (legend colours, log axis, aspect, layout)."""

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets


def _image(widget):
    img = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return arr[:, : 3 * w].reshape(h, w, 3).astype(int), img.devicePixelRatio()


def _legend_matches_curves(window):
    plot = window.loss_plot
    enabled = window.session.enabled_optimizers()
    entries = plot.legend_entries()
    assert entries == [(o.label, o.color) for o in enabled]
    n_st = len(window.session.starts)
    for ci, o in enumerate(enabled):  # every curve of optimizer ci is drawn in its colour
        for k in range(n_st):
            assert plot.curves[ci * n_st + k].opts["pen"].color().name() == o.color
    # and on screen: the legend's sample line of each entry is painted in that colour
    arr, dpr = _image(plot)
    for (sample, _), o in zip(plot.legend.items, enabled):
        r = sample.sceneBoundingRect()
        p = plot.mapFromScene(QtCore.QPointF(r.center().x(), r.center().y()))
        x, y = int(p.x() * dpr), int(p.y() * dpr)
        patch = arr[y - 6:y + 7, x - 10:x + 11].reshape(-1, 3)
        want = np.array(QtGui.QColor(o.color).getRgb()[:3])
        assert np.abs(patch - want).sum(axis=1).min() < 60, (o.label, o.color)


def test_loss_legend_follows_start_points_presets_and_optimizers(window, qtbot):
    c = window.controller
    c.add_start(0.5, 2.5)  # a third start point
    c.add_start(-0.5, 0.5)
    qtbot.wait(400)
    _legend_matches_curves(window)
    while len(window.session.starts) > 1:
        c.remove_start(len(window.session.starts) - 1)
    qtbot.wait(400)
    _legend_matches_curves(window)
    c.load_preset("himmelblau")
    c.add_optimizer("Adagrad")  # a fifth optimizer gets its entry too
    qtbot.wait(400)
    assert len(window.loss_plot.legend.items) == 5
    _legend_matches_curves(window)


def test_legend_never_covers_the_curves(window, qtbot):
    plot = window.loss_plot
    vb = plot.getPlotItem().getViewBox()
    legend = plot.legend.sceneBoundingRect()
    assert legend.intersected(vb.sceneBoundingRect()).width() < 2  # side by side (edges may touch)
    assert legend.left() >= vb.sceneBoundingRect().right() - 2


def test_log_loss_axis_shows_true_values_and_a_divergence_does_not_rescale(window, qtbot):
    c = window.controller
    window.function_editor.set_formula("a*x^2 + b*y^2")
    c.set_param("b", 30.0)  # SGD at lr 0.1 multiplies y by -5 each step: diverges
    c.set_domain((-2, 2), (-2, 2))
    while len(window.session.optimizers) > 1:
        c.remove_optimizer(1)
    c.update_optimizer(0, hyperparameters={"lr": 0.1})
    c.add_optimizer("Adam")
    qtbot.wait(600)
    plot = window.loss_plot
    axis = plot.getPlotItem().getAxis("left")
    assert "x1e" not in axis.labelString() and axis.labelUnitPrefix == ""
    lo, hi = plot.getPlotItem().getViewBox().viewRange()[1]
    start_loss = float(np.nanmax(c.batch.losses[:, :, 0]))
    assert hi <= np.log10(start_loss * 1e3) + 1  # not 1e21
    assert plot._departures >= 1  # the diverged run is marked where it left
    ticks = axis.tickValues(lo, hi, 300)[0][1]  # the labelled (major) ticks
    labels = axis.tickStrings(ticks, 1.0, 1.0)
    assert len(ticks) >= 2
    for v, text in zip(ticks, labels):  # each label is the true value 10^v (10⁻¹¹ only if it is)
        assert abs(np.log10(_value_of(text)) - v) < 0.05, (v, text)


def _value_of(text: str) -> float:
    sup = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
    if text.startswith("10") and len(text) > 2 and text[2] in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻":
        return 10.0 ** int(text[2:].translate(sup))
    return float(text.replace("−", "-"))


def test_2d_view_has_equal_aspect_for_a_square_domain_and_a_menu_for_the_rest(window, qtbot):
    vb = window.contour_view.getPlotItem().getViewBox()
    qtbot.wait(200)
    px, py = vb.viewPixelSize()
    assert abs(px / py - 1) < 0.02
    window.controller.set_domain((-500, 500), (-1, 1))  # unlike quantities: fill the view
    qtbot.wait(200)
    px, py = vb.viewPixelSize()
    assert px / py > 20
    window.aspect_actions["equal"].trigger()
    qtbot.wait(200)
    px, py = vb.viewPixelSize()
    assert abs(px / py - 1) < 0.02


def test_a_wide_domain_fills_the_2d_view(window, qtbot):
    """Bukin's [-15, -5] x [-3, 3] (a ravine): equal units left most of the view empty."""
    window.controller.set_domain((-15, -5), (-3, 3))
    qtbot.wait(200)
    vb = window.contour_view.getPlotItem().getViewBox()
    (xa, xb), (ya, yb) = vb.viewRange()
    assert (yb - ya) < 1.2 * 6 and (xb - xa) < 1.2 * 10  # the plane fills the view both ways


def test_window_opens_relative_to_the_screen_with_the_3d_view_largest(qtbot, tmp_path):
    from landscape_gui.core.session import Session
    from landscape_gui.ui import MainWindow

    w = MainWindow(Session.default(), autosave=False)
    w.ask_save_changes = lambda: "discard"
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(300)
    avail = QtGui.QGuiApplication.primaryScreen().availableGeometry()
    assert w.width() >= 0.8 * avail.width() or w.width() >= 1024
    area = {name: widget.width() * widget.height() for name, widget in (
        ("3d", w.surface_view), ("2d", w.contour_view), ("function", w.function_editor),
        ("optimizers", w.optimizer_panel), ("loss", w.loss_plot))}
    assert max(area, key=area.get) == "3d", area
    assert w.loss_plot.height() >= 120


def test_a_new_optimizer_card_is_scrolled_into_view(window, qtbot):
    for name in ("Adagrad", "Adadelta", "NAdam", "Lion"):
        window.controller.add_optimizer(name)
    qtbot.wait(300)
    panel = window.optimizer_panel
    card = panel.cards.itemAt(len(window.session.optimizers) - 1).widget()
    top = card.mapTo(panel.scroll.viewport(), QtCore.QPoint(0, 0)).y()
    assert 0 <= top < panel.scroll.viewport().height()


# --- the status bar tells the truth (item 7) ---------------------------------------------------

def test_status_after_a_drag_names_where_the_point_is_now(window, qtbot):
    from gui_helpers import contour_pixel, mouse

    plot = window.contour_view
    c = window.controller
    x0, y0 = c.session.starts[0]
    mouse(plot.viewport(), "move", contour_pixel(plot, x0, y0), buttons=QtCore.Qt.MouseButton.NoButton)
    mouse(plot.viewport(), "press", contour_pixel(plot, x0, y0))
    mouse(plot.viewport(), "move", contour_pixel(plot, 0.5, 1.0))
    mouse(plot.viewport(), "move", contour_pixel(plot, 1.0, 0.5))
    mouse(plot.viewport(), "release", contour_pixel(plot, 1.0, 0.5))
    x1, y1 = c.session.starts[0]
    text = window.status_label.text()
    assert f"x = {x1:.4g}" in text and f"y = {y1:.4g}" in text, text


def test_new_session_and_kernel_messages_do_not_overwrite_what_happened(window, qtbot):
    window.status_label.setText("restored the session from before the last crash")
    window.controller.kernelStatus.emit("fast kernels ready: formula and 12 optimizers")
    assert window.status_label.text() == "restored the session from before the last crash"
    assert "kernels ready" in window.kernel_label.text()
    window.new_session()
    assert "compiled in" not in window.status_label.text()
    assert window.status_label.text().startswith("new session")


def test_network_mode_message_stays_in_the_network_mode(window, qtbot):
    window.status_label.setText("grid 200×200 in 3.0 ms")
    window.modes.setCurrentIndex(1)
    qtbot.wait(50)
    assert "Neural network mode" in window.status_label.text()
    window.modes.setCurrentIndex(0)
    qtbot.wait(50)
    assert "Neural network" not in window.status_label.text()
    assert window.status_label.text() == "grid 200×200 in 3.0 ms"


# --- basins (item 6) --------------------------------------------------------------------------

def test_basin_colours_on_screen_are_their_legend_colours(window, qtbot):
    from PySide6 import QtGui as G

    from landscape_gui.ui.state.analysis_model import BASIN_COLORS
    from gui_helpers import contour_pixel

    window.controller.load_preset("himmelblau")
    window.controller.function.kernels(wait=True)
    panel, model = window.analysis_panel, window.analysis
    panel.resolution_box.setCurrentIndex(0)
    panel.optimizer_box.setCurrentIndex(0)
    window.analysis_actions["basins"].trigger()
    qtbot.waitUntil(lambda: model.basins is not None and not model.running, timeout=30000)
    qtbot.wait(300)
    b = model.basins
    arr, dpr = _image(window.contour_view.viewport())
    ny, nx = b.labels.shape
    (x0, x1), (y0, y1) = b.xrange, b.yrange
    hits = total = 0
    for j in range(4, ny - 4, 7):
        for i in range(4, nx - 4, 7):
            k = b.labels[j, i]
            if k < 0 or (b.labels[j - 1:j + 2, i - 1:i + 2] != k).any():
                continue
            x = x0 + (i + 0.5) * (x1 - x0) / nx
            y = y0 + (j + 0.5) * (y1 - y0) / ny
            px, py = contour_pixel(window.contour_view, x, y)
            got = arr[int(py * dpr), int(px * dpr)]
            want = np.array(G.QColor(BASIN_COLORS[k % len(BASIN_COLORS)]).getRgb()[:3])
            total += 1
            hits += np.abs(got - want).sum() < 40  # the legend's colour, not a blend with the heat map
    assert total > 20 and hits / total > 0.8, (hits, total)


def test_unsettled_runs_are_named_in_the_legend_with_the_steps_that_settle_them(window, qtbot):
    panel, model = window.analysis_panel, window.analysis
    window.controller.function.kernels(wait=True)
    panel.resolution_box.setCurrentIndex(0)
    sgd = [i for i, o in enumerate(window.session.optimizers) if o.name == "Adam"][0]
    panel.optimizer_box.setCurrentIndex(sgd)
    window.controller.set_run_options(steps=60)  # too few to settle anything on Rosenbrock
    window.analysis_actions["basins"].trigger()
    qtbot.waitUntil(lambda: model.basins is not None and not model.running, timeout=60000)
    b = model.basins
    assert b.unsettled_fraction > 0.2
    texts = [panel.legend.item(k).text() for k in range(panel.legend.count())]
    line = [t for t in texts if "still moving after 60 steps" in t]
    assert line, texts
    if b.settling_steps:
        assert f"{b.settling_steps:,} steps would settle them" in line[0]
        assert panel.settle_button.isVisibleTo(panel)
        panel.settle_button.click()
        assert window.session.steps == b.settling_steps
    else:
        assert "would not settle" in line[0]


# --- learning-rate sweep plots (item 13) ------------------------------------------------------

def test_sweep_plots_are_aligned_labelled_and_explain_an_empty_plot(window, qtbot):
    import math

    panel, model = window.analysis_panel, window.analysis
    plot = panel.sweep_plot
    lo, hi = plot.loss.viewRange()[0]
    assert lo == pytest_approx(math.log10(1e-4), 0.2) and hi == pytest_approx(0.0, 0.2)  # not 0..1
    assert "run a sweep" in plot.empty_note.textItem.toPlainText()
    window.controller.load_preset("ill_conditioned")
    window.controller.function.kernels(wait=True)
    sgd = [i for i, o in enumerate(window.session.optimizers)
           if o.name == "SGD" and o.hyperparameters["momentum"] == 0.0][0]
    panel.optimizer_box.setCurrentIndex(sgd)
    window.analysis_actions["sweep"].trigger()
    qtbot.waitUntil(lambda: model.sweep is not None, timeout=15000)
    qtbot.wait(200)
    a = plot.loss.getViewBox().sceneBoundingRect()
    b = plot.steps.getViewBox().sceneBoundingRect()
    assert abs(a.left() - b.left()) < 1.5 and abs(a.right() - b.right()) < 1.5  # one shared x axis
    assert np.allclose(plot.loss.viewRange()[0], plot.steps.viewRange()[0])
    label = plot.edge_label.sceneBoundingRect()
    assert a.contains(label), (a, label)  # "edge 0.08", not "dge 0.08"
    # no run converges in 3 steps: the steps plot says so instead of an odd axis
    import dataclasses

    none = dataclasses.replace(model.sweep, steps_to_converge=np.full(model.sweep.lrs.size, -1), steps=3)
    plot.show_sweep(none)
    assert "no rate converged within 3 steps" in plot.empty_note.textItem.toPlainText()
    assert plot.steps.viewRange()[1][1] - plot.steps.viewRange()[1][0] >= 2.9  # 0..3, not 482.6..483.4


def pytest_approx(value, tol):
    import pytest

    return pytest.approx(value, abs=tol)


def test_a_window_shrunk_by_hand_keeps_its_proportions_and_whole_cards(qtbot):
    """Shrinking used to come out of the central widget alone: the docks kept their widths, the
    2-D view became a strip and the optimizer cards were cut."""
    from landscape_gui.core.session import Session
    from landscape_gui.ui import MainWindow

    w = MainWindow(Session.default(), autosave=False)
    w.ask_save_changes = lambda: "discard"
    qtbot.addWidget(w)
    w.resize(1900, 1050)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(300)
    w.docks.default_layout(resize_window=False)
    qtbot.wait(300)
    share_2d = w.contour_view.width() / w.width()
    right_dock = w.findChild(QtWidgets.QDockWidget, "Optimizers_dock")
    wide_right = right_dock.width()
    w.resize(1150, 740)
    qtbot.waitUntil(lambda: w.docks.shares is not None and w.docks.shares[0] == w.size(), timeout=3000)
    qtbot.wait(100)
    assert right_dock.width() < wide_right                       # the docks gave way too
    assert w.contour_view.width() / w.width() > 0.6 * share_2d   # the 2-D view is not a strip
    panel = w.optimizer_panel
    for k in range(len(w.session.optimizers)):                   # every card whole, close button in view
        card = panel.cards.itemAt(k).widget()
        right = card.mapTo(panel.scroll.viewport(), QtCore.QPoint(card.width(), 0)).x()
        assert right <= panel.scroll.viewport().width()
    # a separator the user moved is kept as a share through the next resize
    left_dock = w.findChild(QtWidgets.QDockWidget, "Function_dock")
    w.resizeDocks([left_dock], [400], QtCore.Qt.Orientation.Horizontal)
    qtbot.wait(200)
    share = left_dock.width() / w.width()
    w.resize(1400, 800)
    qtbot.waitUntil(lambda: w.docks.shares[0] == w.size(), timeout=3000)
    assert abs(left_dock.width() / w.width() - share) < 0.03


def test_critical_point_table_never_scrolls_sideways_and_details_name_every_value(window, qtbot):
    c = window.controller
    c.load_preset("himmelblau")
    c.function.kernels(wait=True)
    window.show_analysis_tab(0)
    panel = window.analysis_panel
    panel.critical_check.setChecked(True)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 9, timeout=10000)
    qtbot.wait(100)
    t = panel.table

    def shown():
        return [k for k in range(t.columnCount()) if not t.isColumnHidden(k)]

    def fits():
        return sum(t.columnWidth(k) for k in shown()[:-1]) <= t.viewport().width()

    assert fits() and shown()[:4] == [0, 1, 2, 3]   # kind, x, y, f always; the rest as room allows
    narrow = shown()
    t.setCurrentCell(1, 1)
    cp = window.analysis.critical_points[1]
    qtbot.waitUntil(lambda: "SAM sharpness" in panel.point_details.text(), timeout=5000)
    text = panel.point_details.text()
    for value in (f"{cp.x:.6g}", f"{cp.eigenvalues[1]:.4g}", f"{cp.condition_number:.3g}"):
        assert value in text, (value, text)
    dock = window.analysis_dock
    window.resizeDocks([dock], [dock.width() + 260], QtCore.Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: len(shown()) > len(narrow), timeout=3000)
    assert fits()


def test_legend_swatches_are_level_with_their_labels(window, qtbot):
    """Swatches sat ~20 px below and left of their labels when the legend column stretched."""
    assert window.open_example("learning-rate")
    qtbot.wait(300)
    legend = window.loss_plot.legend
    assert len(legend.items) == 2
    for sample, label in legend.items:
        s = sample.mapToScene(sample.boundingRect().center())
        t = label.mapToScene(label.boundingRect().center())
        assert abs(s.y() - t.y()) < 4, (s.y(), t.y())
        right = sample.mapToScene(sample.boundingRect().topRight()).x()
        left = label.mapToScene(label.boundingRect().topLeft()).x()
        assert 0 <= left - right < 16


def test_the_loss_axis_label_fits_beside_the_plot(window, qtbot):
    """A loss that goes below zero is drawn as f − min f on the log axis: its label (rotated) must
    fit the plot's height, not be cut off at the top ("f − min f (log s...")."""
    window.function_editor.set_formula("sin(3*x)*cos(y) + 0.1*(x^2 + y^2)")
    qtbot.waitUntil(lambda: window.controller.batch is not None and np.nanmin(window.controller.batch.losses) < 0,
                    timeout=10000)
    qtbot.wait(300)
    axis = window.loss_plot.getPlotItem().getAxis("left")
    text = axis.label.toPlainText()
    assert text.startswith("f − min f") and "log" in text
    assert axis.label.boundingRect().width() <= axis.geometry().height()


def test_many_optimizers_keep_the_lr_strip_and_every_legend_entry_inside_the_panel(window, qtbot):
    """Eight entries in the loss's row squeezed the lr strip to two lines with no tick and no
    "lr"; twelve ran past the panel's bottom. The legend spans the loss and the strip, takes a
    second column when it needs one, and the strip labels every decade it draws."""
    c = window.controller
    plot = window.loss_plot
    strip = plot.lr_strip.getViewBox()
    alone = strip.height()
    for name, lr in [("Adagrad", 0.01), ("AdamW", 0.001), ("Lion", 1e-4), ("NAdam", 0.002)] * 2:
        c.add_optimizer(name, {"lr": lr})
    qtbot.waitUntil(lambda: len(plot.legend.items) == 12, timeout=5000)
    qtbot.wait(400)
    assert strip.height() >= alone - 2   # the strip keeps its share
    view = plot.viewport().rect()
    for sample, label in plot.legend.items:   # every entry drawn inside the panel
        r = plot.mapFromScene(label.sceneBoundingRect()).boundingRect()
        assert view.contains(r), (label.text, r, view)
    # entries are still the enabled optimizers in order, their swatches in their colours
    _legend_matches_curves(window)
    # the strip's labels: the decades 1e-4 .. 1e-2 its rates span, each inside the drawn range
    lo, hi = strip.viewRange()[1]
    ticks = plot.lr_strip.getAxis("left")._tickLevels[0]
    assert [text for _, text in ticks] == ["0.01", "0.001", "0.0001"]
    assert all(lo <= v <= hi for v, _ in ticks)
