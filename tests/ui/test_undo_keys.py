"""What Ctrl+Z means where: the session's undo even while a field has the focus, once the
field has committed its value; the field's own undo while it holds uncommitted typing."""

from PySide6 import QtCore, QtWidgets
from PySide6.QtTest import QTest

Ctrl = QtCore.Qt.KeyboardModifier.ControlModifier


def _lr_field(window):
    return window.optimizer_panel.findChildren(QtWidgets.QLineEdit, "hyper_lr")[0]


def _focus(qtbot, window, widget):
    window.activateWindow()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=3000)


def test_ctrl_z_with_focus_in_a_field_undoes_the_committed_edit(window, qtbot):
    c = window.controller
    before = c.session.optimizers[0].hyperparameters["lr"]
    field = _lr_field(window)
    _focus(qtbot, window, field)
    field.selectAll()
    QTest.keyClicks(field, "0.0025")
    QTest.keyClick(field, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: c.session.optimizers[0].hyperparameters["lr"] == 0.0025, timeout=3000)
    assert window.undo_action.text().startswith("&Undo Edit Optimizer") or "Edit Optimizer" in window.undo_action.text()
    focused = QtWidgets.QApplication.focusWidget()
    assert isinstance(focused, QtWidgets.QLineEdit)  # still in a field
    qtbot.wait(20)
    QTest.keyClick(focused, QtCore.Qt.Key.Key_Z, Ctrl)
    qtbot.waitUntil(lambda: c.session.optimizers[0].hyperparameters["lr"] == before, timeout=3000)
    focused = QtWidgets.QApplication.focusWidget()
    QTest.keyClick(focused, QtCore.Qt.Key.Key_Z, Ctrl | QtCore.Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: c.session.optimizers[0].hyperparameters["lr"] == 0.0025, timeout=3000)


def test_ctrl_z_undoes_uncommitted_typing_in_the_field_only(window, qtbot):
    c = window.controller
    c.set_run_options(steps=321)  # something on the session's undo stack
    field = _lr_field(window)
    text = field.text()
    _focus(qtbot, window, field)
    field.end(False)
    QTest.keyClicks(field, "7")
    assert field.text() == text + "7"
    QTest.keyClick(field, QtCore.Qt.Key.Key_Z, Ctrl)
    assert field.text() == text            # the field's own typing undone
    assert c.session.steps == 321          # the session untouched


def test_ctrl_z_in_a_committed_spin_box_is_the_sessions_undo(window, qtbot):
    c = window.controller
    steps = window.optimizer_panel.steps
    before = c.session.steps
    _focus(qtbot, window, steps)
    steps.lineEdit().selectAll()
    QTest.keyClicks(steps, "321")
    QTest.keyClick(steps, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: c.session.steps == 321, timeout=3000)
    qtbot.wait(20)
    QTest.keyClick(QtWidgets.QApplication.focusWidget(), QtCore.Qt.Key.Key_Z, Ctrl)
    qtbot.waitUntil(lambda: c.session.steps == before, timeout=3000)
