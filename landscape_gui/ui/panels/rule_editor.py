"""The editor for optimizers typed as update rules (Add optimizer → Custom…, a card's Edit rule…).

Text is checked as it is typed (``optimizers.custom.parse_rule``: pure Python, a few
milliseconds, so on the GUI thread after a short pause); the first error is underlined
where it is and named with its line and column under the text. Templates start from
rules known to reproduce the built-ins. Rules kept in *my library* (QSettings) are
offered in every session's Add optimizer menu.
"""

from __future__ import annotations

import json
import re

from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core import optimizers
from landscape_gui.core.optimizers import custom
from landscape_gui.core.optimizers.templates import TEMPLATES

LIBRARY_KEY = "rules/library"


# --- the user's library of rules, shared across sessions ------------------------------------------


def _settings() -> QtCore.QSettings:
    return QtCore.QSettings("landscape-gui", "landscape-gui")   # as the main window's


def library() -> dict[str, str]:
    """name -> rule text, as saved with "Keep in my library" (bad entries are skipped)."""
    raw = _settings().value(LIBRARY_KEY, "{}")
    try:
        data = json.loads(raw if isinstance(raw, str) else "{}")
    except ValueError:
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def save_to_library(name: str, text: str) -> None:
    data = library()
    data[name] = text
    _settings().setValue(LIBRARY_KEY, json.dumps(data))


def remove_from_library(name: str) -> None:
    data = library()
    data.pop(name, None)
    _settings().setValue(LIBRARY_KEY, json.dumps(data))


# --- highlighting --------------------------------------------------------------------------------


class RuleHighlighter(QtGui.QSyntaxHighlighter):
    """Declarations, the read-only names, functions, numbers and comments in their own colours."""

    def __init__(self, document):
        super().__init__(document)

        def fmt(colour, bold=False, italic=False):
            f = QtGui.QTextCharFormat()
            f.setForeground(QtGui.QColor(colour))
            if bold:
                f.setFontWeight(QtGui.QFont.Weight.Bold)
            f.setFontItalic(italic)
            return f

        words = "|".join(sorted(custom.FUNCTIONS, key=len, reverse=True))
        # (pattern, format); the coloured span is the group named "w" where there is one
        self.rules = [
            (re.compile(r"^\s*(?P<w>hyper|state)\b"), fmt("#c678dd", bold=True)),
            (re.compile(rf"\b({words})(?=\s*\()"), fmt("#61afef")),
            (re.compile(r"\b[xgft]\b"), fmt("#e5c07b", bold=True)),
            (re.compile(r"\b\d+\.?\d*([eE][-+]?\d+)?\b|\.\d+([eE][-+]?\d+)?\b"), fmt("#d19a66")),
            (re.compile(r"#.*$"), fmt("#7f848e", italic=True)),
        ]

    def highlightBlock(self, text: str) -> None:
        for pattern, f in self.rules:
            for m in pattern.finditer(text):
                group = "w" if "w" in pattern.groupindex else 0
                self.setFormat(m.start(group), m.end(group) - m.start(group), f)


# --- the dialog ----------------------------------------------------------------------------------


