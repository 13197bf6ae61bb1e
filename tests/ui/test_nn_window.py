"""The Neural network mode in the real window: train, see the landscape in both views, cancel,
compare two runs, load data, export."""

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core import nn
from landscape_gui.ui.export.figures import FigureOptions
from landscape_gui.ui.modes.network.panel import TRAJECTORY_COLOR
from landscape_gui.ui.views.surface_view import ZSPAN

from gui_helpers import contour_pixel, grab_rgb, to_nn_mode, train_and_wait

Qt = QtCore.Qt




def test_the_mode_trains_and_shows_the_landscape_with_the_projected_path(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    assert not window.findChild(QtWidgets.QDockWidget, "Function_dock").isVisible()  # formula docks hidden
    assert panel.model.data.X.shape == (1000, 2)
    assert len(panel.preview.scatter.data) == 1000
    panel.epochs_spin.setValue(20)
    panel.grid_spin.setValue(31)
    r = train_and_wait(panel, qtbot)
    run, land = r.run, r.land
    assert run.trajectory.shape == (21, run.model.n_params) and run.losses[-1] < run.losses[0]
    assert land.kind == "pca" and land.values.shape == (31, 31)
    # the same plane as the core computes for this run
    again = nn.landscape(run.model, run.train_data, run.params, "pca", grid=(31, 31), trajectory=run.trajectory)
    np.testing.assert_allclose(land.values, again.values, rtol=1e-12)
    # both views draw it: the 3-D mesh heights are the plane's, the heat map too
    src = panel.source
    np.testing.assert_array_equal(src.grid, land.values)
    np.testing.assert_allclose(panel.surface_view.surface._z, src.heights(land.values).T * ZSPAN, atol=1e-6)
    assert panel.contour_view.image.image.shape == (31, 31)
    # the projected training path: one line in each view, through every snapshot
    assert panel.surface_view.lines[0].pos.shape == (21, 3)
    x, y = panel.contour_view.curves[0].getData()
    np.testing.assert_allclose(np.c_[x, y], land.trajectory_xy)
    qtbot.wait(100)
    img = grab_rgb(panel.contour_view)
    want = np.array(QtGui.QColor(TRAJECTORY_COLOR).getRgb()[:3])
    hits = 0
    for k in range(2, 19, 4):
        px, py = contour_pixel(panel.contour_view, *land.trajectory_xy[k])
        patch = img[int(py) - 2: int(py) + 3, int(px) - 2: int(px) + 3]
        hits += (np.abs(patch - want).max(axis=-1) < 60).any()
    assert hits >= 4
    # loss curve, decision regions, numbers
    tx, ty = panel.train_curve.xData, panel.train_curve.yData  # raw values (the axis is log)
    assert len(tx) == 21 and ty[-1] == run.losses[-1]
    assert panel.preview.boundary.image is not None
    assert "trained" in panel.status.text() and "λmax" in panel.status.text()
    assert r.sharpness > 0 and 0 <= r.roughness <= 1
    # the test-loss plane, and back to the formula mode with its docks
    panel.split_box.setCurrentIndex(1)
    np.testing.assert_array_equal(src.grid, land.test_values)
    window.modes.setCurrentIndex(0)
    assert window.findChild(QtWidgets.QDockWidget, "Function_dock").isVisible()


def test_training_can_be_cancelled_and_bad_optimizer_text_is_refused(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    panel.optimizer_edit.setText("Adamm(lr=0.01)")
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert not panel.model.busy and "optimizer" in panel.status.text()
    panel.optimizer_edit.setText("SGD(lr=0.05, momentum=0.9)")
    panel.epochs_spin.setValue(5000)
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert panel.model.busy and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=60000)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert not panel.model.busy and panel.train_button.isEnabled()
    assert "cancelled" in panel.status.text()
    assert panel.train_curve.xData is None or len(panel.train_curve.xData) < 5000
    qtbot.wait(500)
    assert panel.model.result is None


def test_compare_two_seeds_on_one_scale_with_the_path_between_them(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    panel.epochs_spin.setValue(15)
    panel.grid_spin.setValue(21)
    panel.directions_box.setCurrentIndex(1)  # filter-normalised
    a = train_and_wait(panel, qtbot)
    assert a.land.kind == "filter" and a.land.trajectory_xy is None
    qtbot.mouseClick(panel.pin_a, Qt.MouseButton.LeftButton)
    panel.seed_spin.setValue(1)
    b = train_and_wait(panel, qtbot)
    with qtbot.waitSignal(panel.model.compareChanged, timeout=20000):  # computed in the background
        qtbot.mouseClick(panel.pin_b, Qt.MouseButton.LeftButton)
    assert panel.model.pinned == {"A": a, "B": b}
    lo, hi = panel.model.comparison.levels
    for slot in "AB":
        thumb = panel.thumbs[slot]
        assert thumb.image.image is not None and tuple(thumb.image.levels) == (lo, hi)
        assert "λmax" in panel.compare_labels[slot].text()
    x, y = panel.interp_train.xData, panel.interp_train.yData
    assert len(x) == 61 and not panel.interp_plot.isHidden()
    i0 = np.argmin(np.abs(x))
    assert y[i0] == np.float64(nn.evaluate(a.run.model, a.run.train_data, a.run.params)[0]) or \
        abs(y[i0] - nn.evaluate(a.run.model, a.run.train_data, a.run.params)[0]) < 1e-9
    # depth with and without skip connections: different architectures, no straight path
    panel.depth_spin.setValue(4)
    panel.residual_check.setChecked(True)
    c = train_and_wait(panel, qtbot)
    with qtbot.waitSignal(panel.model.compareChanged, timeout=20000):
        panel.model.pin("B")
    assert c.run.model.residual and panel.interp_plot.isHidden()
    assert "different architectures" in panel.interp_note.text()


def test_csv_data_and_export_from_the_network_mode(window, qtbot, tmp_path):
    panel = to_nn_mode(window, qtbot)
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,label\n1,2,0\n3,oops,1\n5,6,0\n7,8,1\n")
    assert not panel.model.load_csv(bad)
    assert "line 3" in panel.status.text() and "oops" in panel.status.text()
    good = tmp_path / "blobs.csv"
    rng = np.random.default_rng(0)
    rows = ["a,b,label"] + [f"{x:.4f},{y:.4f},{int(x + y > 0)}" for x, y in rng.normal(size=(200, 2))]
    good.write_text("\n".join(rows))
    assert panel.model.load_csv(good)
    assert panel.model.data.X.shape == (200, 2) and len(panel.preview.scatter.data) == 200
    panel.epochs_spin.setValue(10)
    panel.grid_spin.setValue(15)
    r = train_and_wait(panel, qtbot)
    assert r.run.train_data.name == "blobs (train)" and r.run.accuracy > 0.85
    out = tmp_path / "plane.png"
    panel.export_to(str(out), FigureOptions(view="both", width=900, height=400))
    img = QtGui.QImage(str(out))
    assert img.width() == 900 and img.height() == 400
    assert "exported" in panel.status.text()
    # the path as an animation and as data, through the same exporter as formulas
    gif, csv = tmp_path / "path.gif", tmp_path / "path.csv"
    panel.export_to(str(gif), FigureOptions(view="2d", width=320, height=240))
    panel.export_to(str(csv), FigureOptions())
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("optimizer,start,step,x,y,loss") and len(rows) == 1 + len(r.run.trajectory)


def test_closing_in_the_network_mode_keeps_the_formula_docks_for_next_time(window, qtbot):
    to_nn_mode(window, qtbot)
    window.close()
    from landscape_gui.core.session import Session
    from landscape_gui.ui import MainWindow

    again = MainWindow(Session.default())
    again.ask_save_changes = lambda: "discard"
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.modes.currentIndex() == 0
    assert again.findChild(QtWidgets.QDockWidget, "Function_dock").isVisible()


def test_network_settings_live_in_the_session_saved_and_undone(window, qtbot, tmp_path):
    panel = to_nn_mode(window, qtbot)
    panel.depth_spin.setValue(3)
    panel.width_spin.setValue(12)
    panel.residual_check.setChecked(True)
    panel.optimizer_edit.setText("SGD(lr=0.05, momentum=0.9)")
    panel.epochs_spin.setValue(4)
    panel.grid_spin.setValue(11)
    train_and_wait(panel, qtbot)
    net = window.session.network
    assert net["depth"] == 3 and net["width"] == 12 and net["residual"] is True
    assert net["optimizer"] == "SGD" and net["hyperparameters"]["momentum"] == 0.9
    assert window.isWindowModified()
    path = tmp_path / "net.landscape.json"
    assert window.save_to(path)
    # another window opens the file: the network mode shows the same experiment
    from landscape_gui.ui import MainWindow

    other = MainWindow()
    other.ask_save_changes = lambda: "discard"
    qtbot.addWidget(other)
    assert other.open_file(path)
    p2 = other.nn_panel
    assert p2.depth_spin.value() == 3 and p2.width_spin.value() == 12 and p2.residual_check.isChecked()
    assert p2.optimizer_edit.text() == "SGD(lr=0.05, momentum=0.9)" and p2.epochs_spin.value() == 4
    assert p2.model.settings.to_dict() == window.nn_panel.model.settings.to_dict()
    # undo brings the earlier settings back into the panel
    panel.depth_spin.setValue(5)
    train_and_wait(panel, qtbot)
    assert window.session.network["depth"] == 5
    window.undo_action.trigger()
    assert window.session.network["depth"] == 3 and panel.depth_spin.value() == 3


def test_the_panel_keeps_its_layout_on_train_and_the_wheel_scrolls_it(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    # before any training: a hint, not a flat placeholder plane
    assert panel.views_stack.currentIndex() == 0
    assert "Train" in panel.views_stack.currentWidget().text()
    h0 = panel.preview.height()
    scroll = panel.preview.parentWidget()
    while not isinstance(scroll, QtWidgets.QScrollArea):
        scroll = scroll.parentWidget()
    bar = scroll.verticalScrollBar()
    bar.setValue(0)
    view_range = panel.preview.getPlotItem().viewRange()
    # a wheel turn over the preview scrolls the panel and leaves the preview's zoom alone
    pos = QtCore.QPointF(panel.preview.width() / 2, panel.preview.height() / 2)
    ev = QtGui.QWheelEvent(pos, panel.preview.mapToGlobal(pos), QtCore.QPoint(0, 0), QtCore.QPoint(0, -240),
                           Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                           False)
    QtWidgets.QApplication.sendEvent(panel.preview.viewport(), ev)
    assert panel.preview.getPlotItem().viewRange() == view_range
    if bar.maximum() > 0:
        assert bar.value() > 0
    panel.epochs_spin.setValue(5)
    panel.grid_spin.setValue(15)
    train_and_wait(panel, qtbot)
    qtbot.wait(100)
    assert panel.preview.height() == h0  # did not grow and push Train out of view
    assert panel.views_stack.currentIndex() == 1


def test_a_typed_rule_trains_the_network(window, qtbot):
    """Issue 18: a rule of the session is an optimizer of the network mode too (x, g: all weights)."""
    from landscape_gui.core.optimizers.templates import TEMPLATES

    window.controller.add_rule_optimizer("NetSignum", TEMPLATES["Signum"])
    panel = to_nn_mode(window, qtbot)
    panel.optimizer_edit.setText("NetSignum(lr=0.01, beta=0.9)")
    panel.epochs_spin.setValue(8)
    r = train_and_wait(panel, qtbot)
    assert r.run.optimizer == "NetSignum" and r.run.hyperparameters == {"lr": 0.01, "beta": 0.9}
    assert r.run.losses[-1] < r.run.losses[0]
    assert "trained" in panel.status.text()
