"""The tour in the window: Help → Examples, opening one (session, view, Explain panel with live
numbers that follow the user's changes), network examples, the start page, --example."""

import os
import subprocess
import sys
import textwrap

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui import examples

Qt = QtCore.Qt


def open_dialog(window, qtbot):
    action = window.findChild(QtGui.QAction, "examplesAction")
    assert action is not None and action.text() == "&Examples…"
    action.trigger()
    dlg = window.findChild(QtWidgets.QDialog, "examplesDialog")
    qtbot.waitUntil(lambda: dlg.isVisible(), timeout=3000)
    return dlg


def test_help_examples_lists_the_tour_and_opens_one(window, qtbot):
    dlg = open_dialog(window, qtbot)
    items = [dlg.list.item(k) for k in range(dlg.list.count())]
    assert [it.data(Qt.ItemDataRole.UserRole) for it in items] == examples.ids()
    assert all(not it.icon().isNull() for it in items)          # every example has its picture
    saddle = next(it for it in items if it.data(Qt.ItemDataRole.UserRole) == "saddle")
    dlg.list.setCurrentItem(saddle)
    qtbot.mouseClick(dlg.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=3000)
    s = window.controller.session
    want = examples.load("saddle")
    assert s.function_text == want.function_text and s.starts == want.starts
    assert [o.config() for o in s.optimizers] == [o.config() for o in want.optimizers]
    dock = window.findChild(QtWidgets.QDockWidget, "Explain_dock")
    panel = window.example_opener.panel
    assert dock.isVisible() and "A saddle point" in panel.text.text() and "Try:" in panel.text.text()
    qtbot.waitUntil(lambda: "leaves the saddle" in panel.live.text(), timeout=10000)
    assert "eigenvalues are -2 and 2" in panel.live.text()
    assert window.modes.currentIndex() == 0 and "example" in window.status_label.text()


def test_the_live_numbers_follow_what_the_user_changes(window, qtbot):
    assert window.open_example("learning-rate")
    panel = window.example_opener.panel
    qtbot.waitUntil(lambda: "it will diverge" in panel.live.text(), timeout=10000)
    assert "lr = 0.076 &lt; 2/λmax = 0.08: it will converge" in panel.live.text()
    c = window.controller
    c.update_optimizer(0, hyperparameters={"lr": 0.09})   # the user raises the first lr past the line
    qtbot.waitUntil(lambda: "lr = 0.09 &gt; 2/λmax = 0.08: it will diverge" in panel.live.text(), timeout=10000)
    assert "lr = 0.076" not in panel.live.text()


def test_an_examples_view_turns_on_its_overlays(window, qtbot):
    assert window.open_example("minima")
    p = window.analysis_panel
    assert p.basins_check.isChecked()
    qtbot.waitUntil(lambda: "ends in 4 different minima" in window.example_opener.panel.live.text(), timeout=15000)
    assert window.open_example("sharp-vs-flat")
    assert p.critical_check.isChecked() and p.basins_check.isChecked()
    assert window.open_example("saddle")
    assert not p.basins_check.isChecked()


def test_a_network_example_trains_its_runs_and_compares_them(window, qtbot):
    assert window.open_example("overfitting")
    nnp = window.nn_panel
    assert window.modes.currentIndex() == 1
    dock = window.findChild(QtWidgets.QDockWidget, "Explain_dock")
    assert dock.isVisible()                                   # the network mode keeps the Explain panel
    qtbot.waitUntil(lambda: window.example_opener._then is None and nnp.model.pinned["B"] is not None,
                    timeout=120000)
    a, b = nnp.model.pinned["A"], nnp.model.pinned["B"]
    assert a.run is b.run and not a.settings.use_test and b.settings.use_test
    assert nnp.tabs.currentIndex() == 1
    assert a.run.losses[-1] < 0.05 and a.run.test_losses[-1] > 3 * a.run.losses[-1]
    qtbot.waitUntil(lambda: "A: " in window.example_opener.panel.live.text(), timeout=10000)
    qtbot.waitUntil(lambda: "same solution" in nnp.interp_note.text(), timeout=30000)  # the comparison job
    assert nnp.interp_plot.isHidden()


