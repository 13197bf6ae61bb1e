"""The network mode's model: its settings, data and results, and every long computation
(training, the plane, sharpness, the A|B comparison, spectra, curves between solutions,
batch-size sweeps) as background jobs with progress and cancel. No widgets here; the
numbers come from ``core.nn``. Widgets follow the signals (napari's layer / controls split).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore

from landscape_gui.core import nn
from landscape_gui.core.cancel import check
from landscape_gui.ui.state.jobs import BackgroundJobs


@dataclass
class RunResult:
    """One training run with its plane and numbers (what the compare view pins)."""

    settings: nn.NetworkSettings
    run: nn.TrainingRun
    land: nn.Landscape
    sharpness: float
    sam: float
    roughness: float
    regions: nn.Regions | None = None

    @property
    def title(self) -> str:
        s = self.settings
        data = self.run.train_data.name.replace(" (train)", "")
        return (f"{'test' if s.use_test else 'train'} loss: {self.run.model.describe()} on {data}, "
                f"{self.run.label}")

    def summary(self) -> str:
        r = self.run
        acc = "" if math.isnan(r.accuracy) else f", accuracy {100 * r.accuracy:.1f}%"
        test = f", test loss {r.test_losses[-1]:.4g}" if len(r.test_losses) else ""
        return (f"{r.model.describe()}, {r.label}: train loss {r.losses[-1]:.4g}{test}{acc}; "
                f"λmax {self.sharpness:.4g}, SAM sharpness {self.sam:.3g}, roughness {self.roughness:.2f}")

    @property
    def lr(self) -> float | None:
        v = self.settings.hyperparameters.get("lr")
        return float(v) if isinstance(v, (int, float)) else None


@dataclass
class Comparison:
    """The A|B view's numbers: one colour scale, and the straight path when the nets match."""

    levels: tuple
    path: nn.Interpolation | None
    barrier: float | None
    note: str


def compare(a: RunResult | None, b: RunResult | None) -> Comparison:
    vals = []
    for r in (a, b):
        if r is not None:
            v = r.land.test_values if (r.settings.use_test and r.land.test_values is not None) else r.land.values
            vals.append(np.log10(np.maximum(v, 1e-12)))
    levels = (0.0, 1.0)
    if vals:
        allv = np.concatenate([v.ravel() for v in vals])
        allv = allv[np.isfinite(allv)]
        if allv.size:
            levels = (float(allv.min()), float(np.percentile(allv, 98)))
    if a is None or b is None:
        return Comparison(levels, None, None, "Pin two runs (e.g. two seeds, or depth 8 with and without skip "
                                              "connections) to compare them on one colour scale.")
    if a.run is b.run:
        return Comparison(levels, None, None, "A and B are the same solution: its landscape on the training data "
                                              "and on the test data, on one colour scale.")
    if a.run.model != b.run.model or a.run.train_data.n_features != b.run.train_data.n_features:
        return Comparison(levels, None, None, "A and B have different architectures: no straight path between them.")
    path = nn.interpolate(a.run.model, a.run.train_data, a.run.params, b.run.params, n=61,
                          test_data=a.run.test_data)
    barrier = float(path.losses.max() - max(path.losses[np.argmin(np.abs(path.alphas))],
                                            path.losses[np.argmin(np.abs(path.alphas - 1))]))
    return Comparison(levels, path, barrier, f"Linear path from A to B (same architecture): barrier {barrier:.4g} "
                                             "above the higher end point.")


