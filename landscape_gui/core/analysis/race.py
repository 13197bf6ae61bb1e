"""A fair optimizer race: every method tuned with the same budget, from the same starts.

Comparing SGD at one learning rate with Adam at another says more about the two rates than about
the methods (pytorch-optimizer's galleries were criticised for exactly this, its issue #219). Here
each config gets ``budget`` trials on a log grid of learning rates over a range fit for its kind
(optionally momentum or beta1 as well, the budget split between them), all run from the same
starts in one batched kernel call; a trial's score is the median over the starts of the steps
until the loss is within ``tol`` of the best loss any run reached (and stays there), ties broken
by the median final loss. The winner is then the method, not the tuning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import optimizers
from ..cancel import check as _check

#: learning rates worth trying, by optimizer: (lowest, highest); typed rules get the widest
LR_RANGES = {
    "SGD": (1e-4, 1.0), "SAM": (1e-4, 1.0), "Adagrad": (1e-3, 10.0), "RMSprop": (1e-5, 1.0),
    "Adadelta": (1e-2, 100.0), "Adam": (1e-4, 1.0), "AdamW": (1e-4, 1.0), "Adamax": (1e-4, 1.0),
    "NAdam": (1e-4, 1.0), "RAdam": (1e-4, 1.0), "Lion": (1e-5, 0.1), "Newton": (1e-2, 2.0),
    "Rprop": (1e-4, 1.0), "ASGD": (1e-4, 1.0), "Adafactor": (1e-4, 1.0), "LBFGS": (1e-2, 2.0),
}
_WIDEST = (1e-5, 10.0)
#: momentum / beta1 values tried when ``tune`` includes "momentum"
MOMENTA = (0.0, 0.5, 0.9, 0.95, 0.99)


@dataclass
class RaceResult:
    """One config's tuned result; ``trials`` lists every setting tried with its score."""

    name: str
    best: dict
    steps_to_tol: float            # median over the starts (inf: not within tol in the run)
    final_loss: float              # median over the starts
    trials: list = field(default_factory=list)
    label: str = ""


def lr_grid(name: str, n: int, lr_range=None) -> np.ndarray:
    lo, hi = lr_range or LR_RANGES.get(name, _WIDEST)
    return np.geomspace(lo, hi, max(int(n), 1))


def _momentum_key(name: str, full: dict) -> str | None:
    if "momentum" in full:
        return "momentum"
    if "betas" in full:
        return "betas"
    if "beta1" in full:
        return "beta1"
    return None


def trial_settings(name: str, hyper: dict, budget: int, tune=("lr",), lr_range=None) -> list[dict]:
    """The ``budget`` hyperparameter dicts tried for one config (its fixed settings kept)."""
    cname, full = optimizers.validate(name, hyper)
    tune = tuple(tune)
    unknown = [t for t in tune if t not in ("lr", "momentum")]
    if unknown:
        raise ValueError(f"race: tune may name 'lr' and 'momentum' (momentum or beta1), got {unknown[0]!r}")
    if "lr" not in tune:
        raise ValueError("race: tune must include 'lr'")
    if "lr" not in full:
        raise ValueError(f"race: {cname} has no hyperparameter 'lr' to tune")
    budget = int(budget)
    if not 1 <= budget <= 4096:
        raise ValueError(f"race: budget must be between 1 and 4096 trials, got {budget}")
    key = _momentum_key(cname, full) if "momentum" in tune else None
    momenta = [None]
    if key is not None and budget >= 2 * len(MOMENTA):
        momenta = list(MOMENTA)
    elif key is not None:
        momenta = [0.0, 0.9]
    n_lr = max(budget // len(momenta), 1)
    out = []
    for m in momenta:
        for lr in lr_grid(cname, n_lr, lr_range):
            h = dict(hyper)
            h["lr"] = float(lr)
            if m is not None:
                if key == "betas":
                    h["betas"] = (m, full["betas"][1])
                else:
                    h[key] = m
                if cname in ("SGD", "SAM") and full.get("nesterov") and m == 0.0:
                    continue   # torch refuses nesterov without momentum
            out.append(h)
    return out[:budget]


def race(f, configs, starts, steps: int = 500, budget: int = 32, tol: float = 1e-8, tune=("lr",),
         seed: int = 0, *, noise: float = 0.0, lr_ranges: dict | None = None, progress=None, cancel=None,
         best_known: float | None = None) -> list[RaceResult]:
    """Tune every config with the same budget from the same starts; one RaceResult per config.

    ``configs``: (name, hyperparameters) pairs (a schedule entry is kept: its base rate is what is
    tuned). ``best_known``: the minimum to measure against (default: the lowest loss any trial
    reached). ``progress(done, total)`` after each config; ``cancel()`` between configs.
    """
    configs = [(n, dict(h or {})) for n, h in configs]
    if not configs:
        raise ValueError("race: give at least one optimizer")
    starts = np.asarray(starts, dtype=np.float64).reshape(-1, 2)
    if not len(starts):
        raise ValueError("race: give at least one start")
    tol = float(tol)
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"race: tol must be a number > 0, got {tol!r}")
    trials = [trial_settings(n, h, budget, tune, (lr_ranges or {}).get(n)) for n, h in configs]
    batches = []
    for k, ((name, _), settings) in enumerate(zip(configs, trials)):
        _check(cancel)
        batches.append(optimizers.run_many(f, [(name, h) for h in settings], starts, steps, noise=noise,
                                           seed=seed))
        if progress is not None:
            progress(k + 1, len(configs))
    _check(cancel)
    if best_known is None:
        lows = [np.nanmin(np.where(np.isfinite(b.losses), b.losses, np.inf)) for b in batches]
        best_known = float(min(lows))
    results = []
    for (name, hyper), settings, batch in zip(configs, trials, batches):
        scored = []
        for c, h in enumerate(settings):
            hit = np.array([_steps_to(batch.losses[c, s], best_known, tol) for s in range(len(starts))])
            final = batch.losses[c, :, -1]
            final = np.where(np.isfinite(final), final, np.inf)
            scored.append({"hyperparameters": batch.configs[c][1], "steps_to_tol": float(np.median(hit)),
                           "final_loss": float(np.median(final))})
        order = sorted(range(len(scored)), key=lambda i: (scored[i]["steps_to_tol"], scored[i]["final_loss"]))
        top = scored[order[0]]
        cname = batch.configs[order[0]][0]
        results.append(RaceResult(cname, dict(top["hyperparameters"]), top["steps_to_tol"], top["final_loss"],
                                  scored, optimizers.describe(cname, top["hyperparameters"])))
    return results


def _steps_to(losses, best: float, tol: float) -> float:
    """Steps until the loss is within ``tol`` of ``best`` and stays there (inf: never)."""
    with np.errstate(invalid="ignore"):
        inside = (losses - best) <= tol
    if not inside[-1] or not np.isfinite(losses[-1]):
        return math.inf
    outside = np.flatnonzero(~inside)
    return float(outside[-1] + 1) if outside.size else 0.0


def ranked(results: list[RaceResult]) -> list[RaceResult]:
    """Fastest first (then the lowest final loss)."""
    return sorted(results, key=lambda r: (r.steps_to_tol, r.final_loss))
