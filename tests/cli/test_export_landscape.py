"""``landscape-gui export --landscape FILE``: loss-landscape files as figures, headless."""

import os
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from landscape_gui.cli import main
from landscape_gui.core.files.landscapes import LandscapePlane, load_landscape

h5py = pytest.importorskip("h5py")


@pytest.fixture
def surface(tmp_path):
    xs, ys = np.linspace(-1, 1, 33), np.linspace(-1, 1, 25)
    X, Y = np.meshgrid(xs, ys)
    loss = (X - 0.3) ** 2 + 3 * (Y + 0.2) ** 2 + 0.05
    t = np.linspace(0, 1, 10)
    plane = LandscapePlane(xs, ys, loss, 100 * np.exp(-loss), np.c_[-0.8 + 1.1 * t, 0.8 - t])
    return plane.save(tmp_path / "surface.h5")


def needs_display():
    if not os.environ.get("DISPLAY"):
        pytest.skip("3-D export needs an X display (run under xvfb-run)")


def test_3d_png_of_a_file_at_the_asked_size(surface, tmp_path, capsys):
    needs_display()
    out = tmp_path / "fig.png"
    assert main(["export", "--landscape", str(surface), "--view", "3d", "--size", "1200x900", "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    img = np.asarray(Image.open(out).convert("RGB"), dtype=int)
    assert img.shape == (900, 1200, 3)
    # the surface in the viridis colours, and the red path drawn over it
    red = (np.abs(img - [255, 77, 77]).max(axis=-1) < 50).sum()
    assert red > 200
    assert (img.std(axis=-1) > 20).mean() > 0.1


def test_2d_svg_and_pdf_of_a_file_render(surface, tmp_path):
    svg = tmp_path / "fig.svg"
    assert main(["export", "--landscape", str(surface), "--view", "2d", "-o", str(svg)]) == 0
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "surface.h5: train loss" in svg.read_text()
    png = tmp_path / "svg.png"
    subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True)
    img = np.asarray(Image.open(png).convert("RGB"), dtype=int)
    assert (np.abs(img - [255, 77, 77]).max(axis=-1) < 50).sum() > 100   # the path
    pdf = tmp_path / "fig.pdf"
    assert main(["export", "--landscape", str(surface), "--view", "2d", "--surface", "train_acc", "-o", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_an_orbit_gif(surface, tmp_path):
    needs_display()
    gif = tmp_path / "orbit.gif"
    assert main(["export", "--landscape", str(surface), "--view", "3d", "--size", "240x180", "--frames", "6",
                 "-o", str(gif)]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == 6
        im.seek(0)
        a = np.asarray(im.convert("RGB"), dtype=int)
        im.seek(3)
        b = np.asarray(im.convert("RGB"), dtype=int)
    assert np.abs(a - b).mean() > 3


def test_a_line_file_as_png_and_pdf(tmp_path):
    xs = np.linspace(-0.25, 1.25, 31)
    with h5py.File(tmp_path / "line.h5", "w") as f:
        f["xcoordinates"] = xs
        f["train_loss"] = 0.1 + (xs - 1) ** 2
    assert main(["export", "--landscape", str(tmp_path / "line.h5"), "--size", "800x500", "-o",
                 str(tmp_path / "line.png")]) == 0
    img = np.asarray(Image.open(tmp_path / "line.png").convert("RGB"), dtype=int)
    assert img.shape == (500, 800, 3)
    assert (np.abs(img - [0x33, 0xCC, 0xFF]).max(axis=-1) < 40).sum() > 300
    assert main(["export", "--landscape", str(tmp_path / "line.h5"), "-o", str(tmp_path / "line.pdf")]) == 0
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(tmp_path / "line.pdf"), str(tmp_path / "page")], check=True)
    assert list(tmp_path.glob("page*.png"))


def test_conversion_between_npz_and_loss_landscape_h5(surface, tmp_path):
    assert main(["export", "--landscape", str(surface), "-o", str(tmp_path / "copy.npz")]) == 0
    assert main(["export", "--landscape", str(tmp_path / "copy.npz"), "-o", str(tmp_path / "back.h5")]) == 0
    a, b = load_landscape(surface), load_landscape(tmp_path / "back.h5")
    np.testing.assert_allclose(b.values, a.values)
    np.testing.assert_allclose(b.trajectory_xy, a.trajectory_xy)


def test_what_is_refused(surface, tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["xcoordinates"] = np.linspace(0, 1, 3)
        f["ycoordinates"] = np.linspace(0, 1, 4)
        f["train_loss"] = np.ones((3, 3))
    cases = [
        (["--landscape", str(bad), "-o", "x.png"], "bad.h5: train_loss has shape (3, 3) but the coordinates make a 3x4"),
        (["--landscape", str(surface), "--start", "1,1", "-o", "x.png"], "--start: not with --landscape"),
        (["--landscape", str(surface), "--surface", "test_loss", "-o", "x.png"], "surface.h5 has train_loss, train_acc"),
        (["--function", "x^2+y^2", "--surface", "train_acc", "-o", "x.png"], "--surface goes with --landscape"),
        (["--landscape", str(surface), "--view", "2d", "--animate", "orbit", "-o", str(tmp_path / "a.gif")],
         "a camera orbit is a 3-D animation"),
        (["--landscape", str(tmp_path / "none.h5"), "-o", "x.png"], "none.h5: no such file"),
    ]
    for args, message in cases:
        assert main(["export"] + args) == 2, args
        assert message in capsys.readouterr().err, args
