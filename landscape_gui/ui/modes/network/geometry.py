"""The network's geometry, as tabs of the network mode: the Hessian spectrum, λmax during
training against 2/lr, a trained curve between two pinned solutions (with the plane through
them), and a batch-size sweep. Each starts a background job of ``NetworkModel`` and draws
its result; nothing is computed here."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from landscape_gui.core.nn.settings import edge_of_stability
from landscape_gui.ui.modes.layout import hint_label, plane_views
from landscape_gui.ui.state.plane_source import TRAJECTORY_COLOR, LandscapeSource
from landscape_gui.ui.views.axes import LogAxis

SLOT_COLORS = {"A": "#33ccff", "B": "#ff9933", "run": "#33ccff"}
CURVE_COLOR = "#66ff66"


def _plot(name: str, bottom: str, left: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="#15171c", axisItems={"left": LogAxis("left"), "bottom": LogAxis("bottom")},
                      viewBox=pg.ViewBox(enableMenu=False))  # a menu per plot: 30 ms each to build
    w.setObjectName(name)
    item = w.getPlotItem()
    item.showGrid(x=True, y=True, alpha=0.2)
    item.setLabel("bottom", bottom)
    item.setLabel("left", left)
    item.addLegend(offset=(-10, 8), labelTextColor=(230, 230, 230))
    for side in ("left", "bottom"):
        item.getAxis(side).enableAutoSIPrefix(False)   # the values as they are, not "(x0.001)"
    return w


class JobBar(QtWidgets.QWidget):
    """A job's start button, its progress and a Cancel; follows ``model.jobBusy``/``jobProgress``."""

    def __init__(self, model, job: str, text: str, start, parent=None):
        super().__init__(parent)
        self.model, self.job = model, job
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.start_button = QtWidgets.QPushButton(text, objectName=f"{job}Start")
        self.cancel_button = QtWidgets.QPushButton("Cancel", objectName=f"{job}Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar(objectName=f"{job}Progress")
        self.progress.setMaximumWidth(260)
        self.extra = QtWidgets.QHBoxLayout()
        row.addLayout(self.extra)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress)
        row.addStretch(1)
        self.start_button.clicked.connect(start)
        self.cancel_button.clicked.connect(lambda: model.cancel(job))
        model.jobBusy.connect(self._busy)
        model.jobProgress.connect(self._progress)

    def _busy(self, job: str, running: bool) -> None:
        if job == self.job:
            self.start_button.setEnabled(not running)
            self.cancel_button.setEnabled(running)
            if running:
                self.progress.setValue(0)

    def _progress(self, job: str, done: int, total: int) -> None:
        if job == self.job:
            self.progress.setValue(int(100 * done / max(total, 1)))


class SpectrumView(QtWidgets.QWidget):
    """The Hessian's eigenvalue density (log y), its top-k eigenvalues marked, and the trace;
    both pinned runs on one axis when A and B are pinned."""

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.setObjectName("nnSpectrum")
        self.model = model
        lay = QtWidgets.QVBoxLayout(self)
        self.bar = JobBar(model, "spectrum", "Compute spectrum", self.start)
        self.k_spin = QtWidgets.QSpinBox(minimum=1, maximum=20, value=5, objectName="spectrumK")
        self.samples_spin = QtWidgets.QSpinBox(minimum=10, maximum=2000, value=100, singleStep=50)
        self.samples_spin.setToolTip("Hutchinson's random probes for the trace of a tanh network; "
                                     "a ReLU network's trace is computed exactly, without probes")
        for text, w in (("top", self.k_spin), ("trace probes", self.samples_spin)):
            self.bar.extra.addWidget(QtWidgets.QLabel(text))
            self.bar.extra.addWidget(w)
        lay.addWidget(self.bar)
        self.plot = _plot("spectrumPlot", "eigenvalue λ of the Hessian", "density")
        self.plot.getPlotItem().setLogMode(y=True)
        self.plot.getPlotItem().getAxis("bottom").enableAutoSIPrefix(False)  # λ as is, not "(x0.001)"
        lay.addWidget(self.plot, 1)
        self.note = QtWidgets.QLabel("The spectrum of the pinned runs (A and B), or of the last trained run.",
                                     wordWrap=True, objectName="spectrumNote")
        lay.addWidget(self.note)
        self.curves: dict = {}
        self.marks: list = []
        model.spectrumChanged.connect(self.draw)

    def start(self) -> None:
        self.model.compute_spectrum(self.k_spin.value(), self.samples_spin.value())

    def draw(self) -> None:
        item = self.plot.getPlotItem()
        for c in list(self.curves.values()) + self.marks:
            item.removeItem(c)
        item.legend.clear()
        self.curves, self.marks = {}, []
        lines = []
        for slot, sp in self.model.spectra.items():
            color = SLOT_COLORS.get(slot, "#33ccff")
            d = np.maximum(sp.density, 1e-7 * sp.density.max())  # seven decades: the gaps read as gaps
            name = "last run" if slot == "run" else slot
            self.curves[slot] = item.plot(sp.density_grid, d, pen=pg.mkPen(color, width=2), name=name)
            for lam in sp.eigenvalues:
                line = pg.InfiniteLine(pos=float(lam), angle=90, pen=pg.mkPen(color, width=1.5,
                                                                              style=QtCore.Qt.PenStyle.DashLine))
                item.addItem(line)
                self.marks.append(line)
            top = ", ".join(f"{v:.4g}" for v in sp.eigenvalues)
            lines.append(f"<b>{name}</b>: top {len(sp.eigenvalues)} eigenvalues {top}; {sp.trace_summary()}; "
                         f"{sp.products} Hessian-vector products")
        self.note.setText("<br>".join(lines) or "no spectrum yet")
        item.enableAutoRange()


