"""The loss plot: every trajectory's loss against the step (throttled while things move)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from landscape_gui.ui.views.axes import LineSample, LogAxis, add_legend_entry

THROTTLE_S = 0.25  # the loss plot redraws at most this often while things move
class LossPlot(pg.PlotWidget):
    """Loss vs step for every trajectory, colours matching; log y optional.

    The legend sits in its own column right of the axes, so it never covers a curve,
    and has one entry per enabled optimizer drawn from the optimizer's own colour (not
    tied to a curve, whose index shifts when start points come and go). The y range
    comes from the runs that stay finite; a run that blows up is drawn until it leaves
    that range and marked there with a red cross, instead of rescaling the plot to 1e21.
    """

    def __init__(self, controller, parent=None):
        super().__init__(parent, background="#15171c", axisItems={"left": LogAxis("left")})
        self.setObjectName("lossPlot")
        self.controller = controller
        self.log_y = True
        item = self.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "f")
        item.showGrid(x=True, y=True, alpha=0.2)
        for axis in ("left", "bottom"):  # axes redraw only when their range changes, not per frame
            item.getAxis(axis).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # SI prefixes on a log axis turned 1e21 into "(x1e+21)" and ticks of 1e-41
        item.getAxis("left").enableAutoSIPrefix(False)
        self.curves: list[pg.PlotDataItem] = []
        self._axis_state = None
        self._shift = 0.0
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 255, 255, 120), width=1))
        self.addItem(self.cursor)
        self.left_marks = pg.ScatterPlotItem(symbol="x", size=11, pen=pg.mkPen("#ff5555", width=2),
                                             brush=None)
        self.left_marks.setZValue(10)
        self._departures = 0
        self.addItem(self.left_marks)
        self._refit = QtCore.QTimer(self, singleShot=True, interval=250)
        self._refit.timeout.connect(self._fit_y)
        self.legend = pg.LegendItem(labelTextColor=(230, 230, 230), brush=pg.mkBrush(21, 23, 28, 230),
                                    verSpacing=-4, sampleType=LineSample)
        # a column of its own, right of the plot, spanning the loss, its step axis and the lr strip
        # below (row 4): in the loss's row alone, eight entries made that row tall enough to
        # squeeze the strip to two lines without a tick or its "lr"
        item.layout.addItem(self.legend, 2, 3, 3, 1)
        # at the top of that column, its natural height: stretched to the plot's height, its rows
        # spread apart and each swatch sat far below its label
        self.legend.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Maximum)
        item.layout.setAlignment(self.legend, QtCore.Qt.AlignmentFlag.AlignTop)
        item.layout.setColumnStretchFactor(3, 0)
        self._legend_entries: list[tuple[str, str]] | None = None
        # the learning rate of every run against the step, in a thin strip under the loss (its
        # schedule's; a plateau rule's from that run's losses), x linked to the plot above
        self.lr_strip = pg.PlotItem(axisItems={"left": LogAxis("left")})
        self.lr_strip.setObjectName("lrStrip")
        self.lr_strip.setMenuEnabled(False)
        self.lr_strip.setMouseEnabled(x=False, y=False)
        self.lr_strip.hideButtons()
        self.lr_strip.setLogMode(y=True)
        self.lr_strip.setLabel("left", "lr")
        self.lr_strip.hideAxis("bottom")
        self.lr_strip.getAxis("left").enableAutoSIPrefix(False)
        self.lr_strip.showGrid(x=True, y=False, alpha=0.15)
        self.lr_strip.setMinimumHeight(36)   # shrinks with a short dock instead of being cut off
        self.lr_strip.setMaximumHeight(100)
        self.lr_strip.setXLink(item)
        for axis in (item.getAxis("left"), self.lr_strip.getAxis("left")):
            axis.setWidth(64)   # the two plots' left edges line up
        item.layout.addItem(self.lr_strip, 4, 0, 1, 3)
        item.layout.setRowStretchFactor(2, 3)   # the loss gets three parts of the height, the rates one
        item.layout.setRowStretchFactor(4, 1)
        self.lr_curves: list[pg.PlotDataItem] = []
        self._lr_cache: dict = {}
        self._rate_span: tuple[float, float] | None = None
        self.lr_strip.getViewBox().sigResized.connect(lambda *_: self._rate_span and self._rate_ticks(*self._rate_span))
        self._y_range: tuple[float, float] | None = None
        controller.trajectoriesChanged.connect(self._trajectories_changed)
        self._last_full = -1.0
        self._pending = False  # False: nothing scheduled; None: everything; a set: those starts
        self._deferred = QtCore.QTimer(self, singleShot=True)
        self._deferred.timeout.connect(self._flush)
        controller.stepChanged.connect(self.cursor.setValue)
        controller.optimizersChanged.connect(self._update_legend)
        controller.sessionReplaced.connect(self._update_legend)
        self.refresh()

    def set_log(self, on: bool) -> None:
        self.log_y = on
        self.refresh(None)

    def _trajectories_changed(self, starts) -> None:
        """Redraw at most every 0.25 s: during a drag or a slider move the surface views keep up
        frame by frame, and this plot follows at 4 Hz (and exactly once the motion stops)."""
        import time

        now = time.perf_counter()
        if self._pending is not False:  # a redraw is scheduled: merge what it must cover
            self._pending = None if (starts is None or self._pending is None) else self._pending | set(starts)
            return
        if now - self._last_full < THROTTLE_S:
            self._pending = None if starts is None else set(starts)
            self._deferred.start(int((THROTTLE_S - (now - self._last_full)) * 1000) + 1)
            return
        self._last_full = now
        self.refresh(starts)

    def _flush(self) -> None:
        import time

        pending, self._pending = self._pending, False
        self._last_full = time.perf_counter()
        self.refresh(None if pending is None else sorted(pending))

    def _update_legend(self) -> None:
        entries = [(o.label, o.color) for o in self.controller.session.enabled_optimizers()]
        if entries == self._legend_entries:
            return
        self._legend_entries = entries
        self.legend.clear()
        for label, color in entries:
            add_legend_entry(self.legend, color, label)
        self._fit_legend()

    def _fit_legend(self) -> None:
        """As many legend columns as the plot's height needs: twelve entries in one column ran
        past the bottom of the panel, the last ones cut off with the lr strip's lowest rate."""
        items = self.legend.items
        if not items:
            return
        row = max(label.boundingRect().height() for _, label in items) + self.legend.layout.verticalSpacing()
        room = self.getPlotItem().size().height() - 12   # the legend's own margins
        rows = max(1, int(room // max(row, 1.0)))
        columns = -(-len(items) // rows)
        if columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if hasattr(self, "legend"):   # not during __init__
            self._fit_legend()

    def legend_entries(self) -> list[tuple[str, str]]:
        """(label, colour) of each legend entry as drawn."""
        return [(label.text, sample.item.opts["pen"].color().name())
                for sample, label in self.legend.items]

    def refresh(self, starts=None) -> None:
        """All curves; the y range is refitted only on full updates, not during a drag
        (refitting re-renders the axes, the most expensive part of this plot)."""
        c = self.controller
        b = c.batch
        self._update_legend()
        if b is None:
            return
        if starts is None:
            self._refit.start()  # refit once the slider or typing pauses
        enabled = c.session.enabled_optimizers()
        n_cfg, n_st = b.losses.shape[:2]
        while len(self.curves) < n_cfg * n_st:
            curve = pg.PlotDataItem(connect="finite")
            self.addItem(curve)
            self.curves.append(curve)
        while len(self.curves) > n_cfg * n_st:
            self.removeItem(self.curves.pop())
        losses = b.losses
        shift, label = 0.0, "f"
        if self.log_y:
            finite = losses[np.isfinite(losses)]
            low = float(finite.min()) if finite.size else 0.0
            if low <= 0:  # log needs positive values: plot f - min + tiny
                shift, label = -low + 1e-12 * max(1.0, abs(low)), "f − min f"
        axis_state = (self.log_y, label)
        if axis_state != self._axis_state:  # re-rendering the axes is costly
            self._axis_state = axis_state
            self.getPlotItem().setLogMode(y=self.log_y)
            self.getPlotItem().setLabel("left", label + (" (log)" if self.log_y else ""))
        self._shift = shift
        top = self._top(losses + shift)
        steps = np.arange(losses.shape[2])
        for ci in range(n_cfg):
            pen = pg.mkPen(enabled[ci].color, width=1)
            for k in (range(n_st) if starts is None else starts):
                y = losses[ci, k] + shift
                over = np.flatnonzero(~(y <= top))  # beyond the range, inf or NaN: it has left
                if over.size:
                    y = y[: over[0]]
                self.curves[ci * n_st + k].setData(steps[: y.size], y, pen=pen)
        self._mark_departures(losses + shift, top)
        self._draw_rates(enabled, b)
        self.cursor.setValue(c.step)

    def rates(self, enabled, b) -> list[tuple[str, np.ndarray]]:
        """(colour, lr per step) of each curve of the strip: one per optimizer, or one per start
        when a plateau rule sets it from each run's losses."""
        from landscape_gui.core import optimizers

        steps = b.losses.shape[2] - 1
        out = []
        for ci, o in enumerate(enabled[: b.losses.shape[0]]):
            text = o.hyperparameters.get("schedule", "")
            try:
                if "ReduceLROnPlateau" in text:
                    for k in range(b.losses.shape[1]):
                        out.append((o.color, optimizers.step_rates(o.name, o.hyperparameters, steps, b.losses[ci, k])))
                    continue
                key = (o.name, repr(sorted(o.hyperparameters.items())), steps)
                if key not in self._lr_cache:
                    if len(self._lr_cache) > 64:
                        self._lr_cache.clear()
                    self._lr_cache[key] = optimizers.step_rates(o.name, o.hyperparameters, steps)
                out.append((o.color, self._lr_cache[key]))
            except ValueError:   # a typed rule without an lr: nothing to draw
                continue
        return out

    def _draw_rates(self, enabled, b) -> None:
        rows = self.rates(enabled, b)
        while len(self.lr_curves) < len(rows):
            curve = pg.PlotDataItem(connect="finite")
            self.lr_strip.addItem(curve)
            self.lr_curves.append(curve)
        while len(self.lr_curves) > len(rows):
            self.lr_strip.removeItem(self.lr_curves.pop())
        lows, highs = [], []
        for curve, (color, lrs) in zip(self.lr_curves, rows):
            y = np.where(lrs > 0, lrs, np.nan)
            curve.setData(np.arange(1, y.size + 1), y, pen=pg.mkPen(color, width=1.5))
            if np.isfinite(y).any():
                lows.append(np.nanmin(y))
                highs.append(np.nanmax(y))
        if lows:
            lo, hi = np.log10(min(lows)), np.log10(max(highs))
            pad = max(0.1 * (hi - lo), 0.15)
            self.lr_strip.setYRange(lo - pad, hi + pad, padding=0)
            self._rate_ticks(lo, hi)

    def _rate_ticks(self, lo: float, hi: float) -> None:
        """Decade labels the strip's height has room for (one a line: a 40-pixel strip spanning five
        decades showed five labels on top of each other)."""
        self._rate_span = (lo, hi)
        axis = self.lr_strip.getAxis("left")
        vb = self.lr_strip.getViewBox()
        rows = max(2, int(vb.height() // 16))
        # only decades inside the drawn range: rates 1e-4..0.05 once labelled 0.1 (above the
        # strip, so not drawn) and 0.001, and 0.01 went unlabelled
        shown_lo, shown_hi = vb.viewRange()[1]
        decades = list(range(int(np.ceil(shown_lo - 1e-9)), int(np.floor(shown_hi + 1e-9)) + 1))
        step = max(1, -(-len(decades) // rows))
        chosen = decades[::-1][::step]
        if not decades:   # a span within one decade: its own ends (one rate: that rate)
            chosen = [lo, hi] if rows >= 3 and hi - lo > 0.3 else [lo]
        axis.setTicks([[(float(d), f"{10.0 ** d:.3g}") for d in chosen], []])

    def _top(self, values: np.ndarray) -> float:
        """Upper end of the y range: the largest value of the runs that stay finite and
        bounded, at most 1000x the largest starting value (a run on its way to 1e21 is not
        allowed to squash every other curve into the bottom pixel row)."""
        start = values[..., 0]
        ref = np.nanmax(np.abs(start[np.isfinite(start)])) if np.isfinite(start).any() else 1.0
        limit = max(ref, 1e-300) * 1e3
        finite = values[np.isfinite(values) & (values <= limit)]
        return float(finite.max()) if finite.size else limit

    def _mark_departures(self, values: np.ndarray, top: float) -> None:
        """A cross where each run leaves the plotted range, in that run's colour (a red cross on
        a yellow run read as the red optimizer's)."""
        xs, ys, pens = [], [], []
        colors = [o.color for o in self.controller.session.enabled_optimizers()]
        for ci in range(values.shape[0]):
            for k in range(values.shape[1]):
                over = np.flatnonzero(~(values[ci, k] <= top))
                if over.size:
                    xs.append(max(over[0] - 1, 0))
                    ys.append(np.log10(top) if self.log_y and top > 0 else top)
                    pens.append(pg.mkPen(colors[ci] if ci < len(colors) else "#ff5555", width=2.5))
        self.left_marks.setData(xs, ys, pen=pens)
        self._departures = len(xs)

    def _fit_y(self) -> None:
        b = self.controller.batch
        if b is None:
            return
        values = b.losses + self._shift
        top = self._top(values)
        finite = values[np.isfinite(values) & (values <= top)]
        if not finite.size:
            return
        lo, hi = float(finite.min()), top
        if self.log_y:
            lo, hi = np.log10(max(lo, 1e-300)), np.log10(max(hi, 1e-300))
        pad = 0.04 * (hi - lo) if hi > lo else 0.5
        self.getPlotItem().setYRange(lo - pad, hi + pad, padding=0)
        self._y_range = (lo - pad, hi + pad)

