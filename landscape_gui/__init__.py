"""landscape-gui: see optimizers walk down loss surfaces."""

__version__ = "0.1.0"
