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


def run_app(session: str | None = None, preset: str | None = None) -> int:
    configure_qt()
    from PySide6 import QtWidgets

    from ..core.session import Session
    from .main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("landscape-gui")
    start = Session.from_preset(preset) if preset else Session.default()
    if session:
        print("note: opening session files comes with the sessions feature; starting from the default",
              file=sys.stderr)
    window = MainWindow(start)
    window.show()
    return app.exec()
