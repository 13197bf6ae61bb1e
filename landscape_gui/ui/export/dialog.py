"""File → Export Image / Animation / Data: the options of ``landscape-gui export`` in a dialog."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from landscape_gui.ui.export.figures import (
    Cancelled,
    ExportError,
    FigureOptions,
    export,
)


class ExportDialog(QtWidgets.QDialog):
    """Figure options (and, for animations, frames and fps) plus the output file."""

    def __init__(self, parent, animation: bool = False):
        super().__init__(parent)
        self.setWindowTitle("Export Animation" if animation else "Export Image")
        self.animation = animation
        form = QtWidgets.QFormLayout(self)
        self.view = QtWidgets.QComboBox()
        self.view.addItems(["3d", "2d", "both"] if not animation else ["2d", "3d"])
        form.addRow("view", self.view)
        size = QtWidgets.QHBoxLayout()
        self.width_box = QtWidgets.QSpinBox(minimum=16, maximum=4096, value=1600 if not animation else 800)
        self.height_box = QtWidgets.QSpinBox(minimum=16, maximum=4096, value=1200 if not animation else 600)
        size.addWidget(self.width_box)
        size.addWidget(QtWidgets.QLabel("×"))
        size.addWidget(self.height_box)
        form.addRow("size (pixels)", size)
        self.title = QtWidgets.QCheckBox("title (the formula)", checked=True)
        self.legend = QtWidgets.QCheckBox("legend", checked=True)
        self.colorbar = QtWidgets.QCheckBox("colour bar", checked=True)
        self.transparent = QtWidgets.QCheckBox("transparent background")
        for w in (self.title, self.legend, self.colorbar, self.transparent):
            form.addRow(w)
        self.frames = QtWidgets.QSpinBox(minimum=2, maximum=2000, value=60)
        self.fps = QtWidgets.QSpinBox(minimum=1, maximum=120, value=20)
        if animation:
            form.addRow("frames", self.frames)
            form.addRow("frames per second", self.fps)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> FigureOptions:
        return FigureOptions(view=self.view.currentText(), width=self.width_box.value(),
                             height=self.height_box.value(), title=self.title.isChecked(),
                             legend=self.legend.isChecked(), colorbar=self.colorbar.isChecked(),
                             transparent=self.transparent.isChecked())


def in_dialog_words(message: str) -> str:
    """An export error as the dialog words it: "folder … does not exist", not the command line's
    "-o: folder … does not exist"; "frames must be …", not "--frames must be …"."""
    message = re.sub(r"^-o: ", "", message)
    message = re.sub(r"(^|[\s(])--(size|view|frames|fps|animate)\b", r"\1\2", message)
    return message[:1].upper() + message[1:]


def run_export(window, path, opts: FigureOptions, frames: int = 60, fps: int = 20) -> bool:
    """Export from the window (its session and its current camera), with a cancellable progress
    dialog for animations; errors are shown, never raised."""
    progress = None
    if Path(path).suffix.lower() in (".gif", ".mp4"):
        progress = QtWidgets.QProgressDialog("Rendering frames…", "Cancel", 0, frames, window)
        progress.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)

        def tick(k, n):
            progress.setValue(k)
            QtWidgets.QApplication.processEvents()  # the window stays responsive
            return not progress.wasCanceled()
    else:
        tick = None
    camera = window.export_camera()
    step = window.controller.step
    try:
        export(window.controller, path, opts, frames=frames, fps=fps, camera=camera, progress=tick)
    except Cancelled:
        window.status_label.setText("export cancelled")
        return False
    except Exception as exc:  # noqa: BLE001  (every failure gets a dialog with its reason, never a traceback)
        reason = in_dialog_words(str(exc)) if isinstance(exc, (ExportError, OSError)) \
            else f"{type(exc).__name__}: {exc}"
        window.status_label.setText(f"export failed: {reason}")
        QtWidgets.QMessageBox.warning(window, "Export failed", reason)
        return False
    finally:
        if progress is not None:
            progress.close()
        window.controller.set_step(step)
    window.status_label.setText(f"exported {path}")
    return True


def export_image(window) -> None:
    dialog = ExportDialog(window)
    if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
        return
    opts = dialog.options()
    filters = "PNG image (*.png)" if opts.view != "2d" else "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)"
    path, _ = QtWidgets.QFileDialog.getSaveFileName(window, "Export image", "landscape.png", filters)
    if path:
        run_export(window, path, opts)


def export_animation(window) -> None:
    dialog = ExportDialog(window, animation=True)
    if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
        return
    path, _ = QtWidgets.QFileDialog.getSaveFileName(window, "Export animation", "descent.gif",
                                                    "GIF (*.gif);;MP4 video (*.mp4)")
    if path:
        run_export(window, path, dialog.options(), frames=dialog.frames.value(), fps=dialog.fps.value())


def export_data(window) -> None:
    path, _ = QtWidgets.QFileDialog.getSaveFileName(
        window, "Export data", "trajectories.csv",
        "Trajectories, CSV (*.csv);;Trajectories and session, JSON (*.json);;Grid, NumPy (*.npz)")
    if path:
        run_export(window, path, FigureOptions())
