"""Integer codes the network kernels take (kept apart so importing the model does not load Numba code)."""

RELU, TANH = 0, 1
CROSS_ENTROPY, MSE = 0, 1
