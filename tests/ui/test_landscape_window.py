"""The Landscape file mode in the real window: a loss-landscape .h5 opened from the menu and
from the command line, drawn in 3-D and 2-D (path, holes, other surfaces), kept in sessions,
bad files refused, 1-D files as a line plot."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core.scene.surface import fill_holes
from landscape_gui.ui.modes.network.panel import TRAJECTORY_COLOR
from landscape_gui.ui.views.surface_view import ZSPAN

from gui_helpers import contour_pixel, framebuffer, grab_rgb

h5py = pytest.importorskip("h5py")
Qt = QtCore.Qt
BACKGROUND = np.array([0x15, 0x17, 0x1C])


def lopsided(x, y):
    return (x - 0.3) ** 2 + 3 * (y + 0.2) ** 2 + 0.5 * x + 0.05


def write_surface(path, nx=41, ny=31, holes=True, trajectory=True):
    """A surface in loss-landscape's layout: (nx, ny) arrays filled by meshgrid flat index,
    -1 where not computed; with a projected path in the same file."""
    xs, ys = np.linspace(-1, 1, nx), np.linspace(-1, 1, ny)
    X, Y = np.meshgrid(xs, ys)
    loss = lopsided(X, Y)
    if holes:
        loss[4:8, 30:36] = -1.0  # rows are y: a block at x ~ 0.5..0.75, y ~ -0.75..-0.55
    acc = np.where(loss == -1, -1.0, 100 * np.exp(-loss))
    with h5py.File(path, "w") as f:
        f["xcoordinates"], f["ycoordinates"] = xs, ys
        f["train_loss"] = loss.reshape(nx, ny)
        f["train_acc"] = acc.reshape(nx, ny)
        if trajectory:
            t = np.linspace(0, 1, 15)
            f["proj_xcoord"], f["proj_ycoord"] = -0.8 * (1 - t) + 0.3 * t, 0.8 * (1 - t) ** 2 - 0.2 * t
    return xs, ys, loss




def open_from_menu(window, qtbot, monkeypatch, path):
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    action = window.findChild(QtGui.QAction, "openLandscapeAction")
    assert action is not None and "Landscape" in action.text()
    action.trigger()
    qtbot.wait(200)
    return window.landscape_panel


def test_a_loss_landscape_file_opens_in_both_views_with_its_path_and_holes(window, qtbot, monkeypatch, tmp_path):
    xs, ys, loss = write_surface(tmp_path / "resnet_surface.h5")
    panel = open_from_menu(window, qtbot, monkeypatch, tmp_path / "resnet_surface.h5")
    assert window.modes.currentIndex() == 2
    assert not window.findChild(QtWidgets.QDockWidget, "Function_dock").isVisible()  # formula docks hidden
    assert "41×31 plane" in panel.info.text() and "24 missing points" in panel.info.text()
    assert "resnet_surface.h5" in window.status_label.text()
    src = panel.source
    want = np.where(loss == -1, np.nan, loss)
    np.testing.assert_array_equal(src.grid, want)
    assert src.session.zscale == "log"
    # the 3-D mesh: its heights are the file's (holes filled at their rim's height, drawn transparent)
    h = src.heights(want)
    np.testing.assert_allclose(panel.surface_view.surface._z, fill_holes(h).T * ZSPAN, atol=1e-6)
    colors = panel.surface_view.surface._meshdata.vertexColors().reshape(41, 31, 4)
    assert (colors[30:36, 4:8, 3] == 0).all() and (colors[:20, :, 3] == 255).all()
    # the projected path in both views
    assert panel.surface_view.lines[0].pos.shape == (15, 3)
    x, y = panel.contour_view.curves[0].getData()
    np.testing.assert_allclose(np.c_[x, y], panel.plane.trajectory_xy)
    qtbot.wait(150)
    img = grab_rgb(panel.contour_view)
    red = np.array(QtGui.QColor(TRAJECTORY_COLOR).getRgb()[:3])
    hits = 0
    for k in range(1, 14, 3):
        px, py = contour_pixel(panel.contour_view, *panel.plane.trajectory_xy[k])
        patch = img[int(py) - 2: int(py) + 3, int(px) - 2: int(px) + 3]
        hits += (np.abs(patch - red).max(axis=-1) < 60).any()
    assert hits >= 4
    # a hole is a hole in 2-D (no colour map there) and in 3-D (the background shows through)
    px, py = contour_pixel(panel.contour_view, xs[33], ys[6])
    assert np.abs(img[int(py), int(px)] - BACKGROUND).max() < 30 or img[int(py), int(px)].max() < 40
    v = panel.surface_view
    v.setCameraPosition(elevation=89, azimuth=-90)   # from straight above
    qtbot.wait(150)
    fb = framebuffer(v)
    from landscape_gui.core.scene.picking import project

    def pixel(i, j, height):
        sx, sy, sz = v.to_scene(np.array([xs[i]]), np.array([ys[j]]), np.array([height]))
        return project(np.c_[sx, sy, sz], v.mvp(), v.width(), v.height())[0]

    hx, hy = pixel(33, 6, fill_holes(h)[6, 33])
    sx_, sy_ = pixel(10, 20, h[20, 10])
    ratio = fb.shape[1] / v.width()
    in_hole = fb[int(hy * ratio), int(hx * ratio)]
    on_surface = fb[int(sy_ * ratio), int(sx_ * ratio)]
    assert np.abs(in_hole - BACKGROUND).max() < 40, in_hole
    assert np.abs(on_surface - BACKGROUND).max() > 60, on_surface
    # another surface: the accuracy, on a linear scale
    box = panel.surface_box
    box.setCurrentIndex(box.findData("train_acc"))
    box.activated.emit(box.currentIndex())
    qtbot.wait(50)
    np.testing.assert_allclose(src.grid, np.where(loss == -1, np.nan, 100 * np.exp(-loss)))
    assert panel.zscale_box.currentText() == "linear" and src.session.axis_names[2] == "train accuracy"
    # the path can be hidden
    panel.path_check.setChecked(False)
    qtbot.wait(50)
    assert src.session.paths == [] and len(panel.surface_view.lines) == 0


def test_the_session_remembers_the_file_and_its_view(window, qtbot, monkeypatch, tmp_path):
    write_surface(tmp_path / "surf.h5")
    panel = open_from_menu(window, qtbot, monkeypatch, tmp_path / "surf.h5")
    box = panel.surface_box
    box.setCurrentIndex(box.findData("train_acc"))
    box.activated.emit(box.currentIndex())
    panel.cmap_box.setCurrentText("magma")
    assert window.save_to(tmp_path / "s.landscape.json")
    saved = window.controller.session.landscape
    assert saved["path"].endswith("surf.h5") and saved["surface"] == "train_acc" and saved["shown"]
    window.new_session()                         # no file in a new session
    assert panel.plane is None and window.controller.session.landscape is None
    window.modes.setCurrentIndex(0)
    assert window.open_file(tmp_path / "s.landscape.json")
    qtbot.wait(50)
    assert panel.plane is not None and panel.plane.path.endswith("surf.h5")
    assert panel.surface_key == "train_acc" and panel.cmap_box.currentText() == "magma"
    assert panel.source.session.colormap == "magma"
    assert window.modes.currentIndex() == 2


def test_a_bad_file_is_refused_with_its_reason_and_nothing_changes(window, qtbot, monkeypatch, tmp_path):
    write_surface(tmp_path / "good.h5")
    panel = open_from_menu(window, qtbot, monkeypatch, tmp_path / "good.h5")
    before = panel.source.grid.copy()
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["losses"] = np.ones((3, 3))
    warnings = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    assert not window.open_landscape(tmp_path / "bad.h5")
    assert warnings and "bad.h5" in warnings[0] and "no xcoordinates" in warnings[0]
    assert "not opened" in window.status_label.text()
    np.testing.assert_array_equal(panel.source.grid, before)
    assert panel.plane.path.endswith("good.h5")


def test_a_one_dimensional_file_is_a_line_plot(window, qtbot, tmp_path):
    xs = np.linspace(-0.25, 1.25, 31)
    with h5py.File(tmp_path / "interp.h5", "w") as f:
        f["xcoordinates"] = xs
        f["train_loss"] = 0.1 + (xs - 1) ** 2
        f["proj_xcoord"] = np.array([0.0, 1.0])
    assert window.open_landscape(tmp_path / "interp.h5")
    panel = window.landscape_panel
    assert panel.stack.currentWidget() is panel.line
    x, y = panel.line.curve.getData()
    np.testing.assert_allclose(x, xs)
    assert len(panel.line.marks.data) == 2 and [t.toPlainText() for t in panel.line.mark_labels] == ["a", "b"]
    qtbot.wait(100)
    img = grab_rgb(panel.line)
    blue = np.array([0x33, 0xCC, 0xFF])
    assert (np.abs(img - blue).max(axis=-1) < 40).sum() > 200   # the curve is drawn


def test_export_from_the_panel(window, qtbot, tmp_path):
    from landscape_gui.ui.export.figures import FigureOptions

    write_surface(tmp_path / "surf.h5")
    assert window.open_landscape(tmp_path / "surf.h5")
    panel = window.landscape_panel
    assert panel.export_to(tmp_path / "fig.png", FigureOptions(view="both", width=900, height=450))
    img = QtGui.QImage(str(tmp_path / "fig.png"))
    assert (img.width(), img.height()) == (900, 450)
    assert panel.export_to(tmp_path / "orbit.gif", FigureOptions(view="3d", width=200, height=150), frames=4, fps=4)
    from PIL import Image

    with Image.open(tmp_path / "orbit.gif") as gif:
        assert gif.n_frames == 4
        frames = []
        for k in range(4):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB"), dtype=int))
    assert np.abs(frames[0] - frames[2]).mean() > 3    # the camera moved: the frames differ


CHILD = textwrap.dedent("""
    import sys
    from PySide6 import QtCore
    from landscape_gui.cli import main

    def after(window):
        p = window.landscape_panel
        print("MODE", window.modes.currentIndex(), "PLANE", p.plane is not None and p.plane.name, flush=True)
        window.ask_save_changes = lambda: "discard"
        QtCore.QTimer.singleShot(100, window.quit)

    import landscape_gui.ui.window.app as app
    real = app.run_app
    app.run_app = lambda **kw: real(after_show=after, **kw)
    sys.exit(main([sys.argv[1]]))
""")


def test_landscape_gui_FILE_h5_opens_the_file(tmp_path):
    write_surface(tmp_path / "cli_surface.h5")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**__import__("os").environ, "XDG_DATA_HOME": str(tmp_path / "d"), "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "LANDSCAPE_GUI_RESTORE": "no"}
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "cli_surface.h5")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "MODE 2 PLANE cli_surface.h5" in out.stdout
