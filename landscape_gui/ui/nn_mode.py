"""The "Neural network" mode: pick a dataset, train a small network with the app's optimizers,
and look at its real loss landscape in the same 3-D and 2-D views.

``LandscapeSource`` presents a computed plane L(theta* + a d1 + b d2) to ``SurfaceView``,
``ContourView`` and the figure exporter through the same few attributes and signals
a ``SessionController`` offers them, so those views draw network landscapes unchanged.
``NNController`` runs training, the plane and the sharpness off the UI thread (one
worker; progress per epoch / tile; cancellable); ``NNPanel`` is the mode's widgets.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..core import nn, optimizers
from ..core.cancel import check
from ..core.session import COLORMAPS
from ..core.scene.surface import Z_SCALES, height_map
from .background import BackgroundJobs

TRAJECTORY_COLOR = "#ff4d4d"
DIRECTION_LABELS = {"pca": "PCA of the trajectory", "filter": "random, filter-normalised", "random": "random"}


# --- the plane as the views see it ------------------------------------------------------------


@dataclass
class _PathLabel:
    """Stands in for an OptimizerInstance in legends: the projected training path."""

    label: str
    color: str = TRAJECTORY_COLOR
    enabled: bool = True


@dataclass
class PlaneSession:
    """The few session fields the views and the exporter read."""

    function_text: str = "train loss"
    params: dict = field(default_factory=dict)
    xrange: tuple = (-1.0, 1.0)
    yrange: tuple = (-1.0, 1.0)
    colormap: str = "viridis"
    zscale: str = "log"
    percentile: float = 98.0
    starts: list = field(default_factory=list)
    steps: int = 0
    paths: list = field(default_factory=list)
    axis_names: tuple = ("α", "β", "loss")
    title: str = ""

    def enabled_optimizers(self):
        return self.paths


class _PlaneFunction:
    """``value(a, b)`` of the plane by bilinear interpolation (hover read-outs, markers)."""

    def __init__(self, land, metric=None):
        self.land = land
        self.metric = metric  # a file's plane: which of its surfaces

    def value(self, x, y):
        if self.land is None:
            return np.full(np.broadcast(np.asarray(x), np.asarray(y)).shape, np.nan)[()]
        if self.metric is not None:
            return self.land.value_at(x, y, metric=self.metric)[()]
        return self.land.value_at(x, y)[()]


class LandscapeSource(QtCore.QObject):
    """A computed plane (a network's, or one from a loss-landscape file), dressed as a
    controller for SurfaceView/ContourView/export. Missing points are drawn as holes."""

    holes = True

    surfaceChanged = QtCore.Signal()
    trajectoriesChanged = QtCore.Signal(object)
    startsChanged = QtCore.Signal()
    stepChanged = QtCore.Signal(int)
    status = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = PlaneSession()
        self.land: nn.Landscape | None = None
        self.grid = np.ones((2, 2))
        self.xs = self.ys = np.array([-1.0, 1.0])
        self.heights = height_map(self.grid)
        self.height_grid = self.heights(self.grid)
        self.function = _PlaneFunction(None)
        self.batch = None
        self.step = 0
        self.hovered_start = None

    def set_landscape(self, land, title: str, use_test: bool = False, *, metric: str | None = None,
                      z_name: str = "loss", path_label: str = "training path (projected)",
                      show_path: bool = True) -> None:
        """Show ``land`` (an ``nn.Landscape`` or a file's ``LandscapePlane``; for the latter
        ``metric`` picks the surface: train_loss, train_acc, …)."""
        self.land = land
        s = self.session
        s.function_text = s.title = title
        s.axis_names = ("α", "β", z_name)
        if land is None:
            self.grid = np.ones((2, 2))
            self.xs = self.ys = np.array([-1.0, 1.0])
            s.xrange, s.yrange = (-1.0, 1.0), (-1.0, 1.0)
        elif metric is not None:
            self.grid = land.surface(metric)
        else:
            self.grid = land.test_values if (use_test and land.test_values is not None) else land.values
        if land is not None:
            self.xs, self.ys = land.alphas, land.betas
            s.xrange, s.yrange = land.xrange, land.yrange
        self.function = _PlaneFunction(land, metric)
        self._update_heights()
        # no path: an empty batch (not None, which the views take as "keep what is drawn")
        self.batch = optimizers.Batch([], np.zeros((1, 2)), np.zeros((0, 1, 1, 2)), np.zeros((0, 1, 1)),
                                      np.zeros((0, 1), dtype=np.int64))
        s.steps = self.step = 0
        s.paths = []
        if land is not None and land.trajectory_xy is not None and show_path:
            k = len(land.trajectory_xy)
            pts = land.trajectory_xy.reshape(1, 1, k, 2)
            values = (land.trajectory_losses if metric is None
                      else land.value_at(land.trajectory_xy[:, 0], land.trajectory_xy[:, 1], metric=metric))
            losses = np.asarray(values, dtype=float).reshape(1, 1, k)
            s.paths = [_PathLabel(path_label)]
            s.steps = k - 1
            self.batch = optimizers.Batch([("path", {})], land.trajectory_xy[:1].copy(), pts.copy(), losses.copy(),
                                          np.full((1, 1), -1, dtype=np.int64))
            self.step = k - 1
        self.surfaceChanged.emit()
        self.trajectoriesChanged.emit(None)
        self.stepChanged.emit(self.step)

    def _update_heights(self) -> None:
        s = self.session
        self.heights = height_map(self.grid, s.zscale, s.percentile)
        self.height_grid = self.heights(self.grid)

    def set_view_options(self, colormap: str | None = None, zscale: str | None = None) -> None:
        if colormap:
            self.session.colormap = colormap
        if zscale:
            self.session.zscale = zscale
        self._update_heights()
        self.surfaceChanged.emit()
        self.trajectoriesChanged.emit(None)

    def known_minima(self) -> np.ndarray:
        """theta* itself, the plane's origin (where the plane holds it)."""
        if self.land is None or self.ys is None:
            return np.zeros((0, 2))
        inside = self.xs[0] <= 0 <= self.xs[-1] and self.ys[0] <= 0 <= self.ys[-1]
        return np.zeros((1, 2)) if inside else np.zeros((0, 2))

    def surface_note(self) -> str:
        return ""

    # the start-point gestures do nothing here: the path comes from training
    def add_start(self, *a):
        return None

    def move_start(self, *a):
        return None

    def remove_start(self, *a):
        return None

    def begin_drag(self, *a):
        return None

    def end_drag(self):
        return None

    def set_step(self, step: int) -> None:
        self.step = int(step)
        self.stepChanged.emit(self.step)


# --- training and planes, off the UI thread ---------------------------------------------------------


@dataclass
class RunResult:
    """One training run with its plane and numbers (what the compare view pins)."""

    settings: nn.NetworkSettings
    run: nn.TrainingRun
    land: nn.Landscape
    sharpness: float
    sam: float
    roughness: float

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


class NNController(QtCore.QObject):
    datasetChanged = QtCore.Signal()
    trainingProgress = QtCore.Signal(int, int, object)   # epoch, epochs, (train losses, test losses) so far
    landscapeProgress = QtCore.Signal(int, int)
    resultChanged = QtCore.Signal()
    busyChanged = QtCore.Signal(bool)
    message = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.settings = nn.NetworkSettings()
        self.data: nn.Dataset | None = None
        self.custom_data: nn.Dataset | None = None   # a loaded CSV
        self.result: RunResult | None = None
        self.pinned: dict[str, RunResult | None] = {"A": None, "B": None}
        self.jobs = BackgroundJobs("nn", self)
        self.jobs.finished.connect(self._on_finished)
        self.jobs.busyChanged.connect(lambda _job, running: self.busyChanged.emit(running))
        self.make_data()

    @property
    def busy(self) -> bool:
        return "train" in self.jobs.running

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
        if "landscape_gui.core.nn.kernels" not in sys.modules:
            self.message.emit("preparing the network kernels (compiled once per machine, then cached)…")

        def progress(epoch, epochs, run_losses=None):
            self.trainingProgress.emit(epoch, epochs, run_losses)

        self.jobs.submit("train", lambda cancel: self._compute(s, data, cancel, progress))

    def _compute(self, s: nn.NetworkSettings, data, cancel, progress) -> RunResult:
        model = nn.MLP(s.depth, s.width, s.activation, s.residual)
        curve = ([], [])

        def on_epoch(epoch, train_loss, test_loss):  # the live loss curve
            curve[0].append(train_loss)
            curve[1].append(test_loss)
            progress(epoch, s.epochs, (np.array(curve[0]), np.array(curve[1])))

        run = nn.train(model, data, s.optimizer, s.hyperparameters, epochs=s.epochs, batch_size=s.batch_size,
                       seed=s.seed, test=s.test if s.test > 0 else None, on_epoch=on_epoch, cancel=cancel.is_set)
        span = s.span if s.span > 0 else None
        directions = s.directions if (s.directions != "pca" or len(run.trajectory) >= 3) else "filter"
        land = nn.landscape(run.model, run.train_data, run.params, directions, grid=(s.grid, s.grid), span=span,
                            seed=s.seed, trajectory=run.trajectory, test_data=run.test_data,
                            progress=lambda done, total: self.landscapeProgress.emit(done, total),
                            cancel=cancel.is_set)
        check(cancel.is_set)
        self.message.emit("sharpness: power iteration on Hessian-vector products…")
        sharp = nn.sharpness(run.model, run.train_data, run.params, iters=100, tol=1e-5, cancel=cancel.is_set)
        sam = nn.sam_sharpness(run.model, run.train_data, run.params, rho=0.05, steps=10, cancel=cancel.is_set)
        rough = nn.roughness(land.test_values if (s.use_test and land.test_values is not None) else land.values)
        return RunResult(s, run, land, sharp, sam, rough)

    def cancel(self) -> None:
        if self.jobs.cancel("train"):
            self.message.emit("training cancelled")

    def _on_finished(self, _job: str, result, _ms: float) -> None:
        if isinstance(result, Exception):
            self.message.emit(f"training failed: {type(result).__name__}: {result}")
            return
        self.result = result
        self.resultChanged.emit()
        r = result.run
        note = f" (diverged in epoch {r.diverged_at_epoch})" if r.diverged_at_epoch else ""
        self.message.emit(f"trained{note}: {result.summary()}")

    def pin(self, slot: str) -> None:
        if self.result is not None:
            self.pinned[slot] = self.result
            self.resultChanged.emit()

    def shutdown(self) -> None:
        self.jobs.shutdown()


# --- widgets -----------------------------------------------------------------------------------------


def controls_beside_views(panel: QtWidgets.QWidget, width: int):
    """A mode's layout: a scrolling column of controls, the views to its right (added by the
    caller to the returned splitter). Returns (splitter, the controls' layout)."""
    outer = QtWidgets.QHBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
    outer.addWidget(split)
    controls = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(controls)
    scroll = QtWidgets.QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(controls)
    scroll.setMinimumWidth(width)
    split.addWidget(scroll)
    return split, layout


def plane_views(source, prefix: str, centre_tip: str):
    """The 3-D and 2-D views of a plane source side by side: (splitter, surface view, contour view)."""
    from .contour_view import ContourView
    from .surface_view import SurfaceView

    split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
    surface, contour = SurfaceView(source), ContourView(source)
    surface.setObjectName(f"{prefix}SurfaceView")
    contour.setObjectName(f"{prefix}ContourView")
    contour.minima.setToolTip(centre_tip)
    for v in (surface, contour):
        v.setMinimumSize(240, 240)
        split.addWidget(v)
    return split, surface, contour


def hint_label(html: str, name: str) -> QtWidgets.QLabel:
    """What will appear where nothing is drawn yet (instead of an empty, flat sheet)."""
    hint = QtWidgets.QLabel(html, objectName=name)
    hint.setWordWrap(True)
    hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
    hint.setStyleSheet("color: #c8c8d0; background: #15171c; padding: 40px;")
    return hint


class _PanelPlot(pg.PlotWidget):
    """A plot inside the scrolling control panel: the wheel scrolls the panel, not the plot."""

    def wheelEvent(self, ev) -> None:
        # a plot is itself a scroll area: an ignored wheel event would stop at its own
        # (hidden) scroll bar, so hand it to the panel's
        w = self.parentWidget()
        while w is not None and not isinstance(w, QtWidgets.QAbstractScrollArea):
            w = w.parentWidget()
        if w is not None:
            QtWidgets.QApplication.sendEvent(w.verticalScrollBar(), ev)
        ev.accept()


class DataPreview(_PanelPlot):
    """The dataset as a scatter (classes coloured) with the trained net's decision regions behind."""

    CLASS_COLORS = ["#33ccff", "#ff9933", "#66ff66", "#ff66ff", "#ffd11a", "#9966ff"]

    def __init__(self, parent=None):
        super().__init__(parent, background="#15171c")
        self.setObjectName("datasetPreview")
        self.setFixedHeight(210)  # Train must not make it grow and push the controls out of view
        self.getPlotItem().hideButtons()
        self.getPlotItem().setMouseEnabled(False, False)
        self.getPlotItem().setAspectLocked(False)
        self.boundary = pg.ImageItem(axisOrder="row-major")
        self.boundary.setZValue(-10)
        self.addItem(self.boundary)
        self.scatter = pg.ScatterPlotItem(size=4, pen=None)
        self.addItem(self.scatter)
        self.fit = pg.PlotDataItem(pen=pg.mkPen("#ffffff", width=2))
        self.addItem(self.fit)

    def show_data(self, data: nn.Dataset | None) -> None:
        self.boundary.clear()
        self.fit.setData([], [])
        if data is None:
            self.scatter.setData([], [])
            return
        if data.task == "classification" and data.n_features >= 2:
            # points sorted by class, one shared brush per class: no per-point styling cost
            order = np.argsort(data.y, kind="stable")
            brushes = [pg.mkBrush(c) for c in self.CLASS_COLORS]
            cols = [brushes[int(c) % len(brushes)] for c in data.y[order]]
            self.scatter.setData(data.X[order, 0], data.X[order, 1], brush=cols)
        elif data.n_features == 1:
            y = data.y if data.y.ndim == 1 else data.y[:, 0]
            self.scatter.setData(data.X[:, 0], y, brush=pg.mkBrush("#33ccff"))
        else:
            self.scatter.setData(data.X[:, 0], data.X[:, 1], brush=pg.mkBrush("#33ccff"))
        self.getPlotItem().enableAutoRange()

    def show_model(self, result: RunResult | None) -> None:
        """Decision regions (classification, 2 features) or the fitted curve (1-D regression)."""
        self.boundary.clear()
        self.fit.setData([], [])
        if result is None:
            return
        run, data = result.run, result.run.train_data
        from ..core.nn.reference import forward

        m = run.model
        dims, woff, boff, residual, act, _ = m.layout
        if data.task == "classification" and data.n_features == 2:
            lo, hi = data.X.min(axis=0), data.X.max(axis=0)
            pad = 0.1 * (hi - lo)
            lo, hi = lo - pad, hi + pad
            n = 120
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
            out, _, _ = forward(run.params, np.c_[gx.ravel(), gy.ravel()], dims, woff, boff, residual, act)
            cls = out.argmax(axis=1).reshape(n, n)
            table = np.array([pg.mkColor(c).getRgb() for c in self.CLASS_COLORS], dtype=np.ubyte)
            rgba = table[cls % len(table)].copy()
            rgba[..., 3] = 70
            self.boundary.setImage(rgba, levels=(0, 255))
            self.boundary.setRect(QtCore.QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]))
        elif data.n_features == 1:
            xs = np.linspace(data.X.min(), data.X.max(), 200)
            out, _, _ = forward(run.params, xs[:, None], dims, woff, boff, residual, act)
            self.fit.setData(xs, out[:, 0])


