"""The window's proportions: docks and views sized from the screen at the first show, and the
shares kept when the window is resized.

QMainWindow gives all of a shrink to the central widget: a window made smaller by hand kept
its docks at full width and squeezed the 2-D view to a strip. The docks' and the views'
shares of the window are remembered (after the default layout, and whenever the user drags
a separator) and re-applied after each resize, never below what a dock's content needs.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class DockProportions(QtCore.QObject):
    def __init__(self, window, left, right, bottom, splitter: QtWidgets.QSplitter):
        super().__init__(window)
        self.window = window
        self.docks = (left, right, bottom)
        self.splitter = splitter
        self.shares = None  # (window size, left, right, bottom, [view shares])
        for dock in self.docks:
            dock.installEventFilter(self)
        splitter.splitterMoved.connect(self._moved)

    def _moved(self, *_args) -> None:
        self.record()

    def record(self) -> None:
        w = self.window
        width, height = max(w.width(), 1), max(w.height(), 1)
        left, right, bottom = self.docks
        sizes = self.splitter.sizes()
        total = max(sum(sizes), 1)
        self.shares = (w.size(), left.width() / width, right.width() / width, bottom.height() / height,
                       [v / total for v in sizes])

    def apply(self) -> None:
        w = self.window
        if self.shares is None or self.shares[0] == w.size():
            return
        _, left_share, right_share, bottom_share, split = self.shares
        width, height = w.width(), w.height()
        left, right, bottom = self.docks
        need = [d.widget().minimumSizeHint().width() + 8 for d in (left, right)]
        widths = [max(int(left_share * width), need[0]), max(int(right_share * width), need[1])]
        w.resizeDocks([left, right], widths, QtCore.Qt.Orientation.Horizontal)
        w.resizeDocks([bottom], [max(int(bottom_share * height), 160)], QtCore.Qt.Orientation.Vertical)
        total = sum(self.splitter.sizes())
        self.splitter.setSizes([int(f * total) for f in split])
        QtCore.QTimer.singleShot(0, self.record)

    def window_resized(self) -> None:
        if self.shares is not None:
            QtCore.QTimer.singleShot(0, self.apply)  # once the layout has its new size

    def eventFilter(self, obj, ev) -> bool:
        # a dock resized while the window keeps its size: the user moved a separator
        if (ev.type() == QtCore.QEvent.Type.Resize and self.shares is not None
                and self.shares[0] == self.window.size()):
            QtCore.QTimer.singleShot(0, self.record)
        return False

    def default_layout(self, resize_window: bool = True, resize_docks: bool = True) -> None:
        """Open at 90% of the screen, the 3-D view the largest part: docks sized in proportion
        (a projector at 1280x800 and a 1920x1080 monitor both get a usable loss plot)."""
        w = self.window
        screen = QtGui.QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else QtCore.QRect(0, 0, 1280, 800)
        if resize_window:
            width = max(1024, int(avail.width() * 0.9))
            height = max(700, int(avail.height() * 0.9))
            width, height = min(width, max(avail.width(), 1024)), min(height, max(avail.height(), 700))
            w.resize(width, height)
            if screen is not None and avail.width() >= width:
                w.move(avail.x() + (avail.width() - width) // 2, avail.y() + (avail.height() - height) // 2)
        if not resize_docks:
            return
        width, height = w.width(), w.height()
        left_w = max(230, int(0.16 * width))
        right_w = max(300, int(0.2 * width))
        left, right, bottom = self.docks
        w.resizeDocks([left, right], [left_w, right_w], QtCore.Qt.Orientation.Horizontal)
        w.resizeDocks([bottom], [max(210, int(0.27 * height))], QtCore.Qt.Orientation.Vertical)
        centre = width - left_w - right_w
        # the 3-D view is the larger part: it is the picture people come for
        self.splitter.setSizes([int(centre * 0.6), centre - int(centre * 0.6)])
        QtCore.QTimer.singleShot(0, self.record)
