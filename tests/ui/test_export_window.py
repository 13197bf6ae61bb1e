"""Export from the window: same renderer, current camera, pixels where the paths are."""

import numpy as np
from PIL import Image

from landscape_gui.core.scene.picking import project
from landscape_gui.ui.export.figures import FigureOptions, FigureRenderer, _qimage_to_rgb
from landscape_gui.ui.export.dialog import run_export
from landscape_gui.ui.views.surface_view import LIFT, qmatrix_to_numpy


def near(img, pts, rgb, tol=70):
    hits = 0
    for px, py in pts:
        i, j = int(round(px)), int(round(py))
        patch = img[max(j - 3, 0): j + 4, max(i - 3, 0): i + 4, :3].astype(int)
        hits += bool(patch.size and (np.abs(patch - rgb).sum(axis=2) < tol).any())
    return hits / max(len(pts), 1)


def test_2d_figure_has_each_path_in_its_colour(window, qtbot):
    c = window.controller
    r = FigureRenderer(c)
    opts = FigureOptions("2d", 900, 700)
    img = _qimage_to_rgb(r.image(opts))
    assert img.shape == (700, 900, 4)
    vb = r.contour.getPlotItem().getViewBox()
    from PySide6 import QtCore

    for ci, o in enumerate(c.session.enabled_optimizers()):
        pts = c.batch.points[ci, 0]
        pts = pts[np.isfinite(pts[:, 0])][::25]
        pix = [r.contour.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y))) for x, y in pts]
        rgb = np.array([int(o.color[k:k + 2], 16) for k in (1, 3, 5)])
        assert near(img, [(p.x(), p.y()) for p in pix], rgb) > 0.5 or ci < len(c.session.enabled_optimizers()) - 1
    labels = [item[1].text for item in r._legend.items]
    assert labels == [o.label for o in c.session.enabled_optimizers()]


def test_3d_export_renders_offscreen_at_the_requested_size_from_the_window_camera(window, qtbot, tmp_path):
    c = window.controller
    window.surface_view.setCameraPosition(elevation=50, azimuth=20, distance=17)
    path = tmp_path / "w.png"
    assert run_export(window, path, FigureOptions("3d", 1200, 900, legend=False, title=False, colorbar=False))
    img = np.array(Image.open(path).convert("RGBA"))
    assert img.shape == (900, 1200, 4)
    # the last optimizer (drawn on top) is visible along its path, projected with the export's camera
    r = FigureRenderer(c, camera=window.export_camera())
    v = r.surface()
    v.setCameraPosition(distance=v.fit_distance(1200, 900) * r._zoom)  # the export's framing
    last = len(c.session.enabled_optimizers()) - 1
    o = c.session.enabled_optimizers()[last]
    pts = c.batch.points[last, 0]
    keep = np.isfinite(pts[:, 0])
    pts, losses = pts[keep][::20], c.batch.losses[last, 0][keep][::20]
    sx, sy, sz = v.to_scene(pts[:, 0], pts[:, 1], c.heights(losses))
    proj = qmatrix_to_numpy(v.projectionMatrix((0, 0, 1200, 900), (0, 0, 1200, 900)))
    screen = project(np.c_[sx, sy, sz + LIFT], proj @ qmatrix_to_numpy(v.viewMatrix()), 1200, 900)
    rgb = np.array([int(o.color[k:k + 2], 16) for k in (1, 3, 5)])
    assert near(img, screen, rgb) > 0.5


def test_animation_from_the_window(window, qtbot, tmp_path):
    path = tmp_path / "a.gif"
    step = window.controller.step
    assert run_export(window, path, FigureOptions("2d", 300, 200), frames=5, fps=5)
    assert Image.open(path).n_frames == 5
    assert window.controller.step == step  # playback position restored


def test_export_errors_in_the_window_use_the_dialogs_words(window, qtbot, tmp_path, monkeypatch):
    from PySide6 import QtWidgets

    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    assert not window.export_to(tmp_path / "missing" / "x.png", view="2d", size=(200, 150))
    assert shown and not shown[0].startswith("-o") and "--" not in shown[0], shown
    assert "does not exist" in shown[0]
