"""Issue 14: exports look the same in every renderer, frame the scene, and label it legibly."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from landscape_gui.ui.export.figures import FigureOptions, FigureRenderer, export
from landscape_gui.ui.export.dialog import run_export

BG = np.array([21, 23, 28])


def _rgb(path):
    return np.array(Image.open(path).convert("RGB")).astype(int)


def test_svg_renders_like_the_png_in_a_non_browser_renderer(window, qtbot, tmp_path):
    if shutil.which("rsvg-convert") is None:
        pytest.skip("rsvg-convert is installed by .ci/run (librsvg2-bin)")
    c = window.controller
    opts = FigureOptions("2d", 800, 600)
    export(c, tmp_path / "f.svg", opts)
    export(c, tmp_path / "f.png", opts)
    svg = (tmp_path / "f.svg").read_text()
    # no line drawn in data units under a x100 transform (every non-browser renderer fills it)
    assert not re.search(r"<(path|polyline)[^>]*non-scaling-stroke", svg)
    assert svg.count("<image") <= 2  # the heat map and the colour bar; axes and markers are vectors
    subprocess.run(["rsvg-convert", "-w", "800", "-h", "600", str(tmp_path / "f.svg"), "-o",
                    str(tmp_path / "svg.png")], check=True)
    a, b = _rgb(tmp_path / "svg.png"), _rgb(tmp_path / "f.png")
    assert a.shape == b.shape
    diff = np.abs(a - b).sum(axis=2)
    assert np.mean(diff > 90) < 0.03, np.mean(diff > 90)  # the same picture (anti-aliasing aside)


def test_pdf_renders_like_the_png(window, qtbot, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is installed by .ci/run (poppler-utils)")
    c = window.controller
    opts = FigureOptions("2d", 800, 600)
    export(c, tmp_path / "f.pdf", opts)
    export(c, tmp_path / "f.png", opts)
    subprocess.run(["pdftoppm", "-png", "-r", "96", "-singlefile", str(tmp_path / "f.pdf"), str(tmp_path / "pdf")],
                   check=True)
    a, b = _rgb(tmp_path / "pdf.png"), _rgb(tmp_path / "f.png")
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    diff = np.abs(a[:h, :w] - b[:h, :w]).sum(axis=2)
    assert np.mean(diff > 90) < 0.05, np.mean(diff > 90)


def test_gif_legend_is_in_every_frame(window, qtbot, tmp_path):
    c = window.controller
    path = tmp_path / "a.gif"
    export(c, path, FigureOptions("2d", 640, 480), frames=5, fps=10)
    im = Image.open(path)
    colours = [np.array([int(o.color[k:k + 2], 16) for k in (1, 3, 5)]) for o in c.session.enabled_optimizers()]
    r = FigureRenderer(c)
    r.image(FigureOptions("2d", 640, 480))
    box = r.contour.mapFromScene(r._legend.sceneBoundingRect()).boundingRect()
    x0, y0, x1, y1 = box.left(), box.top(), box.right(), box.bottom()
    assert x1 - x0 > 50 and y1 - y0 > 40
    for k in range(im.n_frames):
        im.seek(k)
        patch = np.array(im.convert("RGB")).astype(int)[y0:y1, x0:x1].reshape(-1, 3)
        for rgb in colours:  # every entry's sample line, in every frame
            assert (np.abs(patch - rgb).sum(axis=1) < 60).any(), (k, rgb)


def _content_box(img):
    mask = np.abs(img[:, :, :3].astype(int) - BG).sum(axis=2) > 30
    ys, xs = np.nonzero(mask)
    return xs.min(), xs.max(), ys.min(), ys.max()


@pytest.mark.parametrize("size", [(1600, 900), (900, 1200)])
def test_3d_export_from_the_window_frames_the_scene_like_the_command_line(window, qtbot, tmp_path, size):
    w, h = size
    path = tmp_path / "w.png"
    assert run_export(window, path, FigureOptions("3d", w, h, legend=False, title=False, colorbar=False))
    img = np.array(Image.open(path).convert("RGB"))
    x0, x1, y0, y1 = _content_box(img)
    # nothing touches an edge (the labelled box fits), and the scene fills the picture
    assert x0 > 4 and y0 > 4 and x1 < w - 5 and y1 < h - 5, (x0, x1, y0, y1)
    assert (x1 - x0) > 0.6 * w or (y1 - y0) > 0.6 * h


def test_3d_axis_labels_are_round_apart_and_off_the_surface(window, qtbot):
    v = window.surface_view
    v.reset_camera()
    qtbot.wait(100)
    v.repaint()
    from landscape_gui.ui.views.surface_view import HALF

    xs = [float(t) for p, t, _ in v.box_labels.labels if abs(p[1] - (-HALF - 0.6)) < 1e-9]
    ys = [float(t) for p, t, _ in v.box_labels.labels if abs(p[0] - (HALF + 0.3)) < 1e-9]
    zs = [float(t) for _, t in v.box_labels.z_ticks[1:]]  # above the floor value
    for values in (xs, ys):  # evenly spaced by 1, 2 or 5 x 10^k, each a multiple of the step
        step = values[1] - values[0]
        mantissa = step / 10 ** np.floor(np.log10(step))
        assert round(mantissa, 6) in (1, 2, 5), values
        assert all(abs(x / step - round(x / step)) < 1e-6 for x in values), values
    if window.session.zscale == "log":  # decades above the minimum, rounded
        for z in zs:
            m = abs(z) / 10 ** np.floor(np.log10(abs(z))) if z else 1
            assert round(m, 6) in (1, 2, 5) or len(f"{z:g}") <= 4, zs
    rects = v.box_labels.drawn_rects
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.intersects(b)
    # the z labels stand beside the box: none covers a start marker
    from gui_helpers import pixel_of

    c = window.controller
    for x, y in c.session.starts:
        px, py = pixel_of(v, x, y)
        assert not any(r.contains(px, py) for r in rects)


def test_a_run_that_leaves_the_domain_is_drawn_to_the_edge_and_marked(window, qtbot):
    c = window.controller
    c.load_preset("goldstein_price")
    c.update_optimizer(0, hyperparameters={"lr": 1e-3})  # shoots out at its second step
    qtbot.wait(300)
    s = c.session
    (x0, x1), (y0, y1) = s.xrange, s.yrange
    n_st = len(s.starts)
    for k in range(n_st):  # the 2-D curve of SGD stays in the domain
        x, y = window.contour_view.curves[k].getData()
        assert np.all((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    ex, ey = window.contour_view.exits.getData()
    assert len(ex) >= 1 and np.all(np.isclose(ex, x0) | np.isclose(ex, x1) | np.isclose(ey, y0) | np.isclose(ey, y1))
    v = window.surface_view
    assert len(v.exits.pos) >= 1
    from landscape_gui.ui.views.surface_view import HALF

    for item in v.lines[:n_st]:
        assert np.all(np.abs(item.pos[:, :2]) <= HALF + 1e-9)  # inside the box


def test_big_figures_get_big_text_and_the_colour_bar_names_its_ends(window, qtbot):
    from landscape_gui.ui.export.figures import colorbar_ticks

    r = FigureRenderer(window.controller)
    r.image(FigureOptions("2d", 1600, 1200))
    axis = r.contour.getPlotItem().getAxis("bottom")
    assert axis.style["tickFont"].pixelSize() >= 20  # not the screen's 9 px
    ticks = colorbar_ticks(window.controller.heights)
    assert ticks[0][0] == 0.0 and ticks[-1][0] == 1.0  # both ends labelled
    labels = [t for _, t in r._colorbar.axis._tickLevels[0]]
    assert labels[0] == ticks[0][1] and labels[-1] == ticks[-1][1]


def test_play_button_keeps_its_width(window, qtbot):
    bar = window.playback
    before = (bar.play.width(), bar.slider.geometry())
    bar.toggle()
    qtbot.wait(50)
    assert (bar.play.width(), bar.slider.geometry()) == before
    bar.toggle()


def test_both_export_has_one_title_across_the_figure(window, qtbot):
    img = FigureRenderer(window.controller).image(FigureOptions("both", 1600, 700))
    from landscape_gui.ui.export.figures import _qimage_to_rgb

    rgb = _qimage_to_rgb(img)[:, :, :3].astype(int)
    band = rgb[:30]                                # the title row
    cols = np.flatnonzero((np.abs(band - BG).sum(axis=2) > 200).any(axis=0))
    assert cols.size > 50
    centre = (cols.min() + cols.max()) / 2
    assert abs(centre - 800) < 40, centre         # centred on the whole figure, not the 3-D half
    # both halves start under the title: nothing of the 2-D plot in the title row's right half
    assert not (np.abs(rgb[:20, 1150:] - BG).sum(axis=2) > 200).any()


def test_long_schedule_labels_keep_the_figure_inside_its_box(window, qtbot):
    """Two optimizers with long schedules: the legend goes to one column (shortened where longer
    than the figure) and the colour bar's labels stay inside the image."""
    c = window.controller
    long = "SequentialLR([LinearLR(start_factor=0.1, total_iters=50), CosineAnnealingLR(T_max=450)], milestones=[50])"
    c.update_optimizer(0, hyperparameters={"schedule": long})
    c.update_optimizer(1, hyperparameters={"schedule": "CosineAnnealingLR(T_max=500, eta_min=1e-5)"})
    r = FigureRenderer(c)
    img = r.image(FigureOptions("2d", 800, 600))
    assert r._legend.columnCount == 1
    assert (img.width(), img.height()) == (800, 600)
    bar = r.contour.mapFromScene(r._colorbar.axis.sceneBoundingRect()).boundingRect()
    assert bar.right() <= 800 and bar.left() > 600          # its labels drawn inside, at the right
    legend = r.contour.mapFromScene(r._legend.sceneBoundingRect()).boundingRect()
    assert legend.right() <= 800
