"""The numerical core: no Qt here, so everything is usable and testable headless.

Sub-packages, one per idea:

- ``formula``    text -> sympy -> exact derivatives -> compiled kernels (``compile_function``)
- ``optimizers`` torch.optim-exact update rules (Numba, with their numpy twins) and ``run``/``run_many``
- ``analysis``   critical points, basins of attraction, learning-rate sweeps, sharpness
- ``nn``         the neural-network mode: datasets, MLP, training, loss planes
- ``session``    the user's setup as dataclasses <-> JSON
- ``scene``      surface heights, isolines and ray picking for the views
- ``files``      atomic writers and the trajectory file formats
- ``functions``  the library of classic test functions
"""

from .formula import ExpressionError, LossFunction, compile_function, grid_axes
from . import analysis, functions, optimizers  # noqa: E402  (public sub-packages)

__all__ = ["compile_function", "ExpressionError", "LossFunction", "grid_axes",
           "analysis", "functions", "optimizers"]
