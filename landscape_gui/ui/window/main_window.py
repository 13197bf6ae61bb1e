"""MainWindow: docks around the 3-D and 2-D views; menus and shortcuts; status bar."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core.session import SUFFIX, Session, SessionError, save_text
from landscape_gui.ui.panels.function_editor import FunctionEditor
from landscape_gui.ui.panels.loss_plot import LossPlot
from landscape_gui.ui.panels.optimizer_panel import OptimizerPanel
from landscape_gui.ui.panels.playback import PlaybackBar
from landscape_gui.ui.state.session_controller import SessionController
from landscape_gui.ui.views.contour_view import ContourView
from landscape_gui.ui.views.surface_view import SurfaceView


class MainWindow(QtWidgets.QMainWindow):
    AUTOSAVE_MS = 2000  # the session reaches disk within this long after any change
    AUTOSAVE_QUIET_MS = 400  # ... and once a burst of edits pauses this long

    def __init__(self, session: Session | None = None, path: str | None = None, *, autosave: bool = True):
        """``autosave=False`` for windows that are not the user's (benchmarks): they
        neither write nor delete the recovery file."""
        super().__init__()
        from landscape_gui.ui.state.jobs import collect_garbage_in_gui_thread

        collect_garbage_in_gui_thread()   # before any worker thread can run the collector
        self.autosave_enabled = autosave
        self.path: Path | None = Path(path) if path else None
        self.controller = SessionController(session, self)
        c = self.controller
        self.surface_view = SurfaceView(c)
        self.contour_view = ContourView(c)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.surface_view)
        split.addWidget(self.contour_view)
        split.setSizes([620, 420])
        self.view_splitter = split
        # two modes: a formula's landscape, or a trained network's
        self.modes = QtWidgets.QTabWidget(objectName="modeTabs")
        self.modes.addTab(split, "Formula")
        self._nn_panel = None  # built when the tab is first opened: launch stays quick
        self._nn_page = QtWidgets.QScrollArea()  # its minimum size must not widen the formula mode
        self._nn_page.setWidgetResizable(True)
        self._nn_page.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.modes.addTab(self._nn_page, "Neural network")
        self._file_panel = None  # the loss-landscape file mode, also built on first use
        self._file_page = QtWidgets.QScrollArea()
        self._file_page.setWidgetResizable(True)
        self._file_page.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.modes.addTab(self._file_page, "Landscape file")
        self._last_mode = 0
        self.modes.currentChanged.connect(self._mode_changed)
        self.setCentralWidget(self.modes)

        self.function_editor = FunctionEditor(c)
        self.optimizer_panel = OptimizerPanel(c)
        self.loss_plot = LossPlot(c)
        self.playback = PlaybackBar(c)
        self._dock("Function", self.function_editor, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, 270)
        self._dock("Optimizers", self.optimizer_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea, 310)
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
        self.tabifyDockWidget(self.findChild(QtWidgets.QDockWidget, "Optimizers_dock"), self.analysis_dock)
        self.findChild(QtWidgets.QDockWidget, "Optimizers_dock").raise_()
        self._layout_pending = True  # sized once the window is shown (docks need a real size)
        self._shares = None  # the docks' and views' shares of the window (see _record_shares)
        for dock in self._dock_widgets():
            dock.installEventFilter(self)
        split.splitterMoved.connect(lambda *_: self._record_shares())
        self._default_layout(resize_docks=False)
        self._menus()
        self.status_label = QtWidgets.QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        c.status.connect(self.status_label.setText)
        self.kernel_label = QtWidgets.QLabel(objectName="kernelStatus")
        self.kernel_label.setStyleSheet("color: #9aa0a6;")
        self.statusBar().addPermanentWidget(self.kernel_label)
        c.kernelStatus.connect(self.kernel_label.setText)
        c.trajectoriesChanged.connect(lambda _: self._report_divergence())
        self.settings = QtCore.QSettings("landscape-gui", "landscape-gui")
        geometry = self.settings.value("geometry")
        self._restored_geometry = geometry is not None and autosave
        if self._restored_geometry:
            self.restoreGeometry(geometry)
            self.restoreState(self.settings.value("windowState"))
        # unsaved work: title mark, autosave, and a question on close
        self.autosave_timer = QtCore.QTimer(self, singleShot=True)
        self.autosave_timer.timeout.connect(self.autosave)
        self._first_unsaved_change: float | None = None
        if autosave:
            c.undo_stack.indexChanged.connect(lambda _index: self.schedule_autosave())
        c.undo_stack.cleanChanged.connect(self._update_title)
        c.sessionReplaced.connect(self._apply_camera)
        c.sessionReplaced.connect(self._restore_landscape)
        self.ask_save_changes = self._ask_save_changes  # tests replace this (no modal dialogs)
        self._apply_camera()
        self._update_title()
        if c.session.landscape is not None:  # a session (or the autosave) with a landscape file open
            QtCore.QTimer.singleShot(0, self._restore_landscape)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self._layout_pending:
            self._layout_pending = False
            if not self._restored_geometry:
                QtCore.QTimer.singleShot(0, lambda: self._default_layout(resize_window=False))
            else:
                QtCore.QTimer.singleShot(0, self._record_shares)

    # -- proportions kept when the window is resized -------------------------------------------
    # QMainWindow gives all of a shrink to the central widget: a window made smaller by hand kept
    # its docks at full width and squeezed the 2-D view to a strip. The docks' and the views'
    # shares of the window are remembered (after the default layout, and whenever the user drags
    # a separator) and re-applied after each resize, never below what a dock's content needs.

    def _dock_widgets(self):
        return (self.findChild(QtWidgets.QDockWidget, "Function_dock"),
                self.findChild(QtWidgets.QDockWidget, "Optimizers_dock"), self.loss_dock)

    def _record_shares(self) -> None:
        w, h = max(self.width(), 1), max(self.height(), 1)
        left, right, loss = self._dock_widgets()
        sizes = self.view_splitter.sizes()
        total = max(sum(sizes), 1)
        self._shares = (self.size(), left.width() / w, right.width() / w, loss.height() / h,
                        [v / total for v in sizes])

    def _apply_shares(self) -> None:
        if self._shares is None or self._shares[0] == self.size():
            return
        _, left_share, right_share, loss_share, split = self._shares
        w, h = self.width(), self.height()
        left, right, loss = self._dock_widgets()
        need = [d.widget().minimumSizeHint().width() + 8 for d in (left, right)]
        widths = [max(int(left_share * w), need[0]), max(int(right_share * w), need[1])]
        self.resizeDocks([left, right], widths, QtCore.Qt.Orientation.Horizontal)
        self.resizeDocks([loss], [max(int(loss_share * h), 160)], QtCore.Qt.Orientation.Vertical)
        total = sum(self.view_splitter.sizes())
        self.view_splitter.setSizes([int(f * total) for f in split])
        QtCore.QTimer.singleShot(0, self._record_shares)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if getattr(self, "_shares", None) is not None:
            QtCore.QTimer.singleShot(0, self._apply_shares)  # once the layout has its new size

    def eventFilter(self, obj, ev) -> bool:
        # a dock resized while the window keeps its size: the user moved a separator
        if (ev.type() == QtCore.QEvent.Type.Resize and getattr(self, "_shares", None) is not None
                and self._shares[0] == self.size()):
            QtCore.QTimer.singleShot(0, self._record_shares)
        return super().eventFilter(obj, ev)

    def _default_layout(self, resize_window: bool = True, resize_docks: bool = True) -> None:
        """Open at 90% of the screen, the 3-D view the largest part: docks sized in proportion
        (a projector at 1280x800 and a 1920x1080 monitor both get a usable loss plot)."""
        screen = QtGui.QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else QtCore.QRect(0, 0, 1280, 800)
        if resize_window:
            w = max(1024, int(avail.width() * 0.9))
            h = max(700, int(avail.height() * 0.9))
            w, h = min(w, max(avail.width(), 1024)), min(h, max(avail.height(), 700))
            self.resize(w, h)
            if screen is not None and avail.width() >= w:
                self.move(avail.x() + (avail.width() - w) // 2, avail.y() + (avail.height() - h) // 2)
        if not resize_docks:
            return
        w, h = self.width(), self.height()
        left = max(230, int(0.16 * w))
        right = max(300, int(0.2 * w))
        self.resizeDocks([self.findChild(QtWidgets.QDockWidget, "Function_dock"),
                          self.findChild(QtWidgets.QDockWidget, "Optimizers_dock")], [left, right],
                         QtCore.Qt.Orientation.Horizontal)
        self.resizeDocks([self.loss_dock], [max(210, int(0.27 * h))], QtCore.Qt.Orientation.Vertical)
        centre = w - left - right
        self.view_splitter.setSizes([int(centre * 0.58), centre - int(centre * 0.58)])
        QtCore.QTimer.singleShot(0, self._record_shares)

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

    def _menus(self) -> None:
        c = self.controller
        file_menu = self.menuBar().addMenu("&File")
        for text, key, slot in (("&New", QtGui.QKeySequence.StandardKey.New, self.new_session),
                                ("&Open…", QtGui.QKeySequence.StandardKey.Open, self.open_dialog),
                                ("&Save", QtGui.QKeySequence.StandardKey.Save, self.save),
                                ("Save &As…", QtGui.QKeySequence("Shift+Ctrl+S"), self.save_as_dialog)):
            act = file_menu.addAction(text)
            act.setShortcut(key)
            act.triggered.connect(slot)
            if text == "&Open…":
                self.recent_menu = file_menu.addMenu("Open &Recent")
                self.recent_menu.aboutToShow.connect(self._fill_recent)
                act = file_menu.addAction("Open &Landscape…")
                act.setObjectName("openLandscapeAction")
                act.setShortcut(QtGui.QKeySequence("Shift+Ctrl+O"))
                act.setToolTip("A loss-landscape surface (.h5) or a .npz plane, in the 3-D and 2-D views")
                act.triggered.connect(self.open_landscape_dialog)
        file_menu.addSeparator()
        from landscape_gui.ui.export import dialog as export_dialog

        for text, key, slot in (("Export &Image…", "Ctrl+E", export_dialog.export_image),
                                ("Export &Animation…", None, export_dialog.export_animation),
                                ("Export &Data…", None, export_dialog.export_data)):
            act = file_menu.addAction(text)
            if key:
                act.setShortcut(key)
            act.triggered.connect(lambda _=False, f=slot: f(self))
        file_menu.addSeparator()
        quit_action = file_menu.addAction("Quit")
        quit_action.setShortcut(QtGui.QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quit)
        edit = self.menuBar().addMenu("&Edit")
        undo = c.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QtGui.QKeySequence.StandardKey.Undo)
        redo = c.undo_stack.createRedoAction(self, "&Redo")
        # StandardKey.Redo is Ctrl+Shift+Z on Linux (Ctrl+Y on Windows): listing Ctrl+Shift+Z too
        # registered it twice, and Qt ignores an ambiguous shortcut ("Ambiguous shortcut overload")
        keys = QtGui.QKeySequence.keyBindings(QtGui.QKeySequence.StandardKey.Redo)
        if QtGui.QKeySequence("Ctrl+Shift+Z") not in keys:
            keys.append(QtGui.QKeySequence("Ctrl+Shift+Z"))
        redo.setShortcuts(keys)
        edit.addAction(undo)
        edit.addAction(redo)
        self.undo_action, self.redo_action = undo, redo
        view = self.menuBar().addMenu("&View")
        reset = view.addAction("Reset view")
        reset.setShortcut("F")
        reset.triggered.connect(self.surface_view.reset_camera)
        prefs = QtCore.QSettings("landscape-gui", "landscape-gui")
        self.view_toggles = {}
        for key, text, default, slot in (("wireframe", "Wireframe on surface", False, self._set_wireframe),
                                         ("arrows", "Optimizer state arrows", True, self._set_arrows),
                                         ("log_loss", "Log loss axis", True, self.loss_plot.set_log)):
            act = view.addAction(text)
            act.setCheckable(True)
            on = prefs.value(f"view/{key}", default, type=bool)  # preferences outlive sessions
            act.setChecked(on)
            if on != default:
                slot(on)
            act.toggled.connect(slot)
            act.toggled.connect(lambda v, k=key: QtCore.QSettings("landscape-gui", "landscape-gui")
                                .setValue(f"view/{k}", v))
            self.view_toggles[key] = act
        aspect = view.addMenu("2-D aspect")
        group = QtGui.QActionGroup(self)
        self.aspect_actions = {}
        for mode, text in (("auto", "Automatic (equal when x and y are alike)"),
                           ("equal", "Equal x and y scale"), ("free", "Fill the view")):
            act = aspect.addAction(text)
            act.setCheckable(True)
            act.setChecked(mode == "auto")
            group.addAction(act)
            act.triggered.connect(lambda _=False, m=mode: self.contour_view.set_aspect_mode(m))
            self.aspect_actions[mode] = act
        menu = self.menuBar().addMenu("&Analysis")
        p = self.analysis_panel
        self.analysis_actions = {}
        for key, text, box, tab in (("critical", "Show &critical points", p.critical_check, 0),
                                    ("basins", "&Basins for selected optimizer", p.basins_check, 1),
                                    ("sweep", "&Learning-rate sweep", p.sweep_check, 2)):
            act = menu.addAction(text)
            act.setCheckable(True)
            act.toggled.connect(box.setChecked)
            box.toggled.connect(act.setChecked)
            act.toggled.connect(lambda on, t=tab: on and self.show_analysis_tab(t))
            self.analysis_actions[key] = act
        menu.addSeparator()
        cancel = menu.addAction("Cancel basin computation")
        cancel.triggered.connect(lambda: self.analysis.cancel("basins"))
        play = self.menuBar().addMenu("&Playback")
        for text, key, slot in (("Play / pause", "Space", self.playback.toggle),
                                ("Previous step", "Left", lambda: c.set_step(c.step - 1)),
                                ("Next step", "Right", lambda: c.set_step(c.step + 1))):
            act = play.addAction(text)
            act.setShortcut(key)
            act.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(slot)
        delete = QtGui.QAction("Remove start point", self)
        delete.setShortcut(QtGui.QKeySequence.StandardKey.Delete)
        delete.triggered.connect(self.remove_start_point)
        self.addAction(delete)
        help_menu = self.menuBar().addMenu("&Help")
        act = help_menu.addAction("&Examples…")
        act.setObjectName("examplesAction")
        act.setShortcut(QtGui.QKeySequence("F1"))
        act.triggered.connect(lambda: self.show_examples())


    @property
    def nn_panel(self):
        """The network mode's panel (created on first use, then kept)."""
        if self._nn_panel is None:
            from landscape_gui.ui.modes.network.panel import NNPanel

            self._nn_panel = NNPanel()
            self._nn_panel.attach(self.controller)
            # training results reach the window's status bar while the network tab shows
            self._nn_panel.controller.message.connect(
                lambda m: self.modes.currentIndex() == 1 and self.status_label.setText(m))
            self._nn_page.setWidget(self._nn_panel)
        return self._nn_panel

    # -- examples ---------------------------------------------------------------------------------
    @property
    def example_opener(self):
        if getattr(self, "_example_opener", None) is None:
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
        return self._file_panel

    def _mode_changed(self, index: int) -> None:
        """The formula docks belong to the formula mode: hidden in the other modes, then restored."""
        docks = [d for d in self.findChildren(QtWidgets.QDockWidget) if d.objectName() != "Explain_dock"]
        if index in (1, 2):
            if not hasattr(self, "_dock_visibility") or self._last_mode == 0:
                self._dock_visibility = {d: d.isVisible() for d in docks}
                self._formula_status = self.status_label.text()
            for d in docks:
                d.hide()
            if index == 1:
                nn = self.nn_panel
                self.status_label.setText(nn.status.text() if nn.controller.result is not None
                                          else "Neural network mode: choose data and a network, then Train")
            else:
                fp = self.landscape_panel
                self.status_label.setText(fp.info.text() if fp.plane is not None else
                                          "Landscape file mode: File → Open Landscape… (.h5 or .npz)")
        else:
            for d, visible in getattr(self, "_dock_visibility", {}).items():
                d.setVisible(visible)
            # the formula mode's own last message, not the network mode's
            self.status_label.setText(getattr(self, "_formula_status", ""))
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
        self.surface_view.opts_view["wireframe"] = on
        self.surface_view.update_surface()

    def _set_arrows(self, on: bool) -> None:
        self.surface_view.opts_view["show_arrows"] = on
        self.contour_view.show_arrows = on
        self.surface_view.update_step()
        self.contour_view.update_step()

    def _report_divergence(self) -> None:
        c = self.controller
        msg = "; ".join(m for m in (c.surface_note(), c.diverged_message()) if m)
        if msg:
            self.status_label.setText(msg)

    # -- files --------------------------------------------------------------------------
    @QtCore.Slot()
    @QtCore.Slot(bool)
    def _update_title(self, clean: bool | None = None) -> None:
        if clean is None:
            clean = self.controller.undo_stack.isClean()
        name = self.path.name if self.path else "untitled"
        self.setWindowModified(not clean)
        self.setWindowTitle(f"{name}[*] — landscape-gui")

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

        start = str(Path(self.path).parent) if self.path else str(Path.home())
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
        if self.autosave_enabled:
            self.schedule_autosave()

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

    def save(self) -> bool:
        if self.path is None:
            return self.save_as_dialog()
        return self.save_to(self.path)

    def save_to(self, path) -> bool:
        path = Path(path)
        if not path.name.endswith(SUFFIX):
            path = path.with_name(path.name + SUFFIX) if not path.suffix == ".json" else path
        try:
            self.current_session().save(path)
        except (OSError, ValueError) as exc:
            QtWidgets.QMessageBox.warning(self, "Save failed", f"Could not save {path}:\n{exc}")
            return False
        self.path = path
        self.controller.undo_stack.setClean()
        self._remember(path)
        self._update_title()
        self.status_label.setText(f"saved {path}")
        return True

    def save_as_dialog(self) -> bool:
        start = str(self.path or Path.home() / f"untitled{SUFFIX}")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save session", start,
                                                        f"Sessions (*{SUFFIX});;JSON (*.json)")
        return bool(path) and self.save_to(path)

    def open_dialog(self) -> None:
        if not self._may_discard():
            return
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open session", str(self.path or Path.home()),
                                                        f"Sessions (*{SUFFIX} *.json)")
        if path:
            self.open_file(path)

    def open_file(self, path) -> bool:
        """Open a session; a bad file is refused with the reason and nothing changes."""
        try:
            session = Session.load(path)
        except SessionError as exc:
            QtWidgets.QMessageBox.warning(self, "Cannot open session", f"{Path(path).name}\n\n{exc}")
            self.status_label.setText(f"not opened: {exc}")
            return False
        self.controller.replace_session(session)
        self.controller.undo_stack.clear()
        self.path = Path(path)
        self._remember(self.path)
        self._update_title()
        self.status_label.setText(f"opened {self.path}")
        return True

    def new_session(self) -> None:
        if self._may_discard():
            self.controller.replace_session(Session.default())
            self.controller.undo_stack.clear()
            self.path = None
            self._update_title()
            self.status_label.setText("new session (the default Rosenbrock)")

    def _remember(self, path: Path) -> None:
        recent = [p for p in (self.settings.value("recent", []) or []) if p != str(path)]
        self.settings.setValue("recent", [str(path)] + recent[:9])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.value("recent", []) or []:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self._may_discard() and self.open_file(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # -- never losing work ------------------------------------------------------------------
    @staticmethod
    def autosave_path() -> Path:
        base = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.AppDataLocation)
        folder = Path(base or Path.home() / ".landscape-gui")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"autosave{SUFFIX}"

    def schedule_autosave(self) -> None:
        """Debounced: a burst of edits is written once, AUTOSAVE_QUIET_MS after the last one,
        but never later than AUTOSAVE_MS after the first edit not yet on disk."""
        now = time.monotonic()
        if self._first_unsaved_change is None:
            self._first_unsaved_change = now
        left = self.AUTOSAVE_MS - (now - self._first_unsaved_change) * 1e3
        self.autosave_timer.start(int(max(0, min(self.AUTOSAVE_QUIET_MS, left))))

    def autosave(self) -> None:
        """Write the session where the next launch looks for it (atomically)."""
        self._first_unsaved_change = None
        self.autosave_timer.stop()
        try:
            save_text(self.autosave_path(), self.current_session().to_json())
        except (OSError, ValueError) as exc:
            self.status_label.setText(f"autosave failed: {exc}")

    def _ask_save_changes(self) -> str:
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Question, "Unsaved changes",
                                    "Save the changes to this session before closing?",
                                    QtWidgets.QMessageBox.StandardButton.Save
                                    | QtWidgets.QMessageBox.StandardButton.Discard
                                    | QtWidgets.QMessageBox.StandardButton.Cancel, self)
        answer = box.exec()
        return {QtWidgets.QMessageBox.StandardButton.Save: "save",
                QtWidgets.QMessageBox.StandardButton.Discard: "discard"}.get(
                    QtWidgets.QMessageBox.StandardButton(answer), "cancel")

    def _may_discard(self) -> bool:
        if self.controller.undo_stack.isClean():
            return True
        answer = self.ask_save_changes()
        return answer == "discard" or (answer == "save" and self.save())

    def quit(self) -> None:
        """File → Quit: close (asking about unsaved work), then end the application even if
        some other top-level widget (a dialog, an offscreen view) is still around."""
        if self.close():
            app = QtWidgets.QApplication.instance()
            if app is not None and app.property("landscape_gui_quit_exits") is not False:
                app.quit()

    def closeEvent(self, ev) -> None:
        if not self._may_discard():
            ev.ignore()
            return
        if self.modes.currentIndex() != 0:  # save the formula mode's docks, not the hidden ones
            self.modes.setCurrentIndex(0)
        if self.autosave_enabled:  # the user's window, not a benchmark's
            self.settings.setValue("geometry", self.saveGeometry())
            self.settings.setValue("windowState", self.saveState())
        self.autosave_timer.stop()
        self.analysis.shutdown()
        if self._nn_panel is not None:
            self._nn_panel.controller.shutdown()
        if self.autosave_enabled:
            try:  # a deliberate close leaves nothing to recover
                self.autosave_path().unlink()
            except OSError:
                pass
        ev.accept()
