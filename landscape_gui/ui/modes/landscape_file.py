"""The "Landscape file" mode: a loss-landscape ``.h5`` (or ``.npz``) plane in the same 3-D and
2-D views as the network mode, or a 1-D file as a line plot.

The file is read by ``core.files.landscapes`` (no Qt there); ``LandscapeSource`` presents the
chosen surface (train loss, train accuracy, test loss, …) to the views and the exporter, with
points the run never computed as holes. ``LinePlot`` draws a 1-D file on screen and in
exported figures alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core.files.landscapes import (
    METRICS,
    SUFFIXES,
    LandscapeFileError,
    describe,
    load_landscape,
)
from landscape_gui.core.session import COLORMAPS
from landscape_gui.ui.modes.layout import controls_beside_views, hint_or_plane, open_box, plane_view_box
from landscape_gui.ui.state.plane_source import TRAJECTORY_COLOR, LandscapeSource
from landscape_gui.ui.state.signals import signals_blocked
from landscape_gui.ui.views.axes import LogAxis

FILE_FILTER = "Loss landscapes (*.h5 *.hdf5 *.npz);;All files (*)"


def metric_label(metric: str) -> str:
    return METRICS.get(metric, metric.replace("_", " "))


def path_label(plane) -> str:
    return plane.info.get("path_label") or "training path (projected)"


def default_zscale(metric: str) -> str:
    """Losses span decades (log shows the basin); accuracies are percentages (linear)."""
    return "linear" if metric.endswith("_acc") else "log"


class LinePlot(pg.PlotWidget):
    """A 1-D landscape: the chosen metric against the coordinate, the checkpoints marked."""

    def __init__(self, parent=None):
        super().__init__(parent, background="#15171c", axisItems={"left": LogAxis("left")})
        self.setObjectName("landscapeLine")
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.2)
        self.curve = item.plot(pen=pg.mkPen("#33ccff", width=2.5))
        self.marks = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(TRAJECTORY_COLOR), pen=pg.mkPen("w", width=1))
        item.addItem(self.marks)
        self.mark_labels: list[pg.TextItem] = []

    def show_line(self, plane, metric: str, zscale: str, show_path: bool = True, title: str | None = None,
                  scale: float = 1.0) -> None:
        item = self.getPlotItem()
        v = plane.surface(metric)
        log = zscale == "log" and bool(np.all(v[np.isfinite(v)] > 0))
        item.setLogMode(y=log)
        self.curve.setData(plane.alphas, v, connect="finite")
        for t in self.mark_labels:
            item.removeItem(t)
        self.mark_labels = []
        xy = plane.trajectory_xy if show_path else None
        if xy is not None:
            ys = plane.value_at(xy[:, 0], metric=metric)
            ok = np.isfinite(ys)
            shown = np.log10(ys) if log else ys
            self.marks.setData(xy[ok, 0], shown[ok])
            names = ["a", "b"] if len(xy) == 2 else [str(k) for k in range(len(xy))]
            for k in np.flatnonzero(ok):
                t = pg.TextItem(names[k], color="#ebebf0", anchor=(0.5, 1.3))
                t.setFont(QtGui.QFont("DejaVu Sans", int(round(11 * scale)), QtGui.QFont.Weight.Bold))
                t.setPos(xy[k, 0], shown[k])
                item.addItem(t)
                self.mark_labels.append(t)
        else:
            self.marks.setData([], [])
        interp = "interpolation" in (plane.info.get("directions"), plane.info.get("kind")) or (xy is not None and len(xy) == 2)
        item.setLabel("bottom", "t: (1 − t)·a + t·b" if interp else "α")
        item.setLabel("left", metric_label(metric))
        item.setTitle(title if title is not None else f"{plane.name}: {metric_label(metric)}", color="#ebebf0",
                      size=f"{12 * scale:.0f}pt")
        font = QtGui.QFont("DejaVu Sans")
        font.setPixelSize(int(round(11 * scale)))
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setStyle(tickFont=font)
            axis.label.setFont(QtGui.QFont("DejaVu Sans", int(round(10 * scale))))
        item.setContentsMargins(6 * scale, 10 * scale, 14 * scale, 6 * scale)  # the title clear of the edge
        item.enableAutoRange()


class LandscapeFilePanel(QtWidgets.QWidget):
    """Open a file, choose the surface and its look; the views show it."""

    viewChanged = QtCore.Signal()   # file or view settings changed: the session keeps them

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("landscapeFilePanel")
        self.source = LandscapeSource(self)
        self.plane = None
        self.surface_key = "train_loss"
        split, cl = controls_beside_views(self, 280)
        self.open_button, self.info = open_box(cl, "File", "Open landscape file…",
                                               "A loss-landscape surface (.h5, 2-D or 1-D) or a .npz plane",
                                               "No file open.", "landscape")
        form, self.surface_box, self.cmap_box, self.zscale_box = plane_view_box(cl, "landscape")
        self.path_check = QtWidgets.QCheckBox("Show the path", objectName="landscapePath")
        self.path_check.setChecked(True)
        self.export_button = QtWidgets.QPushButton("Export image…", objectName="landscapeExport")
        form.addRow(self.path_check)
        form.addRow(self.export_button)
        self.status = QtWidgets.QLabel(wordWrap=True, objectName="landscapeStatus")
        cl.addWidget(self.status)
        cl.addStretch(1)

        self.stack, self.surface_view, self.contour_view = hint_or_plane(self.source, "landscape", (
            "<h3>No landscape file open</h3><p>Open a surface written by loss-landscape "
            "(<tt>plot_surface.py</tt>: <tt>xcoordinates</tt>, <tt>ycoordinates</tt>, <tt>train_loss</tt>), "
            "a 1-D interpolation, or a plane saved with <tt>landscape_gui.pytorch.loss_plane(...).save()</tt>.</p>"
            "<p>File → Open Landscape…, or <tt>landscape-gui surface.h5</tt>.</p>"), "θ*, the plane's centre")
        self.line = LinePlot()
        self.stack.addWidget(self.line)
        split.addWidget(self.stack)
        split.setSizes([300, 940])

        self.open_button.clicked.connect(self.open_dialog)
        self.surface_box.activated.connect(self._surface_chosen)
        self.cmap_box.currentTextChanged.connect(lambda _: self._redraw(changed=True))
        self.zscale_box.currentTextChanged.connect(lambda _: self._redraw(changed=True))
        self.path_check.toggled.connect(lambda _: self._redraw(changed=True))
        self.export_button.clicked.connect(self.export_dialog)
        self.export_button.setEnabled(False)
        self.source.set_landscape(None, "open a landscape file")

    # -- files -------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = str(Path(self.plane.path).parent) if self.plane is not None and self.plane.path else str(Path.home())
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open landscape", start, FILE_FILTER)
        if path and not self.open_file(path):
            QtWidgets.QMessageBox.warning(self, "Cannot open landscape", self.status.text())

    def open_file(self, path, view: dict | None = None) -> bool:
        """Show the file; a bad one is refused with the reason (``status``), nothing changes."""
        try:
            plane = load_landscape(path)
        except LandscapeFileError as exc:
            self.status.setText(str(exc))
            return False
        self.show_plane(plane, view)
        return True

    def show_plane(self, plane, view: dict | None = None) -> None:
        """Show a plane (read from a file, or handed over by ``landscape_gui.show(plane)``)."""
        self.plane = plane
        view = dict(view or {})
        metric = view.get("surface", "train_loss")
        if metric not in plane.surfaces:
            metric = next(k for k in plane.surfaces if k.endswith("_loss"))
        self.surface_key = metric
        widgets = (self.surface_box, self.cmap_box, self.zscale_box, self.path_check)
        with signals_blocked(widgets):
            self.surface_box.clear()
            for key in plane.surfaces:
                self.surface_box.addItem(metric_label(key), key)
            self.surface_box.setCurrentIndex(self.surface_box.findData(metric))
            if view.get("colormap") in COLORMAPS:
                self.cmap_box.setCurrentText(view["colormap"])
            self.zscale_box.setCurrentText(view.get("zscale", default_zscale(metric)))
            self.path_check.setChecked(view.get("path_shown", True))
            self.path_check.setEnabled(plane.trajectory_xy is not None)
        self.info.setText(describe(plane))
        self.info.setToolTip(str(Path(plane.path).resolve()) if plane.path else "")
        self.status.setText(f"opened {plane.path}" if plane.path else f"showing {plane.name}")
        self.export_button.setEnabled(True)
        self._redraw(changed=True)

    def view_settings(self) -> dict | None:
        """What a session keeps: the file's path and how it is shown (a plane handed over by a
        script has no file: nothing to keep)."""
        if self.plane is None or not self.plane.path:
            return None
        return {"path": str(Path(self.plane.path).resolve()), "surface": self.surface_key,
                "colormap": self.cmap_box.currentText(), "zscale": self.zscale_box.currentText(),
                "path_shown": self.path_check.isChecked()}

    def close_file(self) -> None:
        self.plane = None
        self.stack.setCurrentIndex(0)
        self.info.setText("No file open.")
        self.export_button.setEnabled(False)
        self.source.set_landscape(None, "open a landscape file")

    # -- drawing -------------------------------------------------------------------------------------
    def _surface_chosen(self, index: int) -> None:
        metric = self.surface_box.itemData(index)
        if metric and metric != self.surface_key:
            self.surface_key = metric
            with signals_blocked(self.zscale_box):
                self.zscale_box.setCurrentText(default_zscale(metric))
            self._redraw(changed=True)

    def _redraw(self, changed: bool = False) -> None:
        p = self.plane
        if p is None:
            return
        title = f"{p.name}: {metric_label(self.surface_key)}"
        show_path = self.path_check.isChecked()
        if p.is_line:
            self.stack.setCurrentIndex(2)
            self.line.show_line(p, self.surface_key, self.zscale_box.currentText(), show_path)
        else:
            self.stack.setCurrentIndex(1)
            s = self.source.session
            s.colormap, s.zscale = self.cmap_box.currentText(), self.zscale_box.currentText()
            self.source.set_landscape(p, title, metric=self.surface_key, z_name=metric_label(self.surface_key),
                                      path_label=path_label(p), show_path=show_path)
        if changed:
            self.viewChanged.emit()

    # -- export ----------------------------------------------------------------------------------------
    def export_dialog(self) -> None:
        if self.plane is None:
            return
        from landscape_gui.ui.export.figures import FigureOptions

        stem = Path(self.plane.path).stem if self.plane.path else "landscape"
        kinds = ("PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)" if self.plane.is_line else
                 "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf);;GIF: the camera orbiting the surface (*.gif)")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export landscape", f"{stem}.png", kinds)
        if path:
            vector = path.lower().endswith((".svg", ".pdf"))
            self.export_to(path, FigureOptions(view="2d" if vector or self.plane.is_line else "both"))

    def export_to(self, path, opts, camera=None, frames: int = 60, fps: int = 20) -> bool:
        from landscape_gui.ui.export.figures import ExportError, export, export_line

        try:
            if self.plane.is_line:
                export_line(self.plane, self.surface_key, path, opts, zscale=self.zscale_box.currentText(),
                            show_path=self.path_check.isChecked())
            else:
                export(self.source, path, opts, camera=camera, frames=frames, fps=fps, animation="orbit")
        except (ExportError, OSError) as exc:
            self.status.setText(f"export failed: {exc}")
            return False
        self.status.setText(f"exported {path}")
        return True


def is_landscape_file(path) -> bool:
    return Path(str(path)).suffix.lower() in SUFFIXES
