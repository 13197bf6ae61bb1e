"""The 3-D view: the surface, trajectories lifted just above it, start points you can drag.

Scene coordinates: the domain maps to [-5, 5] x [-5, 5] and heights (from the
session's z scale) to [0, 4], so every landscape fills the same box. Items follow
pyqtgraph's pattern: created once, then ``setData`` with only what changed.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6 import QtCore, QtGui

from landscape_gui.core.scene import picking, playback
from landscape_gui.core.scene.surface import (
    fill_holes,
)
from landscape_gui.ui.views import pyqtgraph_private
from landscape_gui.ui.views.box_labels import HALF, ZSPAN, BoxLabels
from landscape_gui.ui.views.gestures import GRAB_PIXELS, StartPointMouse

LIFT = 0.06     # trajectories float this far above the surface


def _gl_options() -> dict:
    """Paths, markers and arrows are drawn over the surface (no depth test): a descent
    running along a valley floor must stay visible from any camera."""
    from OpenGL import GL

    return {GL.GL_DEPTH_TEST: False, GL.GL_BLEND: True,
            "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)}


def qmatrix_to_numpy(m: QtGui.QMatrix4x4) -> np.ndarray:
    return np.array(m.data(), dtype=float).reshape(4, 4).T


class SurfaceView(StartPointMouse, gl.GLViewWidget):
    """OpenGL view of the session; clicks and drags edit start points through its source."""

    statusMessage = QtCore.Signal(str)  # the read-out under the pointer (the window shows it)
    trail = False  # True: trajectories end at the playback step (animation export)

    def __init__(self, source, parent=None):
        pyqtgraph_private.check()
        super().__init__(parent)
        self.setObjectName("surfaceView")
        self.source = source
        self.wireframe = False
        self.show_arrows = True
        self._wireframe_drawn = None
        self._translucent = False
        self.setBackgroundColor(pg.mkColor("#15171c"))
        self.setMinimumSize(320, 240)
        self.setMouseTracking(True)
        # smooth=True: shared, indexed vertices (glDrawElements) — 6x fewer vertices than per-face
        self.surface = gl.GLSurfacePlotItem(computeNormals=False, smooth=True, glOptions="opaque")
        self.addItem(self.surface)
        self.box = gl.GLLinePlotItem(mode="lines", color=(0.8, 0.8, 0.85, 0.5), width=1, antialias=True)
        self.addItem(self.box)
        self.box_labels = BoxLabels()
        self.lines: list[gl.GLLinePlotItem] = []
        self.heads = gl.GLScatterPlotItem(size=9, pxMode=True)
        self.heads.setGLOptions(_gl_options())
        self.addItem(self.heads)
        #: where a path left the domain (it is drawn only that far), in the run's colour
        self.exits = gl.GLScatterPlotItem(size=13, pxMode=True)
        self.exits.setGLOptions(_gl_options())
        self.addItem(self.exits)
        self.markers = gl.GLScatterPlotItem(size=14, pxMode=True, color=(1, 1, 1, 1))
        self.markers.setGLOptions(_gl_options())
        self.addItem(self.markers)
        self.minima = gl.GLScatterPlotItem(size=8, pxMode=True, color=(1.0, 1.0, 1.0, 0.9))
        self.minima.setGLOptions(_gl_options())
        self.addItem(self.minima)
        self.arrows = gl.GLLinePlotItem(mode="lines", width=3, antialias=True)
        self.arrows.setGLOptions(_gl_options())
        self.addItem(self.arrows)
        self._surface_version = 0
        self._grid_key = None
        self._lut_name = None
        self._background_key = None
        self._pending_key = None
        self._background = None     # multisampled views: the landscape's pixels (numpy)
        self._bg_fbo = self._bg_rbo = self._bg_size = None   # otherwise: a framebuffer holding them
        self.drape = None  # callable(xs, ys) -> (nx, ny, 4) RGBA blended over the surface, or None
        self._camera_fitted = True
        self._scene_grid = None
        self.reset_camera()
        self.observe_source()

    # -- coordinates ---------------------------------------------------------------------
    def to_scene(self, x, y, h):
        s = self.source.session
        (x0, x1), (y0, y1) = s.xrange, s.yrange
        sx = (np.asarray(x) - x0) / (x1 - x0) * 2 * HALF - HALF
        sy = (np.asarray(y) - y0) / (y1 - y0) * 2 * HALF - HALF
        return sx, sy, np.asarray(h) * ZSPAN

    def from_scene(self, sx, sy):
        s = self.source.session
        (x0, x1), (y0, y1) = s.xrange, s.yrange
        return x0 + (sx + HALF) / (2 * HALF) * (x1 - x0), y0 + (sy + HALF) / (2 * HALF) * (y1 - y0)

    def mvp(self) -> np.ndarray:
        w, h = self.width(), self.height()
        proj = pyqtgraph_private.projection_matrix(self, w, h)
        return qmatrix_to_numpy(proj) @ qmatrix_to_numpy(self.viewMatrix())

    def reset_camera(self) -> None:
        """The default view: from the front left, the labelled box filling the view."""
        self.setCameraPosition(pos=QtGui.QVector3D(0, 0, ZSPAN * 0.35), distance=15.0, elevation=38,
                               azimuth=-65)
        self.setCameraPosition(distance=self.fit_distance(max(self.width(), 64), max(self.height(), 64)))
        self._camera_fitted = True

    def fit_distance(self, width: int, height: int) -> float:
        """Camera distance at which the box, its tick labels and axis titles fit a
        ``width`` x ``height`` picture at the current angles: the one framing rule of the
        window (reset, resize) and of every export, whatever its aspect."""
        H, Z = HALF, ZSPAN
        pts = [(a, b, c) for a in (-H, H) for b in (-H, H) for c in (0.0, Z)]
        pts += [(0, -H - 1.6, 0), (H + 1.5, 0, 0), (-H, -H, Z + 0.8), (H, H, Z + 0.8), (-H, H, Z + 0.8),
                (H, -H, Z + 0.8)]
        pts = np.array(pts, dtype=float)
        saved = self.opts["distance"]

        def extent(d):
            self.opts["distance"] = d
            proj = pyqtgraph_private.projection_matrix(self, width, height)
            m = qmatrix_to_numpy(proj) @ qmatrix_to_numpy(self.viewMatrix())
            xy = picking.project(pts, m, width, height)
            if not np.isfinite(xy).all():
                return np.inf
            # room on the left and right for the z labels and on each side for a margin
            return max(np.max(np.abs(xy[:, 0] - width / 2)) / (0.5 * width - min(64, 0.12 * width)),
                       np.max(np.abs(xy[:, 1] - height / 2)) / (0.5 * height - min(30, 0.06 * height)))

        lo, hi = 3.0, 400.0
        try:
            for _ in range(40):
                mid = (lo * hi) ** 0.5
                if extent(mid) > 1.0:
                    lo = mid
                else:
                    hi = mid
        finally:
            self.opts["distance"] = saved
        return float(hi)

    def wheelEvent(self, ev) -> None:
        self._camera_fitted = False  # the user's zoom stays
        super().wheelEvent(ev)

    def mouseMoveEvent(self, ev) -> None:
        if ev.buttons() and self._dragging is None:
            self._camera_fitted = False  # an orbit or pan
        super().mouseMoveEvent(ev)

    def zoom(self) -> float:
        """The camera distance relative to the fitted one (1: the default framing)."""
        return float(self.opts["distance"]) / self.fit_distance(max(self.width(), 64), max(self.height(), 64))

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if self._camera_fitted:  # not after the user zoomed or orbited
            self.setCameraPosition(distance=self.fit_distance(max(self.width(), 64), max(self.height(), 64)))

    # -- drawing ---------------------------------------------------------------------------
    def update_surface(self) -> None:
        c = self.source
        h = c.height_grid
        undefined = ~np.isfinite(h)
        # a source with holes (points a loss-landscape run never computed): transparent there,
        # at the rim's height; a formula's undefined region stays a grey floor
        holes = c.holes and bool(undefined.any())
        sx, sy, sz = self.to_scene(c.xs, c.ys, fill_holes(h) if holes else np.where(undefined, 0.0, h))
        if self._lut_name != c.session.colormap:
            lut = pg.colormap.get(c.session.colormap).getLookupTable(0.0, 1.0, 256, alpha=True)
            self._lut = np.ascontiguousarray(lut, dtype=np.ubyte)
            self._lut_name = c.session.colormap
        # (nx, ny) order: vertex (i, j) sits at (x_i, y_j); colours by table lookup, flattened.
        # Bytes, not floats: a quarter of the upload on every slider step
        index = np.clip(np.nan_to_num(h.T, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.intp)
        colors = self._lut[index]
        colors[undefined.T] = (0, 0, 0, 0) if holes else (89, 89, 97, 255)  # undefined: a flat grey
        if holes != self._translucent:
            self.surface.setGLOptions("translucent" if holes else "opaque")
            self._translucent = holes
        drape = self.drape(c.xs, c.ys) if self.drape is not None else None
        if drape is not None:  # e.g. basins of attraction, blended over the colour map
            a = drape[..., 3:4]
            mixed = colors / 255.0 * (1 - a) + drape * a
            colors = np.clip(mixed * 255.0 + 0.5, 0, 255).astype(np.ubyte)
            colors[..., 3] = 255
        self._scene_grid = (sx, sy, sz)
        grid_key = (c.xs.size, c.ys.size, c.session.xrange, c.session.yrange)
        if grid_key != self._grid_key:  # x and y only when the mesh itself changes
            self.surface.setData(x=sx, y=sy, z=sz.T, colors=colors.reshape(-1, 4))
            self._grid_key = grid_key
        else:
            self.surface.setData(z=sz.T, colors=colors.reshape(-1, 4))
        if self._wireframe_drawn != self.wireframe:
            self._wireframe_drawn = self.wireframe
            self.surface.setData(showGrid=self._wireframe_drawn, lineColor=(0, 0, 0, 0.25))
        self._surface_version += 1  # the cached landscape image is stale
        self._update_box()
        m = c.known_minima()
        if len(m):
            hm = np.nan_to_num(c.heights(c.function.value(m[:, 0], m[:, 1])))
            mx, my, mz = self.to_scene(m[:, 0], m[:, 1], hm)
            self.minima.setData(pos=np.c_[mx, my, mz + LIFT])
        else:
            self.minima.setData(pos=np.zeros((0, 3)))

    def set_wireframe(self, on: bool) -> None:
        self.wireframe = bool(on)
        self.update_surface()

    def set_arrows(self, on: bool) -> None:
        self.show_arrows = bool(on)
        self.update_step()

    def landscape_changed(self) -> None:
        """Something drawn with the landscape (not the trajectories) changed: re-render it."""
        self._surface_version += 1
        self.update()

    def _update_box(self) -> None:
        c = self.source
        H, Z = HALF, ZSPAN
        corners = [(-H, -H), (H, -H), (H, H), (-H, H)]
        segs = []
        for k in range(4):
            (a, b), (p, q) = corners[k], corners[(k + 1) % 4]
            segs += [(a, b, 0), (p, q, 0)]
        segs += [(-H, H, 0), (-H, H, Z), (-H, -H, 0), (-H, -H, Z)]
        self.box.setData(pos=np.array(segs, dtype=float))
        self.box_labels.update(c.session, c.axis_names, c.heights)

    def _overlay_items(self) -> list:
        return [*self.lines, self.heads, self.markers, self.arrows, self.exits]

    def _draw(self, items) -> None:
        pyqtgraph_private.draw_items(self, items)

    def paintGL(self, *args, **kwargs):
        """The landscape from a cached image, the trajectories over it, then the labels.

        While only trajectories change (a drag, playback) the surface is not drawn
        again: its last rendering is reused (software OpenGL spends most of a frame
        on the mesh). Paths are drawn without depth test anyway, so the cached
        image needs no depth. Any change of camera, size or surface re-renders it.
        Exports (``renderToArray``) call ``paint`` directly and draw everything.
        """
        from OpenGL import GL

        dpr = self.devicePixelRatioF()
        w, h = int(self.width() * dpr), int(self.height() * dpr)
        cam = self.opts
        key = (self._surface_version, w, h, cam["distance"], cam["elevation"], cam["azimuth"], cam["fov"],
               tuple(cam["center"].toTuple()) if hasattr(cam["center"], "toTuple") else str(cam["center"]))
        region = self.getViewport()
        overlays = set(map(id, self._overlay_items()))
        self.setProjection(region, region)
        self.setModelview()
        GL.glClearColor(*self.opts["bgcolor"])
        GL.glClear(GL.GL_DEPTH_BUFFER_BIT | GL.GL_COLOR_BUFFER_BIT)
        if key == self._background_key:
            self._copy_background(w, h, restore=True)
        else:
            self._draw([it for it in self.items if id(it) not in overlays])
            # cache only a landscape that stayed the same for two frames: while a slider
            # or an orbit changes it every frame, the copy would be wasted
            if key == self._pending_key:
                self._copy_background(w, h, restore=False)
                self._background_key = key
            self._pending_key = key
        self._draw([it for it in self.items if id(it) in overlays])
        painter = QtGui.QPainter(self)
        self.paint_labels(painter, self.width(), self.height())
        painter.end()

    def _copy_background(self, w: int, h: int, restore: bool) -> None:
        """Keep (``restore=False``) or put back the rendered landscape: a framebuffer-to-
        framebuffer blit (a plain copy in software OpenGL, twice as fast as glDrawPixels),
        no round trip through the CPU; with multisampling, read-back and glDrawPixels."""
        from OpenGL import GL

        screen = self.defaultFramebufferObject()
        if self.format().samples() > 0:
            if restore:
                GL.glDisable(GL.GL_DEPTH_TEST)
                GL.glUseProgram(0)
                GL.glWindowPos2i(0, 0)
                GL.glDrawPixels(w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, self._background)
            else:
                self._background = GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
            return
        if not restore and self._bg_size != (w, h):
            self._background_buffer(w, h)
        src, dst = (self._bg_fbo, screen) if restore else (screen, self._bg_fbo)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, src)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, dst)
        GL.glBlitFramebuffer(0, 0, w, h, 0, 0, w, h, GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, screen)

    def _background_buffer(self, w: int, h: int) -> None:
        """A framebuffer of plain GL names (no Qt object whose destructor could run later, from
        Python's garbage collector, without a current context), freed with the context."""
        from OpenGL import GL

        if self._bg_fbo is None:
            self._bg_fbo = int(GL.glGenFramebuffers(1))
            self._bg_rbo = int(GL.glGenRenderbuffers(1))
            self.context().aboutToBeDestroyed.connect(self._free_background_buffer)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self._bg_rbo)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA8, w, h)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._bg_fbo)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER, self._bg_rbo)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.defaultFramebufferObject())
        self._bg_size = (w, h)

    def _free_background_buffer(self) -> None:
        from OpenGL import GL

        if self._bg_fbo is None:
            return
        # this can run while another view paints (a closed window's context destroyed by the
        # garbage collector): put that view's context back, or its next GL call has none
        previous = QtGui.QOpenGLContext.currentContext()
        surface = previous.surface() if previous is not None else None
        self.makeCurrent()
        GL.glDeleteFramebuffers(1, [self._bg_fbo])
        GL.glDeleteRenderbuffers(1, [self._bg_rbo])
        self.doneCurrent()
        if previous is not None and previous is not self.context() and surface is not None:
            previous.makeCurrent(surface)
        self._bg_fbo = self._bg_rbo = self._bg_size = None
        self._background_key = None

    def paint_labels(self, painter: QtGui.QPainter, width: int, height: int, scale: float = 1.0) -> None:
        """The box's axis labels for a ``width`` x ``height`` picture from this camera."""
        proj = pyqtgraph_private.projection_matrix(self, width, height)
        mvp = qmatrix_to_numpy(proj) @ qmatrix_to_numpy(self.viewMatrix())
        self.box_labels.paint(painter, mvp, width, height, scale)

    def render_array(self, width: int, height: int) -> np.ndarray:
        """The scene rendered offscreen at ``width`` x ``height`` (BGRA), from the current camera."""
        self.makeCurrent()
        return self.renderToArray((width, height))

    def _line_items(self, n: int) -> None:
        while len(self.lines) < n:
            item = gl.GLLinePlotItem(mode="line_strip", width=3.0, antialias=True)
            item.setGLOptions(_gl_options())
            self.addItem(item)
            self.lines.append(item)
        while len(self.lines) > n:
            self.removeItem(self.lines.pop())

    def update_trajectories(self, starts=None) -> None:
        """Only the items of the changed starts get new data (a drag touches one start)."""
        c = self.source
        b = c.batch
        enabled = c.session.enabled_optimizers()
        if b is None:
            return
        n_cfg, n_st = b.points.shape[:2]
        self._line_items(n_cfg * n_st)
        which = list(range(n_st) if starts is None else starts)
        end = c.step + 1 if self.trail else None  # animations: the path so far
        s = c.session
        colors = np.array([pg.mkColor(o.color).getRgbF() for o in enabled], dtype=float).reshape(-1, 4)
        # one clipping pass for all paths: how far each is drawn, and where it left the domain
        kept, exits = playback.clip_paths(b.points[:, :, :end], s.xrange, s.yrange)
        if which:
            # heights and scene coordinates of all changed paths in one vectorised pass
            pts = b.points[:, which, :end]                           # (c, w, n, 2)
            hz = c.heights(b.losses[:, which, :end])
            sx, sy, sz = self.to_scene(pts[..., 0], pts[..., 1], np.nan_to_num(hz))
            scene = np.stack([sx, sy, sz + LIFT], axis=-1)
            for j, k in enumerate(which):
                for ci in range(n_cfg):
                    self.lines[ci * n_st + k].setData(pos=scene[ci, j, : kept[ci, k]], color=tuple(colors[ci]))
        # where runs left the domain, in the run's colour, at the height its line ends
        ci, k = np.nonzero(np.isfinite(exits[..., 0]))
        last = np.maximum(kept[ci, k] - 1, 0)
        h = np.nan_to_num(c.heights(b.losses[ci, k, last]))
        ex, ey, ez = self.to_scene(exits[ci, k, 0], exits[ci, k, 1], h)
        self.exits.setData(pos=np.c_[ex, ey, ez + LIFT].reshape(-1, 3), color=colors[ci].reshape(-1, 4))
        self.update_markers()
        self.update_step()

    def update_markers(self) -> None:
        c = self.source
        if not c.session.starts:
            self.markers.setData(pos=np.zeros((0, 3)))
            return
        p = np.array(c.session.starts, dtype=float)
        h = c.heights(c.function.value(p[:, 0], p[:, 1]))
        sx, sy, sz = self.to_scene(p[:, 0], p[:, 1], np.nan_to_num(h))
        self.markers.setData(pos=np.c_[sx, sy, sz + 2 * LIFT], color=(1, 1, 1, 1), size=14)

    def update_step(self) -> None:
        """Heads (where each optimizer is at the playback step) and the state arrows, all
        inside the box: a run that left the domain stops at its edge (core.scene.playback)."""
        c = self.source
        b = c.batch
        if b is None or b.points.shape[0] == 0 or b.points.shape[1] == 0:
            self.heads.setData(pos=np.zeros((0, 3)))
            self.arrows.setData(pos=np.zeros((0, 3)))
            return
        s = c.session
        rgba = [pg.mkColor(o.color).getRgbF() for o in s.enabled_optimizers()]
        fr = playback.frame(b, c.step, s.xrange, s.yrange, rgba, arrows=self.show_arrows)
        n_cfg, n_st = fr.index.shape
        sx, sy, sz = self.to_scene(fr.heads[..., 0], fr.heads[..., 1], np.nan_to_num(c.heights(fr.losses)))
        pos = np.stack([sx.ravel(), sy.ravel(), sz.ravel() + LIFT], axis=1)
        cols = np.repeat(np.array(rgba, dtype=float).reshape(-1, 4), n_st, axis=0)
        self.heads.setData(pos=pos, color=cols, size=10)
        if len(fr.segments):
            # arrows float just above the head they belong to
            z = np.repeat(sz.ravel()[fr.segment_owner][:, None], 2, axis=1) + 2 * LIFT
            ax, ay, _ = self.to_scene(fr.segments[:, :, 0], fr.segments[:, :, 1], 0.0)
            seg = np.stack([ax, ay, z], axis=-1).reshape(-1, 3)
            self.arrows.setData(pos=seg, color=np.repeat(fr.segment_colors, 2, axis=0))
        else:
            self.arrows.setData(pos=np.zeros((0, 3)))

    # -- picking and dragging --------------------------------------------------------------
    def pick_surface(self, px: float, py: float):
        """Data (x, y) under a pixel, by casting a ray onto the drawn mesh; None if off the surface."""
        sx, sy, sz = self._scene_grid
        origin, direction = picking.pixel_ray(px, py, self.mvp(), self.width(), self.height())
        hit = picking.intersect_heightfield(origin, direction, sx, sy, sz)
        if hit is None:
            return None
        return self.from_scene(hit[0], hit[1])

    def data_under(self, pos):
        return self.pick_surface(pos.x(), pos.y())

    def start_under(self, pos) -> int | None:
        c = self.source
        if not c.session.starts:
            return None
        p = np.array(c.session.starts, dtype=float)
        h = np.nan_to_num(c.heights(c.function.value(p[:, 0], p[:, 1])))
        sx, sy, sz = self.to_scene(p[:, 0], p[:, 1], h)
        screen = picking.project(np.c_[sx, sy, sz + 2 * LIFT], self.mvp(), self.width(), self.height())
        d = np.hypot(screen[:, 0] - pos.x(), screen[:, 1] - pos.y())
        if not np.isfinite(d).any():
            return None
        i = int(np.nanargmin(d))
        return i if d[i] <= GRAB_PIXELS else None

    def keyPressEvent(self, ev):
        if ev.key() == QtCore.Qt.Key.Key_F:
            self.reset_camera()
            return
        super().keyPressEvent(ev)
