"""The 3-D box's axis labels: round tick values along x and y, the axis names, and the z axis
drawn at paint time on whichever vertical edge is outermost on screen — for the window and for
exports of any size (``scale``)."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

from landscape_gui.core.scene import picking
from landscape_gui.core.scene.surface import height_ticks, nice_ticks, tick_text

HALF = 5.0      # the domain spans [-HALF, HALF] in scene x and y
ZSPAN = 4.0     # heights span [0, ZSPAN]


class BoxLabels:
    def __init__(self):
        self.labels: list[tuple[tuple, str, QtGui.QFont]] = []  # (scene position, text, font)
        self.z_ticks: list[tuple[float, str]] = []
        self.z_title = ""
        self.color = QtGui.QColor(220, 220, 225)
        self.drawn_rects: list[QtCore.QRectF] = []

    def update(self, session, axis_names, heights) -> None:
        """The labels for ``session``'s domain, the source's axis names and its height map."""
        H, Z = HALF, ZSPAN
        font = QtGui.QFont("DejaVu Sans", 9)
        bold = QtGui.QFont("DejaVu Sans", 11, QtGui.QFont.Weight.Bold)
        (x0, x1), (y0, y1) = session.xrange, session.yrange
        self.labels = []
        for xv in nice_ticks(x0, x1):  # round values where they are, not 5 even fractions
            self.labels.append(((-H + (xv - x0) / (x1 - x0) * 2 * H, -H - 0.6, 0), tick_text(xv), font))
        for yv in nice_ticks(y0, y1):
            self.labels.append(((H + 0.3, -H + (yv - y0) / (y1 - y0) * 2 * H, 0), tick_text(yv), font))
        xname, yname, zname = axis_names
        self.labels.append(((0, -H - 1.4, 0), xname, bold))
        self.labels.append(((H + 1.3, 0, 0), yname, bold))
        self.z_ticks = [(h * Z, tick_text(v)) for h, v in height_ticks(heights)]
        self.z_title = f"{zname} ({session.zscale})"

    def paint(self, painter: QtGui.QPainter, mvp: np.ndarray, width: int, height: int, scale: float = 1.0) -> None:
        """Axis labels at their projected places, for the screen or an export of any size.

        Every label sits on a dark plate (readable over yellow or purple) and a label
        that would overlap one already drawn is left out. The z axis goes on the vertical
        box edge that is leftmost on screen, so its labels stand beside the box, not on
        the surface or the start markers.
        """
        if not self.labels:
            return
        pos = np.array([p for p, _, _ in self.labels], dtype=float)
        screen = picking.project(pos, mvp, width, height)
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self.drawn_rects = []
        for (x, y), (_, text, font) in zip(screen, self.labels):
            if np.isfinite(x):
                self._plate_text(painter, QtCore.QPointF(x, y), text, font, scale, "center")
        self._paint_z_axis(painter, mvp, width, height, scale)

    def _paint_z_axis(self, painter, mvp, width, height, scale) -> None:
        ticks = self.z_ticks
        H, Z = HALF, ZSPAN
        corners = np.array([(-H, -H), (H, -H), (H, H), (-H, H)], dtype=float)
        bottoms = picking.project(np.c_[corners, np.zeros(4)], mvp, width, height)
        k = int(np.nanargmin(bottoms[:, 0])) if np.isfinite(bottoms[:, 0]).any() else 3
        cx, cy = corners[k]
        ends = picking.project(np.array([(cx, cy, 0.0), (cx, cy, Z)]), mvp, width, height)
        if not np.isfinite(ends).all():
            return
        pen = QtGui.QPen(QtGui.QColor(205, 205, 215, 150), max(1.0, scale))
        painter.setPen(pen)
        painter.drawLine(QtCore.QPointF(*ends[0]), QtCore.QPointF(*ends[1]))
        title = QtGui.QFont("DejaVu Sans", 10, QtGui.QFont.Weight.Bold)
        self._plate_text(painter, QtCore.QPointF(ends[1][0], ends[1][1] - 14 * scale),
                         self.z_title, title, scale, "center")  # first: it always shows
        font = QtGui.QFont("DejaVu Sans", 9)
        pts = picking.project(np.array([(cx, cy, z) for z, _ in ticks], dtype=float).reshape(-1, 3),
                              mvp, width, height)
        for (x, y), (_, text) in zip(pts, ticks):
            if not np.isfinite(x):
                continue
            painter.setPen(pen)
            painter.drawLine(QtCore.QPointF(x - 5 * scale, y), QtCore.QPointF(x, y))
            self._plate_text(painter, QtCore.QPointF(x - 8 * scale, y), text, font, scale, "right")

    def _plate_text(self, painter, anchor: QtCore.QPointF, text: str, font, scale: float, align: str) -> None:
        f = QtGui.QFont(font)
        f.setPointSizeF(font.pointSizeF() * scale)
        painter.setFont(f)
        metrics = QtGui.QFontMetricsF(f)
        w, h = metrics.horizontalAdvance(text), metrics.height()
        left = anchor.x() - (w if align == "right" else w / 2)
        rect = QtCore.QRectF(left - 3 * scale, anchor.y() - h / 2 - 1, w + 6 * scale, h + 2)
        if any(rect.intersects(r) for r in self.drawn_rects):
            return  # never on top of another label
        self.drawn_rects.append(rect)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(QtGui.QColor(21, 23, 28, 200))
        painter.drawRoundedRect(rect, 3 * scale, 3 * scale)
        painter.setPen(self.color)
        painter.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, text)

