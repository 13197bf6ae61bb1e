"""MainWindow: docks around the 3-D and 2-D views; menus and shortcuts; status bar."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ..core.session import Session
from .contour_view import ContourView
from .controller import SessionController
from .panels import FunctionEditor, LossPlot, OptimizerPanel, PlaybackBar
from .surface_view import SurfaceView


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, session: Session | None = None):
        super().__init__()
        self.setWindowTitle("Landscape — optimizers on loss surfaces")
        self.controller = SessionController(session, self)
        c = self.controller
        self.surface_view = SurfaceView(c)
        self.contour_view = ContourView(c)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.surface_view)
        split.addWidget(self.contour_view)
        split.setSizes([620, 420])
        self.setCentralWidget(split)

        self.function_editor = FunctionEditor(c)
        self.optimizer_panel = OptimizerPanel(c)
        self.loss_plot = LossPlot(c)
        self.playback = PlaybackBar(c)
        self._dock("Function", self.function_editor, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, 270)
        self._dock("Optimizers", self.optimizer_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea, 270)
        bottom = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.playback)
        bl.addWidget(self.loss_plot, 1)
        self.loss_dock = self._dock("Loss and playback", bottom, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, 0)
        self.resizeDocks([self.loss_dock], [190], QtCore.Qt.Orientation.Vertical)
        self._menus()
        self.status_label = QtWidgets.QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        c.status.connect(self.status_label.setText)
        c.trajectoriesChanged.connect(lambda _: self._report_divergence())
        self.resize(1280, 800)

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
        quit_action = file_menu.addAction("Quit")
        quit_action.setShortcut(QtGui.QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        view = self.menuBar().addMenu("&View")
        reset = view.addAction("Reset view")
        reset.setShortcut("F")
        reset.triggered.connect(self.surface_view.reset_camera)
        wire = view.addAction("Wireframe on surface")
        wire.setCheckable(True)
        wire.toggled.connect(self._set_wireframe)
        arrows = view.addAction("Optimizer state arrows")
        arrows.setCheckable(True)
        arrows.setChecked(True)
        arrows.toggled.connect(self._set_arrows)
        logy = view.addAction("Log loss axis")
        logy.setCheckable(True)
        logy.setChecked(True)
        logy.toggled.connect(self.loss_plot.set_log)
        play = self.menuBar().addMenu("&Playback")
        for text, key, slot in (("Play / pause", "Space", self.playback.toggle),
                                ("Previous step", "Left", lambda: c.set_step(c.step - 1)),
                                ("Next step", "Right", lambda: c.set_step(c.step + 1))):
            act = play.addAction(text)
            act.setShortcut(key)
            act.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(slot)
        delete = QtGui.QAction("Remove last start point", self)
        delete.setShortcut(QtGui.QKeySequence.StandardKey.Delete)
        delete.triggered.connect(lambda: c.remove_start(len(c.session.starts) - 1))
        self.addAction(delete)

    def _set_wireframe(self, on: bool) -> None:
        self.surface_view.opts_view["wireframe"] = on
        self.surface_view.update_surface()

    def _set_arrows(self, on: bool) -> None:
        self.surface_view.opts_view["show_arrows"] = on
        self.contour_view.show_arrows = on
        self.surface_view.update_step()
        self.contour_view.update_step()

    def _report_divergence(self) -> None:
        msg = self.controller.diverged_message()
        if msg:
            self.status_label.setText(msg)
