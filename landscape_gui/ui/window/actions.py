"""The window's menus and shortcuts as tables (napari's habit: actions are data), and the one
place that decides what Ctrl+Z means where (``UndoKeys``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6 import QtCore, QtGui, QtWidgets

Key = QtGui.QKeySequence.StandardKey


@dataclass(frozen=True)
class Action:
    title: str
    callback: Callable          # called with the window
    shortcut: object = None     # a string, a StandardKey, or None
    name: str = ""              # objectName (tests and the monkey find actions by it)
    tip: str = ""


SEPARATOR = None


def _file_actions() -> list:
    from landscape_gui.ui.export import dialog

    return [
        Action("&New", lambda w: w.new_session(), Key.New, "newAction"),
        Action("&Open…", lambda w: w.open_dialog(), Key.Open, "openAction"),
        "recent",
        Action("Open &Landscape…", lambda w: w.open_landscape_dialog(), "Shift+Ctrl+O", "openLandscapeAction",
               "A loss-landscape surface (.h5) or a .npz plane, in the 3-D and 2-D views"),
        Action("Open &Model…", lambda w: w.open_model_dialog(), "Shift+Ctrl+M", "openModelAction",
               "Your own PyTorch model: a .py file defining model(), loss_fn and batches()"),
        Action("&Save", lambda w: w.save(), Key.Save, "saveAction"),
        Action("Save &As…", lambda w: w.save_as_dialog(), "Shift+Ctrl+S", "saveAsAction"),
        SEPARATOR,
        Action("Export &Image…", dialog.export_image, "Ctrl+E", "exportImageAction"),
        Action("Export &Animation…", dialog.export_animation, None, "exportAnimationAction"),
        Action("Export &Data…", dialog.export_data, None, "exportDataAction"),
        SEPARATOR,
        Action("Quit", lambda w: w.quit(), Key.Quit, "quitAction"),
    ]


PLAYBACK = [
    Action("Play / pause", lambda w: w.playback.toggle(), "Space", "playAction"),
    Action("Previous step", lambda w: w.controller.set_step(w.controller.step - 1), "Left", "previousStepAction"),
    Action("Next step", lambda w: w.controller.set_step(w.controller.step + 1), "Right", "nextStepAction"),
]

#: (key, title, default) of the View menu's switches; preferences outlive sessions
VIEW_TOGGLES = [("wireframe", "Wireframe on surface", False),
                ("arrows", "Optimizer state arrows", True),
                ("log_loss", "Log loss axis", True)]

ASPECTS = [("auto", "Automatic (equal when x and y are alike)"), ("equal", "Equal x and y scale"),
           ("free", "Fill the view")]


def _add(window, menu: QtWidgets.QMenu, table) -> dict:
    made = {}
    for entry in table:
        if entry is SEPARATOR:
            menu.addSeparator()
            continue
        if entry == "recent":
            window.recent_menu = menu.addMenu("Open &Recent")
            window.recent_menu.setObjectName("recentMenu")
            window.recent_menu.aboutToShow.connect(window.fill_recent_menu)
            continue
        act = menu.addAction(entry.title)
        if entry.shortcut is not None:
            act.setShortcut(QtGui.QKeySequence(entry.shortcut))
        act.setObjectName(entry.name)
        if entry.tip:
            act.setToolTip(entry.tip)
        act.triggered.connect(lambda _=False, f=entry.callback: f(window))
        made[entry.name] = act
    return made


def build_menus(window) -> None:
    """Every menu of the window, from the tables above."""
    c = window.controller
    bar = window.menuBar()
    _add(window, bar.addMenu("&File"), _file_actions())

    edit = bar.addMenu("&Edit")
    undo = c.undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcut(Key.Undo)
    redo = c.undo_stack.createRedoAction(window, "&Redo")
    # StandardKey.Redo is Ctrl+Shift+Z on Linux (Ctrl+Y on Windows): listing Ctrl+Shift+Z too
    # registered it twice, and Qt ignores an ambiguous shortcut ("Ambiguous shortcut overload")
    keys = QtGui.QKeySequence.keyBindings(Key.Redo)
    if QtGui.QKeySequence("Ctrl+Shift+Z") not in keys:
        keys.append(QtGui.QKeySequence("Ctrl+Shift+Z"))
    redo.setShortcuts(keys)
    edit.addAction(undo)
    edit.addAction(redo)
    window.undo_action, window.redo_action = undo, redo

    view = bar.addMenu("&View")
    reset = view.addAction("Reset view")
    reset.setShortcut("F")
    reset.triggered.connect(window.surface_view.reset_camera)
    prefs = QtCore.QSettings("landscape-gui", "landscape-gui")
    window.view_toggles = {}
    for key, text, default in VIEW_TOGGLES:
        act = view.addAction(text)
        act.setCheckable(True)
        on = prefs.value(f"view/{key}", default, type=bool)
        act.setChecked(on)
        slot = window.view_toggle_slot(key)
        if on != default:
            slot(on)
        act.toggled.connect(slot)
        act.toggled.connect(lambda v, k=key: QtCore.QSettings("landscape-gui", "landscape-gui")
                            .setValue(f"view/{k}", v))
        window.view_toggles[key] = act
    aspect = view.addMenu("2-D aspect")
    group = QtGui.QActionGroup(window)
    window.aspect_actions = {}
    for mode, text in ASPECTS:
        act = aspect.addAction(text)
        act.setCheckable(True)
        act.setChecked(mode == window.contour_view.aspect_mode)
        group.addAction(act)
        act.triggered.connect(lambda _=False, m=mode: window.contour_view.set_aspect_mode(m))
        window.aspect_actions[mode] = act

    menu = bar.addMenu("&Analysis")
    p = window.analysis_panel
    window.analysis_actions = {}
    for key, text, box, tab in (("critical", "Show &critical points", p.critical_check, 0),
                                ("basins", "&Basins for selected optimizer", p.basins_check, 1),
                                ("sweep", "&Learning-rate sweep", p.sweep_check, 2)):
        act = menu.addAction(text)
        act.setCheckable(True)
        act.toggled.connect(box.setChecked)
        box.toggled.connect(act.setChecked)
        act.toggled.connect(lambda on, t=tab: on and window.show_analysis_tab(t))
        window.analysis_actions[key] = act
    race = menu.addAction("&Race optimizers…")
    race.setObjectName("raceAction")
    race.setToolTip("Tune every enabled optimizer with the same budget, from the same starts, and rank them")
    race.triggered.connect(lambda: window.show_analysis_tab(3))
    window.analysis_actions["race"] = race
    menu.addSeparator()
    cancel = menu.addAction("Cancel basin computation")
    cancel.triggered.connect(lambda: window.analysis.cancel("basins"))

    play = bar.addMenu("&Playback")
    for act in _add(window, play, PLAYBACK).values():
        act.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
    delete = QtGui.QAction("Remove start point", window)
    delete.setShortcut(Key.Delete)
    delete.triggered.connect(window.remove_start_point)
    window.addAction(delete)

    help_menu = bar.addMenu("&Help")
    _add(window, help_menu, [Action("&Examples…", lambda w: w.show_examples(), "F1", "examplesAction")])


class UndoKeys(QtCore.QObject):
    """What Ctrl+Z / Ctrl+Shift+Z mean, decided in one place.

    A text field with text typed but not yet committed (no Enter, focus still there) undoes
    its own typing; otherwise — nothing typed since the field last committed — the keys are the
    session's undo and redo, even while the field has the focus. Qt sends every shortcut first
    to the focused widget as a ShortcutOverride, and line edits and spin boxes claim Ctrl+Z
    there for their own undo: this filter lets the window's action have it instead whenever the
    field has nothing of its own to undo."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        # filter only the field that has the focus (an application-wide filter saw every event
        # of every widget: 21,000 calls while the network mode built its plots)
        QtWidgets.QApplication.instance().focusChanged.connect(self._focus_changed)
        self._watched: QtWidgets.QWidget | None = None

    @staticmethod
    def _line_edit(obj) -> QtWidgets.QLineEdit | None:
        if isinstance(obj, QtWidgets.QAbstractSpinBox):
            return obj.findChild(QtWidgets.QLineEdit)
        return obj if isinstance(obj, QtWidgets.QLineEdit) else None

    def _focus_changed(self, _old, new) -> None:
        if self._watched is not None:
            try:
                self._watched.removeEventFilter(self)
            except RuntimeError:  # deleted meanwhile (an optimizer card rebuilt)
                pass
            self._watched = None
        edit = self._line_edit(new) if new is not None else None
        if edit is not None and edit.window() is self.window:
            new.installEventFilter(self)  # a spin box gets the keys itself (its field is its proxy)
            self._watched = new

    def eventFilter(self, obj, ev) -> bool:
        t = ev.type()
        if t == QtCore.QEvent.Type.ShortcutOverride:
            is_undo = ev.matches(Key.Undo) or ev.matches(Key.Redo) or \
                QtGui.QKeySequence(ev.keyCombination()) == QtGui.QKeySequence("Ctrl+Shift+Z")
            # not accepted: the shortcut (the session's undo/redo) runs
            edit = self._line_edit(obj)
            return bool(is_undo and edit is not None and not edit.isModified())
        if t == QtCore.QEvent.Type.FocusOut or (t == QtCore.QEvent.Type.KeyPress and ev.key() in (
                QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter)):
            # committed (Enter or leaving the field): nothing of its own left to undo
            QtCore.QTimer.singleShot(0, lambda e=self._line_edit(obj): _clear_modified(e))
        return False


def _clear_modified(edit: QtWidgets.QLineEdit | None) -> None:
    if edit is None:
        return
    try:
        edit.setModified(False)
    except RuntimeError:  # the field was deleted meanwhile (an optimizer card removed)
        pass
