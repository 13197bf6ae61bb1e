"""The layout the network and landscape-file modes share: controls in a scrolling column,
the plane's 3-D and 2-D views beside them, a hint where nothing is drawn yet."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


def controls_beside_views(panel: QtWidgets.QWidget, width: int):
    """A mode's layout: a scrolling column of controls, the views to its right (added by the
    caller to the returned splitter). Returns (splitter, the controls' layout)."""
    outer = QtWidgets.QHBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
    outer.addWidget(split)
    controls = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(controls)
    scroll = QtWidgets.QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(controls)
    scroll.setMinimumWidth(width)
    split.addWidget(scroll)
    return split, layout


def plane_views(source, prefix: str, centre_tip: str):
    """The 3-D and 2-D views of a plane source side by side: (splitter, surface view, contour view)."""
    from landscape_gui.ui.views.contour_view import ContourView
    from landscape_gui.ui.views.surface_view import SurfaceView

    split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
    surface, contour = SurfaceView(source), ContourView(source)
    surface.setObjectName(f"{prefix}SurfaceView")
    contour.setObjectName(f"{prefix}ContourView")
    contour.minima.setToolTip(centre_tip)
    for v in (surface, contour):
        v.setMinimumSize(240, 240)
        split.addWidget(v)
    split.setStretchFactor(0, 3)  # the 3-D view is the larger part, as in the formula mode
    split.setStretchFactor(1, 2)
    return split, surface, contour


def hint_label(html: str, name: str) -> QtWidgets.QLabel:
    """What will appear where nothing is drawn yet (instead of an empty, flat sheet)."""
    hint = QtWidgets.QLabel(html, objectName=name)
    hint.setWordWrap(True)
    hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
    hint.setStyleSheet("color: #c8c8d0; background: #15171c; padding: 40px;")
    return hint
