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


def open_box(column: QtWidgets.QVBoxLayout, title: str, button: str, tip: str, empty: str, prefix: str):
    """A group with an Open… button and a selectable description of what is open: (button, info)."""
    box = QtWidgets.QGroupBox(title)
    form = QtWidgets.QVBoxLayout(box)
    open_button = QtWidgets.QPushButton(button, objectName=f"{prefix}Open")
    open_button.setToolTip(tip)
    info = QtWidgets.QLabel(empty, wordWrap=True, objectName=f"{prefix}Info")
    info.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    form.addWidget(open_button)
    form.addWidget(info)
    column.addWidget(box)
    return open_button, info


def plane_view_box(column: QtWidgets.QVBoxLayout, prefix: str):
    """The View group of a plane: which surface, its colours and z scale (log first); more rows
    go on the returned form. Returns (form, surface_box, cmap_box, zscale_box)."""
    from landscape_gui.core.scene.surface import Z_SCALES
    from landscape_gui.core.session import COLORMAPS

    box = QtWidgets.QGroupBox("View")
    form = QtWidgets.QFormLayout(box)
    surface_box = QtWidgets.QComboBox(objectName=f"{prefix}Surface")
    cmap_box = QtWidgets.QComboBox(objectName=f"{prefix}Colormap")
    cmap_box.addItems(list(COLORMAPS))
    zscale_box = QtWidgets.QComboBox(objectName=f"{prefix}Zscale")
    zscale_box.addItems(list(Z_SCALES))
    zscale_box.setCurrentText("log")
    form.addRow("Show", surface_box)
    form.addRow("Colours", cmap_box)
    form.addRow("z scale", zscale_box)
    column.addWidget(box)
    return form, surface_box, cmap_box, zscale_box


def hint_or_plane(source, prefix: str, hint_html: str, centre_tip: str):
    """A stack: a hint while nothing is open (page 0), the 3-D and 2-D views of ``source``
    (page 1). Returns (stack, surface_view, contour_view)."""
    stack = QtWidgets.QStackedWidget(objectName=f"{prefix}Stack")
    stack.addWidget(hint_label(hint_html, f"{prefix}Hint"))
    views, surface_view, contour_view = plane_views(source, prefix, centre_tip)
    stack.addWidget(views)
    return stack, surface_view, contour_view
