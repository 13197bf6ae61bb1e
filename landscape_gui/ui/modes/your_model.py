"""The "Your model" mode: a model file's loss plane, Hessian spectrum (per layer too),
sharpness along the training path and a trained connection between two checkpoints.

``landscape-gui model FILE.py`` or File → Open Model…; the file is read by
``pytorch.modelfile`` (a bad one is refused with its line, the window keeps working). Every
computation runs in a background worker with progress and Cancel. The plane appears
progressively: a coarse 11x11 plane first, then the fine grid drawn tile by tile as it is
computed (the coarse plane, interpolated, fills what is not computed yet). torch is imported
only when a model is opened.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from landscape_gui.ui.modes.landscape_file import default_zscale, metric_label, path_label
from landscape_gui.ui.modes.layout import controls_beside_views, hint_or_plane, open_box, plane_view_box
from landscape_gui.ui.state.jobs import BackgroundJobs
from landscape_gui.ui.state.plane_source import LandscapeSource

MODEL_FILTER = "Model files (*.py);;All files (*)"
DIRECTION_CHOICES = {"filter": "filter-normalised random (loss-landscape)", "hessian": "top two Hessian eigenvectors",
                     "random": "random, scaled to θ*", "pca": "PCA of the checkpoints (training path)",
                     "points": "through three checkpoints"}
COARSE = 11


class _Relay(QtCore.QObject):
    """Worker thread -> GUI thread: partial planes and progress (queued signals)."""

    plane = QtCore.Signal(object)
    progress = QtCore.Signal(str, int, int)


def _plot(name: str, left: str, bottom: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="#15171c")
    w.setObjectName(name)
    item = w.getPlotItem()
    item.showGrid(x=True, y=True, alpha=0.2)
    item.setLabel("left", left)
    item.setLabel("bottom", bottom)
    item.addLegend(offset=(-10, 10))
    return w


class ModelPanel(QtWidgets.QWidget):
    """Open a model file; its plane, spectrum, sharpness and connections in tabs."""

    #: what finished (or failed), for the window's status bar
    message = QtCore.Signal(str)

    #: Hutchinson probes of the window's spectrum (and SLQ's density)
    TRACE_SAMPLES = 100

    def __init__(self, parent=None):
        super().__init__(parent)
        self._trust: dict = {}
        self.setObjectName("modelPanel")
        self.source = LandscapeSource(self)
        self.spec = None           # the open ModelFile
        self.plane = None          # the plane shown (partial while it fills)
        self.spectrum = None
        self.curve = None
        self.sharpness = None
        self.jobs = BackgroundJobs("model", self)
        self.relay = _Relay(self)
        split, cl = controls_beside_views(self, 300)

        self.open_button, self.info = open_box(
            cl, "Model file", "Open model file…",
            "A .py file defining model(), loss_fn and batches() (optionally checkpoints, lr)", "No model open.", "model")

        box = QtWidgets.QGroupBox("Plane")
        form = QtWidgets.QFormLayout(box)
        self.directions_box = QtWidgets.QComboBox(objectName="modelDirections")
        for key, text in DIRECTION_CHOICES.items():
            self.directions_box.addItem(key, key)
            self.directions_box.setItemData(self.directions_box.count() - 1, text, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.grid_spin = QtWidgets.QSpinBox(objectName="modelGrid", minimum=COARSE, maximum=201, value=51)
        self.grid_spin.setToolTip(f"points per axis of the fine plane (a {COARSE}x{COARSE} plane comes first)")
        self.compute_button = QtWidgets.QPushButton("Compute plane", objectName="modelCompute")
        form.addRow("Directions", self.directions_box)
        form.addRow("Grid", self.grid_spin)
        form.addRow(self.compute_button)
        cl.addWidget(box)

        form, self.surface_box, self.cmap_box, self.zscale_box = plane_view_box(cl, "model")
        self.export_button = QtWidgets.QPushButton("Export image…", objectName="modelExport")
        form.addRow(self.export_button)

        box = QtWidgets.QGroupBox("Work")
        form = QtWidgets.QVBoxLayout(box)
        self.progress = QtWidgets.QProgressBar(objectName="modelProgress", minimum=0, maximum=1, value=0)
        self.progress.setFormat("idle")
        self.cancel_button = QtWidgets.QPushButton("Cancel", objectName="modelCancel", enabled=False)
        self.status = QtWidgets.QLabel(wordWrap=True, objectName="modelStatus")
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addWidget(self.progress)
        form.addWidget(self.cancel_button)
        form.addWidget(self.status)
        cl.addWidget(box)

        box = QtWidgets.QGroupBox("Trust report")
        form = QtWidgets.QVBoxLayout(box)
        self.trust = QtWidgets.QLabel("—", wordWrap=True, objectName="modelTrust")
        self.trust.setTextFormat(QtCore.Qt.TextFormat.RichText)
        form.addWidget(self.trust)
        cl.addWidget(box)
        cl.addStretch(1)

        self.tabs = QtWidgets.QTabWidget(objectName="modelTabs")
        self.stack, self.surface_view, self.contour_view = hint_or_plane(self.source, "model", (
            "<h3>No model open</h3><p>Open a Python file that defines <tt>model()</tt> (returns your trained "
            "<tt>torch.nn.Module</tt>), <tt>loss_fn</tt> and <tt>batches()</tt> (any iterable of (inputs, "
            "targets)); optionally <tt>checkpoints</tt> (the training path: PCA, Connect, Sharpness) and "
            "<tt>lr</tt>.</p><p>File → Open Model…, or <tt>landscape-gui model FILE.py</tt>.</p>"), "θ*, your model")
        self.tabs.addTab(self.stack, "Plane")
        self.tabs.addTab(self._spectrum_tab(), "Spectrum")
        self.tabs.addTab(self._sharpness_tab(), "Sharpness")
        self.tabs.addTab(self._connect_tab(), "Connect A–B")
        split.addWidget(self.tabs)
        split.setSizes([320, 920])

        self.open_button.clicked.connect(self.open_dialog)
        self.compute_button.clicked.connect(self.compute_plane)
        self.cancel_button.clicked.connect(self.cancel)
        self.surface_box.activated.connect(lambda _: self._redraw())
        self.cmap_box.currentTextChanged.connect(lambda _: self._redraw())
        self.zscale_box.currentTextChanged.connect(lambda _: self._redraw())
        self.export_button.clicked.connect(self.export_dialog)
        self.jobs.finished.connect(self._finished)
        self.jobs.busyChanged.connect(self._busy)
        self.relay.plane.connect(self._partial)
        self.relay.progress.connect(self._progress)
        self._enable(False)
        self.source.set_landscape(None, "open a model file")

    # -- tabs ------------------------------------------------------------------------------------------
    def _spectrum_tab(self):
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        row = QtWidgets.QHBoxLayout()
        self.k_spin = QtWidgets.QSpinBox(objectName="modelSpectrumK", minimum=1, maximum=50, value=5)
        self.layers_check = QtWidgets.QCheckBox("per layer", objectName="modelSpectrumLayers")
        self.spectrum_button = QtWidgets.QPushButton("Compute spectrum", objectName="modelSpectrumCompute")
        row.addWidget(QtWidgets.QLabel("top k"))
        row.addWidget(self.k_spin)
        row.addWidget(self.layers_check)
        row.addWidget(self.spectrum_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.spectrum_plot = _plot("modelSpectrumPlot", "density", "eigenvalue λ")
        self.spectrum_plot.getPlotItem().setLogMode(y=True)
        # top centre: the bulk near 0 is on the left, the largest eigenvalue on the right
        self.spectrum_plot.getPlotItem().legend.anchor(itemPos=(0.5, 0), parentPos=(0.5, 0), offset=(0, 10))
        lay.addWidget(self.spectrum_plot, 3)
        self.spectrum_text = QtWidgets.QLabel("Eigenvalues, trace and density of the Hessian of the loss.",
                                              wordWrap=True, objectName="modelSpectrumText")
        self.spectrum_text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.spectrum_text)
        self.blocks_table = QtWidgets.QTableWidget(0, 4, objectName="modelBlocks")
        self.blocks_table.setHorizontalHeaderLabels(["block", "parameters", "λ₁", "trace"])
        self.blocks_table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.blocks_table, 2)
        self.spectrum_button.clicked.connect(self.compute_spectrum)
        return page

    def _sharpness_tab(self):
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        row = QtWidgets.QHBoxLayout()
        self.sharpness_button = QtWidgets.QPushButton("λmax along the checkpoints", objectName="modelSharpness")
        row.addWidget(self.sharpness_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.sharpness_plot = _plot("modelSharpnessPlot", "λmax (sharpness)", "checkpoint")
        lay.addWidget(self.sharpness_plot, 1)
        self.sharpness_text = QtWidgets.QLabel(
            "The largest Hessian eigenvalue at each checkpoint; with full-batch gradient descent it rises to "
            "2/lr and hovers there (the edge of stability, Cohen et al. 2021). Give lr in the model file to "
            "draw 2/lr. During your own training: landscape_gui.pytorch.SharpnessTracker.",
            wordWrap=True, objectName="modelSharpnessText")
        lay.addWidget(self.sharpness_text)
        self.sharpness_button.clicked.connect(self.compute_sharpness)
        return page

    def _connect_tab(self):
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        row = QtWidgets.QHBoxLayout()
        self.a_box = QtWidgets.QComboBox(objectName="modelConnectA")
        self.b_box = QtWidgets.QComboBox(objectName="modelConnectB")
        self.method_box = QtWidgets.QComboBox(objectName="modelConnectMethod")
        self.method_box.addItems(["bezier", "polychain"])
        self.epochs_spin = QtWidgets.QSpinBox(objectName="modelConnectEpochs", minimum=1, maximum=10000, value=50)
        self.connect_button = QtWidgets.QPushButton("Train the path", objectName="modelConnect")
        for w, t in ((self.a_box, "A"), (self.b_box, "B"), (self.method_box, "path"), (self.epochs_spin, "epochs")):
            row.addWidget(QtWidgets.QLabel(t))
            row.addWidget(w)
        row.addWidget(self.connect_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.connect_plot = _plot("modelConnectPlot", "loss", "t (A at 0, B at 1)")
        lay.addWidget(self.connect_plot, 1)
        self.connect_text = QtWidgets.QLabel("Is there a low-loss path between two solutions? (Garipov et al. 2018)",
                                             wordWrap=True, objectName="modelConnectText")
        lay.addWidget(self.connect_text)
        self.connect_button.clicked.connect(self.compute_connect)
        return page

    # -- the model file ------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = str(Path(self.spec.path).parent) if self.spec is not None else str(Path.cwd())
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open model file", start, MODEL_FILTER)
        if path and not self.open_model(path):
            QtWidgets.QMessageBox.warning(self, "Cannot open model", self.status.text())

    def open_model(self, path, compute: bool = True) -> bool:
        """Load ``path``; a bad file is refused with its line and reason (``status``), nothing else
        changes. With ``compute`` the plane starts at once."""
        try:
            from landscape_gui.pytorch.modelfile import ModelFileError, load_model_file
        except ImportError as exc:   # no torch
            self.status.setText(str(exc))
            return False
        try:
            spec = load_model_file(path)
        except ModelFileError as exc:
            self.status.setText(str(exc))
            return False
        except ImportError as exc:
            self.status.setText(str(exc))
            return False
        self.set_model(spec, compute)
        return True

    def set_model(self, spec, compute: bool = True) -> None:
        """Show a checked ``ModelFile`` (from a file, or ``landscape_gui.show(model=...)``)."""
        self.jobs.cancel("work")
        self.spec = spec
        self.plane = self.spectrum = self.curve = self.sharpness = None
        self.info.setText(f"<b>{spec.name}</b><br>{spec.describe()}")
        self.info.setToolTip(spec.path)
        n = len(spec.checkpoints)
        for key in ("pca", "points"):
            i = self.directions_box.findData(key)
            item = self.directions_box.model().item(i)
            item.setEnabled(n >= (2 if key == "pca" else 3))
        for box in (self.a_box, self.b_box):
            box.clear()
            box.addItem("the model", -1)
            for k in range(n):
                box.addItem(f"checkpoint {k}", k)
        self.a_box.setCurrentIndex(1 if n else 0)
        self.b_box.setCurrentIndex(n if n else 0)
        self.status.setText(f"opened {spec.path}")
        self._trust = {}
        self.trust.setText("—")
        self._enable(True)
        if compute:
            self.compute_plane()

    def show_plane(self, plane) -> None:
        """A plane computed elsewhere (``landscape_gui.show(plane)``), with its trust report."""
        self._show_plane(plane)

    def _enable(self, on: bool) -> None:
        for w in (self.compute_button, self.spectrum_button, self.sharpness_button, self.connect_button,
                  self.export_button):
            w.setEnabled(on)
        if on and self.spec is not None:
            self.sharpness_button.setEnabled(bool(self.spec.checkpoints))
            self.connect_button.setEnabled(len(self.spec.checkpoints) >= 1)
            self.export_button.setEnabled(self.plane is not None)

    # -- work --------------------------------------------------------------------------------------------
    def _submit(self, kind: str, fn) -> None:
        self.kind = kind
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"{kind}…")
        self.jobs.submit("work", fn)

    def cancel(self) -> None:
        if self.jobs.cancel("work"):
            self.status.setText(f"{self.kind} cancelled")

    def _busy(self, _job: str, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        for w in (self.compute_button, self.spectrum_button, self.sharpness_button, self.connect_button,
                  self.open_button):
            w.setEnabled(not running)
        if not running:
            self._enable(self.spec is not None)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("idle")

    def _progress(self, what: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{what}: {done}/{total}")

    def compute_plane(self) -> None:
        if self.spec is None:
            return
        from landscape_gui.pytorch.planes import _axes, loss_plane

        spec, kind, n, relay = self.spec, self.directions_box.currentData(), self.grid_spin.value(), self.relay
        checkpoints = spec.checkpoints if kind in ("pca", "points") else None
        if kind == "points":
            cps = spec.checkpoints
            checkpoints = [cps[0], cps[len(cps) // 2], cps[-1]]

        def work(cancel):
            from landscape_gui.core.files.landscapes import LandscapePlane

            stop = cancel.is_set
            common = {"checkpoints": checkpoints, "cancel": stop}
            relay.progress.emit("coarse plane", 0, 1)
            coarse = loss_plane(spec.model, spec.loss_fn, spec.batches, directions=kind, grid=(COARSE, COARSE),
                                **common)
            coarse.info["name"] = f"{spec.name}: {COARSE}x{COARSE}, refining"
            relay.plane.emit(coarse)
            if n == COARSE:
                return coarse
            alphas, betas = _axes(None, coarse.trajectory_xy, n, n)
            A, B = np.meshgrid(alphas, betas)
            fill = coarse.value_at(A, B)

            def partial(values):
                merged = np.where(np.isnan(values), fill, values)
                p = LandscapePlane(alphas, betas, merged, None, coarse.trajectory_xy, coarse.trajectory_losses,
                                   info=dict(coarse.info, name=f"{spec.name}: refining to {n}x{n}"))
                relay.plane.emit(p)

            dirs = coarse.info["directions"] if kind == "hessian" else kind   # the eigenvectors once
            fine = loss_plane(spec.model, spec.loss_fn, spec.batches, directions=dirs, grid=(n, n), partial=partial,
                              progress=lambda d, t: relay.progress.emit("plane rows", d, t), **common)
            if kind == "hessian":
                fine.info["kind"] = "hessian"
                fine.info["trust"] = dict(coarse.info["trust"], **fine.info["trust"])
            fine.info["name"] = f"{spec.name}: {kind} plane {n}x{n}"
            return fine

        self._submit("plane", work)

    def compute_spectrum(self) -> None:
        if self.spec is None:
            return
        from landscape_gui.pytorch.curvature import hessian_spectrum

        spec, k, layers, relay = self.spec, self.k_spin.value(), self.layers_check.isChecked(), self.relay

        def work(cancel):
            return hessian_spectrum(spec.model, spec.loss_fn, spec.batches, k=k, trace_samples=self.TRACE_SAMPLES,
                                    density=True,
                                    blocks="layer" if layers else None, cancel=cancel.is_set,
                                    progress=lambda d, t: relay.progress.emit("spectrum", d, t))

        self._submit("spectrum", work)

    def compute_sharpness(self) -> None:
        if self.spec is None or not self.spec.checkpoints:
            return
        from landscape_gui.core.cancel import check
        from landscape_gui.pytorch.curvature import SharpnessTracker

        spec, relay = self.spec, self.relay

        def work(cancel):
            import copy

            # one tracker along the checkpoints: its batches cached once, and each Lanczos
            # warm-started from the previous checkpoint's top eigenvector (about 3x fewer products)
            net = copy.deepcopy(spec.model)
            tracker = SharpnessTracker(net, spec.loss_fn, spec.batches, at_start=False)
            out = []
            for i, state in enumerate(spec.checkpoints):
                check(cancel.is_set, "sharpness cancelled")
                net.load_state_dict(state)
                out.append((tracker.measure(), tracker.losses[-1]))
                relay.progress.emit("sharpness", i + 1, len(spec.checkpoints))
            return np.array(out)

        self._submit("sharpness", work)

    def compute_connect(self) -> None:
        if self.spec is None:
            return
        from landscape_gui.pytorch.connectivity import connect

        spec, relay = self.spec, self.relay
        a, b = self.a_box.currentData(), self.b_box.currentData()
        if a == b:
            self.status.setText("Connect: choose two different points A and B")
            return
        pick = lambda k: spec.model.state_dict() if k == -1 else spec.checkpoints[k]  # noqa: E731
        method, epochs = self.method_box.currentText(), self.epochs_spin.value()

        def work(cancel):
            import copy

            net = copy.deepcopy(spec.model)
            net.load_state_dict(pick(a))
            return connect(net, pick(b), spec.loss_fn, spec.batches, method=method, epochs=epochs, seed=0,
                           grid=(21, 21), cancel=cancel.is_set,
                           progress=lambda d, t: relay.progress.emit("training the path", d, t))

        self._submit("connect", work)

    # -- results -------------------------------------------------------------------------------------------
    def _partial(self, plane) -> None:
        if "work" in self.jobs.running:   # a partial plane of a cancelled run arrives no more once cancelled
            self._show_plane(plane)

    def _finished(self, _job: str, result, ms: float) -> None:
        self._report(_job, result, ms)
        self.message.emit(self.status.text())

    def _report(self, _job: str, result, ms: float) -> None:
        if isinstance(result, Exception):
            self.status.setText(f"{self.kind} failed: {type(result).__name__}: {result}")
            return
        if self.kind == "plane":
            self._show_plane(result)
            self.status.setText(f"plane {result.values.shape[1]}x{result.values.shape[0]} in {ms / 1e3:.1f} s")
        elif self.kind == "spectrum":
            self._show_spectrum(result)
            self.status.setText(f"spectrum in {ms / 1e3:.1f} s ({result.products} Hessian-vector products)")
        elif self.kind == "sharpness":
            self._show_sharpness(result)
            self.status.setText(f"sharpness at {len(result)} checkpoints in {ms / 1e3:.1f} s")
        elif self.kind == "connect":
            self._show_connect(result)
            self.status.setText(f"path trained in {ms / 1e3:.1f} s")

    def _show_plane(self, plane) -> None:
        first = self.plane is None
        self.plane = plane
        with QtCore.QSignalBlocker(self.surface_box):
            current = self.surface_box.currentData()
            self.surface_box.clear()
            for key in plane.surfaces:
                self.surface_box.addItem(metric_label(key), key)
            i = self.surface_box.findData(current)
            self.surface_box.setCurrentIndex(max(i, 0))
        self.stack.setCurrentIndex(1)
        self.tabs.setCurrentIndex(0) if first else None
        self.export_button.setEnabled(True)
        self._redraw()
        self._set_trust("plane", plane.info.get("trust", {}))

    def _set_trust(self, what: str, trust: dict) -> None:
        """The report of the latest plane and the latest spectrum, side by side."""
        self._trust[what] = trust
        self.trust.setText("<br>".join(trust_text(t) for _, t in sorted(self._trust.items()) if t) or "—")

    def _redraw(self) -> None:
        p = self.plane
        if p is None:
            return
        metric = self.surface_box.currentData() or "train_loss"
        s = self.source.session
        s.colormap = self.cmap_box.currentText()
        zs = self.zscale_box.currentText()
        s.zscale = zs if not metric.endswith("_acc") else default_zscale(metric)
        self.source.set_landscape(p, p.info.get("name", "your model"), metric=metric, z_name=metric_label(metric),
                                  path_label=path_label(p))

    def _show_spectrum(self, spec) -> None:
        self.spectrum = spec
        item = self.spectrum_plot.getPlotItem()
        item.clear()
        # a log axis: where the smoothed density is below 1e-12 of its peak there is nothing to draw
        d = np.where(spec.density > 1e-12 * spec.density.max(), spec.density, np.nan)
        item.plot(spec.density_grid, d, pen=pg.mkPen("#33ccff", width=2), name="density (SLQ)", connect="finite")
        # PlotItem.addItem puts a named item in the legend: once
        top = pg.ScatterPlotItem(spec.eigenvalues, np.full(len(spec.eigenvalues), np.log10(np.nanmax(d))), size=10,
                                 brush=pg.mkBrush("#ff4d4d"), name=f"top {len(spec.eigenvalues)} eigenvalues")
        item.addItem(top)
        vals = ", ".join(f"{v:.6g}" for v in spec.eigenvalues)
        probes = spec.info["trace_samples"]
        self.spectrum_text.setText(
            f"λ = {vals}<br>trace = {spec.trace:.6g} ± {spec.trace_stderr:.2g} (Hutchinson, {probes} probes)<br>"
            f"residuals ‖Hv − λv‖/|λ₁| ≤ {max(spec.residuals):.1e}; loss {spec.loss:.6g}")
        self.blocks_table.setRowCount(len(spec.blocks))
        for r, (name, b) in enumerate(spec.blocks.items()):
            n = sum(int(np.prod(t.shape)) for t in b.eigenvectors[0].values())
            for c, text in enumerate((self._block_label(name), f"{n:,}", f"{b.eigenvalues[0]:.6g}",
                                      f"{b.trace:.6g} ± {b.trace_stderr:.2g}")):
                cell = QtWidgets.QTableWidgetItem(text)
                cell.setData(QtCore.Qt.ItemDataRole.UserRole, name)
                self.blocks_table.setItem(r, c, cell)
        self.blocks_table.resizeColumnsToContents()
        self._set_trust("spectrum", {"residuals": list(spec.residuals), "eigenvalues": list(spec.eigenvalues)})

    def _block_label(self, name: str) -> str:
        """A layer's name with its kind: ``0 (Linear)``, ``features.conv1 (Conv2d)``."""
        try:
            return f"{name} ({type(self.spec.model.get_submodule(name)).__name__})"
        except (AttributeError, TypeError):   # not a module path (a block given by hand)
            return name

    def _show_sharpness(self, values) -> None:
        self.sharpness = values
        item = self.sharpness_plot.getPlotItem()
        item.clear()
        x = np.arange(len(values))
        item.plot(x, values[:, 0], pen=pg.mkPen("#ffb000", width=2), symbol="o", symbolBrush="#ffb000",
                  name="λmax")
        lr = self.spec.lr
        if lr:
            item.plot([x[0], x[-1]], [2 / lr, 2 / lr], pen=pg.mkPen("#ff4d4d", width=1.5, style=QtCore.Qt.PenStyle.DashLine),
                      name=f"2/lr = {2 / lr:.4g}")

    def _show_connect(self, curve) -> None:
        self.curve = curve
        item = self.connect_plot.getPlotItem()
        item.clear()
        item.plot(curve.t, curve.loss_linear, pen=pg.mkPen("#ff4d4d", width=2), name="straight line")
        item.plot(curve.t, curve.loss_curve, pen=pg.mkPen("#33ccff", width=2), name=f"trained {curve.method}")
        self.connect_text.setText(f"barrier: straight line {curve.barrier_linear:.4g}, trained {curve.method} "
                                  f"{curve.barrier_curve:.4g} (the highest loss above the straight line between the two ends' losses)")

    # -- export ----------------------------------------------------------------------------------------
    def export_dialog(self) -> None:
        if self.plane is None:
            return
        from landscape_gui.ui.export.figures import FigureOptions

        stem = Path(self.spec.path).stem if self.spec else "model"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export plane", f"{stem}_plane.png",
            "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf);;loss-landscape surface (*.h5);;NumPy (*.npz)")
        if path:
            self.export_to(path, FigureOptions(view="2d" if path.lower().endswith((".svg", ".pdf")) else "both"))

    def export_to(self, path, opts) -> bool:
        from landscape_gui.ui.export.figures import ExportError, export

        try:
            if path.lower().endswith((".h5", ".npz")):
                self.plane.save(path)
            else:
                export(self.source, path, opts, animation="orbit")
        except (ExportError, OSError, ValueError) as exc:
            self.status.setText(f"export failed: {exc}")
            return False
        self.status.setText(f"exported {path}")
        return True

    def shutdown(self) -> None:
        self.jobs.shutdown()


def trust_text(trust: dict) -> str:
    """The trust report, as a person reads it: each check with its number and a verdict."""
    lines = []
    if "centre_loss" in trust:
        ok = trust.get("centre_matches")
        lines.append(f"{'✔' if ok else '✘'} loss at the centre {trust['centre_loss']:.6g} "
                     f"{'=' if ok else '≠'} the model's own {trust['model_loss']:.6g}")
    if "explained_variance" in trust:
        ev = trust["explained_variance"]
        lines.append(f"PCA explains {100 * ev[0]:.1f}% + {100 * ev[1]:.1f}% of the path's variance; the path lies "
                     f"up to {100 * trust['path_off_plane_relative']:.0f}% of its length off the plane")
    if "residuals" in trust:
        r = max(trust["residuals"])
        lines.append(f"{'✔' if r < 1e-4 else '✘'} eigenpairs: ‖Hv − λv‖/|λ₁| ≤ {r:.1e}")
    return "<br>".join(lines) or "—"
