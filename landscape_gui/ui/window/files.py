"""The window's files: open, save, the recent list, the folder dialogs start in, and the
autosave that never loses work (debounced, atomic, removed by a deliberate close)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from landscape_gui.core.session import SUFFIX, Session, SessionError, save_text

MAX_RECENT = 10


def settings() -> QtCore.QSettings:
    return QtCore.QSettings("landscape-gui", "landscape-gui")


def recent_files() -> list[str]:
    """The recent sessions, newest first. QSettings gives a one-item list back as a plain
    string (and then the menu listed its letters): read it as a list, keep only names."""
    raw = settings().value("recent", [], type=list)
    return [str(p) for p in raw if isinstance(p, str) and p.strip()][:MAX_RECENT]


def remember(path: Path) -> None:
    path = str(Path(path).resolve())
    settings().setValue("recent", [path] + [p for p in recent_files() if p != path][: MAX_RECENT - 1])
    settings().setValue("last_folder", str(Path(path).parent))


def last_folder() -> str:
    """Where the Open and Save dialogs start: the folder last opened from or saved to."""
    folder = settings().value("last_folder", "", type=str)
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def autosave_path() -> Path:
    base = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.AppDataLocation)
    folder = Path(base or Path.home() / ".landscape-gui")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"autosave{SUFFIX}"


class SessionFiles(QtCore.QObject):
    """Open / save / new for a window, and its autosave."""

    AUTOSAVE_MS = 2000  # the session reaches disk within this long after any change
    AUTOSAVE_QUIET_MS = 400  # ... and once a burst of edits pauses this long

    def __init__(self, window, path: str | None, autosave: bool):
        super().__init__(window)
        self.window = window
        self.path: Path | None = Path(path) if path else None
        self.autosave_enabled = autosave
        self.timer = QtCore.QTimer(self, singleShot=True)
        self.timer.timeout.connect(self.autosave)
        self._first_unsaved_change: float | None = None

    # -- saving ---------------------------------------------------------------------------
    def save(self) -> bool:
        return self.save_as_dialog() if self.path is None else self.save_to(self.path)

    def save_to(self, path) -> bool:
        w = self.window
        path = Path(path)
        if not path.name.endswith(SUFFIX):
            path = path.with_name(path.name + SUFFIX) if not path.suffix == ".json" else path
        try:
            w.current_session().save(path)
        except (OSError, ValueError) as exc:
            QtWidgets.QMessageBox.warning(w, "Save failed", f"Could not save {path}:\n{exc}")
            return False
        self.path = path
        w.controller.undo_stack.setClean()
        remember(path)
        w.update_title()
        w.status_label.setText(f"saved {path}")
        return True

    def save_as_dialog(self) -> bool:
        start = str(self.path) if self.path else str(Path(last_folder()) / f"untitled{SUFFIX}")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Save session", start,
                                                        f"Sessions (*{SUFFIX});;JSON (*.json)")
        return bool(path) and self.save_to(path)

    # -- opening ---------------------------------------------------------------------------
    def open_dialog(self) -> None:
        if not self.may_discard():
            return
        start = str(self.path.parent) if self.path else last_folder()
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Open session", start,
                                                        f"Sessions (*{SUFFIX} *.json)")
        if path:
            self.open_file(path)

    def open_file(self, path) -> bool:
        """Open a session; a bad file is refused with the reason and nothing changes."""
        w = self.window
        try:
            session = Session.load(path)
        except SessionError as exc:
            QtWidgets.QMessageBox.warning(w, "Cannot open session", f"{Path(path).name}\n\n{exc}")
            w.status_label.setText(f"not opened: {exc}")
            return False
        w.controller.replace_session(session, origin="open")
        w.controller.undo_stack.clear()
        self.path = Path(path)
        remember(self.path)
        w.update_title()
        w.status_label.setText(f"opened {self.path}")
        return True

    def new_session(self) -> bool:
        w = self.window
        if not self.may_discard():
            return False
        w.controller.replace_session(Session.default(), origin="new")
        w.controller.undo_stack.clear()
        self.path = None
        w.update_title()
        w.status_label.setText("new session (the default Rosenbrock)")
        return True

    def fill_recent_menu(self, menu: QtWidgets.QMenu) -> None:
        menu.clear()
        for p in recent_files():
            act = menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.may_discard() and self.open_file(p))
        if menu.isEmpty():
            menu.addAction("(none)").setEnabled(False)

    # -- never losing work ------------------------------------------------------------------
    def schedule_autosave(self) -> None:
        """Debounced: a burst of edits is written once, AUTOSAVE_QUIET_MS after the last one,
        but never later than AUTOSAVE_MS after the first edit not yet on disk."""
        if not self.autosave_enabled:
            return
        now = time.monotonic()
        if self._first_unsaved_change is None:
            self._first_unsaved_change = now
        left = self.AUTOSAVE_MS - (now - self._first_unsaved_change) * 1e3
        self.timer.start(int(max(0, min(self.AUTOSAVE_QUIET_MS, left))))

    def autosave(self) -> None:
        """Write the session where the next launch looks for it (atomically)."""
        self._first_unsaved_change = None
        self.timer.stop()
        try:
            save_text(autosave_path(), self.window.current_session().to_json())
        except (OSError, ValueError) as exc:
            self.window.status_label.setText(f"autosave failed: {exc}")

    def drop_autosave(self) -> None:
        """A deliberate close leaves nothing to recover."""
        self.timer.stop()
        if self.autosave_enabled:
            try:
                autosave_path().unlink()
            except OSError:
                pass

    def may_discard(self) -> bool:
        w = self.window
        if w.controller.undo_stack.isClean():
            return True
        answer = w.ask_save_changes()
        return answer == "discard" or (answer == "save" and self.save())


def ask_save_changes(parent) -> str:
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Question, "Unsaved changes",
                                "Save the changes to this session before closing?",
                                QtWidgets.QMessageBox.StandardButton.Save
                                | QtWidgets.QMessageBox.StandardButton.Discard
                                | QtWidgets.QMessageBox.StandardButton.Cancel, parent)
    answer = box.exec()
    return {QtWidgets.QMessageBox.StandardButton.Save: "save",
            QtWidgets.QMessageBox.StandardButton.Discard: "discard"}.get(
                QtWidgets.QMessageBox.StandardButton(answer), "cancel")
