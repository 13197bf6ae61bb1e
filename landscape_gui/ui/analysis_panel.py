"""The Analysis dock: critical points, basins of attraction, learning-rate sweeps.

``AnalysisModel`` owns the results and runs ``core.analysis`` off the UI thread
(one worker; a newer request cancels the running one); ``AnalysisPanel`` is its
widgets; ``ContourOverlay``/``SurfaceOverlay`` draw the results into the views.
Results are recomputed when what they depend on changes: the formula, its
parameters, the domain, the chosen optimizer's settings, the chosen start.
"""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6 import QtCore, QtGui, QtWidgets

from ..core import analysis
from ..core.cancel import check
from .signals import signals_blocked
from .background import BackgroundJobs

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
            self.message.emit(f"{len(self.critical_points)} critical points ({parts}) in {ms:.0f} ms{note}")
        elif job == "basins":
            self.basins = result
            self.basinsChanged.emit()
            self.criticalPointsChanged.emit()   # the table's basin-area column
            self.message.emit(f"basins: {len(result.attractors)} attractors in {ms:.0f} ms")
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


# --- drawing into the views ------------------------------------------------------------------


class ContourOverlay:
    """Critical-point markers, the basin image and attractor crosses in the 2-D view."""

    def __init__(self, view, model: AnalysisModel):
        self.view, self.model = view, model
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(3)          # over the heat map, under isolines and paths
        self.points = pg.ScatterPlotItem(size=11, pen=pg.mkPen("k", width=1))
        self.points.setZValue(25)
        self.attractors = pg.ScatterPlotItem(size=14, symbol="x", brush=pg.mkBrush("w"),
                                             pen=pg.mkPen("k", width=0.5))
        self.attractors.setZValue(26)
        for it in (self.image, self.points, self.attractors):
            view.addItem(it)
        model.criticalPointsChanged.connect(self.update_points)
        model.basinsChanged.connect(self.update_basins)
        self.update_points()
        self.update_basins()

    def update_points(self) -> None:
        m = self.model
        cps = m.critical_points if m.show_critical else []
        self.points.setData([c.x for c in cps], [c.y for c in cps],
                            brush=[pg.mkBrush(KIND_STYLE[c.kind][0]) for c in cps],
                            symbol=[KIND_STYLE[c.kind][1] for c in cps],
                            data=list(range(len(cps))))

    def update_basins(self) -> None:
        b = self.model.basins if self.model.show_basins else None
        if b is None:
            self.image.clear()
            self.image.setVisible(False)
            self.attractors.setData([], [])
            return
        rgba = (basin_rgba(b.labels) * 255).astype(np.ubyte)
        self.image.setImage(rgba, levels=(0, 255))
        (x0, x1), (y0, y1) = b.xrange, b.yrange
        self.image.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))   # cells tile the domain
        self.image.setVisible(True)
        a = np.array(b.attractors, dtype=float).reshape(-1, 2)
        self.attractors.setData(a[:, 0], a[:, 1])


