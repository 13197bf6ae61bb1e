"""Issue 14: ``landscape-gui gallery`` renders every requested preset, the analysis overlays and
an index page (the full gallery is for people to look at; the test checks one preset)."""

import os

import pytest
from PIL import Image


def test_gallery_writes_windows_exports_and_an_index(tmp_path, qapp):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display")
    from landscape_gui.devtools.gallery import build_gallery

    index = build_gallery(tmp_path, ["himmelblau"], sizes=[(1024, 700)], network=False, progress=lambda m: None)
    names = {p.name for p in tmp_path.iterdir()}
    for name in ("himmelblau_window_1024x700.png", "himmelblau_2d.png", "himmelblau_3d.png",
                 "analysis_window.png", "analysis_sweep.png", "index.html"):
        assert name in names, names
    assert Image.open(tmp_path / "himmelblau_2d.png").size == (1600, 1200)
    page = index.read_text()
    assert page.count("<img") == 5 and "Himmelblau" in page
