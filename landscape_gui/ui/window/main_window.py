"""MainWindow: the formula mode's views and docks, the network and landscape-file modes as
tabs, the status bar. Menus are tables (``actions``), files and autosave live in ``files``,
the docks' proportions in ``dock_layout``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core.session import Session
from landscape_gui.ui.panels.function_editor import FunctionEditor
from landscape_gui.ui.panels.loss_plot import LossPlot
from landscape_gui.ui.panels.optimizer_panel import OptimizerPanel
from landscape_gui.ui.panels.playback import PlaybackBar
from landscape_gui.ui.state.session_controller import SessionController
from landscape_gui.ui.views.contour_view import ContourView
from landscape_gui.ui.views.surface_view import SurfaceView
from landscape_gui.ui.window import actions, files
from landscape_gui.ui.window.dock_layout import DockProportions

FORMULA, NETWORK, FILE, MODEL = 0, 1, 2, 3  # the mode tabs


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, session: Session | None = None, path: str | None = None, *, autosave: bool = True):
        """``autosave=False`` for windows that are not the user's (benchmarks): they
        neither write nor delete the recovery file."""
        super().__init__()
        from landscape_gui.ui.state.jobs import collect_garbage_in_gui_thread

        collect_garbage_in_gui_thread()   # before any worker thread can run the collector
        self.controller = SessionController(session, self)
        c = self.controller
        self.files = files.SessionFiles(self, path, autosave)
        self.surface_view = SurfaceView(c)
        self.contour_view = ContourView(c)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.surface_view)
        split.addWidget(self.contour_view)
        split.setSizes([620, 420])
        self.view_splitter = split
        # three modes: a formula's landscape, a trained network's, a loss-landscape file's
        self.modes = QtWidgets.QTabWidget(objectName="modeTabs")
        self.modes.addTab(split, "Formula")
        self._nn_panel = None  # built when the tab is first opened: launch stays quick
        self._nn_page = self._mode_page()
        self.modes.addTab(self._nn_page, "Neural network")
        self._file_panel = None  # the loss-landscape file mode, also built on first use
        self._file_page = self._mode_page()
        self.modes.addTab(self._file_page, "Landscape file")
        self._model_panel = None  # your own PyTorch model, also built on first use
        self._model_page = self._mode_page()
        self.modes.addTab(self._model_page, "Your model")
        self._last_mode = FORMULA
        self._dock_visibility: dict = {}
        self._formula_status = ""
        self.modes.currentChanged.connect(self._mode_changed)
        self.setCentralWidget(self.modes)

        self.function_editor = FunctionEditor(c)
        self.optimizer_panel = OptimizerPanel(c)
        self.loss_plot = LossPlot(c)
        self.playback = PlaybackBar(c)
        left = self._dock("Function", self.function_editor, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, 270)
        right = self._dock("Optimizers", self.optimizer_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea, 310)
        bottom = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.playback)
        bl.addWidget(self.loss_plot, 1)
        self.loss_dock = self._dock("Loss and playback", bottom, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, 0)
        from landscape_gui.ui.panels.analysis_panel import AnalysisPanel
        from landscape_gui.ui.state.analysis_model import AnalysisModel
        from landscape_gui.ui.views.overlays import ContourOverlay, SurfaceOverlay

        self.analysis = AnalysisModel(c, self)
        self.analysis_panel = AnalysisPanel(self.analysis)
        self.analysis_panel.centre_requested = self.centre_views_on
        self.contour_overlay = ContourOverlay(self.contour_view, self.analysis)
        self.surface_overlay = SurfaceOverlay(self.surface_view, self.analysis)
        self.analysis_dock = self._dock("Analysis", self.analysis_panel,
                                        QtCore.Qt.DockWidgetArea.RightDockWidgetArea, 0)
        self.tabifyDockWidget(right, self.analysis_dock)
        right.raise_()
        self._layout_pending = True  # sized once the window is shown (docks need a real size)
        self.docks = DockProportions(self, left, right, self.loss_dock, split)
        self.docks.default_layout(resize_docks=False)  # 90% of the screen; docks sized once shown
        self.recent_menu: QtWidgets.QMenu | None = None
        actions.build_menus(self)
        self.undo_keys = actions.UndoKeys(self)
        self.status_label = QtWidgets.QLabel(objectName="statusText")
        self.statusBar().addWidget(self.status_label, 1)
        c.status.connect(self.status_label.setText)
        for view in (self.surface_view, self.contour_view):
            view.statusMessage.connect(self.status_label.setText)
        self.kernel_label = QtWidgets.QLabel(objectName="kernelStatus")
        self.kernel_label.setStyleSheet("color: #9aa0a6;")
        self.statusBar().addPermanentWidget(self.kernel_label)
        c.kernelStatus.connect(self.kernel_label.setText)
        c.trajectoriesChanged.connect(self._report_divergence)
        self.settings = files.settings()
        geometry = self.settings.value("geometry")
        self._restored_geometry = geometry is not None and autosave
        if self._restored_geometry:
            self.restoreGeometry(geometry)
            self.restoreState(self.settings.value("windowState"))
        # unsaved work: title mark, autosave, and a question on close
        c.undo_stack.indexChanged.connect(self._session_edited)
        c.undo_stack.cleanChanged.connect(self.update_title)
        c.sessionReplaced.connect(self._apply_camera)
        c.sessionReplaced.connect(self._restore_landscape)
        self.ask_save_changes = lambda: files.ask_save_changes(self)  # tests replace this (no modal dialogs)
        self._example_opener = None
        self._examples_dialog = None
        self._apply_camera()
        self.update_title()
        if c.session.landscape is not None:  # a session (or the autosave) with a landscape file open
            QtCore.QTimer.singleShot(0, self._restore_landscape)

    @staticmethod
    def _mode_page() -> QtWidgets.QScrollArea:
        page = QtWidgets.QScrollArea()  # its minimum size must not widen the formula mode
        page.setWidgetResizable(True)
        page.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        return page

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self._layout_pending:
            self._layout_pending = False
            if not self._restored_geometry:
                QtCore.QTimer.singleShot(0, lambda: self.docks.default_layout(resize_window=False))
            else:
                QtCore.QTimer.singleShot(0, self.docks.record)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self.docks.window_resized()

    @property
    def session(self) -> Session:
        return self.controller.session

    def _dock(self, title, widget, area, width):
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_") + "_dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if width:
            self.resizeDocks([dock], [width], QtCore.Qt.Orientation.Horizontal)
        return dock

    def view_toggle_slot(self, key: str):
        """What a View-menu switch changes (``actions.VIEW_TOGGLES``)."""
        return {"wireframe": self._set_wireframe, "arrows": self._set_arrows, "log_loss": self.loss_plot.set_log}[key]

    @property
    def nn_panel(self):
        """The network mode's panel (created on first use, then kept)."""
        if self._nn_panel is None:
            from landscape_gui.ui.modes.network.panel import NNPanel

            self._nn_panel = NNPanel()
            self._nn_panel.attach(self.controller)
            # training results reach the window's status bar while the network tab shows
            self._nn_panel.model.message.connect(
                lambda m: self.modes.currentIndex() == 1 and self.status_label.setText(m))
            self._nn_page.setWidget(self._nn_panel)
            self._show_view_status(self._nn_panel, NETWORK)
        return self._nn_panel

    # -- examples ---------------------------------------------------------------------------------
    @property
    def example_opener(self):
        if self._example_opener is None:
            from landscape_gui.ui.window.examples import ExampleOpener

            self._example_opener = ExampleOpener(self)
        return self._example_opener

    def show_examples(self, start_page: bool = False):
        """Help → Examples (non-modal: the window stays usable); returns the dialog."""
        from landscape_gui.ui.window.examples import ExamplesDialog

        dlg = ExamplesDialog(self, start_page=start_page)
        dlg.chosen.connect(self.open_example)
        dlg.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        self._examples_dialog = dlg
        return dlg

    def open_example(self, example_id: str) -> bool:
        from landscape_gui import examples

        try:
            examples.info(example_id)
        except examples.UnknownExample as exc:
            self.status_label.setText(str(exc))
            return False
        if not self._may_discard():
            return False
        self.example_opener.open(example_id)
        return True

    @property
    def landscape_panel(self):
        """The landscape-file mode's panel (created on first use, then kept)."""
        if self._file_panel is None:
            from landscape_gui.ui.modes.landscape_file import LandscapeFilePanel

            self._file_panel = LandscapeFilePanel()
            self._file_panel.viewChanged.connect(self._landscape_view_changed)
            self._file_page.setWidget(self._file_panel)
            self._show_view_status(self._file_panel, FILE)
        return self._file_panel

    @property
    def model_panel(self):
        """The "Your model" mode's panel (created on first use, then kept)."""
        if self._model_panel is None:
            from landscape_gui.ui.modes.your_model import ModelPanel

            self._model_panel = ModelPanel()
            self._model_page.setWidget(self._model_panel)
            self._show_view_status(self._model_panel, MODEL)
            self._model_panel.message.connect(self.status_label.setText)
        return self._model_panel

    def open_model_dialog(self) -> None:
        from landscape_gui.ui.modes.your_model import MODEL_FILTER

        start = str(Path(self.path).parent) if self.path else files.last_folder()
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open model file", start, MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path, show: bool = True, warn: bool = True) -> bool:
        """Your own model's file into the "Your model" mode (its plane starts computing); a bad
        file is refused with its line and reason, and the window goes on as it was."""
        panel = self.model_panel
        if not panel.open_model(path):
            if warn:
                QtWidgets.QMessageBox.warning(self, "Cannot open model", panel.status.text())
            self.status_label.setText(f"not opened: {panel.status.text()}")
            return False
        if show:
            self.modes.setCurrentIndex(MODEL)
        self.status_label.setText(f"opened {path}: computing its plane")
        return True

    def _show_view_status(self, panel, mode: int) -> None:
        """A mode's views report what is under the pointer in the status bar while it shows."""
        for view in (panel.surface_view, panel.contour_view):
            view.statusMessage.connect(lambda m, k=mode: self.modes.currentIndex() == k and self.status_label.setText(m))

    def _mode_changed(self, index: int) -> None:
        """The formula docks belong to the formula mode: hidden in the other modes, then restored."""
        docks = [d for d in self.findChildren(QtWidgets.QDockWidget) if d.objectName() != "Explain_dock"]
        if index in (NETWORK, FILE, MODEL):
            if self._last_mode == FORMULA:
                self._dock_visibility = {d: d.isVisible() for d in docks}
                self._formula_status = self.status_label.text()
            for d in docks:
                d.hide()
            if index == NETWORK:
                nn = self.nn_panel
                self.status_label.setText(nn.status.text() if nn.model.result is not None
                                          else "Neural network mode: choose data and a network, then Train")
            elif index == FILE:
                fp = self.landscape_panel
                self.status_label.setText(fp.info.text() if fp.plane is not None else
                                          "Landscape file mode: File → Open Landscape… (.h5 or .npz)")
            else:
                mp = self.model_panel
                self.status_label.setText(mp.status.text() if mp.spec is not None else
                                          "Your model: File → Open Model… (a .py file defining model(), loss_fn, "
                                          "batches())")
        else:
            for d, visible in self._dock_visibility.items():
                d.setVisible(visible)
            # the formula mode's own last message, not the network mode's
            self.status_label.setText(self._formula_status)
        self._last_mode = index

    def show_analysis_tab(self, tab: int) -> None:
        self.analysis_dock.show()
        self.analysis_dock.raise_()
        self.analysis_panel.tabs.setCurrentIndex(tab)

    def centre_views_on(self, x: float, y: float) -> None:
        """Centre both views on a data point (a clicked critical point), keeping the zoom."""
        vb = self.contour_view.getPlotItem().getViewBox()
        (xa, xb), (ya, yb) = vb.viewRange()
        vb.setRange(xRange=(x - (xb - xa) / 2, x + (xb - xa) / 2), yRange=(y - (yb - ya) / 2, y + (yb - ya) / 2),
                    padding=0)
        c = self.controller
        h = float(np.nan_to_num(c.heights(c.function.value(x, y))))
        sx, sy, sz = self.surface_view.to_scene(x, y, h)
        self.surface_view.setCameraPosition(pos=QtGui.QVector3D(float(sx), float(sy), float(sz)))
        self.status_label.setText(f"centred on ({x:.4g}, {y:.4g})")

    def remove_start_point(self) -> None:
        """Delete: the start point under the mouse, or else the most recently added one."""
        c = self.controller
        i = c.hovered_start if c.hovered_start is not None else len(c.session.starts) - 1
        c.hovered_start = None
        c.remove_start(i)

    def _set_wireframe(self, on: bool) -> None:
        self.surface_view.set_wireframe(on)

    def _set_arrows(self, on: bool) -> None:
        self.surface_view.set_arrows(on)
        self.contour_view.set_arrows(on)

    def _report_divergence(self, _starts=None) -> None:
        c = self.controller
        msg = "; ".join(m for m in (c.surface_note(), c.diverged_message()) if m)
        if msg:
            self.status_label.setText(msg)

    def _camera(self) -> dict:
        o = self.surface_view.opts
        return {"elevation": float(o["elevation"]), "azimuth": float(o["azimuth"]), "distance": float(o["distance"])}

    def _apply_camera(self) -> None:
        cam = self.controller.session.camera
        if cam:
            self.surface_view.setCameraPosition(**cam)
            self.surface_view._camera_fitted = False

    def export_camera(self) -> dict:
        """The window's camera for an export: its angles, and its zoom relative to the fitted
        framing (the export fits its own aspect the same way, then applies that zoom)."""
        cam = self._camera()
        del cam["distance"]
        cam["zoom"] = self.surface_view.zoom()
        return cam

    def current_session(self) -> Session:
        """The session as it should be written (with the current camera and landscape file)."""
        self.controller.session.camera = self._camera()
        if self._file_panel is not None:
            view = self._file_panel.view_settings()
            if view is not None:
                view["shown"] = self.modes.currentIndex() == 2
            self.controller.set_landscape_view(view)
        return self.controller.session

    # -- landscape files ---------------------------------------------------------------------------
    def open_landscape_dialog(self) -> None:
        from landscape_gui.ui.modes.landscape_file import FILE_FILTER

        start = str(Path(self.path).parent) if self.path else files.last_folder()
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open landscape", start, FILE_FILTER)
        if path:
            self.open_landscape(path)

    def open_landscape(self, path, view: dict | None = None, show: bool = True) -> bool:
        """A loss-landscape file into the landscape-file mode; a bad one is refused with the reason."""
        panel = self.landscape_panel
        if not panel.open_file(path, view):
            QtWidgets.QMessageBox.warning(self, "Cannot open landscape", panel.status.text())
            self.status_label.setText(f"not opened: {panel.status.text()}")
            return False
        if show:
            self.modes.setCurrentIndex(2)
        self.status_label.setText(panel.info.text())
        return True

    def _landscape_view_changed(self) -> None:
        view = self._file_panel.view_settings()
        if view is not None:
            view["shown"] = self.modes.currentIndex() == 2
        self.controller.set_landscape_view(view)
        self.files.schedule_autosave()

    def _restore_landscape(self) -> None:
        """After open/undo/new: show the session's landscape file (or none)."""
        view = self.controller.session.landscape
        if view is None:
            if self._file_panel is not None and self._file_panel.plane is not None:
                self._file_panel.close_file()
            return
        panel = self.landscape_panel
        current = panel.view_settings()
        if current is None or current["path"] != view["path"]:
            if not panel.open_file(view["path"], view):
                self.status_label.setText(f"the session's landscape file could not be opened: {panel.status.text()}")
                return
        if view.get("shown"):
            self.modes.setCurrentIndex(2)

    # -- files ----------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        return self.files.path

    def recent_files(self) -> list[str]:
        """File → Open Recent, newest first (read back as a list, whatever QSettings stored)."""
        return files.recent_files()

    def fill_recent_menu(self) -> None:
        self.files.fill_recent_menu(self.recent_menu)

    def save(self) -> bool:
        return self.files.save()

    def save_to(self, path) -> bool:
        return self.files.save_to(path)

    def save_as_dialog(self) -> bool:
        return self.files.save_as_dialog()

    def open_dialog(self) -> None:
        self.files.open_dialog()

    def open_file(self, path) -> bool:
        """Open a session; a bad file is refused with the reason and nothing changes."""
        return self.files.open_file(path)

    def new_session(self) -> bool:
        return self.files.new_session()

    def export_to(self, path, view: str = "3d", size: tuple[int, int] = (1600, 1200)) -> bool:
        """What File → Export Image does after its dialog: the current session and camera to
        ``path`` (.png, .svg, .pdf; .gif/.mp4 animate; .csv/.json/.npz are data). Errors are
        shown in a dialog and the status bar, never raised."""
        from landscape_gui.ui.export.dialog import run_export
        from landscape_gui.ui.export.figures import FigureOptions

        return run_export(self, path, FigureOptions(view=view, width=int(size[0]), height=int(size[1])))

    @staticmethod
    def autosave_path() -> Path:
        return files.autosave_path()

    def autosave(self) -> None:
        self.files.autosave()

    def _session_edited(self, _index: int) -> None:
        self.files.schedule_autosave()

    def _may_discard(self) -> bool:
        return self.files.may_discard()

    @QtCore.Slot()
    @QtCore.Slot(bool)
    def update_title(self, clean: bool | None = None) -> None:
        if clean is None:
            clean = self.controller.undo_stack.isClean()
        name = self.path.name if self.path else "untitled"
        self.setWindowModified(not clean)
        self.setWindowTitle(f"{name}[*] — landscape-gui")

    def quit(self) -> None:
        """File → Quit: close (asking about unsaved work), then end the application even if
        some other top-level widget (a dialog, an offscreen view) is still around."""
        if self.close():
            app = QtWidgets.QApplication.instance()
            if app is not None and app.property("landscape_gui_quit_exits") is not False:
                app.quit()

    def closeEvent(self, ev) -> None:
        if not self.files.may_discard():
            ev.ignore()
            return
        if self.modes.currentIndex() != FORMULA:  # save the formula mode's docks, not the hidden ones
            self.modes.setCurrentIndex(FORMULA)
        if self.files.autosave_enabled:  # the user's window, not a benchmark's
            self.settings.setValue("geometry", self.saveGeometry())
            self.settings.setValue("windowState", self.saveState())
        self.analysis.shutdown()
        if self._nn_panel is not None:
            self._nn_panel.model.shutdown()
        if self._model_panel is not None:
            self._model_panel.shutdown()
        for view in (self.surface_view, self.contour_view):
            view.release_source()
        self.files.drop_autosave()
        ev.accept()
