"""Optimizer ids and array sizes shared by the kernels, the reference and the API.

Kept apart from ``rules`` so that importing the API does not compile
(or load) any Numba code: the window opens at once, kernels load in the background.
"""

SGD, ADAGRAD, RMSPROP, ADADELTA, ADAM, ADAMW, ADAMAX, NADAM, RADAM, LION, SAM, NEWTON = range(12)
N_STATE = 3   # per-coordinate state vectors (momentum, second moment, ...)
N_COEF = 4    # per-step scalars from step_coefficients
N_HYPER = 10  # packed hyperparameter slots
