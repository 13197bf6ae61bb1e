"""What the 3-D view, the 2-D view and the figure exporter draw: a *view source*.

``ViewSource`` is the contract (a ``typing.Protocol``): the formula mode's
``SessionController`` is one (``editable``: start points can be added, dragged and
removed), ``LandscapeSource`` is the other — a computed plane L(θ* + α d₁ + β d₂) of a
network, or one read from a loss-landscape file, with its path; not editable, so the
views' gestures leave it alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from PySide6 import QtCore

from landscape_gui.core import optimizers
from landscape_gui.core.scene.surface import height_map

TRAJECTORY_COLOR = "#ff4d4d"


@runtime_checkable
class ViewSource(Protocol):
    """What SurfaceView, ContourView and the exporter read (and the signals they follow:
    surfaceChanged, trajectoriesChanged(starts or None), startsChanged, stepChanged(int),
    status(str))."""

    session: object        # function_text, xrange, yrange, colormap, zscale, starts, steps, enabled_optimizers()
    grid: np.ndarray       # values[j, i] at xs[i], ys[j]
    xs: np.ndarray
    ys: np.ndarray
    heights: object        # HeightMap: values -> [0, 1]
    height_grid: np.ndarray
    function: object       # value(x, y) for read-outs
    batch: object          # optimizers.Batch of the paths drawn (never None once shown)
    step: int
    hovered_start: object
    editable: bool         # False: no start-point gestures (add, drag, remove)
    holes: bool            # NaN points drawn as holes (True) or as the formula mode's grey floor
    axis_names: tuple      # ("x", "y", "f") or ("α", "β", "train loss")
    figure_title: str      # an exported figure's title

    def known_minima(self) -> np.ndarray: ...

    def surface_note(self) -> str: ...

    def set_step(self, step: int) -> None: ...


@dataclass
class _PathLabel:
    """Stands in for an OptimizerInstance in legends: the projected training path."""

    label: str
    color: str = TRAJECTORY_COLOR
    enabled: bool = True


@dataclass
class PlaneSession:
    """The few session fields the views and the exporter read."""

    function_text: str = "train loss"
    params: dict = field(default_factory=dict)
    xrange: tuple = (-1.0, 1.0)
    yrange: tuple = (-1.0, 1.0)
    colormap: str = "viridis"
    zscale: str = "log"
    percentile: float = 98.0
    starts: list = field(default_factory=list)
    steps: int = 0
    paths: list = field(default_factory=list)
    axis_names: tuple = ("α", "β", "loss")
    title: str = ""

    def enabled_optimizers(self):
        return self.paths


class _PlaneFunction:
    """``value(a, b)`` of the plane by bilinear interpolation (hover read-outs, markers)."""

    def __init__(self, land, metric=None):
        self.land = land
        self.metric = metric  # a file's plane: which of its surfaces

    def value(self, x, y):
        if self.land is None:
            return np.full(np.broadcast(np.asarray(x), np.asarray(y)).shape, np.nan)[()]
        if self.metric is not None:
            return self.land.value_at(x, y, metric=self.metric)[()]
        return self.land.value_at(x, y)[()]


class LandscapeSource(QtCore.QObject):
    """A computed plane (a network's, or one from a loss-landscape file), dressed as a
    controller for SurfaceView/ContourView/export. Missing points are drawn as holes."""

    holes = True
    editable = False   # its path comes from training (or a file): the start-point gestures are off

    @property
    def axis_names(self) -> tuple:
        return self.session.axis_names

    @property
    def figure_title(self) -> str:
        return self.session.title

    surfaceChanged = QtCore.Signal()
    trajectoriesChanged = QtCore.Signal(object)
    startsChanged = QtCore.Signal()
    stepChanged = QtCore.Signal(int)
    status = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = PlaneSession()
        self.land = None   # an nn.Landscape or a file's LandscapePlane
        self.grid = np.ones((2, 2))
        self.xs = self.ys = np.array([-1.0, 1.0])
        self.heights = height_map(self.grid)
        self.height_grid = self.heights(self.grid)
        self.function = _PlaneFunction(None)
        self.batch = None
        self.step = 0
        self.hovered_start = None

    def set_landscape(self, land, title: str, use_test: bool = False, *, metric: str | None = None,
                      z_name: str = "loss", path_label: str = "training path (projected)",
                      show_path: bool = True) -> None:
        """Show ``land`` (an ``nn.Landscape`` or a file's ``LandscapePlane``; for the latter
        ``metric`` picks the surface: train_loss, train_acc, …)."""
        self.land = land
        s = self.session
        s.function_text = s.title = title
        s.axis_names = ("α", "β", z_name)
        if land is None:
            self.grid = np.ones((2, 2))
            self.xs = self.ys = np.array([-1.0, 1.0])
            s.xrange, s.yrange = (-1.0, 1.0), (-1.0, 1.0)
        elif metric is not None:
            self.grid = land.surface(metric)
        else:
            self.grid = land.test_values if (use_test and land.test_values is not None) else land.values
        if land is not None:
            self.xs, self.ys = land.alphas, land.betas
            s.xrange, s.yrange = land.xrange, land.yrange
        self.function = _PlaneFunction(land, metric)
        self._update_heights()
        # no path: an empty batch (not None, which the views take as "keep what is drawn")
        self.batch = optimizers.Batch([], np.zeros((1, 2)), np.zeros((0, 1, 1, 2)), np.zeros((0, 1, 1)),
                                      np.zeros((0, 1), dtype=np.int64))
        s.steps = self.step = 0
        s.paths = []
        if land is not None and land.trajectory_xy is not None and show_path:
            k = len(land.trajectory_xy)
            pts = land.trajectory_xy.reshape(1, 1, k, 2)
            values = (land.trajectory_losses if metric is None
                      else land.value_at(land.trajectory_xy[:, 0], land.trajectory_xy[:, 1], metric=metric))
            losses = np.asarray(values, dtype=float).reshape(1, 1, k)
            s.paths = [_PathLabel(path_label)]
            s.steps = k - 1
            self.batch = optimizers.Batch([("path", {})], land.trajectory_xy[:1].copy(), pts.copy(), losses.copy(),
                                          np.full((1, 1), -1, dtype=np.int64))
            self.step = k - 1
        self.surfaceChanged.emit()
        self.trajectoriesChanged.emit(None)
        self.stepChanged.emit(self.step)

    def set_paths(self, paths) -> None:
        """Several paths on the plane at once: ``[(label, colour, xy (k, 2), values (k,)), ...]``
        (e.g. the straight line and the trained curve between two solutions)."""
        s = self.session
        n = max((len(p[2]) for p in paths), default=1)
        pts = np.full((len(paths), 1, n, 2), np.nan)
        vals = np.full((len(paths), 1, n), np.nan)
        for k, (_label, _color, xy, v) in enumerate(paths):
            pts[k, 0, : len(xy)] = xy
            vals[k, 0, : len(xy)] = v
        s.paths = [_PathLabel(label, color) for label, color, _, _ in paths]
        s.steps = self.step = n - 1
        starts = pts[0, :, 0].copy() if len(paths) else np.zeros((1, 2))
        self.batch = optimizers.Batch([("path", {})] * len(paths), starts, pts, vals,
                                      np.full((len(paths), 1), -1, dtype=np.int64))
        self.trajectoriesChanged.emit(None)
        self.stepChanged.emit(self.step)

    def _update_heights(self) -> None:
        s = self.session
        self.heights = height_map(self.grid, s.zscale, s.percentile)
        self.height_grid = self.heights(self.grid)

    def set_view_options(self, colormap: str | None = None, zscale: str | None = None) -> None:
        if colormap:
            self.session.colormap = colormap
        if zscale:
            self.session.zscale = zscale
        self._update_heights()
        self.surfaceChanged.emit()
        self.trajectoriesChanged.emit(None)

    def known_minima(self) -> np.ndarray:
        """theta* itself, the plane's origin (where the plane holds it)."""
        if self.land is None or self.ys is None:
            return np.zeros((0, 2))
        inside = self.xs[0] <= 0 <= self.xs[-1] and self.ys[0] <= 0 <= self.ys[-1]
        return np.zeros((1, 2)) if inside else np.zeros((0, 2))

    def surface_note(self) -> str:
        return ""

    def set_step(self, step: int) -> None:
        self.step = int(step)
        self.stepChanged.emit(self.step)


class SourceSnapshot(QtCore.QObject):
    """A still copy of a view source, for off-screen renderers (exports): views built on it
    never connect to the live session, so deleting them can leave no dangling connection,
    and an animation export steps its own copy while the window stays where it was."""

    surfaceChanged = QtCore.Signal()
    trajectoriesChanged = QtCore.Signal(object)
    startsChanged = QtCore.Signal()
    stepChanged = QtCore.Signal(int)
    status = QtCore.Signal(str)
    editable = False

    def __init__(self, source, parent=None):
        super().__init__(parent)
        self.session = copy.deepcopy(source.session)
        self.grid, self.xs, self.ys = source.grid, source.xs, source.ys
        self.heights, self.height_grid = source.heights, source.height_grid
        self.function = source.function
        self.batch = copy.deepcopy(source.batch)  # a drag during an animation export changes the live one
        self.step = source.step
        self.hovered_start = None
        self.holes = source.holes
        self.axis_names = tuple(source.axis_names)
        self.figure_title = source.figure_title
        self._minima = np.asarray(source.known_minima()).copy()
        self._note = source.surface_note()

    def known_minima(self) -> np.ndarray:
        return self._minima

    def surface_note(self) -> str:
        return self._note

    def set_step(self, step: int) -> None:
        step = int(min(max(step, 0), self.session.steps))
        if step != self.step:
            self.step = step
            self.stepChanged.emit(step)