class NetworkModel(QtCore.QObject):
    datasetChanged = QtCore.Signal()
    trainingProgress = QtCore.Signal(int, int, object)   # epoch, epochs, (train losses, test losses) so far
    landscapeProgress = QtCore.Signal(int, int)
    sharpnessMeasured = QtCore.Signal(object)            # (steps, λmax) so far, while training
    resultChanged = QtCore.Signal()
    trained = QtCore.Signal()                             # a training run finished (not a pin)
    compareChanged = QtCore.Signal()
    spectrumChanged = QtCore.Signal()
    curveChanged = QtCore.Signal()
    transferChanged = QtCore.Signal()
    sweepChanged = QtCore.Signal()
    sweepPlane = QtCore.Signal(object)                    # a sweep run's RunResult, to show in the views
    busyChanged = QtCore.Signal(bool)                     # training
    jobBusy = QtCore.Signal(str, bool)                    # any job: name, running
    jobProgress = QtCore.Signal(str, int, int)            # job, done, total
    message = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.settings = nn.NetworkSettings()
        self.data: nn.Dataset | None = None
        self.custom_data: nn.Dataset | None = None   # a loaded CSV
        self.result: RunResult | None = None
        self.pinned: dict[str, RunResult | None] = {"A": None, "B": None}
        self.comparison = compare(None, None)
        self.spectra: dict[str, nn.Spectrum] = {}     # "A", "B" or "run": the spectra last computed
        self.curve: nn.Curve | None = None
        self.transfer: nn.TransferPlane | None = None
        self.sweep: nn.Sweep | None = None
        self.jobs = BackgroundJobs("nn", self)
        self.jobs.finished.connect(self._on_finished)
        self.jobs.busyChanged.connect(self._on_busy)
        self.make_data()

    @property
    def busy(self) -> bool:
        return "train" in self.jobs.running

    def running(self, job: str) -> bool:
        return job in self.jobs.running

    def _on_busy(self, job: str, running: bool) -> None:
        self.jobBusy.emit(job, running)
        if job == "train":
            self.busyChanged.emit(running)

    # -- data ----------------------------------------------------------------------------------
    def make_data(self) -> None:
        s = self.settings
        try:
            if s.dataset == "csv" and self.custom_data is not None:
                self.data = self.custom_data
            else:
                self.data = nn.make_dataset(s.dataset, n=s.n, noise=s.noise, seed=s.data_seed)
        except nn.DatasetError as exc:
            self.message.emit(str(exc))
            return
        self.datasetChanged.emit()

    def load_csv(self, path) -> bool:
        try:
            self.custom_data = nn.load_csv(path)
        except nn.DatasetError as exc:
            self.message.emit(f"not loaded: {exc}")
            return False
        self.settings.dataset = "csv"
        self.make_data()
        d = self.custom_data
        self.message.emit(f"loaded {d.name}: {len(d)} rows, {d.n_features} features, {d.task}")
        return True

    # -- training --------------------------------------------------------------------------------
    def train(self) -> None:
        """Train with the current settings, then compute the plane and sharpness (background)."""
        if self.data is None:
            return
        s = self.settings.copy()
        data = self.data
        init = None
        if s.init_from:   # fine-tuning: start from a pinned run's solution
            src = self.pinned.get(s.init_from)
            want = nn.MLP(s.depth, s.width, s.activation, s.residual).fit_to(data)
            if src is None:
                self.message.emit(f"start from {s.init_from}: pin a run as {s.init_from} first")
                return
            if src.run.model != want:
                self.message.emit(f"start from {s.init_from}: it is a different network ({src.run.model.describe()}), "
                                  f"not {want.describe()}")
                return
            init = src.run.params.copy()
        if "landscape_gui.core.nn.kernels" not in sys.modules:
            self.message.emit("preparing the network kernels (compiled once per machine, then cached)…")
        self.jobs.submit("train", lambda cancel: self._compute(s, data, cancel, init))

    def _compute(self, s: nn.NetworkSettings, data, cancel, init=None) -> RunResult:
        model = nn.MLP(s.depth, s.width, s.activation, s.residual)
        curve = ([], [])
        sharp_rows = []

        def on_epoch(epoch, train_loss, test_loss):  # the live loss curve
            curve[0].append(train_loss)
            curve[1].append(test_loss)
            self.trainingProgress.emit(epoch, s.epochs, (np.array(curve[0]), np.array(curve[1])))

        def on_sharpness(step, lam):
            sharp_rows.append((step, lam))
            self.sharpnessMeasured.emit(np.array(sharp_rows))

        run = nn.train(model, data, s.optimizer, s.hyperparameters, epochs=s.epochs, batch_size=s.batch_size,
                       seed=s.seed, test=s.test if s.test > 0 else None, on_epoch=on_epoch, cancel=cancel.is_set,
                       track_sharpness_every=s.track_sharpness or None, on_sharpness=on_sharpness,
                       schedule_per=s.schedule_per, init=init)
        return self.plane_of(s, run, cancel)

    def plane_of(self, s: nn.NetworkSettings, run: nn.TrainingRun, cancel) -> RunResult:
        """A run's plane, sharpness, roughness and predictions (in the calling worker)."""
        span = s.span if s.span > 0 else None
        directions = s.directions if (s.directions != "pca" or len(run.trajectory) >= 3) else "filter"
        land = nn.landscape(run.model, run.train_data, run.params, directions, grid=(s.grid, s.grid), span=span,
                            seed=s.seed, trajectory=run.trajectory, test_data=run.test_data,
                            progress=lambda done, total: self.landscapeProgress.emit(done, total),
                            cancel=cancel.is_set)
        check(cancel.is_set)
        self.message.emit("sharpness: Lanczos on exact Hessian-vector products…")
        sharp = nn.sharpness(run.model, run.train_data, run.params, iters=200, tol=1e-7, cancel=cancel.is_set)
        sam = nn.sam_sharpness(run.model, run.train_data, run.params, rho=0.05, steps=10, cancel=cancel.is_set)
        rough = nn.roughness(land.test_values if (s.use_test and land.test_values is not None) else land.values)
        regions = nn.decision_regions(run.model, run.train_data, run.params)
        return RunResult(s, run, land, sharp, sam, rough, regions)

    def cancel(self, job: str = "train") -> None:
        if self.jobs.cancel(job):
            self.message.emit(f"{JOB_NAMES.get(job, job)} cancelled")

    # -- the other jobs ------------------------------------------------------------------------------
    def pin(self, slot: str) -> None:
        if self.result is not None:
            self.pinned[slot] = self.result
            self.resultChanged.emit()
            self.refresh_compare()

    def refresh_compare(self) -> None:
        """The A|B numbers again (background): after a pin, or when the shown split changes."""
        a, b = self.pinned["A"], self.pinned["B"]
        self.jobs.submit("compare", lambda cancel: compare(a, b))

    def compute_spectrum(self, k: int = 5, trace_samples: int = 100) -> bool:
        """The spectrum of the pinned runs (both, for A|B), else of the current one."""
        targets = {slot: r for slot, r in self.pinned.items() if r is not None}
        if not targets and self.result is not None:
            targets = {"run": self.result}
        if not targets:
            self.message.emit("train a network first: the spectrum is of its solution")
            return False

        def work(cancel):
            out = {}
            for i, (slot, r) in enumerate(targets.items()):
                out[slot] = nn.hessian_spectrum(r.run.model, r.run.train_data, r.run.params, k=k,
                                                trace_samples=trace_samples, density=True, seed=0,
                                                cancel=cancel.is_set,
                                                progress=lambda d, t, i=i: self.jobProgress.emit(
                                                    "spectrum", i * t + d, t * len(targets)))
            return out

        self.jobs.submit("spectrum", work)
        return True

    def connect_pinned(self, epochs: int = 100, lr: float = 0.01) -> bool:
        a, b = self.pinned["A"], self.pinned["B"]
        if a is None or b is None:
            self.message.emit("pin two runs as A and B first (the same network, e.g. two seeds)")
            return False
        if a.run.model != b.run.model:
            self.message.emit("A and B are different networks: a path between them needs the same architecture")
            return False
        data = a.run.train_data

        def work(cancel):
            return nn.connect(a.run.model, data, a.run.params, b.run.params, epochs=epochs, lr=lr, seed=0,
                              progress=lambda d, t: self.jobProgress.emit("connect", d, t), cancel=cancel.is_set)

        self.jobs.submit("connect", work)
        return True

    def transfer_pinned(self) -> bool:
        """The plane through pinned A (pre-trained), pinned B (fine-tuned from A) and the current run
        (from scratch on B's task), with the loss on that task along the lines from A (background)."""
        a, b, c = self.pinned["A"], self.pinned["B"], self.result
        if a is None or b is None or c is None or c is b:
            self.message.emit("pin the pre-trained run as A and the fine-tuned one as B, then train from scratch")
            return False
        if not (a.run.model == b.run.model == c.run.model):
            self.message.emit("the three runs must be the same network")
            return False
        data = c.run.train_data

        def work(cancel):
            return nn.transfer_plane(c.run.model, data, a.run.params, b.run.params, c.run.params, cancel=cancel.is_set)

        self.jobs.submit("transfer", work)
        return True

    def run_sweep(self, batch_sizes, epochs: int | None = None) -> bool:
        if self.data is None:
            return False
        s = self.settings.copy()
        data = self.data
        epochs = s.epochs if epochs is None else int(epochs)

        def work(cancel):
            return nn.batch_size_sweep(nn.MLP(s.depth, s.width, s.activation, s.residual), data, s.optimizer,
                                       s.hyperparameters, batch_sizes=list(batch_sizes), epochs=epochs, seed=s.seed,
                                       test=s.test if s.test > 0 else None,
                                       progress=lambda d, t: self.jobProgress.emit("sweep", d, t),
                                       cancel=cancel.is_set)

        self.jobs.submit("sweep", work)
        return True

    def show_sweep_run(self, k: int) -> None:
        """The plane of one sweep run, computed in the background, then shown as the current result."""
        if self.sweep is None or not 0 <= k < len(self.sweep.runs):
            return
        run = self.sweep.runs[k]
        s = self.settings.copy()
        s.batch_size = run.batch_size
        self.jobs.submit("sweep-plane", lambda cancel: self.plane_of(s, run, cancel))

    def _on_finished(self, job: str, result, _ms: float) -> None:
        if isinstance(result, Exception):
            self.message.emit(f"{JOB_NAMES.get(job, job)} failed: {type(result).__name__}: {result}")
            return
        if job in ("train", "sweep-plane"):
            self.result = result
            self.resultChanged.emit()
            r = result.run
            note = f" (diverged in epoch {r.diverged_at_epoch})" if r.diverged_at_epoch else ""
            self.message.emit(f"trained{note}: {result.summary()}")
            if job == "sweep-plane":
                self.sweepPlane.emit(result)
            else:
                self.trained.emit()
        elif job == "compare":
            self.comparison = result
            self.compareChanged.emit()
        elif job == "spectrum":
            self.spectra = result
            self.spectrumChanged.emit()
            self.message.emit("spectrum: " + "; ".join(
                f"{slot}: λmax {sp.lambda_max:.4g}, {sp.trace_summary()}"
                for slot, sp in result.items()))
        elif job == "connect":
            self.curve = result
            self.curveChanged.emit()
            self.message.emit(f"curve trained: barrier {result.barrier_curve:.4g} on the curve, "
                              f"{result.barrier_linear:.4g} on the straight line")
        elif job == "transfer":
            self.transfer = result
            self.transferChanged.emit()
            self.message.emit(f"transfer: barrier on the line pre-trained → fine-tuned {result.barrier_finetuned:.3g}, "
                              f"→ from scratch {result.barrier_scratch:.3g}")
        elif job == "sweep":
            self.sweep = result
            self.sweepChanged.emit()
            self.message.emit("batch-size sweep done: click a point to see that run's plane")

    def shutdown(self) -> None:
        self.jobs.shutdown()


JOB_NAMES = {"train": "training", "spectrum": "spectrum", "connect": "curve training", "sweep": "sweep",
             "transfer": "transfer plane",
             "compare": "comparison", "sweep-plane": "plane"}
