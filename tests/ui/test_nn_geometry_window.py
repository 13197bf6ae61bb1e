"""The network mode's geometry tabs in the real window: sharpness during training (the edge of
stability), the Hessian spectrum, a curve between two pinned solutions, a batch-size sweep —
each a background job with progress and cancel."""

import numpy as np
from PySide6 import QtCore

from landscape_gui.core import nn

from gui_helpers import contour_pixel, grab_rgb, to_nn_mode, train_and_wait

Qt = QtCore.Qt




def small_moons(panel, seed=0):
    panel.load_settings(nn.NetworkSettings(n=300, width=8, epochs=12, grid=11, seed=seed).to_dict())


def test_sharpness_during_training_reaches_the_edge_of_stability(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    view = panel.sharpness_view
    panel.tabs.setCurrentWidget(view)
    qtbot.mouseClick(view.preset_button, Qt.MouseButton.LeftButton)
    assert panel.dataset_box.currentData() == "regression" and panel.optimizer_edit.text() == "SGD(lr=0.05)"
    assert panel.track_spin.value() == 25 and panel.batch_spin.value() >= panel.n_spin.value()  # full batch
    panel.epochs_spin.setValue(600)
    panel.grid_spin.setValue(11)
    r = train_and_wait(panel, qtbot)
    s = r.run.sharpness
    assert s[:, 0].tolist() == list(range(0, 601, 25))
    x, y = view.lam_curve.getData()
    np.testing.assert_array_equal(y, s[:, 1])
    assert view.edge.isVisible() and view.edge.value() == 40.0 and "2/lr = 40" in view.note.text()
    assert len(view.loss_curve.getData()[0]) == 600
    assert s[:, 1].max() > 35          # sharpened from ~14 to the edge within 600 steps
    qtbot.wait(100)
    img = grab_rgb(view.lam_plot)
    assert (np.abs(img - [0xFF, 0x4D, 0x4D]).max(axis=-1) < 40).sum() > 100   # the dashed 2/lr line
    assert (np.abs(img - [0x33, 0xCC, 0xFF]).max(axis=-1) < 40).sum() > 100   # the λmax curve


def test_the_spectrum_tab_computes_draws_and_cancels(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    small_moons(panel)
    r = train_and_wait(panel, qtbot)
    view = panel.spectrum_view
    panel.tabs.setCurrentWidget(view)
    view.k_spin.setValue(3)
    with qtbot.waitSignal(panel.model.spectrumChanged, timeout=60000):
        qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    sp = panel.model.spectra["run"]
    assert len(sp.eigenvalues) == 3 and len(view.marks) == 3
    assert sp.lambda_max == np.float64(sp.lambda_max)
    assert abs(sp.lambda_max - nn.sharpness(r.run.model, r.run.train_data, r.run.params, tol=1e-10)) < 1e-6
    x, y = view.curves["run"].getData()
    assert len(x) > 100 and view.bar.progress.value() == 100
    # a ReLU net's trace is exact (no probes): the note says so, with no error bar
    assert sp.trace_method == "exact" and f"trace {sp.trace:.4g} (exact)" in view.note.text()
    # a tanh net's is Hutchinson's estimate; many probes make a long job to cancel
    panel.load_settings(nn.NetworkSettings(n=300, width=8, epochs=12, grid=11, seed=0, activation="tanh").to_dict())
    train_and_wait(panel, qtbot)
    panel.tabs.setCurrentWidget(view)
    with qtbot.waitSignal(panel.model.spectrumChanged, timeout=60000):
        qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    sp = panel.model.spectra["run"]
    assert sp.trace_method == "Hutchinson" and "(Hutchinson, 1 s.e.)" in view.note.text()
    # cancel: a long one (many probes) stops, the buttons come back and the last spectrum stays
    view.samples_spin.setValue(2000)
    qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    assert view.bar.cancel_button.isEnabled() and not view.bar.start_button.isEnabled()
    qtbot.mouseClick(view.bar.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.bar.start_button.isEnabled(), timeout=5000)
    assert not panel.model.running("spectrum") and panel.model.spectra["run"] is sp
    assert "cancelled" in panel.status.text()


def test_connect_a_and_b_trains_a_curve_and_draws_both_paths(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    small_moons(panel)
    train_and_wait(panel, qtbot)
    panel.model.pin("A")
    panel.seed_spin.setValue(1)
    train_and_wait(panel, qtbot)
    panel.model.pin("B")
    view = panel.connect_view
    panel.tabs.setCurrentWidget(view)
    view.epochs_spin.setValue(15)
    with qtbot.waitSignal(panel.model.curveChanged, timeout=60000):
        qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    c = panel.model.curve
    np.testing.assert_array_equal(view.bend_curve.yData, c.loss_curve)  # raw (the axis is log)
    np.testing.assert_array_equal(view.line_curve.yData, c.loss_linear)
    assert view.stack.currentIndex() == 1 and len(view.source.session.paths) == 2
    assert len(view.surface_view.lines) == 2 and len(view.contour_view.curves) == 2
    assert "Barrier" in view.note.text()
    qtbot.wait(150)
    img = grab_rgb(view.contour_view)
    green = np.array([0x66, 0xFF, 0x66])
    k = len(c.t) // 2
    px, py = contour_pixel(view.contour_view, *c.curve_xy[k])
    patch = img[int(py) - 3: int(py) + 4, int(px) - 3: int(px) + 4]
    assert (np.abs(patch - green).max(axis=-1) < 60).any()       # the curve is drawn where it is
    # cancel a long training of the bend
    view.epochs_spin.setValue(5000)
    qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    qtbot.wait(100)
    qtbot.mouseClick(view.bar.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.bar.start_button.isEnabled(), timeout=5000)
    assert panel.model.curve is c


def test_connect_needs_two_pinned_runs_of_one_network(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    view = panel.connect_view
    qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    assert "Pin two runs" in view.note.text() and not panel.model.running("connect")


def test_a_batch_size_sweep_and_a_click_on_one_of_its_runs(window, qtbot):
    panel = to_nn_mode(window, qtbot)
    small_moons(panel)
    view = panel.sweep_view
    panel.tabs.setCurrentWidget(view)
    view.sizes_edit.setText("16, x")
    qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    assert "'x' is not a batch size" in view.note.text() and not panel.model.running("sweep")
    view.sizes_edit.setText("16, 64, full")
    view.epochs_spin.setValue(4)
    with qtbot.waitSignal(panel.model.sweepChanged, timeout=120000):
        qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    sw = panel.model.sweep
    assert [r.batch_size for r in sw.runs] == [16, 64, 240]
    pts = view.lam_points.points()
    assert len(pts) == 3
    np.testing.assert_allclose([p.pos().y() for p in pts], np.log10(sw.sharpness))
    assert "full batch (240)" in view.note.text()
    # a real click on the first λmax point shows that run's plane in the Landscape tab
    qtbot.wait(100)
    vb = view.sharp_plot.getPlotItem().getViewBox()
    p = pts[0].pos()
    at = view.sharp_plot.mapFromScene(vb.mapViewToScene(p))
    with qtbot.waitSignal(panel.model.sweepPlane, timeout=60000):
        qtbot.mouseClick(view.sharp_plot.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert panel.tabs.currentIndex() == 0
    assert panel.model.result.run is sw.runs[0] and panel.model.result.run.batch_size == 16
    # cancel a long sweep: the last one stays
    view.sizes_edit.setText("1, 2, 4")
    view.epochs_spin.setValue(500)
    qtbot.mouseClick(view.bar.start_button, Qt.MouseButton.LeftButton)
    assert view.bar.cancel_button.isEnabled()
    qtbot.wait(100)
    qtbot.mouseClick(view.bar.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.bar.start_button.isEnabled(), timeout=10000)
    assert panel.model.sweep is sw and "sweep cancelled" in panel.status.text()