class SurfaceOverlay:
    """Critical-point markers in the 3-D view, and the basin colours draped on the surface."""

    def __init__(self, view, model: AnalysisModel):
        from .surface_view import LIFT, _gl_options

        self.view, self.model, self.lift = view, model, LIFT
        self.points = gl.GLScatterPlotItem(size=11, pxMode=True)
        self.points.setGLOptions(_gl_options())
        view.addItem(self.points)
        view.drape = self.drape_colors
        model.criticalPointsChanged.connect(self.update_points)
        model.basinsChanged.connect(self.view.update_surface)
        view.controller.surfaceChanged.connect(self.update_points)
        self.update_points()

    def update_points(self) -> None:
        m, v, c = self.model, self.view, self.view.controller
        cps = m.critical_points if m.show_critical else []
        if not cps and (self.points.pos is None or len(self.points.pos) == 0):
            return  # nothing shown, nothing to take away (this runs on every slider step)
        if not cps:
            self.points.setData(pos=np.zeros((0, 3)))
        else:
            x = np.array([p.x for p in cps])
            y = np.array([p.y for p in cps])
            h = np.nan_to_num(c.heights(np.array([p.value for p in cps])))
            sx, sy, sz = v.to_scene(x, y, h)
            cols = np.array([pg.mkColor(KIND_STYLE[p.kind][0]).getRgbF() for p in cps])
            self.points.setData(pos=np.c_[sx, sy, sz + 1.5 * self.lift], color=cols, size=11)
        v.landscape_changed()

    def drape_colors(self, xs: np.ndarray, ys: np.ndarray):
        """(nx, ny, 4) basin colours at the surface's vertices, or None (nothing draped)."""
        m = self.model
        b = m.basins
        if not (m.show_basins and m.drape and b is not None):
            return None
        ny, nx = b.labels.shape
        (x0, x1), (y0, y1) = b.xrange, b.yrange
        i = np.clip(((xs - x0) / (x1 - x0) * nx).astype(int), 0, nx - 1)
        j = np.clip(((ys - y0) / (y1 - y0) * ny).astype(int), 0, ny - 1)
        return basin_rgba(b.labels[np.ix_(j, i)], alpha=0.55).transpose(1, 0, 2)


# --- the dock's widgets ------------------------------------------------------------------------


