"""The network: a multilayer perceptron described by a few numbers, its parameters one flat
vector (so the optimizer engine's rules apply unchanged and a landscape plane is
theta + a*d1 + b*d2)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .codes import CROSS_ENTROPY, MSE, RELU, TANH

ACTIVATIONS = {"relu": RELU, "tanh": TANH}
LOSSES = {"cross_entropy": CROSS_ENTROPY, "mse": MSE}


@dataclass(frozen=True)
class MLP:
    """``depth`` hidden layers of ``width`` units; ``residual`` adds each hidden layer's input
    to its output (skip connections) wherever the sizes match (all hidden layers but the first).

    ``inputs``/``outputs``/``loss`` default to a 2-feature, 2-class classifier; ``fit_to(data)``
    returns the same architecture sized for a dataset (``train`` does that for you).
    """

    depth: int = 2
    width: int = 32
    activation: str = "relu"
    residual: bool = False
    inputs: int = 2
    outputs: int = 2
    loss: str = "cross_entropy"

    def __post_init__(self):
        if not (isinstance(self.depth, (int, np.integer)) and 1 <= self.depth <= 64):
            raise ValueError(f"depth must be an integer from 1 to 64, got {self.depth!r}")
        if not (isinstance(self.width, (int, np.integer)) and 1 <= self.width <= 1024):
            raise ValueError(f"width must be an integer from 1 to 1024, got {self.width!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.inputs < 1 or self.outputs < 1:
            raise ValueError("inputs and outputs must be at least 1")

    # -- layout ----------------------------------------------------------------------------
    @property
    def dims(self) -> np.ndarray:
        return np.array([self.inputs] + [self.width] * self.depth + [self.outputs], dtype=np.int64)

    @property
    def layout(self) -> tuple:
        """(dims, weight offsets, bias offsets, residual flags, activation code, loss code): the
        kernels' description of the net."""
        dims = self.dims
        woff, boff = [], []
        pos = 0
        for l in range(len(dims) - 1):
            woff.append(pos)
            pos += dims[l] * dims[l + 1]
            boff.append(pos)
            pos += dims[l + 1]
        n_layers = len(dims) - 1
        residual = np.array([self.residual and 1 <= l < n_layers - 1 for l in range(n_layers)], dtype=np.bool_)
        return (dims, np.array(woff, dtype=np.int64), np.array(boff, dtype=np.int64), residual,
                ACTIVATIONS[self.activation], LOSSES[self.loss])

    @property
    def n_params(self) -> int:
        d = self.dims
        return int(sum(d[l] * d[l + 1] + d[l + 1] for l in range(len(d) - 1)))

    def filters(self):
        """(start, stop) of every filter (one output unit's weight row) in the flat vector."""
        dims, woff, _, _, _, _ = self.layout
        for l in range(len(dims) - 1):
            for j in range(dims[l + 1]):
                s = woff[l] + j * dims[l]
                yield s, s + dims[l]

    def bias_mask(self) -> np.ndarray:
        """True at every bias entry of the flat vector."""
        dims, _, boff, _, _, _ = self.layout
        mask = np.zeros(self.n_params, dtype=bool)
        for l in range(len(dims) - 1):
            mask[boff[l]: boff[l] + dims[l + 1]] = True
        return mask

    def init(self, seed: int = 0) -> np.ndarray:
        """torch.nn.Linear's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b."""
        rng = np.random.default_rng(seed)
        dims, woff, boff, _, _, _ = self.layout
        theta = np.empty(self.n_params)
        for l in range(len(dims) - 1):
            bound = 1.0 / np.sqrt(dims[l])
            n = dims[l] * dims[l + 1]
            theta[woff[l]: woff[l] + n] = rng.uniform(-bound, bound, n)
            theta[boff[l]: boff[l] + dims[l + 1]] = rng.uniform(-bound, bound, dims[l + 1])
        return theta

    def fit_to(self, data) -> "MLP":
        """This architecture with inputs, outputs and loss set by the dataset."""
        if data.task == "classification":
            return replace(self, inputs=data.n_features, outputs=max(2, data.n_classes), loss="cross_entropy")
        return replace(self, inputs=data.n_features, outputs=data.n_targets, loss="mse")

    def describe(self) -> str:
        skip = ", skip connections" if self.residual else ""
        return f"MLP {self.depth}×{self.width} {self.activation}{skip} ({self.n_params} parameters)"
