"""Input and pixel helpers shared by the window tests."""

import numpy as np
from PySide6 import QtCore, QtGui

from landscape_gui.devtools.monkey import send_mouse as mouse  # noqa: F401  (the tests' name)

Qt = QtCore.Qt


def pixel_of(view, x, y):
    c = view.source
    h = c.heights(c.function.value(x, y))
    sx, sy, sz = view.to_scene(np.array([x]), np.array([y]), np.array([h]))
    from landscape_gui.core.scene.picking import project

    return project(np.c_[sx, sy, sz], view.mvp(), view.width(), view.height())[0]




def framebuffer(view):
    img = view.grabFramebuffer().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return arr[:, : 3 * w].reshape(h, w, 3).astype(int)


def contour_pixel(plot, x, y):
    """Pixel (in the plot's viewport) of data point (x, y) in the 2-D view."""
    vb = plot.getPlotItem().getViewBox()
    p = plot.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y)))
    return p.x(), p.y()


def grab_rgb(widget):
    """A widget as painted (``QWidget.grab``), as an (h, w, 3) int array."""
    img = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return arr[:, : 3 * w].reshape(h, w, 3).astype(int)


def to_nn_mode(window, qtbot):
    bar = window.modes.tabBar()
    qtbot.mouseClick(bar, QtCore.Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    assert window.modes.currentIndex() == 1
    return window.nn_panel


def train_and_wait(panel, qtbot, timeout=120000):
    before = panel.model.result
    qtbot.mouseClick(panel.train_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.model.result is not before and not panel.model.busy, timeout=timeout)
    return panel.model.result
