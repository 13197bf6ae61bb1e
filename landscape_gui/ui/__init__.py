"""Qt widgets only: the window and its views. Numerics live in ``landscape_gui.core``."""

from landscape_gui.ui.window.main_window import MainWindow

__all__ = ["MainWindow"]
