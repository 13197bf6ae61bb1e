"""Issue 18 in the window: type a rule, see its error in place, add it, race it, edit it, undo, save,
take it to PyTorch, use it in basins and the learning-rate sweep."""

import numpy as np
from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import Qt

from landscape_gui.core import optimizers
from landscape_gui.core.optimizers.templates import TEMPLATES


def _menu_action(window, object_name=None, text=None):
    menu = window.optimizer_panel.add_button.menu()
    menu.aboutToShow.emit()
    for act in menu.actions():
        if (object_name and act.objectName() == object_name) or (text and act.text() == text):
            return act
    raise AssertionError(f"no {object_name or text} in {[a.text() for a in menu.actions()]}")


def _colour_pixels(img: np.ndarray, hex_colour: str, tol=40) -> int:
    c = QtGui.QColor(hex_colour)
    target = np.array([c.red(), c.green(), c.blue()])
    return int((np.abs(img[:, :, :3].astype(int) - target).sum(axis=2) < tol).sum())


def test_typing_a_rule_shows_its_error_in_place_then_adds_a_racing_optimizer(window, qtbot):
    panel = window.optimizer_panel
    _menu_action(window, "newRuleAction").trigger()
    editor = panel.rule_editor
    qtbot.waitUntil(lambda: editor is not None and editor.isVisible(), timeout=3000)
    editor.name_edit.setText("Signum")
    editor.editor.clear()
    for k, line in enumerate(["hyper lr = 0.02, beta = 0.9", "state m = 0", "m = beta*m + (1 - beta)*gg",
                              "x = x - lr*sign(m)"]):
        if k:
            qtbot.keyClick(editor.editor, Qt.Key.Key_Return)
        qtbot.keyClicks(editor.editor, line)
    qtbot.waitUntil(lambda: "unknown name 'gg'" in editor.message.text(), timeout=2000)
    assert "line 3, column 25" in editor.message.text()
    ok = editor.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled() and not editor.torch_button.isEnabled()
    (sel,) = editor.editor.extraSelections()            # the bad word underlined where it is
    assert sel.cursor.selectedText() == "gg"
    cursor = editor.editor.textCursor()                  # fix it by typing, as a person would
    cursor.setPosition(sel.cursor.selectionEnd())
    editor.editor.setTextCursor(cursor)
    qtbot.keyClick(editor.editor, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: editor.message.text().startswith("✓"), timeout=2000)
    assert ok.isEnabled() and editor.editor.extraSelections() == []
    n = len(window.session.optimizers)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.session.optimizers) == n + 1, timeout=3000)
    o = window.session.optimizers[-1]
    assert o.name == "Signum" and o.hyperparameters == {"lr": 0.02, "beta": 0.9}
    assert "Signum" in window.session.rules
    # it races: a trajectory in the batch, a legend entry, its colour drawn in the 2-D view
    c = window.controller
    k = [e.name for e in window.session.enabled_optimizers()].index("Signum")
    assert np.isfinite(c.batch.points[k]).all()
    assert any("Signum" in item.text for _, item in window.loss_plot.legend.items)
    qtbot.wait(300)
    img = window.contour_view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, :3 * img.width()]
    assert _colour_pixels(arr.reshape(img.height(), img.width(), 3), o.color) > 30
    # the card says what the rule does and offers editing and PyTorch
    card = panel.cards.itemAt(len(window.session.optimizers) - 1).widget()
    assert "sign(m)" in card.findChild(QtWidgets.QLabel, "ruleSummary").text()
    qtbot.mouseClick(card.findChild(QtWidgets.QToolButton, "copyTorch"), Qt.MouseButton.LeftButton)
    source = QtGui.QGuiApplication.clipboard().text()
    assert "class Signum(torch.optim.Optimizer)" in source and "def step(self, closure=None)" in source
    compile(source, "<clipboard>", "exec")
    # undo removes it, redo brings it back
    window.controller.undo_stack.undo()
    assert [e.name for e in window.session.optimizers].count("Signum") == 0
    window.controller.undo_stack.redo()
    assert window.session.optimizers[-1].name == "Signum"


def test_editing_a_rule_keeps_values_it_still_has_and_undo_restores_the_text(window, qtbot):
    c = window.controller
    c.add_rule_optimizer("Heavy", TEMPLATES["Heavy ball"], {"lr": 0.003, "momentum": 0.5})
    i = len(window.session.optimizers) - 1
    before = c.batch.points[i].copy()
    card = window.optimizer_panel.cards.itemAt(i).widget()
    qtbot.mouseClick(card.findChild(QtWidgets.QToolButton, "editRule"), Qt.MouseButton.LeftButton)
    editor = window.optimizer_panel.rule_editor
    qtbot.waitUntil(lambda: editor is not None and editor.isVisible(), timeout=3000)
    assert editor.name_edit.isReadOnly() and editor.text == TEMPLATES["Heavy ball"]
    editor.editor.setPlainText(TEMPLATES["Nesterov"].replace("momentum = 0.9", "momentum = 0.9, wd = 0.1")
                               .replace("x = x - lr*(g", "x = x - lr*(wd*x + g"))
    editor.check()
    editor.accept()
    o = window.session.optimizers[i]
    assert o.hyperparameters == {"lr": 0.003, "momentum": 0.5, "wd": 0.1}   # kept, new default
    assert not np.allclose(c.batch.points[i], before)
    c.undo_stack.undo()
    assert window.session.rules["Heavy"] == TEMPLATES["Heavy ball"]
    assert optimizers.rule_text("Heavy") == TEMPLATES["Heavy ball"]
    np.testing.assert_allclose(c.batch.points[i], before)


def test_rules_survive_save_and_open_and_the_library_offers_them_everywhere(window, qtbot, tmp_path):
    c = window.controller
    c.add_rule_optimizer("LibRule", TEMPLATES["Normalized GD"])
    from landscape_gui.ui.panels.rule_editor import library, save_to_library

    save_to_library("LibRule", TEMPLATES["Normalized GD"])
    path = tmp_path / "with_rule.landscape.json"
    assert window.save_to(path)
    optimizers.remove("LibRule")
    assert window.open_file(path)
    assert window.session.rules == {"LibRule": TEMPLATES["Normalized GD"]}
    assert window.session.optimizers[-1].name == "LibRule"
    # a new session: the Add menu lists the library's rule, and choosing it adds it
    window.new_session()
    assert "LibRule" in library()
    _menu_action(window, text="LibRule").trigger()
    assert window.session.optimizers[-1].name == "LibRule" and "LibRule" in window.session.rules


def test_basins_and_the_learning_rate_sweep_run_a_typed_rule(window, qtbot):
    from landscape_gui.core import analysis

    c = window.controller
    c.load_preset("himmelblau")
    c.function.kernels(wait=True)
    c.add_rule_optimizer("BasinRule", TEMPLATES["Heavy ball"], {"lr": 0.002})
    b = analysis.basins(c.function, "BasinRule", {"lr": 0.002}, c.session.xrange, c.session.yrange, (48, 48),
                        300)
    assert len(b.attractors) == 4   # Himmelblau's four minima
    sweep = analysis.lr_sweep(c.function, "BasinRule", {}, (0.0, 0.0), np.geomspace(1e-4, 0.05, 40), 200)
    assert sweep.optimizer == "BasinRule" and np.isfinite(sweep.final_loss).any()
    assert sweep.diverged[-1] and not sweep.diverged[0]
