"""Axis and legend pieces every plot of the window shares: a log axis whose labels never stack
(``LogAxis``) and legend swatches level with their labels (``LineSample``, ``add_legend_entry``)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from landscape_gui.core.scene.surface import nice_ticks, tick_text

LOG_PRIORITY = (1, 5, 2, 3, 4, 6, 7, 8, 9)  # which mantissas keep their label first on a log axis


class LogAxis(pg.AxisItem):
    """A log axis whose labels never stack: within a level of ticks, labels are kept in order of
    importance (decades, then 5, then 2, …) only where they clear the labels already kept by a
    line height (2·10¹ … 9·10¹ crowded near the next decade and were drawn over each other)."""

    def tickValues(self, minVal, maxVal, size):
        """Within less than a decade a log axis has one tick or none (50 … 59 showed only
        "5·10¹" at its very edge): round values there instead, at their log positions."""
        if self.logMode and 0 < maxVal - minVal < 1.0:
            target = max(2, min(6, int(size / 40)))
            vals = nice_ticks(10.0 ** minVal, 10.0 ** maxVal, target)
            vals = vals[vals > 0]
            return [(None, list(np.log10(vals)))]
        return super().tickValues(minVal, maxVal, size)

    def logTickStrings(self, values, scale, spacing):
        lo, hi = self.range
        if 0 < hi - lo < 1.0:
            return [tick_text(float(10.0 ** v)) for v in values]
        labels = super().logTickStrings(values, scale, spacing)
        lo, hi = self.range
        length = self.geometry().height() if self.orientation in ("left", "right") else self.geometry().width()
        if length <= 0 or hi <= lo:
            return labels
        per_unit = length / (hi - lo)
        gap = QtGui.QFontMetricsF(self.style["tickFont"] or self.font()).height() * 1.15
        if self.orientation in ("top", "bottom"):
            gap = 3.0 * gap
        taken = [k * per_unit for k in range(int(np.floor(lo)), int(np.ceil(hi)) + 1)]  # the decades' labels
        keep = [False] * len(values)
        order = sorted(range(len(values)), key=lambda i: LOG_PRIORITY.index(
            min(LOG_PRIORITY, key=lambda m: abs(10 ** (float(values[i]) % 1.0) - m))))
        for i in order:
            p = float(values[i]) * per_unit
            if abs(float(values[i]) - round(float(values[i]))) < 1e-9 or all(abs(p - q) >= gap for q in taken):
                keep[i] = True
                taken.append(p)
        return [text if k else "" for text, k in zip(labels, keep)]


class LineSample(pg.ItemSample):
    """A legend swatch level with its label: pyqtgraph's sample is a fixed 20x20 box with the
    line at y = 11, at the top of a row as tall as its label, so swatches sat below and left of
    their text. ``add_legend_entry`` makes it as tall as its label; the line is at its middle."""

    def boundingRect(self):
        return QtCore.QRectF(0, 0, 20, max(self.size().height(), 8.0))

    def paint(self, p, *args):
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.setPen(pg.mkPen(self.item.opts["pen"]))
        y = self.size().height() / 2
        p.drawLine(QtCore.QPointF(0, y), QtCore.QPointF(20, y))

    def mouseClickEvent(self, event):
        event.ignore()  # a swatch stands for an optimizer, not a curve that can be hidden


def add_legend_entry(legend: pg.LegendItem, color, label: str, width: float = 2.5) -> None:
    """One legend row: a LineSample in ``color`` exactly as tall as its label."""
    legend.addItem(pg.PlotDataItem([], [], pen=pg.mkPen(color, width=width)), label)
    sample, text = legend.items[-1]
    sample.setFixedHeight(max(text.item.boundingRect().height(), 8.0))


