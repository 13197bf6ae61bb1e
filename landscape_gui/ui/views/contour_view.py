"""The 2-D view: heat map with isolines, the same trajectories, draggable start points."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from landscape_gui.core.scene import playback
from landscape_gui.core.scene.surface import isolines
from landscape_gui.ui.views.gestures import GRAB_PIXELS, StartPointMouse

N_ISOLINES = 12
EQUAL_WITHIN = 1.5  # automatic equal aspect only for domains this close to square
ISOLINE_PAUSE = 0.15  # seconds between surface changes that count as "still changing"


class ContourView(StartPointMouse, pg.PlotWidget):
    statusMessage = QtCore.Signal(str)  # the read-out under the pointer (the window shows it)
    trail = False  # True: trajectories end at the playback step (animation export)

    def __init__(self, source, parent=None):
        super().__init__(parent, background="#15171c")
        self.setObjectName("contourView")
        self.source = source
        self.show_arrows = True
        item = self.getPlotItem()
        item.setLabel("bottom", "x")
        item.setLabel("left", "y")
        #: "auto": one unit of x is as long as one of y when the domain is nearly square (spans
        #: within EQUAL_WITHIN of each other), else each axis fills the view;
        #: "equal" / "free" force one or the other (View menu)
        self.aspect_mode = "auto"
        # a fixed tick-label column: with the aspect locked, a new range changed the labels'
        # width, which changed the view's width, which changed the range... an endless loop
        item.getAxis("left").setWidth(52)
        item.hideButtons()
        for axis in ("left", "bottom"):  # axes redraw only when their range changes, not per frame
            self.getPlotItem().getAxis(axis).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.isolines = pg.PlotDataItem(connect="finite", pen=pg.mkPen((255, 255, 255, 80), width=1))
        self.isolines.setZValue(5)
        self.addItem(self.isolines)
        # the landscape changes rarely; trajectories on every drag: cache the former as pixmaps
        for item in (self.image, self.isolines):
            item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._last_isolines = -1.0
        self._isoline_timer = QtCore.QTimer(self, singleShot=True, interval=int(ISOLINE_PAUSE * 1000))
        self._isoline_timer.timeout.connect(self._isolines_after_pause)
        self.curves: list[pg.PlotCurveItem] = []
        self.heads = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k", width=1))
        self.arrows = pg.PlotDataItem(connect="pairs")
        self.markers = pg.ScatterPlotItem(size=14, brush=pg.mkBrush("w"), pen=pg.mkPen("k", width=1.5))
        self.minima = pg.ScatterPlotItem(size=13, symbol="star", brush=pg.mkBrush(255, 255, 255, 230),
                                         pen=pg.mkPen("k", width=0.8))
        self.minima.setToolTip("published minima of this preset")
        self.exits = pg.ScatterPlotItem(size=15, symbol="x", pen=pg.mkPen((0, 0, 0, 200), width=1))
        self.exits.setToolTip("where a run left the domain (drawn only that far)")
        self._brush_colors = None
        self._axis_names = None
        self._domain = None
        self._curve_colors: dict = {}
        self._brushes: list = []
        for it in (self.minima, self.heads, self.arrows, self.markers, self.exits):
            self.addItem(it)
        self.exits.setZValue(25)
        self.heads.setZValue(20)
        self.arrows.setZValue(21)
        self.markers.setZValue(30)
        self.setMouseTracking(True)
        self.observe_source()

    def update_surface(self) -> None:
        c = self.source
        s = c.session
        h = c.height_grid
        cmap = pg.colormap.get(s.colormap)
        self.image.setLookupTable(cmap.getLookupTable(nPts=256))
        self.image.setImage(np.where(np.isfinite(c.grid), h, np.nan), levels=(0.0, 1.0))
        (x0, x1), (y0, y1) = s.xrange, s.yrange
        nx, ny = c.xs.size, c.ys.size
        dx, dy = (x1 - x0) / (nx - 1), (y1 - y0) / (ny - 1)
        # pixel centres sit on the grid points
        self.image.setRect(QtCore.QRectF(x0 - dx / 2, y0 - dy / 2, (x1 - x0) + dx, (y1 - y0) + dy))
        xname, yname, _ = c.axis_names
        if self._axis_names != (xname, yname):  # network planes: α, β
            self._axis_names = (xname, yname)
            self.getPlotItem().setLabel("bottom", xname)
            self.getPlotItem().setLabel("left", yname)
        self._update_isolines()
        m = c.known_minima()
        self.minima.setData(m[:, 0], m[:, 1])
        if (s.xrange, s.yrange) != self._domain:  # refit only for a new domain
            self._domain = (s.xrange, s.yrange)
            self._apply_aspect()
            self.getPlotItem().getViewBox().setRange(xRange=s.xrange, yRange=s.yrange, padding=0.02)

    def equal_aspect(self) -> bool:
        """Whether the 2-D view draws x and y units at the same length: automatically only when
        the domain is nearly square (spans within 1.5x), so a wide plane (a ravine, a PCA plane)
        fills the view instead of a strip with most of the view empty."""
        if self.aspect_mode != "auto":
            return self.aspect_mode == "equal"
        (x0, x1), (y0, y1) = self.source.session.xrange, self.source.session.yrange
        ratio = (x1 - x0) / (y1 - y0)
        return 1 / EQUAL_WITHIN <= ratio <= EQUAL_WITHIN

    def set_aspect_mode(self, mode: str) -> None:
        self.aspect_mode = mode
        self._apply_aspect()
        s = self.source.session
        self.getPlotItem().getViewBox().setRange(xRange=s.xrange, yRange=s.yrange, padding=0.02)

    def _apply_aspect(self) -> None:
        self.getPlotItem().getViewBox().setAspectLocked(self.equal_aspect(), ratio=1.0)

    def _update_isolines(self) -> None:
        """Isolines now, unless the surface changes continuously (a slider being dragged):
        then they are hidden and drawn once it pauses, so the heat map keeps up."""
        now = time.perf_counter()
        if now - self._last_isolines < ISOLINE_PAUSE:
            self.isolines.setData([], [])
            self._isoline_timer.start()
        else:
            c = self.source
            lines = isolines(c.xs, c.ys, c.height_grid, N_ISOLINES)
            self.isolines.setData(lines[:, 0], lines[:, 1])
        self._last_isolines = now

    def _isolines_after_pause(self) -> None:
        self._last_isolines = -1.0
        self._update_isolines()

    def update_trajectories(self, starts=None) -> None:
        c = self.source
        b = c.batch
        if b is None:
            return
        enabled = c.session.enabled_optimizers()
        n_cfg, n_st = b.points.shape[:2]
        while len(self.curves) < n_cfg * n_st:
            # PlotCurveItem, not PlotDataItem: a tenth of the setData overhead, and a drag
            # calls setData for every optimizer on every mouse move
            curve = pg.PlotCurveItem(connect="finite")
            curve.setZValue(10)
            self.addItem(curve)
            self.curves.append(curve)
        while len(self.curves) > n_cfg * n_st:
            self.removeItem(self.curves.pop())
        end = c.step + 1 if self.trail else None
        for ci in range(n_cfg):
            color = enabled[ci].color
            for k in range(n_st):
                curve = self.curves[ci * n_st + k]
                if self._curve_colors.get(id(curve)) != color:
                    self._curve_colors[id(curve)] = color
                    curve.setPen(pg.mkPen(color, width=2.2))
        s = c.session
        changed = list(range(n_st) if starts is None else starts)
        # one clipping pass for all paths: how far each is drawn, and where it left the domain
        kept, exits = playback.clip_paths(b.points[:, :, :end], s.xrange, s.yrange)
        for k in changed:
            for ci in range(n_cfg):
                pts = b.points[ci, k, : kept[ci, k]]  # up to where it leaves the domain
                self.curves[ci * n_st + k].setData(pts[:, 0], pts[:, 1])
        # where runs left the domain, marked on its edge in the run's colour
        ci, k = np.nonzero(np.isfinite(exits[..., 0]))
        self.exits.setData(exits[ci, k, 0], exits[ci, k, 1],
                           brush=[pg.mkBrush(enabled[i].color) for i in ci])
        self.update_markers()
        self.update_step()

    def update_markers(self) -> None:
        p = np.array(self.source.session.starts, dtype=float).reshape(-1, 2)
        self.markers.setData(p[:, 0], p[:, 1])

    def set_arrows(self, on: bool) -> None:
        self.show_arrows = bool(on)
        self.update_step()

    def update_step(self) -> None:
        """Heads and state arrows at the playback step, inside the domain (core.scene.playback)."""
        c = self.source
        b = c.batch
        if b is None or 0 in b.points.shape[:2]:
            self.heads.setData([], [])
            self.arrows.setData([], [])
            return
        s = c.session
        colors = [o.color for o in s.enabled_optimizers()]
        fr = playback.frame(b, c.step, s.xrange, s.yrange, [pg.mkColor(col).getRgbF() for col in colors],
                            arrows=self.show_arrows)
        n_st = fr.index.shape[1]
        if self._brush_colors != (colors, n_st):  # same brush objects: no re-render
            self._brush_colors = (colors, n_st)
            self._brushes = [pg.mkBrush(col) for col in colors for _ in range(n_st)]
        self.heads.setData(fr.heads[..., 0].ravel(), fr.heads[..., 1].ravel(), brush=self._brushes)
        seg = fr.segments.reshape(-1, 2)
        self.arrows.setData(seg[:, 0], seg[:, 1], pen=pg.mkPen((245, 245, 245, 220), width=1.6))

    # -- what the shared mouse gestures (StartPointMouse) need --------------------------------
    def data_under(self, pos) -> tuple[float, float]:
        p = self.getPlotItem().getViewBox().mapSceneToView(self.mapToScene(pos.toPoint()))
        return p.x(), p.y()

    def start_under(self, pos) -> int | None:
        starts = self.source.session.starts
        if not starts:
            return None
        vb = self.getPlotItem().getViewBox()
        best, best_d = None, GRAB_PIXELS
        for i, (x, y) in enumerate(starts):
            sp = self.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y)))
            d = np.hypot(sp.x() - pos.x(), sp.y() - pos.y())
            if d <= best_d:
                best, best_d = i, d
        return best
