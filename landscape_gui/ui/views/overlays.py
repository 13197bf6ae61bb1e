"""The Analysis results drawn into the views: critical-point markers and basin colours, in
the 2-D view (``ContourOverlay``) and the 3-D view (``SurfaceOverlay``)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6 import QtCore

from landscape_gui.ui.state.analysis_model import KIND_STYLE, AnalysisModel, basin_rgba


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
        cps = m.drawn_critical_points()
        index = {id(c): k for k, c in enumerate(m.critical_points)}  # a marker's row in the table
        self.points.setData([c.x for c in cps], [c.y for c in cps],
                            brush=[pg.mkBrush(KIND_STYLE[c.kind][0]) for c in cps],
                            symbol=[KIND_STYLE[c.kind][1] for c in cps],
                            data=[index[id(c)] for c in cps])

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
        from landscape_gui.ui.views.surface_view import LIFT, _gl_options

        self.view, self.model, self.lift = view, model, LIFT
        self.points = gl.GLScatterPlotItem(size=11, pxMode=True)
        self.points.setGLOptions(_gl_options())
        view.addItem(self.points)
        view.drape = self.drape_colors
        model.criticalPointsChanged.connect(self.update_points)
        model.basinsChanged.connect(self.view.update_surface)
        view.source.surfaceChanged.connect(self.update_points)
        self.update_points()

    def update_points(self) -> None:
        m, v, c = self.model, self.view, self.view.source
        cps = m.drawn_critical_points()
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

