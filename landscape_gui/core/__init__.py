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

import importlib

__all__ = ["compile_function", "ExpressionError", "LossFunction", "grid_axes",
           "analysis", "functions", "optimizers"]

_FROM_FORMULA = {"compile_function", "ExpressionError", "LossFunction", "grid_axes"}


def __getattr__(name):
    """The public names, imported when first used (PEP 562): a process that only compiles
    optimizer kernels (``optimizers.compile_child``) then never imports sympy and the formula
    language, half a second of every first launch's child processes."""
    if name in _FROM_FORMULA:
        value = getattr(importlib.import_module(".formula", __name__), name)
    elif name in ("analysis", "functions", "optimizers"):
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
