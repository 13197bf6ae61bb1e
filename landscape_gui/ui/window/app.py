"""Starting the application: OpenGL surface format, pyqtgraph options, the window."""

from __future__ import annotations

import sys


def configure_qt() -> None:
    """Must run before the QApplication exists: depth buffer and multisampling for the 3-D view."""
    import pyqtgraph as pg
    from PySide6 import QtCore, QtGui

    # one OpenGL share group: pyqtgraph caches shader programs process-wide, so a
    # second 3-D view (an export, a new window, the next test) must share contexts
    QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)

    fmt = QtGui.QSurfaceFormat()
    fmt.setDepthBufferSize(24)
    fmt.setSamples(int(__import__("os").environ.get("LANDSCAPE_GUI_MSAA", "0")))
    QtGui.QSurfaceFormat.setDefaultFormat(fmt)
    pg.setConfigOptions(antialias=False, imageAxisOrder="row-major")  # per item where it pays


def run_app(session: str | None = None, preset: str | None = None, after_show=None, example: str | None = None,
            model: str | None = None) -> int:
    """Open the window (and, after a crash, offer the autosaved session back).

    ``after_show(window)`` runs once the window is up (scripts and the crash test)."""
    configure_qt()
    from PySide6 import QtWidgets

    from landscape_gui.core.session import Session
    from landscape_gui.ui.window.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("landscape-gui")
    app.setOrganizationName("landscape-gui")
    start = Session.from_preset(preset) if preset else Session.default()
    recovered = _recover(MainWindow.autosave_path())
    window = MainWindow(recovered or start)
    if recovered is not None:
        window.controller.undo_stack.resetClean()  # recovered work is unsaved work
        window.update_title()
        window.status_label.setText("restored the session from before the last crash")
    window.show()
    from landscape_gui.ui.modes.landscape_file import is_landscape_file
    from landscape_gui.ui.window.examples import show_at_start

    if example:
        window.open_example(example)
    elif not session and not preset and not model and recovered is None and show_at_start():
        window.show_examples(start_page=True)   # the start page (its checkbox turns it off)
    if model:  # landscape-gui model FILE.py
        if not window.open_model(model, warn=False):
            print(f"landscape-gui: could not open {model}: {window.model_panel.status.text()}", file=sys.stderr)
    elif session and is_landscape_file(session):  # landscape-gui surface.h5
        if not window.open_landscape(session):
            print(f"landscape-gui: could not open {session}", file=sys.stderr)
    elif session and not window.open_file(session):
        print(f"landscape-gui: could not open {session}", file=sys.stderr)
    if after_show is not None:
        from PySide6 import QtCore

        QtCore.QTimer.singleShot(0, lambda: after_show(window))
    return app.exec()


def _recover(path):
    """After a crash the autosave is still there: offer it back (LANDSCAPE_GUI_RESTORE=yes|no
    answers without asking, for scripts and tests)."""
    import os

    from PySide6 import QtWidgets

    from landscape_gui.core.session import Session, SessionError

    if not path.exists():
        return None
    try:
        session = Session.load(path)
    except SessionError as exc:
        print(f"landscape-gui: ignoring a damaged autosave ({exc})", file=sys.stderr)
        return None
    answer = os.environ.get("LANDSCAPE_GUI_RESTORE", "").lower()
    if answer not in ("yes", "no"):
        reply = QtWidgets.QMessageBox.question(
            None, "Restore session?",
            "landscape-gui did not close normally last time. Restore the unsaved session?")
        answer = "yes" if reply == QtWidgets.QMessageBox.StandardButton.Yes else "no"
    return session if answer == "yes" else None
