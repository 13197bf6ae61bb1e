"""``landscape_gui.show``: the window from a script or a notebook.

>>> import landscape_gui
>>> landscape_gui.show(plane)                                    # a computed plane (or a file's)
>>> landscape_gui.show(model=net, loss_fn=loss, batches=loader)  # your model, in the "Your model" mode

In a plain script it blocks until the window is closed. In IPython/Jupyter it does not: it
turns on IPython's Qt event loop integration (as ``%gui qt``) and returns the window, so the
kernel stays free.
"""

from __future__ import annotations

import sys

_windows: list = []   # the windows a notebook opened: kept alive while the kernel runs


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def show(plane=None, *, model=None, loss_fn=None, batches=None, checkpoints=None, lr=None, block=None):
    """Open the window on ``plane`` (a ``LandscapePlane``: the Landscape file mode) or on your
    model (``model``, ``loss_fn``, ``batches``; optionally ``checkpoints`` and ``lr``: the
    "Your model" mode, its plane computed at once). Returns the window."""
    if plane is None and model is None:
        raise TypeError("show(plane) or show(model=..., loss_fn=..., batches=...)")
    if plane is not None and model is not None:
        raise TypeError("show one thing: a plane, or a model")
    spec = None
    if model is not None:
        if loss_fn is None or batches is None:
            raise TypeError("show(model=...) needs loss_fn= and batches= as well")
        from landscape_gui.pytorch.modelfile import from_objects

        spec = from_objects(model, loss_fn, batches, checkpoints, lr, name=f"{type(model).__name__} (from a script)")
    from landscape_gui.ui.window.app import configure_qt

    configure_qt()
    from PySide6 import QtWidgets

    from landscape_gui.core.session import Session
    from landscape_gui.ui.window.main_window import FILE, MODEL, MainWindow

    shell = _ipython()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    if shell is not None and getattr(shell, "active_eventloop", None) not in ("qt", "qt5", "qt6"):
        try:
            shell.enable_gui("qt")     # %gui qt: the kernel keeps running while the window shows
        except Exception as exc:  # noqa: BLE001 - no integration: the window still opens, blocking
            print(f"landscape_gui.show: no Qt event loop in this kernel ({exc}); run %gui qt first",
                  file=sys.stderr)
    window = MainWindow(Session.default(), autosave=False)
    window.ask_save_changes = lambda: "discard"
    if spec is not None:
        window.model_panel.set_model(spec)
        window.modes.setCurrentIndex(MODEL)
    else:
        window.landscape_panel.show_plane(plane)
        window.modes.setCurrentIndex(FILE)
    window.show()
    _windows.append(window)
    if block is None:
        block = shell is None or getattr(shell, "active_eventloop", None) not in ("qt", "qt5", "qt6")
    if block:
        app.exec()
    return window
