"""Formula text -> checked expression -> exact derivatives -> compiled kernels.

``expression`` parses the text through a Python-``ast`` whitelist into sympy (never
``eval``); ``codegen`` writes the numpy and Numba kernels of the value, gradient and
Hessian; ``loss_function`` ties them into :class:`LossFunction`.
"""

from .expression import ExpressionError, parse_expression
from .loss_function import LossFunction, compile_expression, compile_function, grid_axes

__all__ = ["ExpressionError", "parse_expression", "LossFunction", "compile_expression",
           "compile_function", "grid_axes"]