class LRSweepPlot(pg.GraphicsLayoutWidget):
    """Final loss and steps-to-converge against lr (log x), the stability edge marked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lrSweepPlot")
        self.setBackground("#15171c")
        self.loss = self.addPlot(row=0, col=0)
        self.steps = self.addPlot(row=1, col=0)
        self.steps.setXLink(self.loss)
        self.loss.setLogMode(x=True, y=True)
        self.steps.setLogMode(x=True, y=False)
        self.loss.setLabel("left", "final loss")
        self.steps.setLabel("left", "steps to converge")
        self.steps.setLabel("bottom", "learning rate")
        self.loss_curve = self.loss.plot(pen=pg.mkPen("#33ccff", width=2))
        self.loss_bad = self.loss.plot(pen=None, symbol="x", symbolSize=6, symbolBrush="#ff4d6a",
                                       symbolPen="#ff4d6a")
        self.steps_curve = self.steps.plot(pen=pg.mkPen("#ffd11a", width=2), connect="finite")
        self.edges = []
        for p in (self.loss, self.steps):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ff4d6a", width=1.5, style=QtCore.Qt.PenStyle.DashLine))
            p.addItem(line)
            line.setVisible(False)
            self.edges.append(line)
        self.edge_label = pg.TextItem(color="#ff8a9a", anchor=(1.05, 0))
        self.loss.addItem(self.edge_label)
        # both plots share one x axis: the same left-axis width keeps their data areas aligned
        for p in (self.loss, self.steps):
            p.getAxis("left").setWidth(62)
            p.getAxis("left").enableAutoSIPrefix(False)
        self.empty_note = pg.TextItem(color="#9aa0a6", anchor=(0.5, 0.5))
        self.steps.addItem(self.empty_note, ignoreBounds=True)
        self.setMinimumHeight(260)
        self.setMinimumWidth(120)
        self.show_sweep(None)

    def _x_range(self, lo: float, hi: float) -> None:
        self.loss.setXRange(math.log10(lo), math.log10(hi), padding=0.02)

    def show_sweep(self, s, lr_range=(1e-4, 1.0)) -> None:
        if s is None:
            self.loss_curve.setData([], [])
            self.loss_bad.setData([], [])
            self.steps_curve.setData([], [])
            for line in self.edges:
                line.setVisible(False)
            self.edge_label.setText("")
            # an empty log axis over 0..1 printed "0.60.70.80.91": show the range a sweep will cover
            self._x_range(*lr_range)
            self.loss.setYRange(-3, 1, padding=0)
            self.steps.setYRange(0, 1, padding=0)
            self.empty_note.setText("run a sweep to see final loss and steps against the learning rate")
            self.empty_note.setPos(math.log10(math.sqrt(lr_range[0] * lr_range[1])), 0.5)
            return
        self.empty_note.setText("")
        ok = ~s.diverged & np.isfinite(s.final_loss)
        floor = np.nanmin(s.final_loss[ok & (s.final_loss > 0)]) if (ok & (s.final_loss > 0)).any() else 1e-300
        loss = np.where(ok, np.maximum(s.final_loss, floor * 1e-3), np.nan)
        self.loss_curve.setData(s.lrs, loss, connect="finite")
        # diverged rates: a row of crosses at the top of the plot
        top = np.nanmax(loss) if np.isfinite(loss).any() else 1.0
        self.loss_bad.setData(s.lrs[s.diverged], np.full(int(s.diverged.sum()), top * 10))
        finite = loss[np.isfinite(loss) & (loss > 0)]
        y_lo = math.log10(finite.min()) if finite.size else math.log10(top) - 3
        self._y_top = math.log10(top * 10) + 0.35  # room for the crosses of diverged rates
        self.loss.setYRange(y_lo - 0.2, self._y_top, padding=0)
        steps = np.where(s.steps_to_converge >= 0, s.steps_to_converge, np.nan).astype(float)
        self.steps_curve.setData(s.lrs, steps)
        self._x_range(float(s.lrs.min()), float(s.lrs.max()))
        if np.isfinite(steps).any():
            self.steps.enableAutoRange(y=True)
        else:  # say why it is empty instead of an axis of 482.6 ... 483.4
            total = int(getattr(s, "steps", 0) or 0)
            self.steps.setYRange(0, max(total, 1), padding=0)
            self.empty_note.setText(f"no rate converged within {total:,} steps" if total
                                    else "no rate converged")
            self.empty_note.setPos(math.log10(math.sqrt(s.lrs.min() * s.lrs.max())), max(total, 1) / 2)
        edge = s.edge
        for line in self.edges:
            line.setVisible(bool(np.isfinite(edge)))
            if np.isfinite(edge):
                line.setValue(math.log10(edge))
        if np.isfinite(edge):
            self.edge_label.setText(f"edge {edge:.3g}")
            # on the side of the line with room: left of it in the right half, else right of it
            left_half = math.log10(edge) < 0.5 * (math.log10(s.lrs.min()) + math.log10(s.lrs.max()))
            self.edge_label.setAnchor((-0.05, 0) if left_half else (1.05, 0))
            self.edge_label.setPos(math.log10(edge), self._y_top)  # inside the plot, at its top
        else:
            self.edge_label.setText("")


def _scrolling(page: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
    """A tab page that scrolls instead of forcing its minimum width on the whole dock."""
    area = QtWidgets.QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(page)
    return area


class AnalysisPanel(QtWidgets.QWidget):
    """Critical points table, basin controls with progress/cancel and legend, LR sweep."""

    COLUMNS = ["", "x", "y", "f", "λmin", "λmax", "cond.", "SAM", "basin"]
    #: columns in the order they stay when the dock is narrow (the rest hide; the selected
    #: row's every value is in the details line under the table): no horizontal scrolling
    KEEP_ORDER = (0, 1, 2, 3, 5, 8, 4, 7, 6)

    def __init__(self, model: AnalysisModel, parent=None):
        super().__init__(parent)
        self.setObjectName("analysisPanel")
        self.model = model
        c = model.controller
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        form = QtWidgets.QFormLayout()
        self.optimizer_box = QtWidgets.QComboBox(objectName="analysisOptimizer")
        self.start_box = QtWidgets.QComboBox(objectName="analysisStart")
        for box in (self.optimizer_box, self.start_box):  # long labels must not widen the dock
            box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(14)
        form.addRow("Optimizer", self.optimizer_box)
        form.addRow("Start point", self.start_box)
        lay.addLayout(form)
        self.tabs = QtWidgets.QTabWidget()
        lay.addWidget(self.tabs, 1)

        # critical points
        cp = QtWidgets.QWidget()
        cl = QtWidgets.QVBoxLayout(cp)
        row = QtWidgets.QHBoxLayout()
        self.critical_check = QtWidgets.QCheckBox("Show critical points", objectName="showCriticalPoints")
        cl.addWidget(self.critical_check)
        row.addWidget(QtWidgets.QLabel("Newton seeds"))
        self.seeds_spin = QtWidgets.QSpinBox(minimum=8, maximum=512, value=model.seed_resolution, singleStep=16,
                                             objectName="criticalSeeds")
        self.seeds_spin.setToolTip("Newton starts per axis: raise it for landscapes with finer structure")
        row.addWidget(self.seeds_spin)
        row.addStretch(1)
        row.addWidget(QtWidgets.QLabel("SAM ρ"))
        self.rho_spin = QtWidgets.QDoubleSpinBox(decimals=4, minimum=1e-4, maximum=1e3, value=model.rho,
                                                 singleStep=0.01)
        row.addWidget(self.rho_spin)
        for spin in (self.seeds_spin, self.rho_spin):
            spin.setMinimumWidth(58)
        cl.addLayout(row)
        legend = QtWidgets.QLabel("  ".join(f"<span style='color:{col}'>{KIND_GLYPH[k]}</span> {k}"
                                            for k, (col, _) in KIND_STYLE.items()))
        legend.setWordWrap(True)
        cl.addWidget(legend)
        self.table = QtWidgets.QTableWidget(0, len(self.COLUMNS), objectName="criticalPointsTable")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setToolTip("Click a row to centre the views on that point. λ: Hessian eigenvalues; "
                              "cond.: |λ|max/|λ|min; SAM: sharpness, max f(p+e) − f(p) over |e| ≤ ρ; "
                              "basin: share of the domain whose runs of the chosen optimizer end here.")
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.installEventFilter(self)  # refit the columns when the dock changes width
        cl.addWidget(self.table, 1)
        self.point_details = QtWidgets.QLabel(objectName="criticalPointDetails")
        self.point_details.setWordWrap(True)
        self.point_details.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        cl.addWidget(self.point_details)
        self.tabs.addTab(_scrolling(cp), "Critical points")

        # basins
        bp = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(bp)
        self.basins_check = QtWidgets.QCheckBox("Basins of attraction", objectName="showBasins")
        self.basins_check.setToolTip("Run the selected optimizer from every cell and colour each by where it ends")
        self.drape_check = QtWidgets.QCheckBox("Drape on the 3-D surface", objectName="drapeBasins")
        brow = QtWidgets.QHBoxLayout()
        brow.addWidget(QtWidgets.QLabel("Starts"))
        self.resolution_box = QtWidgets.QComboBox(objectName="basinResolution")
        for n in (64, 128, 256, 512):
            self.resolution_box.addItem(f"{n} × {n}", n)
        self.resolution_box.setCurrentIndex(1)
        brow.addWidget(self.resolution_box)
        brow.addStretch(1)
        prow = QtWidgets.QHBoxLayout()
        self.progress = QtWidgets.QProgressBar(objectName="basinProgress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.cancel_button = QtWidgets.QPushButton("Cancel", objectName="cancelBasins")
        self.cancel_button.setEnabled(False)
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel_button)
        self.settle_button = QtWidgets.QPushButton(objectName="settleButton")
        self.settle_button.setToolTip("Run every optimizer for the number of steps that lets the basin runs "
                                      "settle (Edit → Undo goes back)")
        self.settle_button.clicked.connect(self._use_settling_steps)
        self.settle_button.hide()
        self.legend = QtWidgets.QListWidget(objectName="basinLegend")
        self.legend.setWordWrap(True)
        for w in (self.basins_check, self.drape_check):
            bl.addWidget(w)
        bl.addLayout(brow)
        bl.addLayout(prow)
        bl.addWidget(self.legend, 1)
        bl.addWidget(self.settle_button)
        self.tabs.addTab(_scrolling(bp), "Basins")

        # learning-rate sweep
        sp = QtWidgets.QWidget()
        sl = QtWidgets.QVBoxLayout(sp)
        self.sweep_check = QtWidgets.QCheckBox("Learning-rate sweep", objectName="showSweep")
        self.sweep_check.setToolTip("The selected optimizer from the selected start, at many learning rates")
        self.sweep_plot = LRSweepPlot()
        self.sweep_note = QtWidgets.QLabel(wordWrap=True)
        sl.addWidget(self.sweep_check)
        srow = QtWidgets.QHBoxLayout()
        lo, hi, count = model.sweep_range
        self.sweep_from = QtWidgets.QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1e4, value=lo,
                                                   objectName="sweepFrom")
        self.sweep_to = QtWidgets.QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1e4, value=hi,
                                                 objectName="sweepTo")
        self.sweep_count = QtWidgets.QSpinBox(minimum=2, maximum=2000, value=count, objectName="sweepCount")
        for w in (self.sweep_from, self.sweep_to, self.sweep_count):
            # may shrink with the dock: the views beside it need the width more
            w.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
            w.setMinimumWidth(56)
        for w in (self.sweep_from, self.sweep_to):
            w.setStepType(QtWidgets.QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        for label, w in (("lr from", self.sweep_from), ("to", self.sweep_to), ("rates", self.sweep_count)):
            srow.addWidget(QtWidgets.QLabel(label))
            srow.addWidget(w, 1)
            w.editingFinished.connect(self._sweep_range_edited)
        sl.addLayout(srow)
        sl.addWidget(self.sweep_plot, 1)
        sl.addWidget(self.sweep_note)
        self.tabs.addTab(_scrolling(sp), "LR sweep")
        self.status = QtWidgets.QLabel(wordWrap=True, objectName="analysisStatus")
        lay.addWidget(self.status)

        self.critical_check.toggled.connect(model.set_show_critical)
        self.basins_check.toggled.connect(model.set_show_basins)
        self.drape_check.toggled.connect(model.set_drape)
        self.sweep_check.toggled.connect(model.set_show_sweep)
        self.rho_spin.valueChanged.connect(model.set_rho)
        self.seeds_spin.editingFinished.connect(lambda: model.set_seed_resolution(self.seeds_spin.value()))
        self.resolution_box.currentIndexChanged.connect(
            lambda i: model.set_basin_resolution(self.resolution_box.itemData(i)))
        self.optimizer_box.currentIndexChanged.connect(lambda i: i >= 0 and model.set_optimizer_index(i))
        self.start_box.currentIndexChanged.connect(lambda i: i >= 0 and model.set_start_index(i))
        self.cancel_button.clicked.connect(lambda: model.cancel("basins"))
        self.table.cellClicked.connect(lambda r, _: self.centre_on_row(r))
        self.table.itemSelectionChanged.connect(self.show_point_details)
        self.table.currentCellChanged.connect(lambda *_: self.show_point_details())
        model.criticalPointsChanged.connect(self.fill_table)
        model.basinsChanged.connect(self.fill_legend)
        model.sweepChanged.connect(self.show_sweep)
        model.progress.connect(self._progress)
        model.busyChanged.connect(self._busy)
        model.message.connect(self.status.setText)
        for sig in (c.optimizersChanged, c.sessionReplaced):
            sig.connect(self.fill_choices)
        c.startsChanged.connect(self.fill_starts)
        self.centre_requested = None   # set by the window: callable(x, y)
        self.fill_choices()

    # -- choices ------------------------------------------------------------------------------
    def fill_choices(self) -> None:
        box, c = self.optimizer_box, self.model.controller
        with signals_blocked(box):
            box.clear()
            for o in c.session.optimizers:
                pix = QtGui.QPixmap(12, 12)
                pix.fill(QtGui.QColor(o.color))
                box.addItem(QtGui.QIcon(pix), o.label)
            box.setCurrentIndex(min(self.model.optimizer_index, box.count() - 1))
        self.fill_starts()

    def fill_starts(self) -> None:
        box, starts = self.start_box, self.model.controller.session.starts
        labels = [f"{i + 1}: ({x:.3g}, {y:.3g})" for i, (x, y) in enumerate(starts)]
        if [box.itemText(i) for i in range(box.count())] == labels:
            return
        with signals_blocked(box):
            box.clear()
            box.addItems(labels)
            box.setCurrentIndex(min(self.model.start_index, box.count() - 1))

    # -- critical points ----------------------------------------------------------------------
    def fill_table(self) -> None:
        m = self.model
        cps = m.critical_points if m.show_critical else []
        shown = cps[:MAX_TABLE_ROWS]
        t = self.table
        t.setUpdatesEnabled(False)
        t.setRowCount(len(shown))
        for r, cp in enumerate(shown):
            lam, sam = m.sharpness.get(r, (None, None))
            area = m.basin_area_of(cp) if cp.kind == "minimum" else None
            # the kind as its marker's glyph (the legend above names them): the column stays
            # narrow, so the numbers fit a dock at 1280x800; full precision in the details line
            cells = [KIND_GLYPH[cp.kind], f"{cp.x:.4g}", f"{cp.y:.4g}", f"{cp.value:.4g}", f"{cp.eigenvalues[0]:.4g}",
                     f"{cp.eigenvalues[1]:.4g}", "∞" if math.isinf(cp.condition_number) else
                     f"{cp.condition_number:.3g}", "" if sam is None else f"{sam:.4g}",
                     "" if area is None else f"{100 * area:.1f}%"]
            for k, text in enumerate(cells):
                item = t.item(r, k)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    t.setItem(r, k, item)
                item.setText(text)
                if k == 0:
                    item.setForeground(QtGui.QBrush(QtGui.QColor(KIND_STYLE[cp.kind][0])))
                    item.setData(QtCore.Qt.ItemDataRole.UserRole, cp.kind)
                    item.setToolTip(cp.kind)
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        t.setUpdatesEnabled(True)
        self.fit_columns()
        self.show_point_details()
        if len(cps) > MAX_TABLE_ROWS:
            self.status.setText(f"{len(cps)} critical points; the table lists the first {MAX_TABLE_ROWS}")

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.table and ev.type() == QtCore.QEvent.Type.Resize:
            QtCore.QTimer.singleShot(0, self.fit_columns)
        return super().eventFilter(obj, ev)

    def fit_columns(self) -> None:
        """Show as many columns as fit the table's width, in ``KEEP_ORDER``."""
        t = self.table
        header = t.horizontalHeader()
        room = t.viewport().width()
        used, full = 0, False
        for k in self.KEEP_ORDER:
            width = max(t.sizeHintForColumn(k), header.sectionSizeHint(k)) + 2
            full = full or (used + width > room and k != 0)  # the rest give way, in order
            fits = not full
            t.setColumnHidden(k, not fits)
            if fits:
                t.resizeColumnToContents(k)
                header.resizeSection(k, width)
                used += width

    def show_point_details(self) -> None:
        """Every value of the selected point (or the first) in words: the columns that did not fit too."""
        m = self.model
        cps = m.critical_points if m.show_critical else []
        rows = {i.row() for i in self.table.selectedIndexes()}
        current = self.table.currentRow()
        r = current if current in rows else (min(rows) if rows else max(current, 0))
        if not cps or r >= min(len(cps), MAX_TABLE_ROWS):
            self.point_details.setText("")
            return
        cp = cps[r]
        lam, sam = m.sharpness.get(r, (None, None))
        area = m.basin_area_of(cp) if cp.kind == "minimum" else None
        colour = KIND_STYLE[cp.kind][0]
        parts = [f"<b style='color:{colour}'>{cp.kind}</b> at ({cp.x:.6g}, {cp.y:.6g}): f = {cp.value:.6g}",
                 f"λ = {cp.eigenvalues[0]:.4g}, {cp.eigenvalues[1]:.4g}",
                 "cond. ∞" if math.isinf(cp.condition_number) else f"cond. {cp.condition_number:.3g}"]
        if sam is not None:
            parts.append(f"SAM sharpness {sam:.4g}")
        if area is not None:
            parts.append(f"basin {100 * area:.1f}% of the domain")
        self.point_details.setText(" · ".join(parts))

    def centre_on_row(self, row: int) -> None:
        cps = self.model.critical_points
        if 0 <= row < len(cps) and self.centre_requested is not None:
            self.centre_requested(cps[row].x, cps[row].y)

    # -- basins --------------------------------------------------------------------------------
    def fill_legend(self) -> None:
        self.legend.clear()
        b = self.model.basins if self.model.show_basins else None
        if b is None:
            return
        for k, ((x, y), frac, loss) in enumerate(zip(b.attractors, b.fractions, b.attractor_losses)):
            pix = QtGui.QPixmap(14, 14)
            pix.fill(QtGui.QColor(BASIN_COLORS[k % len(BASIN_COLORS)]))
            self.legend.addItem(QtWidgets.QListWidgetItem(
                QtGui.QIcon(pix), f"{100 * frac:5.1f}%  → ({x:.4g}, {y:.4g}), f = {loss:.4g}"))
        if b.diverged_fraction:
            pix = QtGui.QPixmap(14, 14)
            pix.fill(QtGui.QColor(90, 0, 0))
            self.legend.addItem(QtWidgets.QListWidgetItem(QtGui.QIcon(pix),
                                                          f"{100 * b.diverged_fraction:5.1f}%  diverged"))
        if b.unsettled_fraction:
            pix = QtGui.QPixmap(14, 14)
            pix.fill(QtGui.QColor(0, 0, 0, 0))
            p = QtGui.QPainter(pix)
            p.setPen(QtGui.QPen(QtGui.QColor(200, 200, 205), 1, QtCore.Qt.PenStyle.DashLine))
            p.drawRect(1, 1, 11, 11)
            p.end()
            text = (f"{100 * b.unsettled_fraction:5.1f}%  still moving after {b.steps:,} steps: "
                    "not coloured (the heat map shows through)")
            suggest = getattr(b, "settling_steps", None)
            if suggest:
                text += f" — about {suggest:,} steps would settle them"
            elif b.unsettled_fraction > 0.2:
                text += " — even 256x the steps would not settle most of them"
            self.legend.addItem(QtWidgets.QListWidgetItem(QtGui.QIcon(pix), text))
        suggest = getattr(b, "settling_steps", None)
        self.settle_button.setVisible(bool(suggest))
        if suggest:
            self.settle_button.setText(f"Use {suggest:,} steps")

    def _use_settling_steps(self) -> None:
        b = self.model.basins
        if b is not None and getattr(b, "settling_steps", None):
            self.model.controller.set_run_options(steps=int(b.settling_steps))

    def _progress(self, done: int, total: int) -> None:
        self.progress.setValue(int(100 * done / max(total, 1)))

    def _busy(self, job: str, running: bool) -> None:
        if job == "basins":
            self.cancel_button.setEnabled(running)
            if running:
                self.progress.setValue(0)
                self.status.setText("computing basins…")
            elif self.model.basins is not None:
                self.progress.setValue(100)

    # -- sweep -----------------------------------------------------------------------------------
    def _sweep_range_edited(self) -> None:
        self.model.set_sweep_range(self.sweep_from.value(), self.sweep_to.value(), self.sweep_count.value())

    def show_sweep(self) -> None:
        s = self.model.sweep
        self.sweep_plot.show_sweep(s)
        if s is None:
            self.sweep_note.setText("")
            return
        first = s.first_diverged_lr
        parts = [f"{s.optimizer} from ({s.start[0]:.3g}, {s.start[1]:.3g}), {len(s.lrs)} rates"]
        if np.isfinite(first):
            parts.append(f"first diverging lr {first:.3g}")
        if np.isfinite(s.edge):
            parts.append(f"theory 2/λmax-type edge {s.edge:.3g} (λmax {s.lambda_max:.3g} at the minimum "
                         f"({s.minimum[0]:.3g}, {s.minimum[1]:.3g}))")
        elif s.minimum is not None:
            parts.append(f"λmax {s.lambda_max:.3g} at ({s.minimum[0]:.3g}, {s.minimum[1]:.3g}); "
                         "no closed-form edge for this optimizer")
        self.sweep_note.setText("; ".join(parts))
