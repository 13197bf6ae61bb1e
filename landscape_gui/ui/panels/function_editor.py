"""The Function dock: formula (highlighted, errors underlined), presets, domain, grid, z scale,
colours and one slider per parameter."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core import functions
from landscape_gui.core.formula import ExpressionError, compile_expression
from landscape_gui.core.formula.budget import (
    SYMBOLIC_SECONDS,
    budget,
    start_deep_thread,
)
from landscape_gui.core.formula.expression import ALIASES, CONSTANTS, FUNCTIONS
from landscape_gui.core.session import COLORMAPS, presets
from landscape_gui.ui.state.signals import signals_blocked


class FormulaHighlighter(QtGui.QSyntaxHighlighter):
    """Functions, numbers, x/y and parameters in different colours; the error position underlined."""

    def __init__(self, document):
        super().__init__(document)
        self.error_position = -1

        def fmt(color, bold=False):
            f = QtGui.QTextCharFormat()
            f.setForeground(QtGui.QColor(color))
            if bold:
                f.setFontWeight(QtGui.QFont.Weight.Bold)
            return f

        self.formats = {"function": fmt("#c678dd", True), "number": fmt("#d19a66"),
                        "variable": fmt("#61afef", True), "parameter": fmt("#98c379"), "constant": fmt("#e5c07b")}
        self.error_format = QtGui.QTextCharFormat()
        self.error_format.setUnderlineStyle(QtGui.QTextCharFormat.UnderlineStyle.WaveUnderline)
        self.error_format.setUnderlineColor(QtGui.QColor("#ff4d4d"))
        self.error_format.setBackground(QtGui.QColor(255, 77, 77, 60))
        self._token = QtCore.QRegularExpression(r"[A-Za-z_][A-Za-z0-9_]*|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+")

    def highlightBlock(self, text):
        it = self._token.globalMatch(text)
        names = set(FUNCTIONS) | set(ALIASES)
        while it.hasNext():
            m = it.next()
            word, start, length = m.captured(0), m.capturedStart(0), m.capturedLength(0)
            if word[0].isdigit() or word[0] == ".":
                kind = "number"
            elif word in names:
                kind = "function"
            elif word in ("x", "y"):
                kind = "variable"
            elif word in CONSTANTS:
                kind = "constant"
            else:
                kind = "parameter"
            self.setFormat(start, length, self.formats[kind])
        if 0 <= self.error_position <= len(text):
            pos = min(self.error_position, max(len(text) - 1, 0))
            end = pos + 1
            while end < len(text) and (text[end].isalnum() or text[end] in "_."):
                end += 1  # the whole bad token: "sinn", not its first letter
            self.setFormat(pos, end - pos, self.error_format)


class FunctionEditor(QtWidgets.QWidget):
    """Formula, presets, domain, resolution, z scale, colour map and one slider per parameter."""

    _typedCompiled = QtCore.Signal(int, str, object)  # generation, text, ExpressionError or None

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setObjectName("functionEditor")
        self.controller = controller
        lay = QtWidgets.QVBoxLayout(self)
        self.preset = QtWidgets.QComboBox(objectName="presetBox")
        self.preset.addItem("Presets…", None)
        for lf in functions.FUNCTIONS:
            self.preset.addItem(lf.title, lf.key)
            self.preset.setItemData(self.preset.count() - 1, lf.lesson, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.preset.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(10)
        self.preset.activated.connect(self._preset_chosen)
        lay.addWidget(self.preset)
        lay.addWidget(QtWidgets.QLabel("f(x, y) ="))
        self.editor = QtWidgets.QPlainTextEdit(objectName="formulaEdit")
        self.editor.setFont(QtGui.QFont("DejaVu Sans Mono", 11))
        self.editor.setFixedHeight(64)
        self.editor.setTabChangesFocus(True)
        self.highlighter = FormulaHighlighter(self.editor.document())
        lay.addWidget(self.editor)
        self.error = QtWidgets.QLabel(objectName="formulaError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.hide()
        lay.addWidget(self.error)
        self._debounce = QtCore.QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self._compile_typed_text)
        # textChanged also fires when the highlighter re-formats the text (rehighlight): only a
        # real edit restarts the debounce, or an idle window re-compiled every 150 ms forever
        self._last_text = ""
        self.editor.textChanged.connect(self._text_changed)
        # typing: the symbolic work runs on a worker thread under its time budget, and the
        # next keystroke cancels it; the GUI thread only ever takes the finished result
        self._typed_generation = 0
        self._typed_guard = None
        self._typedCompiled.connect(self._typed_text_compiled)

        form = QtWidgets.QFormLayout()
        self.ranges = []
        for label in ("x", "y"):
            row = QtWidgets.QHBoxLayout()
            pair = []
            for _ in range(2):
                sb = QtWidgets.QDoubleSpinBox(decimals=3, minimum=-1e6, maximum=1e6, singleStep=0.5)
                sb.setMinimumWidth(72)  # the hint fits "-1000000.000": too wide for a narrow dock
                sb.setKeyboardTracking(False)
                sb.valueChanged.connect(self._domain_edited)
                row.addWidget(sb)
                pair.append(sb)
            self.ranges.append(pair)
            form.addRow(f"{label} range", row)
        self.resolution = QtWidgets.QComboBox()
        for n in presets.RESOLUTIONS:
            self.resolution.addItem(f"{n} × {n}", n)
        self.resolution.activated.connect(lambda _: controller.set_resolution(self.resolution.currentData()))
        form.addRow("grid", self.resolution)
        self.zscale = QtWidgets.QComboBox(objectName="zscaleBox")
        self.zscale.addItems(["linear", "log", "clip"])
        self.zscale.activated.connect(lambda _: controller.set_zscale(self.zscale.currentText()))
        form.addRow("z scale", self.zscale)
        self.colormap = QtWidgets.QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.activated.connect(lambda _: controller.set_colormap(self.colormap.currentText()))
        form.addRow("colours", self.colormap)
        lay.addLayout(form)
        self.params_box = QtWidgets.QGroupBox("Parameters")
        self.params_layout = QtWidgets.QFormLayout(self.params_box)
        lay.addWidget(self.params_box)
        lay.addStretch(1)
        self.param_widgets: dict[str, tuple] = {}
        controller.functionError.connect(self.show_error)
        # the editor follows the session (presets, undo); while typing the two are already equal
        controller.functionChanged.connect(lambda: self.sync_from_session(set_text=True))
        controller.sessionReplaced.connect(lambda: self.sync_from_session(set_text=True))
        controller.surfaceChanged.connect(self._sync_controls)
        self.sync_from_session(set_text=True)

    def set_formula(self, text: str) -> None:
        """Type-equivalent: replace the text and apply it now (tests, presets)."""
        self.editor.setPlainText(text)
        self._debounce.stop()
        self.apply_formula()

    def _text_changed(self) -> None:
        text = self.editor.toPlainText()
        if text != self._last_text:
            self._last_text = text
            self._debounce.start()

    def _compile_typed_text(self) -> None:
        text = self.editor.toPlainText()
        self._typed_generation += 1
        if self._typed_guard is not None:
            self._typed_guard.cancel()  # superseded: stop the previous text's work now
            self._typed_guard = None
        if text == self.controller.session.function_text:
            self.show_error("", -1)
            return
        generation = self._typed_generation
        start_deep_thread(self._compile_in_worker, (generation, text), "formula-symbolic")

    def _compile_in_worker(self, generation: int, text: str) -> None:
        error = None
        try:
            with budget(SYMBOLIC_SECONDS, "parsing and folding constants") as guard:
                if generation == self._typed_generation:
                    self._typed_guard = guard
                compile_expression(text)  # cached: the GUI thread's compile is then instant
        except ExpressionError as err:
            error = err
        except Exception as exc:  # noqa: BLE001 - reported in the editor, never a crash
            error = ExpressionError(f"{type(exc).__name__}: {exc}", None)
        self._typedCompiled.emit(generation, text, error)

    def _typed_text_compiled(self, generation: int, text: str, error) -> None:
        if generation != self._typed_generation or text != self.editor.toPlainText():
            return  # a newer keystroke owns the editor now
        self._typed_guard = None
        if error is not None:
            self.show_error(error.message, -1 if error.position is None else error.position)
            return
        self.apply_formula()

    def apply_formula(self) -> None:
        text = self.editor.toPlainText()
        if text != self.controller.session.function_text:
            self.controller.set_function_text(text)

    def show_error(self, message: str, position: int) -> None:
        position = position if message else -1
        if position != self.highlighter.error_position:
            self.highlighter.error_position = position
            self.highlighter.rehighlight()
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _preset_chosen(self, index: int) -> None:
        key = self.preset.itemData(index)
        if key:
            self.controller.load_preset(key)
            self.sync_from_session(set_text=True)
        self.preset.setCurrentIndex(0)

    def _domain_edited(self) -> None:
        (a, b), (c, d) = [(p[0].value(), p[1].value()) for p in self.ranges]
        s = self.controller.session
        if (a, b) != tuple(s.xrange) or (c, d) != tuple(s.yrange):
            self.controller.set_domain((a, b), (c, d))

    def _sync_controls(self) -> None:
        s = self.controller.session
        for pair, rng in zip(self.ranges, (s.xrange, s.yrange)):
            for sb, v in zip(pair, rng):
                with signals_blocked(sb):
                    sb.setValue(v)
        self._show_resolution(int(s.resolution))
        self.zscale.setCurrentText(s.zscale)
        self.colormap.setCurrentText(s.colormap)

    def _show_resolution(self, n: int) -> None:
        """The box shows the grid the surface uses: a size that is not among the choices (a
        session or an example may use any) is added where it sorts."""
        i = self.resolution.findData(n)
        if i < 0:
            i = sum(1 for k in range(self.resolution.count()) if self.resolution.itemData(k) < n)
            self.resolution.insertItem(i, f"{n} × {n}", n)
        with signals_blocked(self.resolution):
            self.resolution.setCurrentIndex(i)

    def sync_from_session(self, set_text: bool = False) -> None:
        s = self.controller.session
        if set_text and self.editor.toPlainText() != s.function_text:
            with signals_blocked(self.editor):
                self.editor.setPlainText(s.function_text)
            self._last_text = s.function_text
        self._sync_controls()
        # one slider + spin box per parameter; created and removed as the formula changes
        for name in list(self.param_widgets):
            if name not in s.params:
                label, row = self.param_widgets.pop(name)
                self.params_layout.removeRow(row)
        for name, value in s.params.items():
            if name in self.param_widgets:
                spin = self.findChild(QtWidgets.QDoubleSpinBox, f"param_{name}_spin")
                if spin is not None and spin.value() != value:
                    with signals_blocked(spin):
                        spin.setValue(value)
                continue
            row = QtWidgets.QWidget()
            h = QtWidgets.QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, objectName=f"param_{name}_slider")
            slider.setRange(0, 1000)
            spin = QtWidgets.QDoubleSpinBox(decimals=4, minimum=-1e6, maximum=1e6,
                                            objectName=f"param_{name}_spin")
            span = max(1.0, abs(value)) * 2
            lo, hi = value - span, value + span
            spin.setValue(value)
            spin.setSingleStep(span / 100)
            slider.setValue(int(round((value - lo) / (hi - lo) * 1000)))
            slider.valueChanged.connect(lambda v, sp=spin, lo=lo, hi=hi: sp.setValue(lo + v / 1000 * (hi - lo)))
            spin.valueChanged.connect(lambda v, n=name: self.controller.set_param(n, v))
            h.addWidget(slider, 3)
            h.addWidget(spin, 2)
            self.params_layout.addRow(name, row)
            self.param_widgets[name] = (name, row)
        self.params_box.setVisible(bool(s.params))

