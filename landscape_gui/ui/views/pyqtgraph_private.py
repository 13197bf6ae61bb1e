"""Every use of pyqtgraph's private (undocumented) OpenGL API, in one place.

The 3-D view caches the rendered landscape and draws only the paths over it on a
drag; pyqtgraph has no public call for "draw these items now" or for the
projection of a given viewport, so this module uses the internals of pyqtgraph
0.14 (``GLViewWidget._modelViewStack``, ``default_vao``, the two-argument
``projectionMatrix``). ``pyproject.toml`` pins ``pyqtgraph>=0.14,<0.15``;
``check()`` (run by a test, and once when the 3-D view is built) fails loudly if an
upgrade removed any of them, instead of a blank or crashing view.
"""

from __future__ import annotations

import inspect

import pyqtgraph as pg
from pyqtgraph.opengl import GLViewWidget

SUPPORTED = ((0, 14), (0, 15))  # [from, to)


class PyqtgraphChanged(RuntimeError):
    """The installed pyqtgraph lacks an internal the 3-D view relies on."""


_checked = False


def check() -> None:
    """Raise ``PyqtgraphChanged`` naming what is missing; no-op on a supported pyqtgraph."""
    global _checked
    if _checked:
        return
    version = tuple(int(p) for p in pg.__version__.split(".")[:2] if p.isdigit())
    problems = []
    if not SUPPORTED[0] <= version < SUPPORTED[1]:
        problems.append(f"version {pg.__version__} (need >=0.14,<0.15)")
    params = list(inspect.signature(GLViewWidget.projectionMatrix).parameters)
    if params[1:3] != ["region", "viewport"]:
        problems.append(f"GLViewWidget.projectionMatrix{tuple(params[1:])} (need (region, viewport))")
    for name in ("drawItemTree", "currentModelView", "setProjection", "setModelview", "getViewport"):
        if not hasattr(GLViewWidget, name):
            problems.append(f"GLViewWidget.{name}")
    # set in the widget's constructor (GLViewMixin.__init__ in 0.14): look in the class's sources
    init_src = "".join(inspect.getsource(k.__init__) for k in GLViewWidget.__mro__
                       if "__init__" in vars(k) and k.__module__.startswith("pyqtgraph"))
    for name in ("_modelViewStack", "default_vao"):
        if f"self.{name} =" not in init_src:
            problems.append(f"GLViewWidget.{name}")
    if problems:
        raise PyqtgraphChanged("the 3-D view needs pyqtgraph internals that this pyqtgraph lacks: "
                               + "; ".join(problems))
    _checked = True


def projection_matrix(view: GLViewWidget, width: int, height: int):
    """The view's projection for a full ``width`` x ``height`` viewport (a QMatrix4x4)."""
    return view.projectionMatrix((0, 0, width, height), (0, 0, width, height))


def draw_items(view: GLViewWidget, items) -> None:
    """Paint some top-level items (and their children) as ``paintGL`` would, now.

    Unlike toggling visibility and calling ``paintGL``, this schedules no further
    frame. Must be called inside the view's GL context, after ``setProjection``
    and ``setModelview``.
    """
    for item in sorted(items, key=lambda a: a.depthValue()):
        if not item.visible():
            continue
        view._modelViewStack.append(view.currentModelView() * item.transform())
        try:
            if view.default_vao.isCreated():
                # items that paint with a QPainter unbind pyqtgraph's default VAO
                view.default_vao.bind()
            view.drawItemTree(item)
        finally:
            view._modelViewStack.pop()