class PlaneThumb(pg.PlotWidget):
    """One pinned run's plane as a heat map (compare view), on a given colour scale."""

    def __init__(self, title: str, parent=None):
        super().__init__(parent, background="#15171c")
        self.getPlotItem().hideButtons()
        self.getPlotItem().setTitle(title, color="#ebebf0")
        self.getPlotItem().setLabel("bottom", "α")
        self.getPlotItem().setLabel("left", "β")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.path = pg.PlotDataItem(pen=pg.mkPen(TRAJECTORY_COLOR, width=2))
        self.addItem(self.path)
        self.setMinimumSize(220, 200)

    def show_result(self, result: RunResult | None, levels, cmap: str) -> None:
        if result is None:
            self.image.clear()
            self.path.setData([], [])
            return
        land = result.land
        v = land.test_values if (result.settings.use_test and land.test_values is not None) else land.values
        self.image.setLookupTable(pg.colormap.get(cmap).getLookupTable(nPts=256))
        self.image.setImage(np.log10(np.maximum(v, 1e-12)), levels=levels)
        a, b = land.alphas, land.betas
        self.image.setRect(QtCore.QRectF(a[0], b[0], a[-1] - a[0], b[-1] - b[0]))
        if land.trajectory_xy is not None:
            self.path.setData(land.trajectory_xy[:, 0], land.trajectory_xy[:, 1])
        else:
            self.path.setData([], [])
        self.getPlotItem().enableAutoRange()


