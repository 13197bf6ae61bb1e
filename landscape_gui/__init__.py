"""landscape-gui: see optimizers walk down loss surfaces."""

__version__ = "0.1.0"


def show(plane=None, **kw):
    """Open the window on a plane or on your own model, from a script or Jupyter (not
    blocking there); see ``landscape_gui.ui.window.show``."""
    from .ui.window.show import show as _show

    return _show(plane, **kw)
