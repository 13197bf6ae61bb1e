"""Figures for papers and slides, drawn by the same views the window shows (offscreen),
so the window's File → Export and ``landscape-gui export`` give the same pictures.

2-D: the contour view rendered at the requested size (PNG), or as vectors (SVG, PDF).
3-D: the surface view rendered offscreen by OpenGL at the requested size (not a scaled
screenshot). Options: title (the formula), legend (each optimizer and its settings, in
its colour), colour bar (in f values), transparent background. Animations: frames of
the descent, step by step, as GIF (Pillow) or MP4 (imageio + ffmpeg, when installed).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core.cancel import Cancelled  # noqa: F401  (export_dialog catches it from here)
from landscape_gui.core.files import atomic_write
from landscape_gui.core.scene.surface import height_ticks, tick_text
from landscape_gui.ui.views.axes import LineSample, add_legend_entry

MAX_SIDE = 4096
BOTH_3D_SHARE = 0.56  # the 3-D view's part of a "both" figure's width
LEGEND_ROW = 5  # PlotItem's grid: 0 title, 1 top axis, 2 view, 3 bottom axis, 4 its label; 5 the legend
IMAGE_SUFFIXES = (".png",)
VECTOR_SUFFIXES = (".svg", ".pdf")
ANIMATION_SUFFIXES = (".gif", ".mp4")
DATA_SUFFIXES = (".csv", ".json", ".npz")


class ExportError(ValueError):
    """An export that cannot be made; the message names the option at fault."""


@dataclass
class FigureOptions:
    view: str = "2d"              # "2d", "3d" or "both"
    width: int = 1600
    height: int = 1200
    title: bool = True
    legend: bool = True
    colorbar: bool = True
    transparent: bool = False

    def check(self) -> None:
        if self.view not in ("2d", "3d", "both"):
            raise ExportError(f"--view must be 2d, 3d or both, not {self.view!r}")
        for name, v in (("width", self.width), ("height", self.height)):
            if not (isinstance(v, int) and 16 <= v <= MAX_SIDE):
                raise ExportError(f"--size: {name} must be between 16 and {MAX_SIDE} pixels, got {v}")


def has_opengl_display() -> bool:
    app = QtWidgets.QApplication.instance()
    return app is not None and app.platformName() not in ("offscreen", "minimal")


# --- drawing the decorations ------------------------------------------------------------------


def _title_text(controller) -> str:
    return controller.figure_title  # the formula, or what a plane calls itself


def elided(text: str, font: QtGui.QFont, width: float) -> str:
    """``text`` shortened with … in the middle to fit ``width`` pixels: a title never widens the
    figure (a long file name made the 2-D export draw a third of the plane, no colour bar)."""
    return QtGui.QFontMetricsF(font).elidedText(text, QtCore.Qt.TextElideMode.ElideMiddle, max(width, 10.0))


def _paint_overlays(painter: QtGui.QPainter, controller, rect: QtCore.QRectF, opts: FigureOptions,
                    with_colorbar: bool) -> None:
    """Title, legend and colour bar over a 3-D rendering (the 2-D view has its own items)."""
    scale = max(rect.height() / 900.0, 0.6)
    fg = QtGui.QColor(235, 235, 240)
    if opts.title:
        f = QtGui.QFont("DejaVu Sans", int(15 * scale), QtGui.QFont.Weight.Bold)
        painter.setFont(f)
        painter.setPen(fg)
        painter.drawText(QtCore.QRectF(rect.left(), rect.top() + 8 * scale, rect.width(), 40 * scale),
                         QtCore.Qt.AlignmentFlag.AlignHCenter,
                         elided(_title_text(controller), f, rect.width() - 32 * scale))
    if opts.legend:
        _paint_legend(painter, controller, QtCore.QPointF(rect.left() + 16 * scale,
                                                            rect.top() + (56 if opts.title else 16) * scale), scale)
    if opts.colorbar and with_colorbar:
        _paint_colorbar(painter, controller, rect, scale)


def _paint_legend(painter, controller, origin: QtCore.QPointF, scale: float) -> None:
    enabled = controller.session.enabled_optimizers()
    if not enabled:
        return
    f = QtGui.QFont("DejaVu Sans", int(11 * scale))
    painter.setFont(f)
    fm = QtGui.QFontMetricsF(f)
    line_h = fm.height() * 1.35
    width = max(fm.horizontalAdvance(o.label) for o in enabled) + 46 * scale
    box = QtCore.QRectF(origin.x(), origin.y(), width, line_h * len(enabled) + 10 * scale)
    painter.setPen(QtCore.Qt.PenStyle.NoPen)
    painter.setBrush(QtGui.QColor(21, 23, 28, 200))
    painter.drawRoundedRect(box, 6 * scale, 6 * scale)
    for k, o in enumerate(enabled):
        y = origin.y() + 5 * scale + line_h * (k + 0.5)
        painter.setPen(QtGui.QPen(QtGui.QColor(o.color), 3.5 * scale))
        painter.drawLine(QtCore.QPointF(origin.x() + 8 * scale, y), QtCore.QPointF(origin.x() + 34 * scale, y))
        painter.setPen(QtGui.QColor(235, 235, 240))
        painter.drawText(QtCore.QPointF(origin.x() + 42 * scale, y + fm.ascent() / 2 - 1), o.label)


def _paint_colorbar(painter, controller, rect: QtCore.QRectF, scale: float) -> None:
    lut = pg.colormap.get(controller.session.colormap).getLookupTable(0.0, 1.0, 256)
    bar = QtCore.QRectF(rect.right() - 110 * scale, rect.top() + rect.height() * 0.2, 18 * scale,
                        rect.height() * 0.6)
    grad = QtGui.QLinearGradient(bar.bottomLeft(), bar.topLeft())
    for k in range(0, 256, 15):
        grad.setColorAt(k / 255, QtGui.QColor(*[int(v) for v in lut[k][:3]]))
    painter.setPen(QtGui.QPen(QtGui.QColor(200, 200, 205), 1))
    painter.setBrush(QtGui.QBrush(grad))
    painter.drawRect(bar)
    f = QtGui.QFont("DejaVu Sans", int(9 * scale))
    painter.setFont(f)
    painter.setPen(QtGui.QColor(235, 235, 240))
    for u, text in colorbar_ticks(controller.heights):
        y = bar.bottom() - u * bar.height()
        painter.drawText(QtCore.QPointF(bar.right() + 4 * scale, y + 4 * scale), text)
    z_name = controller.axis_names[2]  # "f", or a plane's "train loss"
    painter.drawText(QtCore.QPointF(bar.left() - 6 * scale, bar.top() - 8 * scale), z_name)


def colorbar_ticks(hmap) -> list[tuple[float, str]]:
    """Round values along the bar, and both ends labelled with the values they stand for, to
    three significant digits (0.00116, not 0.001157; -1, not -0.9997)."""
    ticks = [(h, tick_text(v)) for h, v in height_ticks(hmap)]
    ends = [(0.0, tick_text(hmap.value_at(0.0), digits=3)), (1.0, tick_text(hmap.value_at(1.0), digits=3))]
    for h, text in ends:
        if all(abs(h - t) > 0.08 for t, _ in ticks):
            ticks.append((h, text))
    return sorted(ticks)


_MATRIX_GROUP = re.compile(rb'<g ([^>]*?)transform="matrix\(([^)]*)\)"([^>]*)>(.*?)</g>', re.S)
_PAIR = re.compile(rb"(-?[0-9.]+(?:e[-+]?[0-9]+)?),(-?[0-9.]+(?:e[-+]?[0-9]+)?)")


def bake_svg_transforms(svg: bytes) -> bytes:
    """Qt writes cosmetic (1 px) lines as ``vector-effect="non-scaling-stroke"`` paths in data
    units under a x100 transform; only browsers honour that, and rsvg, Inkscape and
    ImageMagick draw every line hundreds of pixels wide. Apply each such group's
    transform to its coordinates instead, so the strokes are plain pixel widths."""

    def bake(m):
        body = m.group(4)
        if b"non-scaling-stroke" not in body or re.search(rb"<(?!path|polyline|/)", body):
            return m.group(0)  # other elements: leave the group as Qt wrote it
        a, b, c, d, e, f = (float(v) for v in m.group(2).split(b","))

        def point(p):
            x, y = float(p.group(1)), float(p.group(2))
            return f"{a * x + c * y + e:.3f},{b * x + d * y + f:.3f}".encode()

        body = re.sub(rb'(d|points)="([^"]*)"', lambda q: q.group(1) + b'="' + _PAIR.sub(point, q.group(2)) + b'"',
                      body)
        body = body.replace(b' vector-effect="non-scaling-stroke"', b"")
        return b"<g " + m.group(1) + b'transform="matrix(1,0,0,1,0,0)"' + m.group(3) + b">" + body + b"</g>"

    return _MATRIX_GROUP.sub(bake, svg)


def render_vector(widget, suffix: str, width: int, height: int, title: str = "") -> bytes:
    """``widget`` as an SVG or PDF document, in memory.

    Qt's generators ignore write errors (a full disk gave a truncated file and exit 0), so
    the bytes are written by Python afterwards. Vector output must not contain pixmaps:
    cached items (axes, heat-map isolines) and scatter symbols drawn from an atlas came out
    as images (the atlas whole, in SVG), so caching is off while it renders.
    """
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if suffix == ".svg":
        from PySide6 import QtSvg

        device = QtSvg.QSvgGenerator()
        device.setOutputDevice(buffer)
        device.setResolution(96)  # as the views are laid out: at 72 the axes came out at 3/4 size
        device.setSize(QtCore.QSize(width, height))
        device.setViewBox(QtCore.QRect(0, 0, width, height))
        device.setTitle(title)
    else:
        device = QtGui.QPdfWriter(buffer)
        device.setPageSize(QtGui.QPageSize(QtCore.QSizeF(width * 0.75, height * 0.75), QtGui.QPageSize.Unit.Point))
        device.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
        device.setResolution(96)
    items = widget.scene().items()
    caches = [(it, it.cacheMode()) for it in items]
    scatters = [it for it in items if isinstance(it, pg.ScatterPlotItem)]
    try:
        for it, _ in caches:
            it.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.NoCache)
        for it in scatters:
            it.opts["useCache"] = False
        painter = QtGui.QPainter(device)
        widget.render(painter)
        painter.end()
    finally:
        for it, mode in caches:
            it.setCacheMode(mode)
        for it in scatters:
            it.opts["useCache"] = True
    del device  # the PDF writer finishes the document when it goes
    buffer.close()
    data = bytes(buffer.data())
    if suffix == ".svg":
        data = bake_svg_transforms(data)
    if not data:
        raise ExportError(f"-o: Qt produced an empty {suffix} document")
    return data


# --- the two views, offscreen -------------------------------------------------------------------


class FigureRenderer:
    """Owns offscreen copies of the views for one source; renders figures and frames.

    The views draw a ``SourceSnapshot`` of the source, never the source itself: they
    connect to nothing live, and ``close`` leaves no connection behind."""

    def __init__(self, source, camera: dict | None = None):
        from landscape_gui.ui.state.plane_source import SourceSnapshot
        from landscape_gui.ui.views.contour_view import ContourView

        self.source = SourceSnapshot(source)
        self.camera = camera
        self.contour = ContourView(self.source)
        self.contour.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)
        self.contour.show()  # "shown" (never on screen) so resizes lay it out like the window's
        self._surface = None
        self._legend = None
        self._colorbar = None
        self._zoom = None
        self._fit = True

    def close(self) -> None:
        """Destroy the offscreen views now (not whenever the garbage collector gets to them)."""
        for w in (self.contour, self._surface):
            if w is not None:
                w.release_source()
                w.hide()
                w.deleteLater()
        self._surface = None

    def surface(self):
        if self._surface is None:
            if not has_opengl_display():
                raise ExportError("3-D export needs an OpenGL display: run under xvfb-run "
                                  "(2-D export works without one: --view 2d)")
            from landscape_gui.ui.views.surface_view import SurfaceView

            v = SurfaceView(self.source)
            v.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)
            v.resize(800, 600)
            v.show()  # creates the GL context; never on screen
            QtWidgets.QApplication.processEvents()
            cam = dict(self.camera or {})
            self._zoom = cam.pop("zoom", None)
            self._fit = "distance" not in cam  # an explicit distance (--camera) is used as given
            if self._fit and self._zoom is None:
                self._zoom = 1.0
            v.setCameraPosition(**cam)
            self._surface = v
        return self._surface

    # 2-D ------------------------------------------------------------------------------------
    def _decorate_2d(self, opts: FigureOptions, text_scale: float | None = None) -> None:
        plot = self.contour.getPlotItem()
        # text in proportion to the figure: at 1600x1200 screen-sized 9 px ticks were unreadable
        # ("both" passes the whole figure's scale, so its 2-D half is not set in smaller type)
        scale = text_scale or max(min(opts.width, opts.height * 4 / 3) / 800.0, 1.0)
        if opts.title:
            title_font = QtGui.QFont("DejaVu Sans")
            title_font.setPointSizeF(13 * scale)
            plot.setTitle(elided(_title_text(self.source), title_font, opts.width * 0.92 - 90 * scale),
                          color="#ebebf0", size=f"{13 * scale:.0f}pt")
            # PlotItem.setTitle fixes the title's row at 30 px whatever the font: at 26 pt its
            # descenders ran into a plot that fills the height (a model's plane)
            row = int(np.ceil(QtGui.QFontMetricsF(title_font).height() + 8 * scale))
            plot.titleLabel.setMaximumHeight(row)
            plot.layout.setRowFixedHeight(0, row)
        else:
            plot.setTitle(None)
        tick_font = QtGui.QFont("DejaVu Sans")
        tick_font.setPixelSize(int(round(11 * scale)))
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setStyle(tickFont=tick_font, tickLength=int(-6 * scale))
            axis.label.setFont(QtGui.QFont("DejaVu Sans", int(round(10 * scale))))
        plot.getAxis("left").setWidth(int(52 * scale))
        # room above and beside the data for the colour bar's end labels (the "both" figure
        # has no title row, and its top label was cut off)
        plot.setContentsMargins(4 * scale, 12 * scale, 10 * scale, 4 * scale)
        self._tick_font = tick_font
        self._text_scale = scale
        self._place_legend(plot, opts)
        if opts.colorbar and self._colorbar is None:
            cmap = pg.colormap.get(self.source.session.colormap)
            self._colorbar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False, width=18)
            self._colorbar.setImageItem(self.contour.image, insert_in=plot)
            self._colorbar.axis.setTicks([colorbar_ticks(self.source.heights)])
        if self._colorbar is not None:
            self._colorbar.axis.setStyle(tickFont=self._tick_font, autoExpandTextSpace=True)
            self._colorbar.axis.setWidth(int(48 * self._text_scale))  # room for "2509", "6e-5"
        self.contour.setBackground(None if opts.transparent else "#15171c")

    def _place_legend(self, plot, opts: FigureOptions) -> None:
        """The legend in a row of its own under the plot: inside it, it covered trajectories
        (Himmelblau's loops in the top-left corner). One legend for the renderer's life,
        refilled per image (a GIF's frames share it)."""
        entries = [(o.label, o.color) for o in self.source.session.enabled_optimizers()] if opts.legend else []
        if self._legend is None:
            self._legend = pg.LegendItem(labelTextColor=(235, 235, 240), brush=None, pen=None, sampleType=LineSample)
        legend = self._legend
        legend.clear()
        size = float(f"{9 * self._text_scale:.0f}")
        legend.setLabelTextSize(f"{size:.0f}pt")
        # two columns only when two of the longest labels fit across the figure; a label longer than
        # the figure is shortened (a schedule's long name pushed the colour bar's labels off the edge)
        font = QtGui.QFont()
        font.setPointSizeF(size)
        fm = QtGui.QFontMetricsF(font)
        room = 0.82 * opts.width - 40 * self._text_scale
        widest = max((fm.horizontalAdvance(label) for label, _ in entries), default=0.0)
        legend.setColumnCount(2 if len(entries) > 1 and 2 * widest + 60 * self._text_scale <= room else 1)
        entries = [(fm.elidedText(label, QtCore.Qt.TextElideMode.ElideMiddle, room) if fm.horizontalAdvance(label) > room
                    else label, color) for label, color in entries]
        for label, color in entries:
            add_legend_entry(legend, color, label, 2.5 * self._text_scale)
        in_layout = legend.parentItem() is not None
        if entries and not in_layout:
            plot.layout.addItem(legend, LEGEND_ROW, 1)
        elif not entries and in_layout:
            plot.layout.removeItem(legend)
            legend.setParentItem(None)
            if legend.scene() is not None:
                legend.scene().removeItem(legend)
        legend.setVisible(bool(entries))

    def image_2d(self, opts: FigureOptions, width: int, height: int, text_scale: float | None = None) -> QtGui.QImage:
        self._decorate_2d(opts, text_scale)
        self.contour.resize(width, height)
        QtWidgets.QApplication.processEvents()
        img = QtGui.QImage(width, height, QtGui.QImage.Format.Format_ARGB32)
        img.fill(QtCore.Qt.GlobalColor.transparent if opts.transparent else QtGui.QColor("#15171c"))
        painter = QtGui.QPainter(img)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self.contour.render(painter)
        painter.end()
        return img

    def vector_2d(self, opts: FigureOptions, path: Path) -> None:
        self._decorate_2d(opts)
        self.contour.resize(opts.width, opts.height)
        QtWidgets.QApplication.processEvents()
        _write_bytes(path, render_vector(self.contour, path.suffix, opts.width, opts.height,
                                         _title_text(self.source)))

    # 3-D ------------------------------------------------------------------------------------
    def image_3d(self, opts: FigureOptions, width: int, height: int) -> QtGui.QImage:
        v = self.surface()
        if self._fit:  # the window's framing rule, for this picture's aspect
            v.setCameraPosition(distance=v.fit_distance(width, height) * self._zoom)
        rgba = v.render_array(width, height)
        img = QtGui.QImage(rgba.data, width, height, 4 * width, QtGui.QImage.Format.Format_ARGB32).copy()
        if opts.transparent:  # the background colour becomes transparent
            arr = np.frombuffer(img.bits(), dtype=np.uint8).reshape(height, width, 4)
            bg = np.array([0x1C, 0x17, 0x15])  # BGRA of #15171c
            arr[np.all(arr[:, :, :3] == bg, axis=2), 3] = 0
        painter = QtGui.QPainter(img)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        v.paint_labels(painter, width, height, scale=max(height / 750.0, 0.8))
        _paint_overlays(painter, self.source, QtCore.QRectF(0, 0, width, height), opts, True)
        painter.end()
        return img

    def image(self, opts: FigureOptions) -> QtGui.QImage:
        opts.check()
        if opts.view == "2d":
            return self.image_2d(opts, opts.width, opts.height)
        if opts.view == "3d":
            return self.image_3d(opts, opts.width, opts.height)
        # "both": one title across the whole figure (over the 3-D half alone it looked off
        # centre), then the 3-D and 2-D views side by side under it, bottoms aligned; the 3-D
        # view gets the larger part (as in the window) and both are set in the same type size
        band = int(round(48 * max(opts.height / 900.0, 0.6))) if opts.title else 0
        half = int(opts.width * BOTH_3D_SHARE)
        h = opts.height - band
        left = self.image_3d(FigureOptions("3d", half, h, False, opts.legend, False, opts.transparent), half, h)
        right = self.image_2d(FigureOptions("2d", opts.width - half, h, False, False,
                                            opts.colorbar, opts.transparent), opts.width - half, h,
                              text_scale=max(h / 750.0, 1.0))
        img = QtGui.QImage(opts.width, opts.height, QtGui.QImage.Format.Format_ARGB32)
        img.fill(QtCore.Qt.GlobalColor.transparent if opts.transparent else QtGui.QColor("#15171c"))
        p = QtGui.QPainter(img)
        p.drawImage(0, band, left)
        p.drawImage(half, band, right)
        if band:
            p.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
            _paint_overlays(p, self.source, QtCore.QRectF(0, 0, opts.width, opts.height),
                            FigureOptions("both", opts.width, opts.height, True, False, False), False)
        p.end()
        return img

    def orbit(self, opts: FigureOptions, n_frames: int, progress=None):
        """Images of the camera going once around the surface (a plane has no descent to play)."""
        if opts.view not in ("3d", "both"):
            raise ExportError("a camera orbit is a 3-D animation: use --view 3d (or both)")
        v = self.surface()
        start = float(v.opts["azimuth"])
        try:
            for k in range(n_frames):
                v.setCameraPosition(azimuth=start + 360.0 * k / n_frames)
                yield self.image(opts)
                if progress is not None and not progress(k + 1, n_frames):
                    return
        finally:
            v.setCameraPosition(azimuth=start)

    def frames(self, opts: FigureOptions, n_frames: int, progress=None, animation: str = "descent"):
        """Images of the descent: trajectories drawn up to evenly spaced steps (or an orbit)."""
        if animation == "orbit":
            yield from self.orbit(opts, n_frames, progress)
            return
        c = self.source
        steps = c.session.steps
        views = [self.contour] + ([self.surface()] if opts.view in ("3d", "both") else [])
        for v in views:
            v.trail = True
        try:
            for k, t in enumerate(np.linspace(0, steps, n_frames).round().astype(int)):
                c.set_step(int(t))
                for v in views:
                    v.update_trajectories(None)
                yield self.image(opts)
                if progress is not None and not progress(k + 1, n_frames):
                    return
        finally:
            for v in views:
                v.trail = False
                v.update_trajectories(None)


# --- files ---------------------------------------------------------------------------------------


def _atomic(path: Path, write) -> None:
    """Write through a temporary file in the target folder, then rename: never a partial file."""
    path = Path(path)
    if not path.parent.exists():
        raise ExportError(f"-o: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ExportError(f"-o: cannot write to {path.parent}")
    try:
        atomic_write(path, write)
    except OSError as exc:  # name the target, not the temporary file
        raise ExportError(f"-o: could not write {path}: {exc.strerror or exc}") from None
    except ExportError as exc:
        if str(path) in str(exc) or str(exc).startswith("-o:"):
            raise
        raise ExportError(f"-o: could not write {path}: {exc}") from None


def export(controller, path, opts: FigureOptions, *, frames: int = 60, fps: int = 20, camera=None,
           progress=None, animation: str = "descent") -> Path:
    """Write ``path``; its suffix picks the kind: .png .svg .pdf .gif .mp4 .csv .json .npz.
    ``animation``: "descent" (the trajectories step by step) or "orbit" (the camera around)."""
    if animation not in ("descent", "orbit"):
        raise ExportError(f"--animate must be descent or orbit, not {animation!r}")
    from landscape_gui.core.files import trajectories as export_data

    path = Path(path)
    suffix = path.suffix.lower()
    opts.check()
    if suffix in DATA_SUFFIXES:
        b, labels = controller.batch, [o.label for o in controller.session.enabled_optimizers()]
        if suffix == ".csv":
            text = export_data.trajectories_csv(b, labels)
            _atomic(path, lambda p: p.write_text(text))
        elif suffix == ".json":
            text = export_data.trajectories_json(b, labels, controller.session.to_dict())
            _atomic(path, lambda p: p.write_text(text))
        else:
            _atomic(path, lambda p: export_data.grid_npz(str(p), controller.xs, controller.ys, controller.grid,
                                                         controller.session.function_text,
                                                         controller.session.params))
        return path
    renderer = FigureRenderer(controller, camera=camera)
    try:
        _render_to(renderer, path, suffix, opts, frames, fps, progress, animation)
    finally:
        renderer.close()  # offscreen views are top-level widgets: left open, they keep the app alive
    return path


def _render_to(renderer, path, suffix, opts, frames, fps, progress, animation="descent") -> None:
    if suffix in IMAGE_SUFFIXES:
        img = renderer.image(opts)
        _atomic(path, lambda p: _save_image(img, p))
    elif suffix in VECTOR_SUFFIXES:
        if opts.view != "2d":
            raise ExportError(f"{suffix} is a vector format: only the 2-D view can be exported as one "
                              "(use --view 2d, or .png for 3-D)")
        _atomic(path, lambda p: renderer.vector_2d(opts, p))
    elif suffix in ANIMATION_SUFFIXES:
        if not 2 <= frames <= 2000:
            raise ExportError(f"--frames must be between 2 and 2000, got {frames}")
        if not 1 <= fps <= 120:
            raise ExportError(f"--fps must be between 1 and 120, got {fps}")
        if animation == "orbit" and opts.view == "2d":
            raise ExportError("a camera orbit is a 3-D animation: use --view 3d (or both)")
        _atomic(path, lambda p: _write_animation(renderer, opts, p, frames, fps, progress, animation))
    else:
        raise ExportError(f"-o: unknown output type {suffix or '(none)'}: use .png .svg .pdf .gif .mp4 "
                          ".csv .json or .npz")


def _write_bytes(p: Path, data: bytes) -> None:
    with open(p, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _save_image(img: QtGui.QImage, p: Path) -> None:
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(buffer, "PNG"):
        raise ExportError("-o: could not encode the PNG image")
    _write_bytes(p, bytes(buffer.data()))


def _qimage_to_rgb(img: QtGui.QImage) -> np.ndarray:
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * img.height())
    return arr.reshape(img.height(), img.bytesPerLine())[:, : 4 * img.width()].reshape(
        img.height(), img.width(), 4).copy()


def _check_video(p: Path, frames: int) -> None:
    """ffmpeg runs in its own process and may die on a full disk while imageio reports
    nothing: read the file back and count its frames before it replaces the old one."""
    import imageio.v2 as imageio

    try:
        reader = imageio.get_reader(p, format="FFMPEG")
        try:
            n = sum(1 for _ in reader)
        finally:
            reader.close()
    except Exception:  # noqa: BLE001 - any failure to read it back means a bad file
        raise ExportError("the MP4 could not be written completely (ffmpeg's file is unreadable)") from None
    if n < frames:
        raise ExportError(f"the MP4 could not be written completely ({n} of {frames} frames)")


def _write_animation(renderer, opts, p: Path, frames: int, fps: int, progress, animation="descent") -> None:
    cancelled = []

    def tick(k, n):
        ok = progress(k, n) if progress else True
        if not ok:
            cancelled.append(True)
        return ok

    if p.suffix.lower() == ".mp4":
        try:
            import imageio.v2 as imageio
            import imageio_ffmpeg
        except ImportError:
            raise ExportError("MP4 needs imageio with ffmpeg: pip install 'landscape-gui[video]' "
                              "(or export a .gif)") from None
        imageio_ffmpeg.get_ffmpeg_exe()  # fails clearly if the bundled ffmpeg is missing
        # libx264 wants even sizes; the frames are padded by a pixel when needed
        written = 0
        with imageio.get_writer(p, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=2) as out:
            for img in renderer.frames(opts, frames, tick, animation):
                rgb = _qimage_to_rgb(img)[:, :, :3]
                out.append_data(np.pad(rgb, ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0)), mode="edge"))
                written += 1
        if cancelled:
            raise Cancelled()
        _check_video(p, written)
        return
    from PIL import Image

    rgb = [Image.fromarray(_qimage_to_rgb(i)).convert("RGB") for i in renderer.frames(opts, frames, tick, animation)]
    if cancelled:
        raise Cancelled()
    # one palette for every frame, from the first and the last side by side: per-frame palettes
    # had no entry for colours absent from a frame (the legend's red turned grey in frame 0)
    # and flickered; dithering keeps the colour bar's gradient free of bands
    both = Image.new("RGB", (rgb[0].width * 2, rgb[0].height))
    both.paste(rgb[0], (0, 0))
    both.paste(rgb[-1], (rgb[0].width, 0))
    fixed = [QtGui.QColor(o.color).getRgb()[:3] for o in renderer.source.session.enabled_optimizers()]
    fixed += [(255, 255, 255), (0, 0, 0), (21, 23, 28)]  # markers, outlines, background
    fixed = list(dict.fromkeys(fixed))[:40]
    adaptive = both.quantize(colors=256 - len(fixed), method=Image.Quantize.MEDIANCUT)
    entries = adaptive.getpalette()[: 3 * (256 - len(fixed))] + [v for c in fixed for v in c]
    palette = Image.new("P", (1, 1))
    palette.putpalette(entries)  # the trajectory colours exactly, whatever their pixel count
    images = [im.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG) for im in rgb]
    images[0].save(p, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0,
                   disposal=1)