class NNPanel(QtWidgets.QWidget):
    """The whole mode: controls on the left; landscape views and the compare view on the right."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("nnPanel")
        self.controller = NNController(self)
        self.source = LandscapeSource(self)
        c = self.controller
        split, cl = controls_beside_views(self, 300)

        # data
        box = QtWidgets.QGroupBox("Data")
        form = QtWidgets.QFormLayout(box)
        self.dataset_box = QtWidgets.QComboBox(objectName="nnDataset")
        for name in nn.DATASETS:
            self.dataset_box.addItem(name, name)
        self.dataset_box.addItem("CSV file…", "csv")
        self.n_spin = QtWidgets.QSpinBox(minimum=20, maximum=100000, value=c.settings.n, singleStep=100)
        self.noise_spin = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=2.0, value=c.settings.noise,
                                                   singleStep=0.05, decimals=3)
        self.test_spin = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=0.9, value=c.settings.test, singleStep=0.05)
        form.addRow("Dataset", self.dataset_box)
        form.addRow("Points", self.n_spin)
        form.addRow("Noise", self.noise_spin)
        form.addRow("Test share", self.test_spin)
        self.preview = DataPreview()
        form.addRow(self.preview)
        cl.addWidget(box)

        # network
        box = QtWidgets.QGroupBox("Network")
        form = QtWidgets.QFormLayout(box)
        self.depth_spin = QtWidgets.QSpinBox(minimum=1, maximum=32, value=c.settings.depth, objectName="nnDepth")
        self.width_spin = QtWidgets.QSpinBox(minimum=1, maximum=256, value=c.settings.width, objectName="nnWidth")
        self.activation_box = QtWidgets.QComboBox()
        self.activation_box.addItems(["relu", "tanh"])
        self.residual_check = QtWidgets.QCheckBox("Skip connections", objectName="nnResidual")
        self.params_label = QtWidgets.QLabel()
        form.addRow("Hidden layers", self.depth_spin)
        form.addRow("Width", self.width_spin)
        form.addRow("Activation", self.activation_box)
        form.addRow(self.residual_check)
        form.addRow(self.params_label)
        cl.addWidget(box)

        # training
        box = QtWidgets.QGroupBox("Training")
        form = QtWidgets.QFormLayout(box)
        self.optimizer_edit = QtWidgets.QLineEdit("Adam(lr=0.01)", objectName="nnOptimizer")
        self.optimizer_edit.setToolTip("Any optimizer of the app with torch's names, e.g. SGD(lr=0.05, momentum=0.9)")
        self.batch_spin = QtWidgets.QSpinBox(minimum=1, maximum=100000, value=c.settings.batch_size,
                                             objectName="nnBatch")
        self.epochs_spin = QtWidgets.QSpinBox(minimum=1, maximum=10000, value=c.settings.epochs, objectName="nnEpochs")
        self.seed_spin = QtWidgets.QSpinBox(minimum=0, maximum=2 ** 31 - 1, value=c.settings.seed)
        form.addRow("Optimizer", self.optimizer_edit)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Seed", self.seed_spin)
        row = QtWidgets.QHBoxLayout()
        self.train_button = QtWidgets.QPushButton("Train", objectName="nnTrain")
        self.cancel_button = QtWidgets.QPushButton("Cancel", objectName="nnCancel")
        self.cancel_button.setEnabled(False)
        row.addWidget(self.train_button)
        row.addWidget(self.cancel_button)
        form.addRow(row)
        self.progress = QtWidgets.QProgressBar(objectName="nnProgress")
        form.addRow(self.progress)
        self.loss_plot = _PanelPlot(background="#15171c")
        self.loss_plot.setObjectName("nnLossPlot")
        self.loss_plot.setFixedHeight(170)
        self.loss_plot.getPlotItem().setMouseEnabled(False, False)
        self.loss_plot.getPlotItem().setLogMode(y=True)
        self.loss_plot.getPlotItem().setLabel("bottom", "epoch")
        self.loss_plot.getPlotItem().addLegend(offset=(-10, 8), labelTextColor=(230, 230, 230))
        self.train_curve = self.loss_plot.plot(pen=pg.mkPen("#33ccff", width=2), name="train")
        self.test_curve = self.loss_plot.plot(pen=pg.mkPen("#ff9933", width=2), name="test")
        form.addRow(self.loss_plot)
        cl.addWidget(box)

        # landscape
        box = QtWidgets.QGroupBox("Landscape")
        form = QtWidgets.QFormLayout(box)
        self.directions_box = QtWidgets.QComboBox(objectName="nnDirections")
        for key, text in DIRECTION_LABELS.items():
            self.directions_box.addItem(text, key)
        self.grid_spin = QtWidgets.QSpinBox(minimum=5, maximum=401, value=c.settings.grid, singleStep=10)
        self.span_spin = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=100.0, value=0.0, singleStep=0.25)
        self.span_spin.setSpecialValueText("auto")
        self.split_box = QtWidgets.QComboBox(objectName="nnSplit")
        self.split_box.addItems(["train loss", "test loss"])
        self.cmap_box = QtWidgets.QComboBox()
        self.cmap_box.addItems(list(COLORMAPS))
        self.zscale_box = QtWidgets.QComboBox()
        self.zscale_box.addItems(list(Z_SCALES))
        self.zscale_box.setCurrentText("log")
        form.addRow("Directions", self.directions_box)
        form.addRow("Grid", self.grid_spin)
        form.addRow("Span", self.span_spin)
        form.addRow("Show", self.split_box)
        form.addRow("Colours", self.cmap_box)
        form.addRow("z scale", self.zscale_box)
        row = QtWidgets.QHBoxLayout()
        self.pin_a = QtWidgets.QPushButton("Compare as A", objectName="nnPinA")
        self.pin_b = QtWidgets.QPushButton("Compare as B", objectName="nnPinB")
        self.export_button = QtWidgets.QPushButton("Export image…", objectName="nnExport")
        row.addWidget(self.pin_a)
        row.addWidget(self.pin_b)
        form.addRow(row)
        form.addRow(self.export_button)
        cl.addWidget(box)
        self.status = QtWidgets.QLabel(wordWrap=True, objectName="nnStatus")
        cl.addWidget(self.status)
        cl.addStretch(1)

        # views
        self.tabs = QtWidgets.QTabWidget(objectName="nnViews")
        views, self.surface_view, self.contour_view = plane_views(self.source, "nn", "θ*, the trained parameters")
        # before the first training there is no plane: say what will appear, not a flat sheet
        self.views_stack = QtWidgets.QStackedWidget(objectName="nnViewsStack")
        self.views_stack.addWidget(hint_label(
            "<h3>No network trained yet</h3><p>Choose a dataset and a network on the left, then press "
            "<b>Train</b>.</p><p>The trained network's loss plane L(θ* + α·d₁ + β·d₂) appears here in 3-D "
            "and 2-D, with the training path drawn on it.</p>", "nnHint"))
        self.views_stack.addWidget(views)
        self.tabs.addTab(self.views_stack, "Landscape")
        compare = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(compare)
        self.thumbs = {"A": PlaneThumb("A"), "B": PlaneThumb("B")}
        self.compare_labels = {"A": QtWidgets.QLabel(wordWrap=True), "B": QtWidgets.QLabel(wordWrap=True)}
        for k, slot in enumerate("AB"):
            grid.addWidget(self.thumbs[slot], 0, k)
            grid.addWidget(self.compare_labels[slot], 1, k)
        self.interp_plot = pg.PlotWidget(background="#15171c")
        self.interp_plot.setObjectName("nnInterpolation")
        self.interp_plot.getPlotItem().setLabel("bottom", "t: (1 − t) θA + t θB")
        self.interp_plot.getPlotItem().setLogMode(y=True)
        self.interp_plot.getPlotItem().addLegend(offset=(-10, 8), labelTextColor=(230, 230, 230))
        self.interp_train = self.interp_plot.plot(pen=pg.mkPen("#33ccff", width=2), name="train")
        self.interp_test = self.interp_plot.plot(pen=pg.mkPen("#ff9933", width=2), name="test")
        self.interp_note = QtWidgets.QLabel(wordWrap=True)
        grid.addWidget(self.interp_plot, 2, 0, 1, 2)
        grid.addWidget(self.interp_note, 3, 0, 1, 2)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(2, 2)
        self.tabs.addTab(compare, "Compare A | B")
        split.addWidget(self.tabs)
        split.setSizes([340, 900])

        # wiring
        self.session_controller = None   # the window's SessionController: settings go into sessions
        self.dataset_box.activated.connect(self._dataset_chosen)
        for w in (self.n_spin, self.noise_spin):
            w.valueChanged.connect(self._data_settings)
        self.test_spin.valueChanged.connect(lambda v: setattr(c.settings, "test", float(v)))
        for w in (self.depth_spin, self.width_spin):
            w.valueChanged.connect(self._network_settings)
        self.activation_box.currentTextChanged.connect(self._network_settings)
        self.residual_check.toggled.connect(self._network_settings)
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button.clicked.connect(c.cancel)
        self.pin_a.clicked.connect(lambda: c.pin("A"))
        self.pin_b.clicked.connect(lambda: c.pin("B"))
        self.export_button.clicked.connect(self.export_dialog)
        self.cmap_box.currentTextChanged.connect(lambda name: self._view_options(colormap=name))
        self.zscale_box.currentTextChanged.connect(lambda z: self._view_options(zscale=z))
        self.split_box.currentIndexChanged.connect(self._split_changed)
        c.datasetChanged.connect(lambda: self.preview.show_data(c.data))
        c.trainingProgress.connect(self._training_progress)
        c.landscapeProgress.connect(self._landscape_progress)
        c.resultChanged.connect(self._show_result)
        c.busyChanged.connect(self._busy)
        c.message.connect(self.status.setText)
        self.preview.show_data(c.data)
        self._network_settings()
        self.source.set_landscape(None, "train a network to see its loss landscape")

    # -- settings ---------------------------------------------------------------------------------
    def _dataset_chosen(self, index: int) -> None:
        key = self.dataset_box.itemData(index)
        c = self.controller
        if key == "csv":
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load dataset", "", "CSV (*.csv *.txt)")
            if not path or not c.load_csv(path):
                self.dataset_box.setCurrentIndex(nn.DATASETS.index(c.settings.dataset)
                                                 if c.settings.dataset in nn.DATASETS else 0)
            return
        c.settings.dataset = key
        c.make_data()

    def _data_settings(self) -> None:
        c = self.controller
        c.settings.n, c.settings.noise = int(self.n_spin.value()), float(self.noise_spin.value())
        if c.settings.dataset != "csv":
            c.make_data()

    def _network_settings(self, *_) -> None:
        s = self.controller.settings
        s.depth, s.width = int(self.depth_spin.value()), int(self.width_spin.value())
        s.activation, s.residual = self.activation_box.currentText(), self.residual_check.isChecked()
        m = nn.MLP(s.depth, s.width, s.activation, s.residual)
        if self.controller.data is not None:
            m = m.fit_to(self.controller.data)
        self.params_label.setText(f"{m.n_params} parameters")

    def read_training_settings(self) -> bool:
        """Optimizer text, batch, epochs, seed, landscape options into the settings; False if invalid."""
        s = self.controller.settings
        try:
            name, hyper = optimizers.parse_call(self.optimizer_edit.text())
            optimizers.validate(name, hyper)
        except (ValueError, KeyError) as exc:
            self.status.setText(f"optimizer: {exc}")
            self.optimizer_edit.setStyleSheet("border: 1px solid #ff4d4d;")
            return False
        self.optimizer_edit.setStyleSheet("")
        s.optimizer, s.hyperparameters = name, hyper
        s.batch_size, s.epochs, s.seed = self.batch_spin.value(), self.epochs_spin.value(), self.seed_spin.value()
        s.directions = self.directions_box.currentData()
        s.grid, s.span = self.grid_spin.value(), float(self.span_spin.value())
        s.use_test = self.split_box.currentIndex() == 1
        return True

    def attach(self, session_controller) -> None:
        """Keep the settings in the window's session (saved, autosaved, undoable) and follow it."""
        self.session_controller = session_controller
        session_controller.sessionReplaced.connect(lambda: self.load_settings(session_controller.session.network))
        self.load_settings(session_controller.session.network)

    def load_settings(self, data: dict | None) -> None:
        """Show settings from a session (None: keep the current ones)."""
        if data is None:
            return
        s = nn.NetworkSettings.from_dict(data)
        c = self.controller
        widgets = (self.dataset_box, self.n_spin, self.noise_spin, self.test_spin, self.depth_spin, self.width_spin,
                   self.activation_box, self.residual_check, self.optimizer_edit, self.batch_spin, self.epochs_spin,
                   self.seed_spin, self.directions_box, self.grid_spin, self.span_spin, self.split_box)
        for w in widgets:
            w.blockSignals(True)
        try:
            if s.dataset == "csv" and c.custom_data is None:
                self.status.setText("This session used a CSV file, which sessions do not store: load it again "
                                    "(Dataset → CSV file…); showing the moons until then.")
                s.dataset = "moons"
            self.dataset_box.setCurrentIndex(self.dataset_box.findData(s.dataset))
            self.n_spin.setValue(s.n)
            self.noise_spin.setValue(s.noise)
            self.test_spin.setValue(s.test)
            self.depth_spin.setValue(s.depth)
            self.width_spin.setValue(s.width)
            self.activation_box.setCurrentText(s.activation)
            self.residual_check.setChecked(s.residual)
            self.optimizer_edit.setText(optimizers.describe(s.optimizer, s.hyperparameters))
            self.batch_spin.setValue(s.batch_size)
            self.epochs_spin.setValue(s.epochs)
            self.seed_spin.setValue(s.seed)
            self.directions_box.setCurrentIndex(self.directions_box.findData(s.directions))
            self.grid_spin.setValue(s.grid)
            self.span_spin.setValue(s.span)
            self.split_box.setCurrentIndex(1 if s.use_test else 0)
        finally:
            for w in widgets:
                w.blockSignals(False)
        c.settings = s
        c.make_data()
        self._network_settings()

    def start_training(self) -> None:
        if self.read_training_settings():
            if self.session_controller is not None:
                self.session_controller.set_network(self.controller.settings.to_dict())
            self.train_curve.setData([], [])
            self.test_curve.setData([], [])
            self.controller.train()

    # -- results ------------------------------------------------------------------------------------
    def _training_progress(self, epoch: int, epochs: int, losses) -> None:
        self.progress.setFormat("training %p%")
        self.progress.setValue(int(100 * epoch / max(epochs, 1)))
        self.status.setText(f"training: epoch {epoch}/{epochs}")
        if losses is not None:
            train, test = losses
            self.train_curve.setData(np.arange(1, len(train) + 1), train)
            if np.isfinite(test).any():
                self.test_curve.setData(np.arange(1, len(test) + 1), test)

    def _landscape_progress(self, done: int, total: int) -> None:
        self.progress.setFormat("landscape %p%")
        self.progress.setValue(int(100 * done / max(total, 1)))
        self.status.setText(f"landscape: {done}/{total} rows of the plane")

    def _busy(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setValue(0)

    def _show_result(self) -> None:
        r = self.controller.result
        self.views_stack.setCurrentIndex(0 if r is None else 1)
        if r is not None:
            self.train_curve.setData(np.arange(len(r.run.losses)), r.run.losses)
            if len(r.run.test_losses):
                self.test_curve.setData(np.arange(len(r.run.test_losses)), r.run.test_losses)
            self.source.set_landscape(r.land, r.title, use_test=r.settings.use_test)
            self.preview.show_model(r)
            self.progress.setValue(100)
        self._show_compare()

    def _split_changed(self, index: int) -> None:
        r = self.controller.result
        self.controller.settings.use_test = index == 1
        if r is not None:
            r.settings.use_test = index == 1
            self.source.set_landscape(r.land, r.title, use_test=index == 1)
            self._show_compare()

    def _view_options(self, colormap=None, zscale=None) -> None:
        self.source.set_view_options(colormap=colormap, zscale=zscale)
        self._show_compare()

    def compare_levels(self):
        """One colour scale (log10 loss) for both pinned planes."""
        vals = []
        for r in self.controller.pinned.values():
            if r is not None:
                v = r.land.test_values if (r.settings.use_test and r.land.test_values is not None) else r.land.values
                vals.append(np.log10(np.maximum(v, 1e-12)))
        if not vals:
            return (0.0, 1.0)
        allv = np.concatenate([v.ravel() for v in vals])
        allv = allv[np.isfinite(allv)]
        return (float(allv.min()), float(np.percentile(allv, 98))) if allv.size else (0.0, 1.0)

    def _show_compare(self) -> None:
        levels = self.compare_levels()
        cmap = self.source.session.colormap
        for slot in "AB":
            r = self.controller.pinned[slot]
            self.thumbs[slot].show_result(r, levels, cmap)
            self.compare_labels[slot].setText(f"<b>{slot}</b>: " + (r.summary() if r else "pin a trained run"))
        a, b = self.controller.pinned["A"], self.controller.pinned["B"]
        self.interp_train.setData([], [])
        self.interp_test.setData([], [])
        same = a is not None and b is not None and a.run.model == b.run.model
        self.interp_plot.setVisible(same)
        if a is not None and b is not None:
            if a.run.model == b.run.model and a.run.train_data.n_features == b.run.train_data.n_features:
                path = nn.interpolate(a.run.model, a.run.train_data, a.run.params, b.run.params, n=61,
                                      test_data=a.run.test_data)
                self.interp_train.setData(path.alphas, path.losses)
                if path.test_losses is not None:
                    self.interp_test.setData(path.alphas, path.test_losses)
                barrier = path.losses.max() - max(path.losses[np.argmin(np.abs(path.alphas))],
                                                  path.losses[np.argmin(np.abs(path.alphas - 1))])
                self.interp_note.setText(f"Linear path from A to B (same architecture): barrier {barrier:.4g} "
                                         "above the higher end point.")
            else:
                self.interp_note.setText("A and B have different architectures: no straight path between them.")
        else:
            self.interp_note.setText("Pin two runs (e.g. two seeds, or depth 8 with and without skip "
                                     "connections) to compare them on one colour scale.")

    def export_dialog(self) -> None:
        from .export import FigureOptions

        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export landscape", "landscape.png",
            "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf);;GIF animation of the path (*.gif);;"
            "Path as CSV (*.csv);;Plane as NumPy grid (*.npz)")
        if path:
            vector = path.lower().endswith((".svg", ".pdf"))
            self.export_to(path, FigureOptions(view="2d" if vector else "both"))

    def export_to(self, path, opts) -> None:
        from .export import ExportError, export

        try:
            export(self.source, path, opts)
        except (ExportError, OSError) as exc:
            self.status.setText(f"export failed: {exc}")
            return
        self.status.setText(f"exported {path}")
