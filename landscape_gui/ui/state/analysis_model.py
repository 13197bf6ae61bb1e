"""What the Analysis dock computes and shows: critical points, basins of attraction and
learning-rate sweeps. ``AnalysisModel`` owns the results and runs ``core.analysis`` off the UI
thread (one worker; a newer request cancels the running one), recomputing when what a result
depends on changes: the formula, its parameters, the domain, the chosen optimizer, the start."""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from landscape_gui.core import analysis
from landscape_gui.core.cancel import check
from landscape_gui.ui.state.jobs import BackgroundJobs

KIND_STYLE = {  # kind: (colour, 2-D symbol)
    "minimum": ("#3ddc84", "o"),
    "saddle": ("#ffb020", "t1"),
    "maximum": ("#ff4d6a", "s"),
    "degenerate": ("#c77dff", "d"),
}


#: the 2-D markers' symbols as text (legend and table)
KIND_GLYPH = {kind: {"o": "●", "t1": "▲", "s": "■", "d": "◆"}[sym] for kind, (_, sym) in KIND_STYLE.items()}


# attractor colours: a qualitative palette unlike the heat maps' ramps
BASIN_COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
                "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000"]


#: opaque: blended with the heat map, red read brown and no colour matched its legend entry
#: (the isolines stay on top, so the landscape's shape still shows)
BASIN_ALPHA = 1.0


MAX_TABLE_ROWS = 500
#: critical points marked in the views: Rastrigin has 441, which buried its surface
MAX_DRAWN = 60
KIND_ORDER = {"minimum": 0, "saddle": 1, "maximum": 2, "degenerate": 3}


MAX_SHARPNESS = 60   # minima whose sharpness is computed (the lowest ones)


def basin_rgba(labels: np.ndarray, alpha: float = BASIN_ALPHA) -> np.ndarray:
    """(ny, nx, 4) float RGBA: attractor k in BASIN_COLORS[k % n]; diverged dark red; unsettled clear."""
    table = np.array([pg.mkColor(c).getRgbF() for c in BASIN_COLORS])
    table[:, 3] = alpha
    out = np.zeros(labels.shape + (4,))
    ok = labels >= 0
    out[ok] = table[labels[ok] % len(table)]
    out[labels == -1] = (0.35, 0.0, 0.0, 1.0)
    return out


