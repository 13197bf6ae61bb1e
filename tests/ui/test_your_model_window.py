"""The "Your model" mode in the real window: a model file opened from the menu, its plane
drawn progressively (coarse, then the fine grid), the spectrum, sharpness and connection
tabs, bad model files refused while the window keeps working."""

import textwrap

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.ui.views.surface_view import ZSPAN

torch = pytest.importorskip("torch")

MODEL = """
import copy
import torch

torch.manual_seed(0)
_x = torch.randn(60, 2)
_y = (_x[:, 0] * _x[:, 1] > 0).long()
loss_fn = torch.nn.CrossEntropyLoss()
_net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
_opt = torch.optim.SGD(_net.parameters(), lr=0.5)
checkpoints = []
for _ in range(40):
    _opt.zero_grad()
    loss_fn(_net(_x), _y).backward()
    _opt.step()
    checkpoints.append(copy.deepcopy(_net.state_dict()))
checkpoints = checkpoints[4::5]
lr = 0.5


def model():
    return _net.eval()


def batches():
    return [(_x[:30], _y[:30]), (_x[30:], _y[30:])]
"""


def write_model(tmp_path, text=MODEL, name="tiny_model.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def open_from_menu(window, qtbot, monkeypatch, path):
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    warnings = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    action = window.findChild(QtGui.QAction, "openModelAction")
    assert action is not None and "Model" in action.text()
    action.trigger()
    return window.model_panel, warnings


def test_a_model_file_opens_and_its_plane_fills_in(window, qtbot, monkeypatch, tmp_path):
    path = write_model(tmp_path)
    panel, warnings = open_from_menu(window, qtbot, monkeypatch, path)
    assert not warnings, warnings
    assert window.modes.currentIndex() == 3 and window.modes.tabText(3) == "Your model"
    assert "tiny_model.py" in panel.info.text() and "8 checkpoints" in panel.info.text()
    shapes = []
    panel.relay.plane.connect(lambda p: shapes.append(p.values.shape))
    qtbot.waitUntil(lambda: not panel.jobs.running and panel.plane is not None
                    and panel.plane.values.shape == (51, 51), timeout=60000)
    assert shapes[0] == (11, 11) and shapes[-1] == (51, 51)   # coarse first, then the fine grid
    plane = panel.plane
    assert np.isfinite(plane.values).all()
    # what is drawn is the plane: the source's grid and the 3-D mesh's heights
    np.testing.assert_array_equal(panel.source.grid, plane.values)
    h = panel.source.heights(plane.values)
    np.testing.assert_allclose(panel.surface_view.surface._z, h.T * ZSPAN, atol=1e-6)
    # the trust report is shown: the centre's loss is the model's own
    assert plane.info["trust"]["centre_matches"]
    assert "✔ loss at the centre" in panel.trust.text()
    assert "plane 51x51" in panel.status.text()
    # the minimum of a trained model's plane is at (or next to) its centre
    j, i = np.unravel_index(np.argmin(plane.values), plane.values.shape)
    assert abs(plane.alphas[i]) <= 0.2 and abs(plane.betas[j]) <= 0.2


def test_spectrum_sharpness_and_connect_tabs(window, qtbot, monkeypatch, tmp_path):
    panel, _ = open_from_menu(window, qtbot, monkeypatch, write_model(tmp_path))
    qtbot.waitUntil(lambda: not panel.jobs.running, timeout=60000)
    panel.tabs.setCurrentIndex(1)
    panel.TRACE_SAMPLES = 30   # the window's 100 probes, fewer here (the trace is tested in core)
    panel.layers_check.setChecked(True)
    qtbot.mouseClick(panel.spectrum_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.jobs.running and panel.spectrum is not None, timeout=60000)
    spec = panel.spectrum
    from landscape_gui.pytorch import hessian_spectrum

    ref = hessian_spectrum(panel.spec.model, panel.spec.loss_fn, panel.spec.batches, k=5, trace_samples=0,
                           density=False)
    np.testing.assert_allclose(spec.eigenvalues, ref.eigenvalues, rtol=1e-4)
    assert panel.blocks_table.rowCount() == 2 and panel.blocks_table.item(0, 0).text() == "0 (Linear)"
    assert panel.blocks_table.item(1, 0).data(QtCore.Qt.ItemDataRole.UserRole) == "2"
    x, y = panel.spectrum_plot.getPlotItem().listDataItems()[0].getData()
    np.testing.assert_allclose(x, spec.density_grid)
    # the legend names each drawn thing once
    legend = [label.text for _, label in panel.spectrum_plot.getPlotItem().legend.items]
    assert legend == ["density (SLQ)", "top 5 eigenvalues"], legend
    assert "30 probes" in panel.spectrum_text.text()
    # the trust report keeps the plane's check and adds the spectrum's; the status bar says what finished
    assert "loss at the centre" in panel.trust.text() and "eigenpairs" in panel.trust.text()
    assert window.status_label.text().startswith("spectrum in ")
    assert f"{spec.eigenvalues[0]:.6g}" in panel.spectrum_text.text()

    panel.tabs.setCurrentIndex(2)
    qtbot.mouseClick(panel.sharpness_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.jobs.running and panel.sharpness is not None, timeout=60000)
    assert panel.sharpness.shape == (8, 2) and (panel.sharpness[:, 0] > 0).all()
    import copy

    last = copy.deepcopy(panel.spec.model)
    last.load_state_dict(panel.spec.checkpoints[-1])
    ref = hessian_spectrum(last, panel.spec.loss_fn, panel.spec.batches, k=1, trace_samples=0, density=False)
    assert panel.sharpness[-1, 0] == pytest.approx(ref.eigenvalues[0], rel=1e-4)   # warm-started = cold
    items = panel.sharpness_plot.getPlotItem().listDataItems()
    assert len(items) == 2 and items[1].getData()[1][0] == pytest.approx(2 / 0.5)   # the 2/lr line

    panel.tabs.setCurrentIndex(3)
    panel.epochs_spin.setValue(5)
    qtbot.mouseClick(panel.connect_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.jobs.running and panel.curve is not None, timeout=60000)
    lines = panel.connect_plot.getPlotItem().listDataItems()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[1].getData()[1], panel.curve.loss_curve)
    assert "barrier" in panel.connect_text.text()


