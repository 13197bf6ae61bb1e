"""Optimizer ids and array sizes shared by the kernels, the reference and the API.

Kept apart from ``rules`` and ``runner`` so that importing the API does not compile
(or load) any Numba code: the window opens at once, kernels load in the background.
"""

SGD, ADAGRAD, RMSPROP, ADADELTA, ADAM, ADAMW, ADAMAX, NADAM, RADAM, LION, SAM, NEWTON = range(12)
RPROP, ASGD, ADAFACTOR, LBFGS = 12, 13, 14, 15
#: kernel ids of optimizers typed as rules (``optimizers.define``) start here, one per rule text
CUSTOM_BASE = 1000
N_STATE = 3   # per-coordinate state vectors (momentum, second moment, ...)
N_COEF = 8    # per-step scalars from step_coefficients (4..7: the lr-free parts a plateau rule reuses)
N_HYPER = 10  # packed hyperparameter slots

#: A run's schedule controls (the kernels' ``ctl`` vector): the packed slots of the rate and of the
#: cycled momentum / beta1 (-1: none), then ReduceLROnPlateau's settings (CTL_PLATEAU 0: none).
CTL_LR, CTL_MOMENTUM, CTL_PLATEAU, CTL_MODE_MAX, CTL_FACTOR, CTL_PATIENCE, CTL_THRESHOLD, CTL_REL, \
    CTL_COOLDOWN, CTL_MIN_LR, CTL_EPS = range(11)
N_CTL = 11

#: Numba type of a formula kernel passed to the runners as a first-class function:
#: (x, y, parameters) -> (f, df/dx, df/dy), or the Hessian's (xx, xy, yy).
#: numba is already imported by the formula package, so this costs nothing.
from numba import types as _types  # noqa: E402

FORMULA_KERNEL = _types.FunctionType(_types.UniTuple(_types.float64, 3)(
    _types.float64, _types.float64, _types.float64[::1]))

#: Kernel id -> short name, for messages ("fast kernels: Adam ready").
KIND_NAMES = {SGD: "SGD", ADAGRAD: "Adagrad", RMSPROP: "RMSprop", ADADELTA: "Adadelta", ADAM: "Adam",
              ADAMW: "AdamW", ADAMAX: "Adamax", NADAM: "NAdam", RADAM: "RAdam", LION: "Lion", SAM: "SAM",
              NEWTON: "Newton", RPROP: "Rprop", ASGD: "ASGD", ADAFACTOR: "Adafactor",
              LBFGS: "LBFGS"}