# --- a 1-D landscape (a line plot) ---------------------------------------------------------------


def export_line(plane, metric: str, path, opts: FigureOptions, *, zscale: str = "log", show_path: bool = True) -> Path:
    """A 1-D landscape file as a figure: PNG, SVG or PDF of the line plot the window shows."""
    from landscape_gui.ui.modes.landscape_file import LinePlot, metric_label

    path = Path(path)
    suffix = path.suffix.lower()
    opts.check()
    if suffix not in IMAGE_SUFFIXES + VECTOR_SUFFIXES:
        raise ExportError(f"-o: a 1-D landscape exports as .png, .svg or .pdf, not {suffix or '(none)'}")
    w = LinePlot()
    w.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)
    try:
        scale = max(min(opts.width, opts.height * 4 / 3) / 800.0, 1.0)
        w.show_line(plane, metric, zscale, show_path,
                    title=f"{plane.name}: {metric_label(metric)}" if opts.title else "", scale=scale)
        if opts.transparent:
            w.setBackground(None)
        w.resize(opts.width, opts.height)
        w.show()
        QtWidgets.QApplication.processEvents()

        def write(p):
            if suffix == ".png":
                img = QtGui.QImage(opts.width, opts.height, QtGui.QImage.Format.Format_ARGB32)
                img.fill(QtCore.Qt.GlobalColor.transparent if opts.transparent else QtGui.QColor("#15171c"))
                painter = QtGui.QPainter(img)
                painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
                w.render(painter)
                painter.end()
                _save_image(img, p)
                return
            _write_bytes(p, render_vector(w, suffix, opts.width, opts.height, plane.name))

        _atomic(path, write)
    finally:
        w.hide()
        w.deleteLater()
    return path