class AnalysisModel(QtCore.QObject):
    """Analysis state and results for one SessionController."""

    criticalPointsChanged = QtCore.Signal()
    basinsChanged = QtCore.Signal()
    sweepChanged = QtCore.Signal()
    raceChanged = QtCore.Signal()
    raceProgress = QtCore.Signal(int, int)       # optimizers tuned, total
    progress = QtCore.Signal(int, int)           # basin rows done, total
    busyChanged = QtCore.Signal(str, bool)       # "critical" | "basins" | "sweep", running
    message = QtCore.Signal(str)

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.show_critical = False
        self.show_basins = False
        self.drape = False
        self.show_sweep = False
        self.optimizer_index = 0
        self.start_index = 0
        self.basin_resolution = 128
        self.rho = 0.05
        self.seed_resolution = 96                  # Newton seeds per axis for critical points
        self.sweep_range = (1e-4, 1.0, 200)        # lr from, to, how many (log spaced)
        self.race_budget = 32                     # trials per optimizer
        self.race_tol = 1e-6                      # within this of the best loss reached
        self.race_momentum = False                # tune momentum / beta1 as well
        self.race_results: list | None = None     # [(optimizer index, RaceResult)], ranked
        self.critical_points: list[analysis.CriticalPoint] = []
        self.sharpness: dict[int, tuple[float, float]] = {}   # index into critical_points -> (lam, sam)
        self.basins: analysis.Basins | None = None
        self.sweep: analysis.LRSweep | None = None
        self.timings: dict[str, float] = {}
        self.jobs = BackgroundJobs("analysis", self)
        self.jobs.finished.connect(self._on_finished)
        self.jobs.busyChanged.connect(self.busyChanged)
        self._keys: dict[str, object] = {}
        self._later = QtCore.QTimer(self, singleShot=True, interval=250)
        self._later.timeout.connect(self.refresh)
        c = controller
        for sig in (c.functionChanged, c.surfaceChanged, c.optimizersChanged, c.sessionReplaced,
                    c.startsChanged):
            sig.connect(self._later.start)

    # -- what each analysis depends on --------------------------------------------------------
    def _function_key(self):
        s = self.controller.session
        return (s.function_text, tuple(sorted(s.params.items())), tuple(s.xrange), tuple(s.yrange))

    def selected_optimizer(self):
        """The optimizer instance basins and sweeps use (None if the session has none)."""
        opts = self.controller.session.optimizers
        if not opts:
            return None
        return opts[min(max(self.optimizer_index, 0), len(opts) - 1)]

    def selected_start(self):
        starts = self.controller.session.starts
        if not starts:
            return None
        return starts[min(max(self.start_index, 0), len(starts) - 1)]

    def _basin_key(self):
        o = self.selected_optimizer()
        s = self.controller.session
        return (self._function_key(), None if o is None else (o.name, repr(sorted(o.hyperparameters.items()))),
                self.basin_resolution, s.steps, s.noise, s.seed)

    def _sweep_key(self):
        o = self.selected_optimizer()
        s = self.controller.session
        return (self._function_key(), None if o is None else (o.name, repr(sorted(o.hyperparameters.items()))),
                self.selected_start(), s.steps, self.sweep_range)

    # -- switches ---------------------------------------------------------------------------
    def set_show_critical(self, on: bool) -> None:
        self.show_critical = bool(on)
        self.criticalPointsChanged.emit()
        self.refresh()

    def set_show_basins(self, on: bool) -> None:
        self.show_basins = bool(on)
        if not on:
            self.cancel("basins")
        elif self.basins is None:
            self._keys.pop("basins", None)   # switched on again after a cancel: compute
        self.basinsChanged.emit()
        self.refresh()

    def set_drape(self, on: bool) -> None:
        self.drape = bool(on)
        self.basinsChanged.emit()

    def set_show_sweep(self, on: bool) -> None:
        self.show_sweep = bool(on)
        self.refresh()

    def set_optimizer_index(self, i: int) -> None:
        self.optimizer_index = int(i)
        self.refresh()

    def set_start_index(self, i: int) -> None:
        self.start_index = int(i)
        self.refresh()

    def set_basin_resolution(self, n: int) -> None:
        self.basin_resolution = int(n)
        self.refresh()

    def set_rho(self, rho: float) -> None:
        self.rho = float(rho)
        self._keys.pop("critical", None)
        self.refresh()

    def set_seed_resolution(self, n: int) -> None:
        self.seed_resolution = int(n)
        self._keys.pop("critical", None)
        self.refresh()

    def set_sweep_range(self, lo: float, hi: float, count: int) -> None:
        if not (0 < lo < hi and count >= 2):
            self.message.emit("The sweep needs 0 < from < to and at least 2 rates.")
            return
        self.sweep_range = (float(lo), float(hi), int(count))
        self.refresh()

    # -- running -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Start whatever is shown and out of date (each at most once per change)."""
        key = (self._function_key(), self.rho, self.seed_resolution)
        if self.show_critical and self._keys.get("critical") != key:
            self._submit("critical", key, self._compute_critical)
        if self.show_basins and self._keys.get("basins") != self._basin_key():
            if self.selected_optimizer() is None:
                self._keys["basins"] = self._basin_key()
                self.basins = None
                self.message.emit("Add an optimizer to see its basins.")
                self.basinsChanged.emit()
            else:
                self._submit("basins", self._basin_key(), self._compute_basins)
        if self.show_sweep and self._keys.get("sweep") != self._sweep_key():
            if self.selected_optimizer() is None or self.selected_start() is None:
                self._keys["sweep"] = self._sweep_key()
                self.sweep = None
                self.message.emit("The sweep needs an optimizer and a start point (click the surface).")
                self.sweepChanged.emit()
            else:
                self._submit("sweep", self._sweep_key(), self._compute_sweep)

    def start_race(self) -> None:
        """Tune every enabled optimizer with the same budget from the session's starts (background)."""
        c = self.controller
        s = c.session
        chosen = [(i, o) for i, o in enumerate(s.optimizers) if o.enabled]
        if not chosen or not s.starts:
            self.message.emit("The race needs enabled optimizers and at least one start point.")
            return
        snap = SimpleNamespace(f=c.function, configs=[(i, o.name, dict(o.hyperparameters)) for i, o in chosen],
                               starts=[tuple(p) for p in s.starts], steps=s.steps, noise=s.noise, seed=s.seed,
                               budget=self.race_budget, tol=self.race_tol,
                               tune=("lr", "momentum") if self.race_momentum else ("lr",))
        self._keys["race"] = None
        self.jobs.submit("race", lambda cancel: self._compute_race(cancel, snap))

    def _compute_race(self, cancel, q):
        results = analysis.race(q.f, [(n, h) for _, n, h in q.configs], q.starts, q.steps, budget=q.budget,
                                tol=q.tol, tune=q.tune, seed=q.seed, noise=q.noise, cancel=cancel.is_set,
                                progress=lambda d, n: self.raceProgress.emit(d, n))
        pairs = [(i, r) for (i, _, _), r in zip(q.configs, results)]
        return sorted(pairs, key=lambda p: (p[1].steps_to_tol, p[1].final_loss))

    def cancel(self, job: str = "basins") -> None:
        """Stop a running computation; its result is dropped and the overlay cleared."""
        if self.jobs.cancel(job):   # the key stays: no restart until an input changes
            self.message.emit(f"{job} cancelled")
        if job == "basins":
            self.basins = None
            self.basinsChanged.emit()

    @property
    def running(self) -> set[str]:
        return self.jobs.running

    def _submit(self, job: str, key, fn) -> None:
        self._keys[job] = key
        c = self.controller
        f, s = c.function, c.session                 # immutable snapshot: LossFunction + plain values
        snap = SimpleNamespace(f=f, xrange=tuple(s.xrange), yrange=tuple(s.yrange), opt=self.selected_optimizer(),
                               start=self.selected_start(), steps=s.steps, noise=s.noise, seed=s.seed,
                               basin_resolution=self.basin_resolution, rho=self.rho,
                               seed_resolution=self.seed_resolution, sweep_range=self.sweep_range)
        self.jobs.submit(job, lambda cancel: fn(cancel, snap))

    def drawn_critical_points(self) -> list:
        """The critical points the views mark: all of them up to MAX_DRAWN, else the minima
        first (lowest first), then saddles, maxima and degenerate points."""
        cps = self.critical_points if self.show_critical else []
        if len(cps) <= MAX_DRAWN:
            return list(cps)
        return sorted(cps, key=lambda c: (KIND_ORDER.get(c.kind, 9), c.value))[:MAX_DRAWN]

    def _on_finished(self, job: str, result, ms: float) -> None:
        self.timings[job] = ms
        if isinstance(result, Exception):
            self.message.emit(f"{job} failed: {type(result).__name__}: {result}")
            return
        if job == "critical":
            self.critical_points, self.sharpness = result
            self.criticalPointsChanged.emit()
            n = Counter(c.kind for c in self.critical_points)
            plural = {"minimum": "minima", "maximum": "maxima", "saddle": "saddles", "degenerate": "degenerate"}
            parts = ", ".join(f"{v} {k if v == 1 else plural[k]}" for k, v in n.items())
            flat = getattr(self.critical_points, "flat_fraction", 0.0)
            note = f"; f is flat on about {100 * flat:.0f}% of the domain (not listed)" if flat else ""
            if len(self.critical_points) > MAX_DRAWN:
                note += (f"; the views mark {MAX_DRAWN} (minima first, lowest first) so the surface stays "
                         "visible; the table lists them all")
            self.message.emit(f"{len(self.critical_points)} critical points ({parts}) in {ms:.0f} ms{note}")
        elif job == "basins":
            self.basins = result
            self.basinsChanged.emit()
            self.criticalPointsChanged.emit()   # the table's basin-area column
            self.message.emit(f"basins: {len(result.attractors)} attractors in {ms:.0f} ms")
        elif job == "race":
            self.race_results = result
            self.raceChanged.emit()
            winner = result[0][1]
            self.message.emit(f"race: {len(result)} optimizers tuned ({self.race_budget} trials each) in "
                              f"{ms / 1000:.1f} s; fastest {winner.label}")
        else:
            self.sweep = result
            self.sweepChanged.emit()

    # -- the computations (worker thread) ----------------------------------------------------------
    @staticmethod
    def _compute_critical(cancel, q):
        cps = analysis.critical_points(q.f, q.xrange, q.yrange, resolution=q.seed_resolution)
        sharp = {}
        minima = [i for i, c in enumerate(cps) if c.kind == "minimum"][:MAX_SHARPNESS]
        for i in minima:
            check(cancel.is_set)
            sharp[i] = analysis.sharpness(q.f, cps[i].x, cps[i].y, q.rho)
        return cps, sharp

    def _compute_basins(self, cancel, q):
        n = q.basin_resolution
        b = analysis.basins(q.f, q.opt.name, q.opt.hyperparameters, q.xrange, q.yrange, shape=(n, n),
                            steps=q.steps, noise=q.noise, seed=q.seed, cancel=cancel.is_set,
                            progress=lambda done, total: self.progress.emit(done, total),
                            background=True)  # niced threads: a drag keeps its core
        # most runs still moving (the default Rosenbrock): find the step count that settles them
        b.settling_steps = (analysis.settling_steps(q.f, b, cancel=cancel.is_set)
                            if b.unsettled_fraction > 0.2 else None)
        return b

    @staticmethod
    def _compute_sweep(cancel, q):
        lo, hi, count = q.sweep_range
        return analysis.lr_sweep(q.f, q.opt.name, q.opt.hyperparameters, q.start, np.geomspace(lo, hi, count),
                                 steps=q.steps)

    # -- queries -------------------------------------------------------------------------------
    def basin_area_of(self, cp) -> float | None:
        """Share of the domain whose runs end at this critical point (None without basins)."""
        b = self.basins
        if b is None or not b.attractors:
            return None
        (x0, x1), (y0, y1) = b.xrange, b.yrange
        ny, nx = b.labels.shape
        tol = 1.5 * math.hypot((x1 - x0) / nx, (y1 - y0) / ny)
        d = [math.hypot(ax - cp.x, ay - cp.y) for ax, ay in b.attractors]
        k = int(np.argmin(d))
        return b.fractions[k] if d[k] <= tol else 0.0

    def shutdown(self) -> None:
        self.jobs.shutdown()

