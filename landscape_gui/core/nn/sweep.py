"""Batch size against the minimum found (Keskar et al. 2017, "On large-batch training for deep
learning: generalization gap and sharp minima"): the same net, optimizer and number of
epochs at several batch sizes; for each run the sharpness of its solution (λmax, SAM
sharpness) and how well it generalises."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..cancel import check
from .datasets import Dataset
from .model import MLP


@dataclass
class Sweep:
    batch_sizes: list              # as asked (None: full batch)
    sharpness: np.ndarray          # λmax of the full-batch train loss at each run's solution
    sam_sharpness: np.ndarray      # max over |e| <= rho of L(θ + e) - L(θ)
    train_loss: np.ndarray
    test_loss: np.ndarray          # NaN without test data
    test_accuracy: np.ndarray      # NaN for regression
    runs: list = field(repr=False, default_factory=list)   # the TrainingRuns (their planes on demand)

    def label(self, k: int) -> str:
        b = self.batch_sizes[k]
        return "full batch" if b is None else f"batch {b}"


def batch_size_sweep(model: MLP, data: Dataset, optimizer: str = "SGD", hyperparameters: dict | None = None,
                     batch_sizes=(8, 32, 128, 512, None), epochs: int = 50, seed: int = 0,
                     test: float | Dataset | None = 0.2, rho: float = 0.05, progress=None, cancel=None) -> Sweep:
    """Train once per batch size (same initial weights and data split), then measure."""
    from .landscape import sam_sharpness, sharpness
    from .training import train

    if not batch_sizes:
        raise ValueError("batch_sizes is empty")
    sizes = list(batch_sizes)
    for b in sizes:
        if b is not None and (not isinstance(b, (int, np.integer)) or b < 1):
            raise ValueError(f"batch sizes must be whole numbers >= 1 or None (full batch), got {b!r}")
    runs, lam, sam, trl, tel, tea = [], [], [], [], [], []
    for k, b in enumerate(sizes):
        check(cancel, "sweep cancelled")
        run = train(model, data, optimizer, hyperparameters, epochs=epochs, batch_size=b, seed=seed, test=test,
                    cancel=cancel)
        runs.append(run)
        m, d, p = run.model, run.train_data, run.params
        if run.diverged_at_epoch is not None or not np.isfinite(p).all():
            lam.append(math.nan)
            sam.append(math.nan)
        else:
            lam.append(sharpness(m, d, p, tol=1e-8, cancel=cancel))
            sam.append(sam_sharpness(m, d, p, rho=rho, cancel=cancel))
        trl.append(float(run.losses[-1]))
        tel.append(float(run.test_losses[-1]) if len(run.test_losses) else math.nan)
        tea.append(float(run.test_accuracy[-1]) if (len(run.test_accuracy) and m.loss == "cross_entropy")
                   else math.nan)
        if progress is not None:
            progress(k + 1, len(sizes))
    return Sweep(sizes, np.array(lam), np.array(sam), np.array(trl), np.array(tel), np.array(tea), runs)
