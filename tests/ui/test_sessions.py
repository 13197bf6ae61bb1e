"""Save/open, undo/redo, autosave and crash recovery with the real window."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PySide6 import QtWidgets

from landscape_gui.core.session import Session
from landscape_gui.ui import MainWindow

from gui_helpers import contour_pixel, mouse


def comparable(session):
    d = session.to_dict()
    d.pop("camera")
    return d


def test_save_and_open_round_trip(window, qtbot, tmp_path):
    c = window.controller
    window.function_editor.set_formula("a*x^2 + sin(b*y)")
    c.set_param("a", 2.5)
    c.add_start(0.5, -0.25)
    c.add_optimizer("NAdam", {"lr": 0.02, "betas": (0.8, 0.99)})
    c.update_optimizer(0, enabled=False)
    c.set_run_options(steps=321, noise=0.1, seed=7)
    assert window.isWindowModified()
    path = tmp_path / "mine.landscape.json"
    assert window.save_to(path)
    assert not window.isWindowModified() and "mine.landscape.json" in window.windowTitle()
    data = json.loads(path.read_text())
    assert data["format_version"] == 1 and data["function_text"] == "a*x^2 + sin(b*y)"
    other = MainWindow(Session.default())
    other.ask_save_changes = lambda: "discard"
    qtbot.addWidget(other)
    assert other.open_file(path)
    assert comparable(other.session) == comparable(window.session)
    np.testing.assert_allclose(other.controller.batch.points, window.controller.batch.points)
    assert other.function_editor.editor.toPlainText() == "a*x^2 + sin(b*y)"
    assert other.optimizer_panel.steps.value() == 321


def test_a_bad_file_is_refused_with_the_reason_and_changes_nothing(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    before = comparable(window.session)
    cases = {
        "starts.landscape.json": ('{"function_text": "x^2", "starts": [[0, 1], [1, 2], [3, 4], [5]]}',
                                  "starts[3]: expected [x, y] numbers"),
        "newer.landscape.json": ('{"format_version": 99, "function_text": "x"}', "newer"),
        "formula.landscape.json": ('{"function_text": "x +* y"}', "function_text"),
        "optimizer.landscape.json": ('{"function_text": "x", "optimizers": [{"name": "Adam", '
                                     '"hyperparameters": {"betas": [1.5, 0.9]}}]}', "betas[0]"),
        "garbage.landscape.json": ("\x00\x01 not json", "not a session file"),
    }
    for name, (text, fragment) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        assert not window.open_file(p)
        assert fragment in shown[-1], (name, shown[-1])
        assert comparable(window.session) == before


def test_old_files_are_migrated(tmp_path):
    p = tmp_path / "old.landscape.json"
    p.write_text('{"function": "x^2 + y^2", "start_points": [[1, 1]]}')
    s = Session.load(p)
    assert s.function_text == "x^2 + y^2" and s.starts == [(1.0, 1.0)]


def test_undo_redo_with_names_one_drag_one_step(window, qtbot):
    c = window.controller
    stack = c.undo_stack
    start = comparable(window.session)
    view = window.contour_view

    def pix(x, y):
        return contour_pixel(view, x, y)

    x0, y0 = c.session.starts[0]
    mouse(view.viewport(), "press", pix(x0, y0))
    for k in range(6):
        mouse(view.viewport(), "move", pix(x0 + 0.1 * k, y0 - 0.1 * k))
    mouse(view.viewport(), "release", pix(x0 + 0.5, y0 - 0.5))
    assert stack.count() == 1 and window.undo_action.text() == "&Undo Move Start Point"
    moved = comparable(window.session)
    window.function_editor.set_formula("x^2 + c*y^2")
    for v in (1.5, 2.0, 2.5):  # one slider drag: merged into one step
        c.set_param("c", v)
    c.add_optimizer("Lion")
    assert stack.count() == 4
    assert [stack.text(i) for i in range(4)] == ["Move Start Point", "Edit Formula", "Change Parameter",
                                                  "Add Optimizer"]
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert window.session.params == {"c": 1.0} and len(window.session.optimizers) == 4
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert comparable(window.session) == start
    assert window.function_editor.editor.toPlainText() == start["function_text"]
    window.redo_action.trigger()
    assert comparable(window.session) == moved
    assert window.redo_action.text() == "&Redo Edit Formula"


def test_autosave_within_five_seconds(window, qtbot):
    path = window.autosave_path()
    if path.exists():
        path.unlink()
    window.controller.add_start(0.25, 0.75)
    qtbot.waitUntil(path.exists, timeout=5000)
    assert (0.25, 0.75) in Session.load(path).starts


CHILD = textwrap.dedent("""
    import json, os, sys
    from landscape_gui.ui.window.app import run_app

    def first(window):
        window.function_editor.set_formula("x^2 + 3*y^2 + q")
        window.controller.add_start(0.5, 0.5)
        window.controller.set_param("q", 4.0)
        window.autosave()
        print("READY", flush=True)

    def second(window):
        print("SESSION " + json.dumps(window.session.to_dict()), flush=True)
        print("TITLE " + window.windowTitle() + (" *" if window.isWindowModified() else ""), flush=True)
        os._exit(0)

    run_app(after_show=first if sys.argv[1] == "first" else second)
""")


def test_crash_and_recovery(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display")
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               LANDSCAPE_GUI_RESTORE="yes")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), "first"], env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    line = ""
    while time.time() < deadline and "READY" not in line:
        line = proc.stdout.readline()
    assert "READY" in line
    proc.send_signal(signal.SIGKILL)  # a crash: no closeEvent, no cleanup
    proc.wait(10)
    out = subprocess.run([sys.executable, str(script), "second"], env=env, capture_output=True, text=True,
                         timeout=60).stdout
    session = json.loads(out.split("SESSION ", 1)[1].splitlines()[0])
    assert session["function_text"] == "x^2 + 3*y^2 + q"
    assert session["params"] == {"q": 4.0}
    assert [0.5, 0.5] in session["starts"]
    assert out.split("TITLE ", 1)[1].strip().endswith("*")  # recovered work counts as unsaved


def test_a_failed_save_keeps_the_previous_file(window, tmp_path, monkeypatch):
    path = tmp_path / "keep.landscape.json"
    assert window.save_to(path)
    good = path.read_text()
    window.controller.add_start(0.1, 0.2)

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("landscape_gui.core.files.atomic.os.replace", crash)
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: None)
    assert not window.save_to(path)
    assert path.read_text() == good  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["keep.landscape.json"]  # no temporary left behind
    assert window.isWindowModified()


def test_closing_with_unsaved_changes_asks(window, qtbot, tmp_path):
    window.controller.add_start(0.3, 0.3)
    asked = []
    window.ask_save_changes = lambda: asked.append(1) or "cancel"
    window.close()
    assert asked and window.isVisible()  # cancel keeps the window open
    window.ask_save_changes = lambda: "discard"
    window.close()
    assert not window.isVisible()
    assert not window.autosave_path().exists()  # a deliberate close leaves nothing to recover


def test_the_open_dialog_starts_where_the_last_session_was_saved(window, tmp_path):
    from landscape_gui.ui.window import files

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    assert window.save_to(folder / "a.landscape.json")
    assert files.last_folder() == str(folder.resolve())
