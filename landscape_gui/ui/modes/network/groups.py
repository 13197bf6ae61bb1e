"""The network mode's control groups. Each group owns its widgets and moves settings in and
out with ``show(settings)`` (set the widgets, signals muted) and ``read(settings)`` (write
them back; False with a message when an entry is invalid). No numerics here."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from landscape_gui.core import nn, optimizers
from landscape_gui.core.scene.surface import Z_SCALES
from landscape_gui.core.session import COLORMAPS
from landscape_gui.ui.state.plane_source import TRAJECTORY_COLOR
from landscape_gui.ui.state.signals import signals_blocked
from landscape_gui.ui.views.axes import LogAxis

DIRECTION_LABELS = {"pca": "PCA of the trajectory", "filter": "random, filter-normalised", "random": "random"}


class PanelPlot(pg.PlotWidget):
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


class DataPreview(PanelPlot):
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

    def show_model(self, result) -> None:
        """Decision regions (classification, 2 features) or the fitted curve (1-D regression),
        as computed with the run (``RunResult.regions``)."""
        self.boundary.clear()
        self.fit.setData([], [])
        reg = getattr(result, "regions", None)
        if reg is None:
            return
        if reg.classes is not None:
            table = np.array([pg.mkColor(c).getRgb() for c in self.CLASS_COLORS], dtype=np.ubyte)
            rgba = table[reg.classes % len(table)].copy()
            rgba[..., 3] = 70
            self.boundary.setImage(rgba, levels=(0, 255))
            lo, hi = reg.lo, reg.hi
            self.boundary.setRect(QtCore.QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]))
        elif reg.xs is not None:
            self.fit.setData(reg.xs, reg.ys)


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

    def show_result(self, result, levels, cmap: str) -> None:
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


class DataGroup(QtWidgets.QGroupBox):
    def __init__(self, settings: nn.NetworkSettings, parent=None):
        super().__init__("Data", parent)
        form = QtWidgets.QFormLayout(self)
        self.dataset_box = QtWidgets.QComboBox(objectName="nnDataset")
        for name in nn.DATASETS:
            self.dataset_box.addItem(name, name)
        self.dataset_box.addItem("CSV file…", "csv")
        self.n_spin = QtWidgets.QSpinBox(minimum=20, maximum=100000, value=settings.n, singleStep=100)
        self.noise_spin = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=2.0, value=settings.noise, singleStep=0.05,
                                                   decimals=3)
        self.test_spin = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=0.9, value=settings.test, singleStep=0.05)
        form.addRow("Dataset", self.dataset_box)
        form.addRow("Points", self.n_spin)
        form.addRow("Noise", self.noise_spin)
        form.addRow("Test share", self.test_spin)
        self.preview = DataPreview()
        form.addRow(self.preview)

    def widgets(self):
        return [self.dataset_box, self.n_spin, self.noise_spin, self.test_spin]

    def show(self, s: nn.NetworkSettings) -> None:
        with signals_blocked(self.widgets()):
            self.dataset_box.setCurrentIndex(max(0, self.dataset_box.findData(s.dataset)))
            self.n_spin.setValue(s.n)
            self.noise_spin.setValue(s.noise)
            self.test_spin.setValue(s.test)

    def read(self, s: nn.NetworkSettings) -> bool:
        s.n, s.noise, s.test = int(self.n_spin.value()), float(self.noise_spin.value()), float(self.test_spin.value())
        return True


class NetworkGroup(QtWidgets.QGroupBox):
    def __init__(self, settings: nn.NetworkSettings, parent=None):
        super().__init__("Network", parent)
        form = QtWidgets.QFormLayout(self)
        self.depth_spin = QtWidgets.QSpinBox(minimum=1, maximum=32, value=settings.depth, objectName="nnDepth")
        self.width_spin = QtWidgets.QSpinBox(minimum=1, maximum=256, value=settings.width, objectName="nnWidth")
        self.activation_box = QtWidgets.QComboBox()
        self.activation_box.addItems(["relu", "tanh"])
        self.residual_check = QtWidgets.QCheckBox("Skip connections", objectName="nnResidual")
        self.params_label = QtWidgets.QLabel()
        form.addRow("Hidden layers", self.depth_spin)
        form.addRow("Width", self.width_spin)
        form.addRow("Activation", self.activation_box)
        form.addRow(self.residual_check)
        form.addRow(self.params_label)

    def widgets(self):
        return [self.depth_spin, self.width_spin, self.activation_box, self.residual_check]

    def show(self, s: nn.NetworkSettings) -> None:
        with signals_blocked(self.widgets()):
            self.depth_spin.setValue(s.depth)
            self.width_spin.setValue(s.width)
            self.activation_box.setCurrentText(s.activation)
            self.residual_check.setChecked(s.residual)

    def read(self, s: nn.NetworkSettings) -> bool:
        s.depth, s.width = int(self.depth_spin.value()), int(self.width_spin.value())
        s.activation, s.residual = self.activation_box.currentText(), self.residual_check.isChecked()
        return True

    def show_size(self, n_params: int) -> None:
        self.params_label.setText(f"{n_params} parameters")


class TrainingGroup(QtWidgets.QGroupBox):
    def __init__(self, settings: nn.NetworkSettings, parent=None):
        super().__init__("Training", parent)
        form = QtWidgets.QFormLayout(self)
        self.optimizer_edit = QtWidgets.QLineEdit("Adam(lr=0.01)", objectName="nnOptimizer")
        self.optimizer_edit.setToolTip("Any optimizer of the app with torch's names, e.g. SGD(lr=0.05, momentum=0.9)")
        self.batch_spin = QtWidgets.QSpinBox(minimum=1, maximum=1_000_000, value=settings.batch_size,
                                             objectName="nnBatch")
        self.batch_spin.setToolTip("At least the number of training points: full batch (one step an epoch)")
        self.epochs_spin = QtWidgets.QSpinBox(minimum=1, maximum=100000, value=settings.epochs, objectName="nnEpochs")
        self.seed_spin = QtWidgets.QSpinBox(minimum=0, maximum=2 ** 31 - 1, value=settings.seed)
        self.track_spin = QtWidgets.QSpinBox(minimum=0, maximum=100000, value=settings.track_sharpness,
                                             objectName="nnTrackSharpness")
        self.track_spin.setSpecialValueText("off")
        self.track_spin.setSuffix(" steps")
        self.track_spin.setToolTip("Measure λmax of the full-batch loss every this many steps while training "
                                   "(the Sharpness tab plots it against 2/lr)")
        self.schedule_edit = QtWidgets.QLineEdit(objectName="nnSchedule")
        self.schedule_edit.setPlaceholderText("constant — e.g. OneCycleLR(max_lr=0.1)")
        self.schedule_edit.setToolTip("A torch.optim.lr_scheduler schedule for the optimizer's lr")
        self.schedule_per = QtWidgets.QComboBox(objectName="nnSchedulePer")
        self.schedule_per.addItem("per step", "step")
        self.schedule_per.addItem("per epoch", "epoch")
        self.schedule_per.setToolTip("Step the schedule after every optimizer step, or after every epoch")
        sched_row = QtWidgets.QHBoxLayout()
        sched_row.addWidget(self.schedule_edit, 1)
        sched_row.addWidget(self.schedule_per)
        self.init_box = QtWidgets.QComboBox(objectName="nnInitFrom")
        self.init_box.addItem("new weights (seed)", "")
        self.init_box.addItem("pinned A's solution", "A")
        self.init_box.addItem("pinned B's solution", "B")
        self.init_box.setToolTip("Fine-tuning: start from a pinned run's trained weights (the same network), "
                                 "e.g. pre-trained on another dataset")
        form.addRow("Optimizer", self.optimizer_edit)
        form.addRow("Schedule", sched_row)
        form.addRow("Start from", self.init_box)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("λmax every", self.track_spin)
        row = QtWidgets.QHBoxLayout()
        self.train_button = QtWidgets.QPushButton("Train", objectName="nnTrain")
        self.cancel_button = QtWidgets.QPushButton("Cancel", objectName="nnCancel")
        self.cancel_button.setEnabled(False)
        row.addWidget(self.train_button)
        row.addWidget(self.cancel_button)
        form.addRow(row)
        self.progress = QtWidgets.QProgressBar(objectName="nnProgress")
        form.addRow(self.progress)
        self.loss_plot = PanelPlot(background="#15171c", axisItems={"left": LogAxis("left")},
                                   viewBox=pg.ViewBox(enableMenu=False))
        self.loss_plot.setObjectName("nnLossPlot")
        self.loss_plot.setFixedHeight(170)
        self.loss_plot.getPlotItem().setMouseEnabled(False, False)
        self.loss_plot.getPlotItem().setLogMode(y=True)
        self.loss_plot.getPlotItem().setLabel("bottom", "epoch")
        self.loss_plot.getPlotItem().addLegend(offset=(-10, 8), labelTextColor=(230, 230, 230))
        self.train_curve = self.loss_plot.plot(pen=pg.mkPen("#33ccff", width=2), name="train")
        self.test_curve = self.loss_plot.plot(pen=pg.mkPen("#ff9933", width=2), name="test")
        form.addRow(self.loss_plot)
        self.error = ""

    def widgets(self):
        return [self.optimizer_edit, self.schedule_edit, self.schedule_per, self.init_box, self.batch_spin,
                self.epochs_spin, self.seed_spin, self.track_spin]

    def show(self, s: nn.NetworkSettings) -> None:
        with signals_blocked(self.widgets()):
            plain = {k: v for k, v in s.hyperparameters.items() if k != "schedule"}
            self.optimizer_edit.setText(optimizers.describe(s.optimizer, plain))
            self.schedule_edit.setText(s.hyperparameters.get("schedule", ""))
            self.schedule_per.setCurrentIndex(max(self.schedule_per.findData(s.schedule_per), 0))
            self.init_box.setCurrentIndex(max(self.init_box.findData(s.init_from), 0))
            self.batch_spin.setValue(s.batch_size)
            self.epochs_spin.setValue(s.epochs)
            self.seed_spin.setValue(s.seed)
            self.track_spin.setValue(s.track_sharpness)

    def read(self, s: nn.NetworkSettings) -> bool:
        try:
            name, hyper = optimizers.parse_call(self.optimizer_edit.text())
            optimizers.validate(name, hyper)
        except (ValueError, KeyError) as exc:
            self.error = f"optimizer: {exc}"
            self.optimizer_edit.setStyleSheet("border: 1px solid #ff4d4d;")
            return False
        self.optimizer_edit.setStyleSheet("")
        text = self.schedule_edit.text().strip()
        if text:
            per = self.schedule_per.currentData()
            try:   # built once for the run's length: a schedule that cannot run is refused here
                cname, full = optimizers.validate(name, {**hyper, "schedule": text})
                optimizers.schedule_arrays([(cname, full)], self.epochs_spin.value() if per == "epoch" else 1)
            except ValueError as exc:
                self.error = f"schedule: {exc}"
                self.schedule_edit.setStyleSheet("border: 1px solid #ff4d4d;")
                return False
            hyper = {**hyper, "schedule": full["schedule"]}
        self.schedule_edit.setStyleSheet("")
        self.error = ""
        s.optimizer, s.hyperparameters = name, hyper
        s.schedule_per = self.schedule_per.currentData()
        s.init_from = self.init_box.currentData()
        s.batch_size, s.epochs, s.seed = self.batch_spin.value(), self.epochs_spin.value(), self.seed_spin.value()
        s.track_sharpness = self.track_spin.value()
        return True


class LandscapeGroup(QtWidgets.QGroupBox):
    def __init__(self, settings: nn.NetworkSettings, parent=None):
        super().__init__("Landscape", parent)
        form = QtWidgets.QFormLayout(self)
        self.directions_box = QtWidgets.QComboBox(objectName="nnDirections")
        for key, text in DIRECTION_LABELS.items():
            self.directions_box.addItem(text, key)
        self.grid_spin = QtWidgets.QSpinBox(minimum=5, maximum=401, value=settings.grid, singleStep=10)
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

    def widgets(self):
        return [self.directions_box, self.grid_spin, self.span_spin, self.split_box]

    def show(self, s: nn.NetworkSettings) -> None:
        with signals_blocked(self.widgets()):
            self.directions_box.setCurrentIndex(self.directions_box.findData(s.directions))
            self.grid_spin.setValue(s.grid)
            self.span_spin.setValue(s.span)
            self.split_box.setCurrentIndex(1 if s.use_test else 0)

    def read(self, s: nn.NetworkSettings) -> bool:
        s.directions = self.directions_box.currentData()
        s.grid, s.span = self.grid_spin.value(), float(self.span_spin.value())
        s.use_test = self.split_box.currentIndex() == 1
        return True
