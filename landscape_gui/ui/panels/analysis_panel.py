"""The Analysis dock's widgets: critical points (table), basins of attraction, learning-rate
sweep (plot); they edit an ``AnalysisModel`` (ui.state.analysis_model) and draw nothing of the views."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.ui.state.analysis_model import (
    BASIN_COLORS,
    KIND_GLYPH,
    KIND_STYLE,
    MAX_TABLE_ROWS,
    AnalysisModel,
)
from landscape_gui.ui.state.signals import signals_blocked
from landscape_gui.ui.views.axes import LogAxis


class LRSweepPlot(pg.GraphicsLayoutWidget):
    """Final loss and steps-to-converge against lr (log x), the stability edge marked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lrSweepPlot")
        self.setBackground("#15171c")
        self.loss = self.addPlot(row=0, col=0, axisItems={"left": LogAxis("left"), "bottom": LogAxis("bottom")})
        self.steps = self.addPlot(row=1, col=0, axisItems={"bottom": LogAxis("bottom")})
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


def _tuned_text(res) -> str:
    """A race row's optimizer: its name, then the tuned rate to 3 digits and what else differs from
    torch's defaults (the full label is the tooltip)."""
    inner = res.label[len(res.name) + 1:-1]
    rest = ", ".join(p for p in inner.split(", ") if not p.startswith("lr="))
    return f"{res.name} lr={res.best['lr']:.3g}" + (f"\n{rest}" if rest else "")


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
        self.tabs.addTab(_scrolling(self._critical_tab(model)), "Critical")   # short: the four tabs fit a narrow dock
        self.tabs.setTabToolTip(0, "Critical points: minima, saddles and maxima with their curvature")
        self.tabs.addTab(_scrolling(self._basins_tab()), "Basins")
        self.tabs.addTab(_scrolling(self._sweep_tab(model)), "LR sweep")
        self.tabs.addTab(_scrolling(self._race_tab(model)), "Race")
        self.status = QtWidgets.QLabel(wordWrap=True, objectName="analysisStatus")
        lay.addWidget(self.status)
        self._connect(model, c)
        self.centre_requested = None   # set by the window: callable(x, y)
        self.fill_choices()

    def _critical_tab(self, model: AnalysisModel) -> QtWidgets.QWidget:
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
        return cp

    def _basins_tab(self) -> QtWidgets.QWidget:
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
        return bp

    def _sweep_tab(self, model: AnalysisModel) -> QtWidgets.QWidget:
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
        return sp

    def _race_tab(self, model: AnalysisModel) -> QtWidgets.QWidget:
        """A fair race: every enabled optimizer tuned with the same budget, from the same starts."""
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        note = QtWidgets.QLabel("Every enabled optimizer gets the same number of trials on a log grid of "
                                "learning rates fit for it, from every start point: the winner is the method, "
                                "not its tuning.", wordWrap=True)
        note.setStyleSheet("color: #9aa0a6;")
        lay.addWidget(note)
        form = QtWidgets.QFormLayout()
        self.race_budget = QtWidgets.QSpinBox(minimum=2, maximum=1024, value=model.race_budget,
                                              objectName="raceBudget")
        self.race_tol = QtWidgets.QLineEdit(f"{model.race_tol:g}", objectName="raceTol")
        self.race_tol.setValidator(QtGui.QDoubleValidator(1e-300, 1e300, 20))
        self.race_tol.setToolTip("A run has arrived when its loss is within this of the best loss any run "
                                 "reached, and stays there")
        self.race_momentum = QtWidgets.QCheckBox("tune momentum / β₁ too", objectName="raceMomentum")
        form.addRow("trials each", self.race_budget)
        form.addRow("within", self.race_tol)
        form.addRow(self.race_momentum)
        lay.addLayout(form)
        row = QtWidgets.QHBoxLayout()
        self.race_run = QtWidgets.QPushButton("Run race", objectName="raceRun")
        self.race_cancel = QtWidgets.QPushButton("Cancel", objectName="raceCancel", enabled=False)
        self.race_progress = QtWidgets.QProgressBar(objectName="raceProgress")
        self.race_progress.setRange(0, 100)
        self.race_progress.setValue(0)
        row.addWidget(self.race_run)
        row.addWidget(self.race_cancel)
        row.addWidget(self.race_progress, 1)
        lay.addLayout(row)
        self.race_table = QtWidgets.QTableWidget(0, 4, objectName="raceTable")
        self.race_table.setHorizontalHeaderLabels(["#", "tuned optimizer", "steps to tol", "final loss"])
        self.race_table.verticalHeader().hide()
        self.race_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.race_table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.race_table.horizontalHeader()
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for k in (0, 2, 3):
            header.setSectionResizeMode(k, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.race_table.setMinimumHeight(140)
        lay.addWidget(self.race_table, 1)
        self.race_use = QtWidgets.QPushButton("Use these settings", objectName="raceUse", enabled=False)
        self.race_use.setToolTip("Set every raced optimizer's card to its tuned hyperparameters (one undo step)")
        lay.addWidget(self.race_use)
        self.race_run.clicked.connect(self._start_race)
        self.race_cancel.clicked.connect(lambda: model.cancel("race"))
        self.race_use.clicked.connect(self._use_race_settings)
        model.raceChanged.connect(self.show_race)
        model.raceProgress.connect(lambda d, n: self.race_progress.setValue(int(100 * d / max(n, 1))))
        return page

    def _start_race(self) -> None:
        m = self.model
        m.race_budget = self.race_budget.value()
        try:
            tol = float(self.race_tol.text())
        except ValueError:
            tol = 0.0
        if not (tol > 0 and np.isfinite(tol)):
            self.status.setText(f"race: 'within' must be a number > 0, got '{self.race_tol.text()}'")
            return
        m.race_tol = tol
        m.race_momentum = self.race_momentum.isChecked()
        self.race_progress.setValue(0)
        m.start_race()

    def show_race(self) -> None:
        rows = self.model.race_results or []
        t = self.race_table
        t.setRowCount(len(rows))
        for r, (i, res) in enumerate(rows):
            steps = "—" if not np.isfinite(res.steps_to_tol) else f"{res.steps_to_tol:.0f}"
            items = [str(r + 1), _tuned_text(res), steps, f"{res.final_loss:.3g}"]
            for k, text in enumerate(items):
                item = QtWidgets.QTableWidgetItem(text)
                if k == 1:
                    item.setToolTip(res.label)
                    o = self.model.controller.session.optimizers
                    if i < len(o):
                        item.setForeground(QtGui.QColor(o[i].color))
                if k in (0, 2, 3):
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                t.setItem(r, k, item)
        t.setWordWrap(True)              # a tuned label wraps at its commas instead of being cut off
        t.resizeRowsToContents()
        self.race_use.setEnabled(bool(rows))
        self.race_progress.setValue(100 if rows else 0)

    def _use_race_settings(self) -> None:
        rows = self.model.race_results or []
        c = self.model.controller
        opts = c.session.optimizers
        settings = {i: res.best for i, res in rows if i < len(opts) and opts[i].name == res.name}
        if settings:
            c.use_settings(settings)
            self.status.setText(f"race settings applied to {len(settings)} optimizers (Edit → Undo takes them back)")

    def _connect(self, model: AnalysisModel, c) -> None:
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
            width = max(t.sizeHintForColumn(k), header.sectionSizeHint(k)) + 12  # the sort arrow and padding: "cond." was clipped to "ond"
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
        if job == "race":
            self.race_cancel.setEnabled(running)
            self.race_run.setEnabled(not running)
            if running:
                self.status.setText("racing: tuning every optimizer…")
            return
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

