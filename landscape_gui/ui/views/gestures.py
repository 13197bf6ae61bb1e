"""The mouse gestures both views share: click adds a start point, dragging a marker
moves it, right-click removes it, anything else falls through to the view's own
camera gestures (orbit/pan/zoom)."""

from __future__ import annotations

from PySide6 import QtCore

LEFT, RIGHT = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.RightButton
GRAB_PIXELS = 10.0  # a press this close to a marker grabs it


class StartPointMouse:
    """Mixin for a view (a QObject with a ``statusMessage(str)`` signal: the read-out under the
    pointer) with ``source`` (a ``plane_source.ViewSource``; the gestures act
    only where its ``editable`` is true); subclasses answer two questions:

    ``data_under(pos)`` -> (x, y) in data coordinates under a pixel, or None;
    ``start_under(pos)`` -> index of the start marker within GRAB_PIXELS, or None.
    """

    _dragging: int | None = None
    _press_pos = None
    _moved = False
    _connections: list | tuple = ()

    def observe_source(self) -> None:
        """Both views draw from the same signals; wire them (bound methods only, remembered so
        ``release_source`` can drop them) and draw once."""
        c = self.source
        self._connections = [(c.surfaceChanged, self.update_surface),
                             (c.trajectoriesChanged, self.update_trajectories),
                             (c.startsChanged, self.update_markers),
                             (c.stepChanged, self._step_changed)]
        for signal, slot in self._connections:
            signal.connect(slot)
        self.update_surface()
        self.update_trajectories(None)

    def release_source(self) -> None:
        """Disconnect from the source: a view that is closed or deleted draws nothing more
        (a live session's signal must never reach a deleted view)."""
        for signal, slot in self._connections:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # the source went first
                pass
        self._connections = []

    def _step_changed(self, _step: int) -> None:
        self.update_step()

    def closeEvent(self, ev) -> None:
        self.release_source()
        super().closeEvent(ev)

    def mousePressEvent(self, ev):
        pos = ev.position()
        self._press_pos, self._moved = pos, False
        grabbed = self.start_under(pos) if self.source.editable else None
        if grabbed is not None and ev.button() in (LEFT, RIGHT):
            if ev.button() == RIGHT:
                self.source.remove_start(grabbed)
            else:
                self._dragging = grabbed
                self.source.begin_drag(grabbed)
            ev.accept()
            return
        self._dragging = None
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev):
        pos = ev.position()
        if self._press_pos is not None and (pos - self._press_pos).manhattanLength() > 3:
            self._moved = True
        if self._dragging is not None and ev.buttons() & LEFT:
            hit = self.data_under(pos)
            if hit is not None:  # the drag hot path; the source reports where the start is (clamped)
                self.source.move_start(self._dragging, *hit)
            ev.accept()
            return
        if not ev.buttons():
            if self.source.editable:
                self.source.hovered_start = self.start_under(pos)  # what Delete removes
            hit = self.data_under(pos)
            if hit is not None:
                f = self.source.function.value(*hit)
                x, y, z = self.source.axis_names
                self.statusMessage.emit(f"{x} = {hit[0]:.4g}, {y} = {hit[1]:.4g}, {z} = {f:.6g}")
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev):
        if self._dragging is not None:
            self._dragging = None
            self.source.end_drag()
            ev.accept()
            return
        if ev.button() == LEFT and not self._moved and self._press_pos is not None and self.source.editable:
            hit = self.data_under(ev.position())
            (x0, x1), (y0, y1) = self.source.session.xrange, self.source.session.yrange
            if hit is not None and x0 <= hit[0] <= x1 and y0 <= hit[1] <= y1:
                self.source.add_start(*hit)
        self._press_pos = None
        super().mouseReleaseEvent(ev)