def test_cancel_stops_the_plane_and_the_window_keeps_working(window, qtbot, monkeypatch, tmp_path):
    panel, _ = open_from_menu(window, qtbot, monkeypatch, write_model(tmp_path))
    panel.grid_spin.setValue(201)
    qtbot.waitUntil(lambda: not panel.jobs.running, timeout=60000)
    qtbot.mouseClick(panel.compute_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.plane is not None and panel.plane.values.shape == (201, 201), timeout=60000)
    assert panel.cancel_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, QtCore.Qt.MouseButton.LeftButton)
    assert "cancelled" in panel.status.text() and panel.compute_button.isEnabled()
    qtbot.wait(300)
    assert not panel.jobs.running


@pytest.mark.parametrize("text,message", [
    ("import torch\ndef model(:\n", "bad_model.py, line 2: syntax error"),
    (MODEL.replace("return _net.eval()", "return [1, 2]"), "bad_model.py, line 21: model() returned list"),
])
def test_a_bad_model_file_is_refused_with_its_line(window, qtbot, monkeypatch, tmp_path, text, message):
    good = write_model(tmp_path)
    panel, _ = open_from_menu(window, qtbot, monkeypatch, good)
    qtbot.waitUntil(lambda: not panel.jobs.running and panel.plane is not None, timeout=60000)
    before = panel.plane
    bad = write_model(tmp_path, text, "bad_model.py")
    _, warnings = open_from_menu(window, qtbot, monkeypatch, bad)
    assert warnings and message in warnings[-1], warnings
    assert message in window.status_label.text()
    assert panel.spec.path.endswith("tiny_model.py") and panel.plane is before   # what was open stays
    assert panel.compute_button.isEnabled()


def test_show_from_a_script_opens_a_plane_or_a_model(qtbot, tmp_path):
    import os

    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display with OpenGL (run under xvfb-run)")
    import landscape_gui
    from landscape_gui.pytorch.modelfile import load_model_file

    spec = load_model_file(write_model(tmp_path))
    w = landscape_gui.show(model=spec.model, loss_fn=spec.loss_fn, batches=spec.batches,
                           checkpoints=spec.checkpoints, lr=0.5, block=False)
    qtbot.addWidget(w)
    panel = w.model_panel
    assert w.modes.currentIndex() == 3 and "from a script" in panel.info.text()
    qtbot.waitUntil(lambda: not panel.jobs.running and panel.plane is not None
                    and panel.plane.values.shape == (51, 51), timeout=60000)
    plane = panel.plane
    w2 = landscape_gui.show(plane, block=False)
    qtbot.addWidget(w2)
    assert w2.modes.currentIndex() == 2
    np.testing.assert_array_equal(w2.landscape_panel.source.grid, plane.values)
    assert w2.current_session() is not None     # no file behind the plane: nothing to keep, no error
    with pytest.raises(TypeError, match="loss_fn"):
        landscape_gui.show(model=spec.model)