class RuleEditor(QtWidgets.QDialog):
    """Name, text, templates, live errors, Copy as PyTorch; ``rule()`` once accepted."""

    def __init__(self, parent=None, name: str | None = None, text: str | None = None, *, editing: bool = False):
        super().__init__(parent)
        self.setObjectName("ruleEditor")
        self.setWindowTitle("Edit optimizer rule" if editing else "New optimizer rule")
        self.editing = editing
        self.checked: custom.Rule | None = None
        lay = QtWidgets.QVBoxLayout(self)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Name"))
        self.name_edit = QtWidgets.QLineEdit(name or _free_name(), objectName="ruleName")
        self.name_edit.setReadOnly(editing)   # renaming would orphan the cards that use it
        self.name_edit.setMaxLength(custom.MAX_NAME)
        top.addWidget(self.name_edit, 1)
        top.addWidget(QtWidgets.QLabel("Start from"))
        self.template_box = QtWidgets.QComboBox(objectName="ruleTemplate")
        self.template_box.addItem("(template…)")
        self.template_box.addItems(list(TEMPLATES))
        self.template_box.activated.connect(self._use_template)
        top.addWidget(self.template_box)
        lay.addLayout(top)
        self.editor = QtWidgets.QPlainTextEdit(objectName="ruleText")
        mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        mono.setPointSize(max(mono.pointSize(), 10))
        self.editor.setFont(mono)
        self.editor.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setTabChangesFocus(True)
        self.editor.setMinimumSize(560, 220)
        self.highlighter = RuleHighlighter(self.editor.document())
        self.editor.setPlainText(text if text is not None else TEMPLATES["Adam"])
        lay.addWidget(self.editor, 1)
        self.message = QtWidgets.QLabel(objectName="ruleMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.message)
        help_text = QtWidgets.QLabel(
            "<small><b>hyper</b> name = default, …&nbsp;&nbsp;<b>state</b> name = initial value, …&nbsp;&nbsp;"
            "then one assignment a line, run in order each step. Read-only: <b>x</b> parameters, "
            "<b>g</b> gradient at x, <b>f</b> loss at x, <b>t</b> step (1, 2, …). Assigning x is the update. "
            "Element-wise: + − * / ^ sqrt abs sign exp log min max tanh …; over the whole vector: "
            "norm(v), dot(a, b), sum(v); grad(p): the gradient at p (one more evaluation).</small>")
        help_text.setWordWrap(True)
        help_text.setStyleSheet("color: #9aa0a6;")
        lay.addWidget(help_text)
        bottom = QtWidgets.QHBoxLayout()
        self.library_check = QtWidgets.QCheckBox("Keep in my library (offered in every session)",
                                                 objectName="ruleLibrary")
        self.library_check.setChecked(True)
        bottom.addWidget(self.library_check)
        bottom.addStretch(1)
        self.torch_button = QtWidgets.QPushButton("Copy as PyTorch", objectName="ruleCopyTorch")
        self.torch_button.setToolTip("Put a torch.optim.Optimizer subclass implementing this rule on the clipboard")
        self.torch_button.clicked.connect(self.copy_torch)
        bottom.addWidget(self.torch_button)
        self.buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                                  | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Apply" if editing else "Add")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        bottom.addWidget(self.buttons)
        lay.addLayout(bottom)
        self._timer = QtCore.QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self.check)
        self.editor.textChanged.connect(self._timer.start)
        self.name_edit.textChanged.connect(self._timer.start)
        self.check()

    @property
    def name(self) -> str:
        return self.name_edit.text().strip()

    @property
    def text(self) -> str:
        return self.editor.toPlainText()

    def _use_template(self, index: int) -> None:
        if index > 0:
            self.editor.setPlainText(TEMPLATES[self.template_box.itemText(index)])
            self.template_box.setCurrentIndex(0)
            self.check()

    def check(self) -> bool:
        """Parse now; show the first error under the text and underline it in place."""
        self._timer.stop()
        try:
            name = self.name
            if not self.editing and name in optimizers.BUILT_IN:
                raise custom.RuleError(f"'{name}' is a built-in optimizer: give your rule another name")
            rule = custom.parse_rule(name, self.text)
        except custom.RuleError as err:
            self.checked = None
            self.message.setStyleSheet("color: #ff6b6b;")
            self.message.setText(f"✗ {err}")
            self._underline(err.position)
        else:
            self.checked = rule
            self.message.setStyleSheet("color: #3ddc84;")
            grads = rule.grad_calls
            self.message.setText(
                f"✓ {len(rule.hypers)} hyperparameter{'s' * (len(rule.hypers) != 1)}, "
                f"{len(rule.states)} state{'s' * (len(rule.states) != 1)}, {1 + grads} gradient evaluation"
                f"{'s' * (grads > 0)} a step")
            self._underline(None)
        ok = self.checked is not None
        self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        self.torch_button.setEnabled(ok)
        return ok

    def _underline(self, position: int | None) -> None:
        if position is None:
            self.editor.setExtraSelections([])
            return
        doc = self.editor.document()
        cursor = QtGui.QTextCursor(doc)
        position = max(0, min(position, max(doc.characterCount() - 1, 0)))
        cursor.setPosition(position)
        # the whole word at the error, or one character
        block_text = cursor.block().text()
        col = cursor.positionInBlock()
        m = re.match(r"[A-Za-z_0-9.]+", block_text[col:])
        length = max(1, len(m.group(0)) if m else 1)
        cursor.setPosition(min(position + length, max(doc.characterCount() - 1, 0)),
                           QtGui.QTextCursor.MoveMode.KeepAnchor)
        sel = QtWidgets.QTextEdit.ExtraSelection()
        sel.cursor = cursor
        f = QtGui.QTextCharFormat()
        f.setUnderlineStyle(QtGui.QTextCharFormat.UnderlineStyle.WaveUnderline)
        f.setUnderlineColor(QtGui.QColor("#ff4d4d"))
        f.setBackground(QtGui.QColor(255, 77, 77, 50))
        sel.format = f
        self.editor.setExtraSelections([sel])

    def copy_torch(self) -> None:
        if not self.check():
            return
        from landscape_gui.core.optimizers.custom_codegen import torch_source

        QtGui.QGuiApplication.clipboard().setText(torch_source(self.checked))
        self.message.setText(self.message.text() + " — PyTorch source copied to the clipboard")

    def accept(self) -> None:
        if not self.check():
            return
        if self.library_check.isChecked():
            save_to_library(self.name, self.text)
        super().accept()


def _free_name() -> str:
    taken = set(optimizers.names()) | set(library())
    k = 1
    while f"MyRule{k}" in taken:
        k += 1
    return f"MyRule{k}"


def copy_torch_source(name: str) -> str:
    """Put ``name``'s generated torch.optim source on the clipboard; return it."""
    source = optimizers.to_torch_source(name)
    QtGui.QGuiApplication.clipboard().setText(source)
    return source
