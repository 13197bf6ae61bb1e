"""Training a network with the optimizer engine's torch.optim-exact rules, recording the path.

>>> run = train(MLP(2, 32), make_dataset("moons"), "Adam", {"lr": 0.01}, epochs=50, batch_size=64)
>>> run.params, run.trajectory, run.losses, run.accuracy
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import optimizers
from ..cancel import Cancelled, check  # noqa: F401  (Cancelled re-exported by nn)
from ..optimizers.kinds import CTL_PLATEAU, CUSTOM_BASE, LBFGS, N_COEF, N_STATE, NEWTON
from .datasets import Dataset, DatasetError
from .model import MLP


@dataclass
class TrainingRun:
    model: MLP                    # the architecture as trained (sized for the data)
    optimizer: str
    hyperparameters: dict
    batch_size: int
    seed: int
    params: np.ndarray            # final parameters (theta*)
    trajectory: np.ndarray        # (snapshots, n_params): the initial parameters, then after each epoch
    losses: np.ndarray            # train loss at each snapshot
    test_losses: np.ndarray       # test loss at each snapshot (empty without test data)
    train_accuracy: np.ndarray    # per snapshot (classification; zeros for regression)
    test_accuracy: np.ndarray
    step_losses: np.ndarray       # mini-batch loss of every step
    train_data: Dataset = field(repr=False)
    test_data: Dataset | None = field(repr=False, default=None)
    diverged_at_epoch: int | None = None
    sharpness: np.ndarray | None = None   # (k, 2): step, λmax of the full-batch train loss (tracking on)
    lrs: np.ndarray | None = None          # the rate of every step (its schedule's)

    @property
    def accuracy(self) -> float:
        """Final accuracy on the test data (train data if there is none); NaN for regression."""
        if self.model.loss != "cross_entropy":
            return math.nan
        acc = self.test_accuracy if len(self.test_accuracy) else self.train_accuracy
        return float(acc[-1])

    @property
    def label(self) -> str:
        return f"{optimizers.describe(self.optimizer, self.hyperparameters)}, batch {self.batch_size}"


def evaluate(model: MLP, data: Dataset, params: np.ndarray) -> tuple[float, float]:
    """(mean loss, accuracy) of ``params`` on ``data``."""
    from . import kernels

    yi, yf = data.kernel_targets()
    return kernels.dataset_loss(np.ascontiguousarray(params, dtype=np.float64), data.X, yi, yf, *model.layout)


def train(model: MLP, data: Dataset, optimizer: str = "Adam", hyperparameters: dict | None = None, *,
          epochs: int = 50, batch_size: int | None = 64, seed: int = 0, test: float | Dataset | None = 0.2,
          init: np.ndarray | None = None, progress=None, on_epoch=None, cancel=None,
          track_sharpness_every: int | None = None, on_sharpness=None, schedule_per: str = "step") -> TrainingRun:
    """Train from ``model.init(seed)`` (or ``init``) with mini-batches drawn by ``seed``
    (``batch_size=None``: full batch, one step an epoch).

    ``track_sharpness_every=k``: λmax of the full-batch train loss (``sharpness``, Lanczos on
    exact Hessian-vector products, warm-started from the last top eigenvector) at step 0 and
    every k optimizer steps, into ``run.sharpness`` (step, λmax); ``on_sharpness(step, λ)`` each
    time. This is how progressive sharpening and the edge of stability (Cohen et al. 2021:
    full-batch GD's λmax rises to 2/lr and hovers there) are seen.

    ``test``: a held-out share of ``data`` (seeded split), a separate Dataset, or None.
    ``progress(epoch, epochs)`` and ``on_epoch(epoch, train_loss, test_loss)`` after each epoch
    (a live loss curve); ``cancel()`` is checked between epochs.
    A ``schedule`` entry of the hyperparameters steps once per optimizer step, or once per epoch
    with ``schedule_per="epoch"`` (ReduceLROnPlateau's metric: the mini-batch loss at the step, or
    the train loss after the epoch); ``run.lrs`` is the rate of every step.
    A loss that turns NaN/inf, or parameters beyond 1e6 x their initial scale, stop training
    (``diverged_at_epoch``); what came before is kept.
    """
    from . import kernels

    name, hyper = optimizers.validate(optimizer, hyperparameters)
    kind, h = optimizers._pack_valid(name, hyper)
    if kind == NEWTON:
        raise ValueError("Newton needs the full Hessian, which a network's thousands of parameters "
                         "make impractical here; choose a first-order optimizer")
    epochs = int(epochs)
    batch_size = len(data) if batch_size is None else int(batch_size)
    if not 0 <= epochs <= 100_000:
        raise ValueError(f"epochs must be between 0 and 100000, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if isinstance(test, Dataset):
        train_data, test_data = data, test
    elif test:
        train_data, test_data = data.split(float(test), seed=seed)
    else:
        train_data, test_data = data, None
    model = model.fit_to(train_data)
    if test_data is not None and test_data.n_features != train_data.n_features:
        raise DatasetError("test data has a different number of features than the training data")
    layout = model.layout
    theta = model.init(seed) if init is None else np.array(init, dtype=np.float64)
    if theta.shape != (model.n_params,):
        raise ValueError(f"init must have {model.n_params} parameters, got {theta.shape}")
    X, (yi, yf) = train_data.X, train_data.kernel_targets()
    n = len(train_data)
    batch_size = min(batch_size, n)
    per_epoch = -(-n // batch_size)
    total = max(epochs * per_epoch, 1)
    table = np.empty((total, N_COEF))
    from ..optimizers import rules as optimizer_kernels
    from ..optimizers.kinds import CTL_MODE_MAX

    if schedule_per not in ("step", "epoch"):
        raise ValueError(f"schedule_per must be 'step' or 'epoch', got {schedule_per!r}")
    h = h.copy()
    sched, ctl = _schedule_rows(name, hyper, total, epochs, per_epoch, schedule_per)
    per_epoch_plateau = ctl[CTL_PLATEAU] != 0.0 and schedule_per == "epoch"
    if per_epoch_plateau:
        ctl[CTL_PLATEAU] = 2.0   # stepped here, after each epoch, not in the kernel
    P = np.array([math.inf if ctl[CTL_MODE_MAX] == 0.0 else -math.inf, 0.0, 0.0])
    from ..optimizers.reference import _Rates

    rates = _Rates(h, sched, ctl)
    if sched.shape[0]:
        rates.at(1)
        h[:] = rates.h
    C = np.array([1.0, h[0]])
    step_lrs = np.full(total, np.nan)
    S = np.zeros((N_STATE, theta.size))
    rule_step = None
    if kind >= CUSTOM_BASE:   # a typed rule: its interpreter on the whole weight vector
        from ..optimizers.custom import RuleInterpreter, rule_for_kind

        rule_step = _Scheduled(RuleInterpreter(rule_for_kind(kind), h, theta.size), rates, step_lrs, name)
    elif kind == LBFGS:       # evaluates inside a step: the numpy LBFGS with the mini-batch as closure
        from ..optimizers.lbfgs import LBFGSReference

        rule_step = _Scheduled(_ClosureStep(LBFGSReference(h, theta.size)), rates, step_lrs, name)
    else:
        optimizer_kernels.step_coefficients(kind, h, total, table)
        optimizer_kernels.init_state(kind, h, S)
    step_losses = np.full(total, np.nan)
    snaps = [theta.copy()]
    rng = np.random.default_rng(seed + 1)

    tyi, tyf = test_data.kernel_targets() if test_data is not None else (None, None)

    def measure(q):
        tr = kernels.dataset_loss(q, X, yi, yf, *layout)
        if test_data is None:
            return tr, (math.nan, math.nan)
        return tr, kernels.dataset_loss(q, test_data.X, tyi, tyf, *layout)

    box = 1e6 * max(1.0, float(np.abs(theta).max()))   # as for formulas: 1e6 x the start's scale
    stats = [measure(theta)]
    t = 0
    diverged = None
    every = None if not track_sharpness_every else int(track_sharpness_every)
    if every is not None and every < 1:
        raise ValueError(f"track_sharpness_every must be at least 1, got {track_sharpness_every}")
    tracker = _SharpnessTracker(model, train_data, on_sharpness, cancel) if every else None
    if tracker is not None:
        tracker.measure(0, theta)

    def steps(part, t):
        if rule_step is None:
            return kernels.train_epoch(theta, X, yi, yf, part, batch_size, *layout, kind, h, table, S, t,
                                       step_losses, sched, ctl, P, C, step_lrs)
        return _rule_epoch(theta, X, yi, yf, part, batch_size, layout, rule_step, t, step_losses)

    for epoch in range(1, epochs + 1):
        check(cancel, "training cancelled")
        perm = rng.permutation(n).astype(np.int64)
        if tracker is None:
            t = steps(perm, t)
        else:  # the epoch in pieces that end where a measurement is due
            start = 0
            while start < n:
                due = every - t % every
                end = min(n, start + due * batch_size)
                t = steps(perm[start:end], t)
                start = end
                if t % every == 0 and np.isfinite(theta).all():
                    tracker.measure(t, theta)
        if (not np.isfinite(theta).all() or not np.isfinite(step_losses[t - per_epoch: t]).all()
                or np.abs(theta).max() > box):
            diverged = epoch
            break
        snaps.append(theta.copy())
        stats.append(measure(theta))
        if per_epoch_plateau:   # the epoch's train loss is the metric
            target = rates.h if rule_step is not None else h
            rates.h = target
            rates.after(stats[-1][0][0])
        if progress is not None:
            progress(epoch, epochs)
        if on_epoch is not None:
            on_epoch(epoch, stats[-1][0][0], stats[-1][1][0])
    params = snaps[-1]
    tr_loss = np.array([s[0][0] for s in stats])
    tr_acc = np.array([s[0][1] for s in stats])
    te_loss = np.array([s[1][0] for s in stats]) if test_data is not None else np.zeros(0)
    te_acc = np.array([s[1][1] for s in stats]) if test_data is not None else np.zeros(0)
    return TrainingRun(model, name, hyper, batch_size, seed, params.copy(), np.array(snaps), tr_loss, te_loss,
                       tr_acc, te_acc, step_losses[:t], train_data, test_data, diverged,
                       tracker.result() if tracker is not None else None, step_lrs[:t].copy())


class _SharpnessTracker:
    """λmax along a training run, each Lanczos run started from the last top eigenvector
    (it moves little between measurements: a few steps instead of dozens)."""

    def __init__(self, model, data, callback, cancel):
        self.model, self.data, self.callback, self.cancel = model, data, callback, cancel
        self.rows = []
        self.v = None

    def measure(self, step: int, theta) -> None:
        from .curvature import HessianOperator, top_eigenpairs

        vals, vecs = top_eigenpairs(HessianOperator(self.model, self.data, theta), 1, tol=1e-8,
                                    cancel=self.cancel, v0=self.v)
        self.v = vecs[0]
        self.rows.append((step, float(vals[0])))
        if self.callback is not None:
            self.callback(step, float(vals[0]))

    def result(self) -> np.ndarray:
        return np.array(self.rows, dtype=float).reshape(-1, 2)


def _rule_epoch(theta, X, yi, yf, perm, batch_size, layout, opt, t, step_losses) -> int:
    """``kernels.train_epoch`` for a typed rule: x and g are the whole weight vector; each
    ``grad(p)`` of the rule is the same mini-batch's gradient at p."""
    from . import kernels

    g = np.empty(theta.size)
    for b in range(-(-perm.shape[0] // batch_size)):
        idx = perm[b * batch_size: (b + 1) * batch_size]
        t += 1
        step_losses[t - 1] = loss = kernels.loss_and_grad(theta, X, yi, yf, idx, *layout, g)

        def gradient(point, draw, idx=idx, with_loss=False):
            out = np.empty(theta.size)
            value = kernels.loss_and_grad(np.ascontiguousarray(point), X, yi, yf, idx, *layout, out)
            return (value, out) if with_loss else out

        theta[:] = opt.step(theta, g.copy(), loss, gradient)
    return t


def _schedule_rows(name, hyper, total, epochs, per_epoch, schedule_per):
    """(rows of rate and cycled momentum per step, or none; the ctl vector) for a training run."""
    rows, ctls = optimizers.schedule_arrays([(name, hyper)], epochs if schedule_per == "epoch" else total)
    sched = rows[0]
    if sched is None:
        return np.empty((0, 2)), ctls[0]
    if schedule_per == "epoch":
        sched = np.repeat(sched, per_epoch, axis=0)
    return np.ascontiguousarray(sched[:total]), ctls[0]


class _Scheduled:
    """A typed rule's or LBFGS's step with step t's rate set first (``reference._Rates``)."""

    def __init__(self, inner, rates, step_lrs, name):
        self.inner, self.rates, self.step_lrs = inner, rates, step_lrs
        self.t = 0
        self.names = [k for k, _ in optimizers.SPECS[name][1]]

    def step(self, q, g, loss, gradient):
        self.t += 1
        h = self.rates.at(self.t)
        target = getattr(self.inner, "optimizer", self.inner)
        if hasattr(target, "scalars"):
            for k, key in enumerate(self.names):
                target.scalars[key] = float(h[k])
        else:
            target.h = h
        self.step_lrs[self.t - 1] = h[self.rates.lr_slot]
        out = self.inner.step(q, g, loss, gradient)
        if self.rates.ctl is not None and self.rates.ctl[CTL_PLATEAU] == 1.0:
            self.rates.after(loss)
        return out


class _ClosureStep:
    """LBFGS in ``_rule_epoch``: its closure is the mini-batch's loss and gradient at any point."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def step(self, q, g, loss, gradient):
        return self.optimizer.step(q, lambda point: gradient(point, 0, with_loss=True), loss, g)


@dataclass
class Regions:
    """What a trained net predicts over its data's range: class regions (classification with
    2 features: ``classes`` on an n x n grid over ``lo``..``hi``) or a fitted curve (1 feature:
    ``xs``, ``ys``)."""

    classes: np.ndarray | None = None
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    xs: np.ndarray | None = None
    ys: np.ndarray | None = None


def decision_regions(model: MLP, data: Dataset, params, n: int = 120) -> Regions:
    """The net's predictions for the data preview (computed with the run, off the UI thread)."""
    from .reference import forward

    dims, woff, boff, residual, act, _ = model.layout
    if data.task == "classification" and data.n_features == 2:
        lo, hi = data.X.min(axis=0), data.X.max(axis=0)
        pad = 0.1 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
        out, _, _ = forward(params, np.c_[gx.ravel(), gy.ravel()], dims, woff, boff, residual, act)
        return Regions(classes=out.argmax(axis=1).reshape(n, n), lo=lo, hi=hi)
    if data.n_features == 1:
        xs = np.linspace(data.X.min(), data.X.max(), 200)
        out, _, _ = forward(params, xs[:, None], dims, woff, boff, residual, act)
        return Regions(xs=xs, ys=out[:, 0])
    return Regions()
