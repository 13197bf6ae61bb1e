"""Qt widgets only: the window and its views. Numerics live in ``landscape_gui.core``."""

from .main_window import MainWindow

__all__ = ["MainWindow"]
