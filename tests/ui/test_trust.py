"""Defects a new user met in the window: Quit after a failed export, the Redo key, the
pyqtgraph internals the 3-D view relies on, and honest kernel status messages."""

import subprocess
import sys
import textwrap

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.ui.views import pyqtgraph_private


def test_pyqtgraph_internals_are_where_the_3d_view_expects_them(monkeypatch):
    pyqtgraph_private.check()  # the pinned pyqtgraph has them all
    monkeypatch.setattr(pyqtgraph_private, "_checked", False)
    monkeypatch.setattr(pyqtgraph_private.pg, "__version__", "0.13.7")
    with pytest.raises(pyqtgraph_private.PyqtgraphChanged, match="0.13.7"):
        pyqtgraph_private.check()


def test_redo_has_one_unambiguous_shortcut_that_works(window, qtbot):
    c = window.controller
    c.add_start(0.25, 0.25)
    n = len(c.session.starts)
    redo = next(a for a in window.findChildren(QtGui.QAction) if a.text().replace("&", "").startswith("Redo"))
    keys = [k.toString() for k in redo.shortcuts()]
    assert len(keys) == len(set(keys)) and "Ctrl+Shift+Z" in keys
    for a in window.findChildren(QtGui.QAction):  # no other action claims the same keys
        if a is not redo:
            assert not set(keys) & {k.toString() for k in a.shortcuts()}, a.text()
    window.activateWindow()
    window.raise_()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window, timeout=3000)
    window.surface_view.setFocus()
    qtbot.keyClick(window.surface_view, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(c.session.starts) == n - 1, timeout=2000)
    qtbot.keyClick(window.surface_view, QtCore.Qt.Key.Key_Z,
                   QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: len(c.session.starts) == n, timeout=2000)


CHILD = textwrap.dedent("""
    import sys
    from PySide6 import QtCore, QtWidgets
    from landscape_gui.ui.window.app import run_app
    from landscape_gui.ui.export import dialog as export_dialog, figures as export

    def broken_gif(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'PIL'")

    def after(window):
        export._write_animation = broken_gif
        QtWidgets.QMessageBox.warning = lambda *a, **k: print("DIALOG", a[2], flush=True)
        ok = export_dialog.run_export(window, sys.argv[1], export.FigureOptions(width=200, height=150),
                                      frames=3, fps=5)
        print("EXPORTED", ok, flush=True)
        window.ask_save_changes = lambda: "discard"
        QtCore.QTimer.singleShot(200, window.quit)

    sys.exit(run_app(after_show=after))
""")


def test_quit_exits_after_a_failed_animation_export(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**__import__("os").environ, "XDG_DATA_HOME": str(tmp_path / "d"), "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "LANDSCAPE_GUI_RESTORE": "no"}
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "a.gif")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "DIALOG ModuleNotFoundError: No module named 'PIL'" in out.stdout
    assert "EXPORTED False" in out.stdout
    assert not (tmp_path / "a.gif").exists()


def test_kernel_status_counts_and_never_claims_a_compile_that_did_not_happen(window, qtbot):
    """All kernels are loaded by the fixture: File → New must not say "compiled in 61744 ms"."""
    messages = []
    window.controller.status.connect(messages.append)
    window.controller.kernelStatus.connect(messages.append)
    window.new_session()
    qtbot.wait(400)
    assert not any("compiled" in m or "fast kernels" in m for m in messages), messages