def test_the_transfer_learning_example_fine_tunes_from_a_and_shows_the_three_solutions(window, qtbot):
    assert window.open_example("transfer-learning")
    nnp = window.nn_panel
    m = nnp.model
    qtbot.waitUntil(lambda: m.transfer is not None, timeout=240000)
    a, b, c = m.pinned["A"], m.pinned["B"], m.result
    assert a.settings.n == 1000 and b.settings.init_from == "A" and c.settings.init_from == ""
    assert b.settings.n == c.settings.n == 200
    # B really started from A: its first snapshot is A's solution
    np.testing.assert_array_equal(b.run.trajectory[0], a.run.params)
    assert nnp.tabs.currentWidget() is nnp.connect_view
    cv = nnp.connect_view
    assert cv.stack.currentIndex() == 1 and "fine-tuning stayed in the pre-trained basin" in cv.note.text()
    labels = [label.text for _, label in cv.plot.getPlotItem().legend.items]
    assert labels == ["pre-trained → from scratch", "pre-trained → fine-tuned"]
    x, y = cv.bend_curve.getData()
    np.testing.assert_allclose(10 ** y if cv.plot.getPlotItem().ctrl.logYCheck.isChecked() else y,
                               m.transfer.loss_to_finetuned, rtol=1e-9)
    qtbot.waitUntil(lambda: "barrier on the straight line" in window.example_opener.panel.live.text(), timeout=10000)
    assert "fine-tuned (B) at epoch" in window.example_opener.panel.live.text()


def test_the_start_page_setting(window, qtbot):
    from landscape_gui.ui.window.examples import SETTINGS_KEY, show_at_start

    dlg = window.show_examples(start_page=True)
    assert "Welcome" in dlg.windowTitle() and dlg.show_check.isChecked() == show_at_start()
    dlg.show_check.setChecked(False)
    assert not show_at_start()
    dlg.show_check.setChecked(True)
    assert show_at_start()
    assert QtCore.QSettings("landscape-gui", "landscape-gui").value(SETTINGS_KEY, type=bool) is True
    dlg.close()


CHILD = textwrap.dedent("""
    import sys
    from PySide6 import QtCore, QtWidgets
    from landscape_gui.cli import main
    import landscape_gui.ui.window.app as app

    def after(window):
        dlg = window.findChild(QtWidgets.QDialog, "examplesDialog")
        print("START", bool(dlg and dlg.isVisible()), "FORMULA", window.controller.session.function_text, flush=True)
        window.ask_save_changes = lambda: "discard"
        QtCore.QTimer.singleShot(100, window.quit)

    real = app.run_app
    app.run_app = lambda **kw: real(after_show=after, **kw)
    sys.exit(main(sys.argv[1:]))
""")


def _child(tmp_path, *args, settings_off=False):
    tmp_path.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "d"), "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "LANDSCAPE_GUI_RESTORE": "no"}
    if settings_off:
        conf = tmp_path / "c" / "landscape-gui"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "landscape-gui.conf").write_text("[examples]\nshow_at_start=false\n")
    out = subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_first_launch_shows_the_start_page_and_it_can_be_turned_off(tmp_path):
    assert "START True" in _child(tmp_path / "a")
    assert "START False" in _child(tmp_path / "b", settings_off=True)


def test_landscape_gui_example_opens_it(tmp_path):
    out = _child(tmp_path, "--example", "saddle")
    assert "START False" in out and "FORMULA x^2 - y^2 + y^4/4" in out


def test_every_thumbnail_is_a_picture():
    for eid in examples.ids():
        thumb = examples.thumbnail(eid)
        img = QtGui.QImage()
        assert thumb is not None and img.loadFromData(thumb.read_bytes()), eid
        arr = np.array([img.pixelColor(x, y).value() for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)])
        assert arr.std() > 10, eid                     # not blank


def test_the_explain_panel_forgets_an_example_after_new_open_or_a_preset(window, qtbot, tmp_path):
    path = tmp_path / "plain.landscape.json"
    assert window.save_to(path)
    for leave in (window.new_session, lambda: window.open_file(path),
                  lambda: window.controller.load_preset("himmelblau")):
        assert window.open_example("saddle")
        dock = window.findChild(QtWidgets.QDockWidget, "Explain_dock")
        text = window.findChild(QtWidgets.QLabel, "explainText")
        assert dock.isVisible() and "saddle" in text.text().lower()
        leave()
        qtbot.wait(250)  # the live numbers' refresh timer must not bring it back
        assert not dock.isVisible()
        assert window.example_opener.current is None


def test_the_explain_panel_shows_only_beside_its_own_mode(window, qtbot):
    assert window.open_example("saddle")
    dock = window.findChild(QtWidgets.QDockWidget, "Explain_dock")
    assert dock.isVisible()
    window.modes.setCurrentIndex(2)
    assert not dock.isVisible()
    window.modes.setCurrentIndex(1)
    assert not dock.isVisible()
    window.modes.setCurrentIndex(0)
    assert dock.isVisible()