class SharpnessView(QtWidgets.QWidget):
    """λmax against the optimizer step with the 2/lr line, and the training loss below it on the
    same step axis: progressive sharpening and the edge of stability (Cohen et al. 2021)."""

    def __init__(self, model, load_settings, parent=None):
        super().__init__(parent)
        self.setObjectName("nnSharpness")
        self.model = model
        lay = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QHBoxLayout()
        self.preset_button = QtWidgets.QPushButton("Edge-of-stability setup", objectName="eosSetup")
        self.preset_button.setToolTip("Full-batch gradient descent with lr 0.05 (2/lr = 40) on a 2x32 tanh net "
                                      "with MSE, λmax measured every 25 steps; then press Train")
        self.preset_button.clicked.connect(lambda: load_settings(edge_of_stability().to_dict()))
        row.addWidget(self.preset_button)
        row.addWidget(QtWidgets.QLabel("Turn on “λmax every … steps” under Training, then Train."))
        row.addStretch(1)
        lay.addLayout(row)
        self.lam_plot = _plot("sharpnessPlot", "step", "λmax")
        self.loss_plot = _plot("sharpnessLossPlot", "step", "train loss")
        self.loss_plot.getPlotItem().setLogMode(y=True)
        self.loss_plot.setXLink(self.lam_plot)
        self.lam_curve = self.lam_plot.plot(pen=pg.mkPen("#33ccff", width=2), symbol="o", symbolSize=4,
                                            symbolBrush="#33ccff", name="λmax (full-batch Hessian)")
        self.edge = pg.InfiniteLine(angle=0, pen=pg.mkPen("#ff4d4d", width=1.5, style=QtCore.Qt.PenStyle.DashLine))
        self.lam_plot.addItem(self.edge)
        self.edge_label = pg.TextItem("", color="#ff4d4d", anchor=(0, 1))
        self.lam_plot.addItem(self.edge_label)
        self.edge.setVisible(False)
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#ff9933", width=2), name="train loss at each step (its batch)")
        lay.addWidget(self.lam_plot, 3)
        lay.addWidget(self.loss_plot, 2)
        self.note = QtWidgets.QLabel(wordWrap=True, objectName="sharpnessNote")
        lay.addWidget(self.note)
        model.sharpnessMeasured.connect(self.draw_live)
        model.resultChanged.connect(self.draw_result)

    def _lr(self):
        v = self.model.settings.hyperparameters.get("lr")
        return float(v) if isinstance(v, (int, float)) and v > 0 else None

    def draw_live(self, rows) -> None:
        self.lam_curve.setData(rows[:, 0], rows[:, 1])
        self._edge(self._lr(), rows[:, 0].max() if len(rows) else 0)

    def _edge(self, lr, right) -> None:
        if lr is None:
            self.edge.setVisible(False)
            self.edge_label.setText("")
            return
        self.edge.setVisible(True)
        self.edge.setValue(2.0 / lr)
        self.edge_label.setText(f"2/lr = {2.0 / lr:.4g}")
        self.edge_label.setPos(0, 2.0 / lr)

    def draw_result(self) -> None:
        r = self.model.result
        if r is None:
            return
        run = r.run
        self.loss_curve.setData(np.arange(1, len(run.step_losses) + 1), run.step_losses)
        if run.sharpness is None or not len(run.sharpness):
            self.lam_curve.setData([], [])
            self.edge.setVisible(False)
            self.note.setText("λmax was not tracked for this run: set “λmax every … steps” under Training "
                              "(or load the edge-of-stability setup), then Train.")
            return
        s = run.sharpness
        self.lam_curve.setData(s[:, 0], s[:, 1])
        lr = r.lr
        self._edge(lr, s[-1, 0])
        last = s[len(s) * 3 // 4:, 1]
        text = (f"λmax from {s[0, 1]:.4g} (step 0) to {s[-1, 1]:.4g} (step {int(s[-1, 0])}); "
                f"last quarter {last.min():.4g}–{last.max():.4g}")
        if lr is not None:
            text += f"; 2/lr = {2 / lr:.4g}"
            if r.settings.optimizer == "SGD" and not r.settings.hyperparameters.get("momentum"):
                text += (" — gradient descent is stable only while λmax < 2/lr: full-batch GD pushes λmax up "
                         "to that line and then hovers there (the edge of stability)")
        self.note.setText(text)
        self.lam_plot.getPlotItem().enableAutoRange()


class ConnectView(QtWidgets.QWidget):
    """Train a Bézier curve between the pinned A and B; the loss along it and along the straight
    line, and the plane through A, B and the bend with both paths drawn."""

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.setObjectName("nnConnect")
        self.model = model
        lay = QtWidgets.QVBoxLayout(self)
        self.bar = JobBar(model, "connect", "Connect A–B", self.start)
        self.epochs_spin = QtWidgets.QSpinBox(minimum=1, maximum=5000, value=100, objectName="connectEpochs")
        self.bar.extra.addWidget(QtWidgets.QLabel("epochs"))
        self.bar.extra.addWidget(self.epochs_spin)
        lay.addWidget(self.bar)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.plot = _plot("connectPlot", "t (0: A, 1: B)", "train loss")
        self.plot.getPlotItem().setLogMode(y=True)
        self.line_curve = self.plot.plot(pen=pg.mkPen(TRAJECTORY_COLOR, width=2), name="straight line")
        self.bend_curve = self.plot.plot(pen=pg.mkPen(CURVE_COLOR, width=2), name="trained Bézier curve")
        split.addWidget(self.plot)
        self.source = LandscapeSource(self)
        self.stack = QtWidgets.QStackedWidget()
        self.stack.addWidget(hint_label("<h3>No curve yet</h3><p>Pin two runs of the same network as A and B "
                                        "(e.g. two seeds), then press <b>Connect A–B</b>.</p>", "connectHint"))
        views, self.surface_view, self.contour_view = plane_views(self.source, "connect", "A (the plane's origin)")
        self.stack.addWidget(views)
        split.addWidget(self.stack)
        split.setSizes([220, 420])
        lay.addWidget(split, 1)
        self.note = QtWidgets.QLabel(wordWrap=True, objectName="connectNote")
        lay.addWidget(self.note)
        model.curveChanged.connect(self.draw)
        model.transferChanged.connect(self.draw_transfer)

    def start(self) -> None:
        if not self.model.connect_pinned(self.epochs_spin.value()):
            self.note.setText("Pin two runs of the same network as A and B first (Landscape group on the left).")

    def draw(self) -> None:
        c = self.model.curve
        if c is None:
            return
        self.line_curve.setData(c.t, c.loss_linear)
        self.bend_curve.setData(c.t, c.loss_curve)
        self._labels("straight line", "trained Bézier curve", "t (0: A, 1: B)", "train loss")
        self.source.set_landscape(c.plane, "train loss on the plane through A, B and the bend", path_label="")
        self.source.set_paths([("straight line A–B", TRAJECTORY_COLOR, c.linear_xy, c.loss_linear),
                               ("trained Bézier curve", CURVE_COLOR, c.curve_xy, c.loss_curve)])
        self.stack.setCurrentIndex(1)
        self.note.setText(f"Barrier (highest loss on the path above the straight line between its end losses): straight line "
                          f"{c.barrier_linear:.4g}, trained curve {c.barrier_curve:.4g}. "
                          f"{'A low path connects the two solutions: one connected valley.' if c.barrier_curve < 0.5 * max(c.barrier_linear, 1e-12) else ''}")


    def _labels(self, line: str, bend: str, bottom: str, left: str) -> None:
        """The plot's legend and axes for what it shows now (a connected pair, or transfer learning)."""
        legend = self.plot.getPlotItem().legend
        if legend is not None:
            for sample, label in legend.items:
                if sample.item is self.line_curve:
                    label.setText(line)
                elif sample.item is self.bend_curve:
                    label.setText(bend)
        self.plot.getPlotItem().setLabel("bottom", bottom)
        self.plot.getPlotItem().setLabel("left", left)

    def draw_transfer(self) -> None:
        """Transfer learning: the loss on the new task along the straight lines from the pre-trained
        solution to the fine-tuned one and to the one trained from scratch, and the plane of all three."""
        tp = self.model.transfer
        if tp is None:
            return
        self.line_curve.setData(tp.t, tp.loss_to_scratch)
        self.bend_curve.setData(tp.t, tp.loss_to_finetuned)
        self._labels("pre-trained → from scratch", "pre-trained → fine-tuned",
                     "t (0: pre-trained, 1: the other solution)", "loss on the new task")
        xy = tp.points_xy
        self.source.set_landscape(tp.plane, "loss on the new task, plane through the three solutions", path_label="")
        t = tp.t[:, None]
        self.source.set_paths([("pre-trained → from scratch", TRAJECTORY_COLOR, xy[0] + t * (xy[2] - xy[0]),
                                tp.loss_to_scratch),
                               ("pre-trained → fine-tuned", CURVE_COLOR, xy[0] + t * (xy[1] - xy[0]),
                                tp.loss_to_finetuned)])
        self.stack.setCurrentIndex(1)
        self.note.setText(f"Fine-tuning moved the weights {tp.distance_finetuned:.3g} from the pre-trained solution, "
                          f"training from scratch ended {tp.distance_scratch:.3g} away. Barrier on the straight line "
                          f"(loss above the chord): to the fine-tuned {tp.barrier_finetuned:.3g}, to the one from "
                          f"scratch {tp.barrier_scratch:.3g}"
                          + (": fine-tuning stayed in the pre-trained basin." if tp.barrier_finetuned
                             < 0.25 * max(tp.barrier_scratch, 1e-12) else "."))


class SweepView(QtWidgets.QWidget):
    """λmax, SAM sharpness and test accuracy (or loss) against batch size; click a point to see
    that run's plane in the Landscape tab."""

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.setObjectName("nnSweep")
        self.model = model
        lay = QtWidgets.QVBoxLayout(self)
        self.bar = JobBar(model, "sweep", "Run sweep", self.start)
        self.sizes_edit = QtWidgets.QLineEdit("8, 32, 128, 512, full", objectName="sweepSizes")
        self.sizes_edit.setToolTip("Batch sizes, comma separated; 'full' for the whole training set")
        self.epochs_spin = QtWidgets.QSpinBox(minimum=1, maximum=10000, value=30, objectName="sweepEpochs")
        for text, w in (("batch sizes", self.sizes_edit), ("epochs", self.epochs_spin)):
            self.bar.extra.addWidget(QtWidgets.QLabel(text))
            self.bar.extra.addWidget(w)
        lay.addWidget(self.bar)
        self.sharp_plot = _plot("sweepSharpness", "batch size", "sharpness")
        self.sharp_plot.getPlotItem().setLogMode(x=True, y=True)
        self.acc_plot = _plot("sweepAccuracy", "batch size", "test accuracy")
        self.acc_plot.getPlotItem().setLogMode(x=True)
        self.acc_plot.setXLink(self.sharp_plot)
        self.lam_points = pg.ScatterPlotItem(size=11, brush=pg.mkBrush("#33ccff"), pen=pg.mkPen("w"),
                                             name="λmax", hoverable=True)
        self.sam_points = pg.ScatterPlotItem(size=11, brush=pg.mkBrush("#ff9933"), pen=pg.mkPen("w"),
                                             name="SAM sharpness (ρ = 0.05)", symbol="s")
        self.lam_line = self.sharp_plot.plot(pen=pg.mkPen("#33ccff", width=1.5))
        self.sam_line = self.sharp_plot.plot(pen=pg.mkPen("#ff9933", width=1.5))
        for p in (self.lam_points, self.sam_points):
            self.sharp_plot.addItem(p)   # named: the legend lists it
        self.sharp_plot.getPlotItem().legend.setOffset((-10, -10))   # bottom right: sharpness tends to rise
        self.acc_points = pg.ScatterPlotItem(size=11, brush=pg.mkBrush("#66ff66"), pen=pg.mkPen("w"))
        self.acc_line = self.acc_plot.plot(pen=pg.mkPen("#66ff66", width=1.5))
        self.acc_plot.addItem(self.acc_points)
        for p in (self.lam_points, self.sam_points, self.acc_points):
            p.sigClicked.connect(self._clicked)
        lay.addWidget(self.sharp_plot, 3)
        lay.addWidget(self.acc_plot, 2)
        self.note = QtWidgets.QLabel(wordWrap=True, objectName="sweepNote")
        lay.addWidget(self.note)
        model.sweepChanged.connect(self.draw)

    def parse_sizes(self):
        sizes = []
        for part in self.sizes_edit.text().replace(";", ",").split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part in ("full", "none", "all"):
                sizes.append(None)
                continue
            if not part.isdigit() or int(part) < 1:
                raise ValueError(f"'{part}' is not a batch size (a whole number >= 1, or 'full')")
            sizes.append(int(part))
        if not sizes:
            raise ValueError("no batch sizes given")
        return sizes

    def start(self) -> None:
        try:
            sizes = self.parse_sizes()
        except ValueError as exc:
            self.note.setText(str(exc))
            self.sizes_edit.setStyleSheet("border: 1px solid #ff4d4d;")
            return
        self.sizes_edit.setStyleSheet("")
        self.model.run_sweep(sizes, self.epochs_spin.value())

    def _x(self, sweep):
        return np.array([r.batch_size for r in sweep.runs], dtype=float)

    def draw(self) -> None:
        sw = self.model.sweep
        if sw is None:
            return
        x = self._x(sw)
        data = [{"k": k} for k in range(len(x))]
        ok = np.isfinite(sw.sharpness) & (sw.sharpness > 0)
        self.lam_points.setData(np.log10(x[ok]), np.log10(sw.sharpness[ok]), data=[d for d, o in zip(data, ok) if o])
        self.lam_line.setData(x[ok], sw.sharpness[ok])
        ok2 = np.isfinite(sw.sam_sharpness) & (sw.sam_sharpness > 0)
        self.sam_points.setData(np.log10(x[ok2]), np.log10(sw.sam_sharpness[ok2]),
                                data=[d for d, o in zip(data, ok2) if o])
        self.sam_line.setData(x[ok2], sw.sam_sharpness[ok2])
        classify = np.isfinite(sw.test_accuracy).any()
        y = sw.test_accuracy if classify else sw.test_loss
        self.acc_plot.getPlotItem().setLabel("left", "test accuracy" if classify else "test loss")
        ok3 = np.isfinite(y)
        self.acc_points.setData(np.log10(x[ok3]), y[ok3], data=[d for d, o in zip(data, ok3) if o])
        self.acc_line.setData(x[ok3], y[ok3])
        ticks = [[(float(np.log10(b)), str(int(b))) for b in x]]
        for p in (self.sharp_plot, self.acc_plot):
            p.getPlotItem().getAxis("bottom").setTicks(ticks)   # the batch sizes run, not 2·10¹, 3·10¹…
        rows = [f"{sw.label(k)} ({int(x[k])}): λmax {sw.sharpness[k]:.4g}, SAM {sw.sam_sharpness[k]:.3g}, "
                + (f"test accuracy {100 * sw.test_accuracy[k]:.1f}%" if classify else f"test loss {sw.test_loss[k]:.4g}")
                for k in range(len(x))]
        self.note.setText("; ".join(rows) + ". Click a point to see that run's plane.")
        for p in (self.sharp_plot, self.acc_plot):
            p.getPlotItem().enableAutoRange()

    def _clicked(self, _item, points, *args) -> None:
        if len(points):
            k = points[0].data()["k"]
            self.model.show_sweep_run(int(k))
            self.note.setText(f"computing the plane of the {self.model.sweep.label(k)} run…")

