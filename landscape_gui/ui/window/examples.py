"""Help → Examples: the tour's list (with pictures), the start page, the Explain panel, and
opening an example — its session, view and overlays, and for network examples the runs it
trains and pins. The examples themselves are data (``landscape_gui.examples``)."""

from __future__ import annotations

import dataclasses
import html

from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui import examples

SETTINGS_KEY = "examples/show_at_start"


def _prefs() -> QtCore.QSettings:
    return QtCore.QSettings("landscape-gui", "landscape-gui")


def show_at_start() -> bool:
    return _prefs().value(SETTINGS_KEY, True, type=bool)


class ExamplesDialog(QtWidgets.QDialog):
    """The examples as a grid of pictures with titles; double-click (or Open) opens one."""

    chosen = QtCore.Signal(str)

    def __init__(self, parent=None, start_page: bool = False):
        super().__init__(parent)
        self.setObjectName("examplesDialog")
        self.setWindowTitle("Welcome to landscape-gui: examples" if start_page else "Examples")
        lay = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            "Every idea about loss landscapes, one click away: each example opens a ready session and an "
            "<b>Explain</b> panel that says what to look at and what to try, with the live numbers.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.list = QtWidgets.QListWidget(objectName="examplesList")
        self.list.setViewMode(QtWidgets.QListView.ViewMode.IconMode)
        self.list.setIconSize(QtCore.QSize(200, 130))
        self.list.setGridSize(QtCore.QSize(230, 185))
        self.list.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.list.setMovement(QtWidgets.QListView.Movement.Static)
        self.list.setWordWrap(True)
        for eid in examples.ids():
            e = examples.info(eid)
            item = QtWidgets.QListWidgetItem(e.title + (" (network)" if e.mode == "network" else ""))
            item.setData(QtCore.Qt.ItemDataRole.UserRole, eid)
            item.setToolTip(examples.explain(eid).split("\n")[2] if "\n" in examples.explain(eid) else e.title)
            thumb = examples.thumbnail(eid)
            if thumb is not None:
                pix = QtGui.QPixmap()
                pix.loadFromData(thumb.read_bytes())
                item.setIcon(QtGui.QIcon(pix))
            self.list.addItem(item)
        lay.addWidget(self.list, 1)
        row = QtWidgets.QHBoxLayout()
        self.show_check = QtWidgets.QCheckBox("Show the examples when landscape-gui starts", objectName="examplesAtStart")
        self.show_check.setChecked(show_at_start())
        self.show_check.toggled.connect(lambda on: _prefs().setValue(SETTINGS_KEY, bool(on)))
        row.addWidget(self.show_check)
        row.addStretch(1)
        self.open_button = QtWidgets.QPushButton("Open", objectName="examplesOpen")
        close = QtWidgets.QPushButton("Close")
        row.addWidget(self.open_button)
        row.addWidget(close)
        lay.addLayout(row)
        self.open_button.clicked.connect(self._open_current)
        close.clicked.connect(self.reject)
        self.list.itemActivated.connect(lambda item: self._open(item))
        self.resize(760, 620)

    def _open_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._open(item)

    def _open(self, item) -> None:
        self.chosen.emit(item.data(QtCore.Qt.ItemDataRole.UserRole))
        self.accept()


