"""``landscape-gui gallery DIR``: every preset as a person sees it, for review in one page.

For each library function: the whole window (3-D, 2-D, loss plot) at each requested
screen size, and the 2-D and 3-D figure exports; then the Analysis overlays (critical
points and basins) and a trained network's loss plane. Writes PNGs and an ``index.html``
of thumbnails. Needs a display with OpenGL (run under ``xvfb-run``).
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

SIZES = ((1280, 800), (1920, 1080))


def _settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def _grab(window, path: Path) -> None:
    """The window as on screen, the 3-D view's painted labels included (``QWidget.grab``
    leaves out what is painted over an OpenGL view)."""
    from PySide6 import QtGui

    window.repaint()
    g = window.frameGeometry()
    QtGui.QGuiApplication.primaryScreen().grabWindow(0, g.x(), g.y(), g.width(), g.height()).save(str(path))


def _open_window(MainWindow, Session, app, w: int, h: int):
    window = MainWindow(Session.default(), autosave=False)
    window.ask_save_changes = lambda: "discard"
    window.resize(w, h)
    window.show()
    _settle(app, 0.3)
    window.docks.default_layout(resize_window=False)
    _settle(app, 0.2)
    return window


def build_gallery(folder, presets: list[str] | None = None, sizes=SIZES, network: bool = True,
                  progress=print) -> Path:
    """Render the gallery into ``folder``; returns the path of its index.html."""
    os.environ.setdefault("LANDSCAPE_GUI_RESTORE", "no")
    from PySide6 import QtWidgets

    from landscape_gui.core import functions, optimizers
    from landscape_gui.core.session import Session
    from landscape_gui.ui.export.figures import FigureOptions, export
    from landscape_gui.ui.window.app import configure_qt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    configure_qt()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["landscape-gui-gallery"])
    from landscape_gui.ui.window.main_window import MainWindow

    optimizers.prepare(optimizers.names(), background=False)
    keys = presets or [lf.key for lf in functions.FUNCTIONS]
    shots_of: dict[str, list[tuple[str, str]]] = {key: [] for key in keys}
    # one fresh window per size, opened at that size (a window shrunk from a larger one keeps
    # dock widths no user would see)
    for w, h in sizes:
        window = _open_window(MainWindow, Session, app, w, h)
        try:
            for key in keys:
                window.controller.load_preset(key)
                window.controller.function.kernels(wait=True)
                window.surface_view.reset_camera()
                _settle(app, 1.2)  # the loss plot refits 0.25 s after the last change
                name = f"{key}_window_{w}x{h}.png"
                _grab(window, folder / name)
                shots_of[key].append((name, f"window {w}×{h}"))
                if (w, h) == tuple(sizes[-1]):
                    for view in ("2d", "3d"):
                        name = f"{key}_{view}.png"
                        export(window.controller, folder / name, FigureOptions(view, 1600, 1200),
                               camera=window.export_camera())
                        shots_of[key].append((name, f"{view.upper()} export 1600×1200"))
                progress(f"gallery: {key} {w}x{h}")
        finally:
            window.close()
            window.deleteLater()
            _settle(app, 0.1)
    entries: list[tuple[str, list[tuple[str, str]]]] = []
    for key in keys:
        lf = functions.get(key)
        entries.append((f"{lf.title} — <code>{html.escape(lf.formula)}</code>", shots_of[key]))
    window = _open_window(MainWindow, Session, app, *sizes[-1])
    try:
        # the Analysis overlays on a landscape with several minima
        shots = []
        window.controller.load_preset("himmelblau")
        window.controller.function.kernels(wait=True)
        model = window.analysis
        window.analysis_actions["critical"].trigger()
        window.analysis_panel.resolution_box.setCurrentIndex(1)
        window.analysis_actions["basins"].trigger()
        deadline = time.monotonic() + 120
        while (model.basins is None or model.running) and time.monotonic() < deadline:
            _settle(app, 0.1)
        _settle(app, 0.5)
        _grab(window, folder / "analysis_window.png")
        shots.append(("analysis_window.png", "critical points and basins (Himmelblau)"))
        window.analysis_actions["sweep"].trigger()
        deadline = time.monotonic() + 60
        while model.sweep is None and time.monotonic() < deadline:
            _settle(app, 0.1)
        _settle(app, 0.5)
        _grab(window, folder / "analysis_sweep.png")
        shots.append(("analysis_sweep.png", "learning-rate sweep"))
        for act in ("critical", "basins", "sweep"):
            window.analysis_actions[act].setChecked(False)
        entries.append(("Analysis", shots))
        progress("gallery: analysis")
        if network:
            shots = []
            window.modes.setCurrentIndex(1)
            panel = window.nn_panel
            _settle(app, 0.3)
            _grab(window, folder / "network_before.png")
            shots.append(("network_before.png", "network mode before training"))
            panel.epochs_spin.setValue(30)
            panel.start_training()
            deadline = time.monotonic() + 300
            while (panel.model.result is None or panel.model.busy) and time.monotonic() < deadline:
                _settle(app, 0.1)
            _settle(app, 0.8)
            _grab(window, folder / "network_trained.png")
            shots.append(("network_trained.png", "a trained network's loss plane"))
            window.modes.setCurrentIndex(0)
            entries.append(("Neural network", shots))
            progress("gallery: network")
    finally:
        window.close()
        window.deleteLater()
        _settle(app, 0.1)
    return _write_index(folder, entries)


def _write_index(folder: Path, entries) -> Path:
    rows = []
    for title, shots in entries:
        cells = "".join(f'<figure><a href="{html.escape(n)}"><img src="{html.escape(n)}" loading="lazy"></a>'
                        f"<figcaption>{html.escape(c)}</figcaption></figure>" for n, c in shots)
        rows.append(f"<section><h2>{title}</h2><div class='row'>{cells}</div></section>")
    page = ("<!doctype html><meta charset='utf-8'><title>landscape-gui gallery</title>"
            "<style>body{background:#15171c;color:#ddd;font-family:sans-serif;margin:20px}"
            ".row{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;width:300px}"
            "img{width:300px;border:1px solid #444}figcaption{font-size:12px;color:#aaa}"
            "code{color:#9cf}</style><h1>landscape-gui gallery</h1>" + "".join(rows))
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
