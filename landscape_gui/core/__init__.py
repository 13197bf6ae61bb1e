"""The numerical core: no Qt here, so everything is usable and testable headless.

``compile_function`` turns formula text into a :class:`LossFunction`;
``optimizers`` runs torch.optim-exact optimizers on it; ``functions`` is the
test-function library.
"""

from .expression import ExpressionError
from .loss_function import LossFunction, compile_function, grid_axes
from . import analysis, functions, optimizers  # noqa: E402  (public submodules)

__all__ = ["compile_function", "ExpressionError", "LossFunction", "grid_axes",
           "analysis", "functions", "optimizers"]