class ExplainPanel(QtWidgets.QWidget):
    """What to look at, what to try, and the live numbers of the session as it is now."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("explainPanel")
        lay = QtWidgets.QVBoxLayout(self)
        self.text = QtWidgets.QLabel(objectName="explainText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.text.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.live = QtWidgets.QLabel(objectName="explainLive")
        self.live.setWordWrap(True)
        self.live.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.live.setStyleSheet("background: #1d2027; color: #e8e8ee; padding: 8px; border-radius: 4px;")
        lay.addWidget(self.text)
        lay.addWidget(self.live)
        lay.addStretch(1)
        self.example_id: str | None = None

    def show_example(self, eid: str) -> None:
        self.example_id = eid
        self.text.setText(examples.explain_html(eid))

    def show_numbers(self, lines) -> None:
        self.live.setVisible(bool(lines))
        self.live.setText("<b>Now:</b><br>" + "<br>".join(html.escape(line) for line in lines))


class ExampleOpener(QtCore.QObject):
    """Opens examples in a MainWindow and keeps the Explain panel's numbers current."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.panel = ExplainPanel()
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.panel)
        self.dock = QtWidgets.QDockWidget("Explain", window, objectName="Explain_dock")
        self.dock.setWidget(scroll)
        window.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)  # under the formula: room to read
        self.dock.hide()
        self.current: str | None = None
        self._queue: list[dict] = []
        self._timer = QtCore.QTimer(self, singleShot=True, interval=200)  # numbers after a burst of edits
        self._timer.timeout.connect(self.refresh)
        c = window.controller
        for sig in (c.functionChanged, c.optimizersChanged, c.startsChanged, c.sessionReplaced):
            sig.connect(lambda *_: self.current and self._timer.start())
        c.trajectoriesChanged.connect(lambda *_: self.current and self._timer.start())
        c.sessionStarted.connect(self._session_started)
        window.modes.currentChanged.connect(self._mode_changed)
        self._nn = None
        self._then = None
        self._pinned = 0
        self._wired = False

    def _session_started(self, origin: str) -> None:
        """File → New, Open, a preset: the example's explanation no longer applies."""
        if origin != "example" and self.current is not None:
            self.forget()

    def forget(self) -> None:
        self.current = None
        self._timer.stop()
        self.panel.example_id = None
        self.dock.hide()

    def _mode_changed(self, index: int) -> None:
        """The Explain panel shows beside the mode its example is about, and only there."""
        if self.current is None:
            return
        mode = {"network": 1}.get(examples.info(self.current).mode, 0)
        self.dock.setVisible(index == mode)

    # -- opening ----------------------------------------------------------------------------------
    def open(self, eid: str) -> None:
        e = examples.info(eid)
        w = self.window
        self.current = eid
        self.panel.show_example(eid)
        self.dock.show()
        self.dock.raise_()
        if e.mode == "network":
            self._open_network(eid, e)
        else:
            w.controller.replace_session(examples.load(eid), origin="example")
            w.controller.undo_stack.clear()
            w.files.path = None
            w.update_title()
            w.modes.setCurrentIndex(0)
            self._apply_view(e.view)
            w.status_label.setText(f"example: {e.title}")
        self.refresh()

    def _apply_view(self, view: dict) -> None:
        w = self.window
        p = w.analysis_panel
        arrows = w.view_toggles.get("arrows")
        if arrows is not None and "arrows" in view:
            arrows.setChecked(bool(view["arrows"]))
        p.critical_check.setChecked(bool(view.get("critical", False)))
        basins = view.get("basins")
        if basins:
            names = [o.name for o in w.controller.session.optimizers]
            if basins in names:
                p.optimizer_box.setCurrentIndex(names.index(basins))
            p.basins_check.setChecked(True)
            w.show_analysis_tab(1)
        else:
            p.basins_check.setChecked(False)
            if view.get("critical"):
                w.show_analysis_tab(0)

    def _open_network(self, eid: str, e) -> None:
        w = self.window
        w.modes.setCurrentIndex(1)
        nnp = w.nn_panel
        self._nn = nnp
        self._queue = examples.network_runs(eid)
        self._then = e.then
        self._pinned = 0
        if not self._wired:
            nnp.model.trained.connect(self._next_run)
            nnp.model.curveChanged.connect(self.refresh)
            nnp.model.transferChanged.connect(self.refresh)
            nnp.model.compareChanged.connect(self.refresh)
            self._wired = True
        self._start_next()

    def _start_next(self) -> None:
        nnp = self._nn
        settings = self._queue.pop(0)
        nnp.load_settings(settings)
        nnp.start_training()
        n = self._pinned + 1
        self.window.status_label.setText(f"example: training run {n} of {n + len(self._queue)}…")

    def _next_run(self) -> None:
        nnp = self._nn
        c = nnp.model
        if self._then is None:
            return   # not an example's run (the last one cleared _then)
        if self._then in ("compare", "connect", "transfer") and self._pinned < 2:
            c.pin("AB"[self._pinned])
            self._pinned += 1
        if self._queue:
            self._start_next()
            return
        then, self._then = self._then, None
        if then == "train-vs-test":
            r = c.result
            c.pinned["A"] = r
            test_settings = r.settings.copy()
            test_settings.use_test = True
            c.pinned["B"] = dataclasses.replace(r, settings=test_settings)
            c.refresh_compare()
            c.resultChanged.emit()
            nnp.tabs.setCurrentIndex(1)
        elif then == "compare":
            nnp.tabs.setCurrentIndex(1)
        elif then == "connect":
            nnp.tabs.setCurrentWidget(nnp.connect_view)
            c.connect_pinned(epochs=50)
        elif then == "transfer":
            nnp.tabs.setCurrentWidget(nnp.connect_view)
            c.transfer_pinned()
        self.refresh()

    # -- numbers ------------------------------------------------------------------------------------
    def refresh(self) -> None:
        eid = self.current
        if eid is None:
            return
        e = examples.info(eid)
        if e.mode == "network":
            nnp = self.window.nn_panel
            lines = [f"{slot}: {r.summary()}" for slot, r in nnp.model.pinned.items() if r is not None]
            if nnp.model.transfer is not None and e.then == "transfer":
                lines = examples.transfer_numbers(nnp.model)
            if nnp.model.curve is not None and e.then == "connect":
                cv = nnp.model.curve
                lines.append(f"barrier on the straight line {cv.barrier_linear:.4g}, on the trained curve "
                             f"{cv.barrier_curve:.4g}")
            self.panel.show_numbers(lines or ["training…"])
            return
        c = self.window.controller
        self.panel.show_numbers(examples.live_numbers(eid, c.session, c.batch))
