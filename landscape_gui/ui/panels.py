"""Function editor, optimizer panel, loss plot and playback bar: widgets only, no numerics."""

from __future__ import annotations


import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ..core import functions, optimizers
from ..core.formula import ExpressionError, compile_expression
from ..core.formula.budget import SYMBOLIC_SECONDS, budget, start_deep_thread
from ..core.formula.expression import ALIASES, CONSTANTS, FUNCTIONS
from .signals import signals_blocked

COLORMAPS = ["viridis", "plasma", "inferno", "magma", "cividis", "turbo"]
RESOLUTIONS = [64, 128, 200, 256, 384, 512]
THROTTLE_S = 0.25  # the loss plot redraws at most this often while things move


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
        self.editor.textChanged.connect(self._debounce.start)
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
        for n in RESOLUTIONS:
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
        self.highlighter.error_position = position if message else -1
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
        self.resolution.setCurrentIndex(max(self.resolution.findData(s.resolution), 0))
        self.zscale.setCurrentText(s.zscale)
        self.colormap.setCurrentText(s.colormap)

    def sync_from_session(self, set_text: bool = False) -> None:
        s = self.controller.session
        if set_text and self.editor.toPlainText() != s.function_text:
            with signals_blocked(self.editor):
                self.editor.setPlainText(s.function_text)
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


class OptimizerCard(QtWidgets.QFrame):
    """One optimizer instance: enable, colour, name, every hyperparameter by torch's name."""

    def __init__(self, controller, index: int, parent=None):
        super().__init__(parent)
        self.controller, self.index = controller, index
        o = controller.session.optimizers[index]
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        head = QtWidgets.QHBoxLayout()
        self.enabled = QtWidgets.QCheckBox()
        self.enabled.setChecked(o.enabled)
        self.enabled.setToolTip("Show this optimizer")
        self.enabled.toggled.connect(lambda v: controller.update_optimizer(index, enabled=v))
        self.color = QtWidgets.QPushButton()
        self.color.setFixedSize(22, 22)
        self.color.setStyleSheet(f"background: {o.color}; border: 1px solid #888;")
        self.color.clicked.connect(self._pick_color)
        self.name = QtWidgets.QComboBox()
        self.name.addItems(list(optimizers.BUILT_IN) + sorted(controller.session.rules))
        self.name.setCurrentText(o.name)
        self.name.setToolTip(optimizers.SUMMARIES[o.name])
        self.name.activated.connect(lambda _: controller.update_optimizer(index, name=self.name.currentText()))
        dup = QtWidgets.QToolButton(text="Copy")
        dup.setToolTip("Duplicate")
        dup.clicked.connect(lambda: controller.duplicate_optimizer(index))
        rm = QtWidgets.QToolButton(text="✕")
        rm.setToolTip("Remove")
        rm.clicked.connect(lambda: controller.remove_optimizer(index))
        for w in (self.enabled, self.color, self.name):
            head.addWidget(w)
        head.addStretch(1)
        head.addWidget(dup)
        head.addWidget(rm)
        lay.addLayout(head)
        if optimizers.is_custom(o.name):   # a typed rule: what it does, edit it, take it to PyTorch
            summary = QtWidgets.QLabel(objectName="ruleSummary")
            summary.setStyleSheet("color: #9aa0a6; font-family: monospace;")
            summary.setToolTip(optimizers.rule_text(o.name))
            summary.setWordWrap(True)   # the update lines, wrapped: never wider than the card
            summary.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
            summary.setText(optimizers.SUMMARIES[o.name].removeprefix("your rule: "))
            summary.setContentsMargins(24, 0, 0, 0)
            lay.addWidget(summary)
            rule_row = QtWidgets.QHBoxLayout()
            rule_row.setContentsMargins(24, 0, 0, 0)
            edit = QtWidgets.QToolButton(text="Edit rule…", objectName="editRule")
            edit.clicked.connect(lambda: self._panel().open_rule_editor(o.name, index))
            torch_button = QtWidgets.QToolButton(text="PyTorch", objectName="copyTorch")
            torch_button.setToolTip("Copy a torch.optim.Optimizer subclass implementing this rule")
            torch_button.clicked.connect(self._copy_torch)
            rule_row.addWidget(edit)
            rule_row.addWidget(torch_button)
            rule_row.addStretch(1)
            lay.addLayout(rule_row)
        form = QtWidgets.QFormLayout()
        form.setContentsMargins(24, 0, 0, 0)
        self.fields = {}
        for key, value in o.hyperparameters.items():
            if isinstance(value, bool):
                w = QtWidgets.QCheckBox()
                w.setChecked(value)
                w.toggled.connect(lambda v, k=key: self._set(k, v))
            elif isinstance(value, tuple):   # betas, etas, step_sizes, Adafactor's eps (None allowed)
                w = QtWidgets.QLineEdit(", ".join("None" if v is None else f"{v:g}" for v in value))
                parts = optimizers.pair_parts(o.name, key)
                if parts:
                    w.setToolTip(f"{key} = ({parts[0]}, {parts[1]})")
                w.editingFinished.connect(lambda k=key, e=w: self._set_text(k, e))
            elif key == "line_search_fn":   # LBFGS: None or torch's one line search
                w = QtWidgets.QComboBox()
                w.addItems(["None", "strong_wolfe"])
                w.setCurrentText(str(value))
                w.activated.connect(lambda _, k=key, e=w: self._set(k, None if e.currentText() == "None"
                                                                     else e.currentText()))
            elif value is None:   # LBFGS's max_eval: None means max_iter * 5 // 4
                w = QtWidgets.QLineEdit("None")
                w.setToolTip("None: max_iter × 5 // 4, as torch. It also bounds the strong-Wolfe line "
                             "search: with max_iter = 1 that leaves none, and LBFGS stays put")
                w.editingFinished.connect(lambda k=key, e=w: self._set_text(k, e))
            else:
                w = QtWidgets.QLineEdit(f"{value:g}")
                if key != "max_eval":
                    w.setValidator(QtGui.QDoubleValidator())
                w.editingFinished.connect(lambda k=key, e=w: self._set_text(k, e))
            w.setObjectName(f"hyper_{key}")
            if isinstance(w, QtWidgets.QLineEdit):
                w.setMinimumWidth(64)
            form.addRow(key, w)
            self.fields[key] = w
        lay.addLayout(form)

    def _panel(self):
        w = self.parent()
        while w is not None and not isinstance(w, OptimizerPanel):
            w = w.parent()
        return w

    def _copy_torch(self) -> None:
        from .rule_editor import copy_torch_source

        name = self.controller.session.optimizers[self.index].name
        source = copy_torch_source(name)
        self.controller.status.emit(f"PyTorch source of {name} copied ({len(source.splitlines())} lines): "
                                    f"from it import {name}; {name}(model.parameters(), lr=…)")

    def _set(self, key, value):
        try:
            self.controller.update_optimizer(self.index, hyperparameters={key: value})
        except ValueError as err:
            self.controller.status.emit(str(err))

    def _set_text(self, key, edit):
        text = edit.text().strip()
        pair = isinstance(self.controller.session.optimizers[self.index].hyperparameters.get(key), tuple)
        try:
            if pair:
                value = tuple(None if v.strip() == "None" else float(v) for v in text.strip("()").split(","))
            elif text in ("None", "") and key == "max_eval":
                value = None
            else:
                value = float(text)
        except ValueError:
            self.controller.status.emit(f"{key}: '{text}' is not a number")
            return
        if self.controller.session.optimizers[self.index].hyperparameters.get(key) != value:
            self._set(key, value)

    def _pick_color(self):
        c = QtWidgets.QColorDialog.getColor(QtGui.QColor(self.controller.session.optimizers[self.index].color), self)
        if c.isValid():
            self.controller.update_optimizer(self.index, color=c.name())


class OptimizerPanel(QtWidgets.QWidget):
    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setObjectName("optimizerPanel")
        self.controller = controller
        lay = QtWidgets.QVBoxLayout(self)
        top = QtWidgets.QHBoxLayout()
        self.add_button = QtWidgets.QToolButton(text="Add optimizer", objectName="addOptimizer")
        self.add_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QtWidgets.QMenu(self.add_button, objectName="addOptimizerMenu")
        menu.setToolTipsVisible(True)
        menu.aboutToShow.connect(self._fill_add_menu)   # the library may have changed since
        self.add_button.setMenu(menu)
        self.rule_editor = None   # the open rule editor, if any
        self._fill_add_menu()
        top.addWidget(self.add_button)
        top.addStretch(1)
        lay.addLayout(top)
        self.scroll = QtWidgets.QScrollArea(widgetResizable=True)
        self.scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.cards_host = QtWidgets.QWidget()
        self.cards = QtWidgets.QVBoxLayout(self.cards_host)
        self.cards.addStretch(1)
        self.scroll.setWidget(self.cards_host)
        lay.addWidget(self.scroll, 1)
        run = QtWidgets.QFormLayout()
        self.steps = QtWidgets.QSpinBox(minimum=1, maximum=100000, singleStep=50, objectName="stepsBox")
        self.steps.setValue(controller.session.steps)
        self.steps.setKeyboardTracking(False)
        self.steps.valueChanged.connect(lambda v: controller.set_run_options(steps=v))
        self.noise = QtWidgets.QDoubleSpinBox(decimals=3, minimum=0, maximum=1e4, singleStep=0.05,
                                              objectName="noiseBox")
        self.noise.setValue(controller.session.noise)
        self.noise.setKeyboardTracking(False)
        self.noise.setToolTip("Std of Gaussian noise added to every gradient (a model of mini-batch noise)")
        self.noise.valueChanged.connect(lambda v: controller.set_run_options(noise=v))
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=2**31 - 1)
        self.seed.setValue(controller.session.seed)
        self.seed.valueChanged.connect(lambda v: controller.set_run_options(seed=v))
        run.addRow("steps", self.steps)
        run.addRow("gradient noise σ", self.noise)
        run.addRow("seed", self.seed)
        lay.addLayout(run)
        controller.optimizersChanged.connect(self.rebuild)
        controller.sessionReplaced.connect(self.rebuild)
        self.rebuild()

    def _fill_add_menu(self) -> None:
        from .rule_editor import library

        menu = self.add_button.menu()
        menu.clear()
        c = self.controller
        for name in optimizers.BUILT_IN:
            act = menu.addAction(name)
            act.setToolTip(optimizers.SUMMARIES[name])
            act.triggered.connect(lambda _=False, n=name: c.add_optimizer(n))
        rules = {**library(), **c.session.rules}   # this session's text wins over the library's
        if rules:
            menu.addSection("Your rules")
            for name, text in sorted(rules.items()):
                act = menu.addAction(name)
                act.setToolTip(text)
                act.triggered.connect(lambda _=False, n=name, t=text: self._add_rule(n, t))
        menu.addSeparator()
        act = menu.addAction("Custom…")
        act.setObjectName("newRuleAction")
        act.setToolTip("Type an update rule (or start from SGD, Nesterov, Adam, SAM, …) and race it")
        act.triggered.connect(lambda: self.open_rule_editor())

    def _add_rule(self, name: str, text: str) -> None:
        try:
            self.controller.add_rule_optimizer(name, text)
        except ValueError as err:   # a library entry written by an older version, say
            self.controller.status.emit(f"{name}: {err}")

    def open_rule_editor(self, name: str | None = None, index: int | None = None):
        """The rule editor, window-modal: a new rule (added on Add) or the rule of card ``index``."""
        from .rule_editor import RuleEditor

        c = self.controller
        editing = name is not None
        text = c.session.rules.get(name) or (optimizers.rule_text(name) if editing else None)
        dialog = RuleEditor(self, name, text, editing=editing)
        self.rule_editor = dialog

        def done():
            try:
                if editing:
                    c.define_rule(dialog.name, dialog.text)
                    c.status.emit(f"rule {dialog.name} updated")
                else:
                    c.add_rule_optimizer(dialog.name, dialog.text)
                    c.status.emit(f"{dialog.name} added: its fast kernel compiles in the background")
            except ValueError as err:
                c.status.emit(str(err))

        dialog.accepted.connect(done)
        dialog.finished.connect(lambda _: setattr(self, "rule_editor", None))
        dialog.open()
        return dialog

    def _fit_width(self) -> None:
        self.cards.activate()
        widest = self.cards_host.minimumSizeHint().width()
        self.scroll.setMinimumWidth(widest + self.scroll.verticalScrollBar().sizeHint().width()
                                    + 2 * self.scroll.frameWidth() + 2)

    def _show_card(self, card) -> None:
        self.cards.activate()  # the new card's geometry, before the scroll area uses it
        self.cards_host.resize(self.scroll.viewport().width(), self.cards_host.sizeHint().height())
        bar = self.scroll.verticalScrollBar()
        bar.setMaximum(max(0, self.cards_host.height() - self.scroll.viewport().height()))
        bar.setValue(min(card.y(), bar.maximum()))  # its top at the top of the view

    def rebuild(self) -> None:
        s = self.controller.session
        for box, value in ((self.steps, s.steps), (self.noise, s.noise), (self.seed, s.seed)):
            if box.value() != value:
                with signals_blocked(box):
                    box.setValue(value)
        while self.cards.count() > 1:
            w = self.cards.takeAt(0).widget()
            w.hide()   # at once: deleteLater waits for the event loop, and until then it would paint
            w.deleteLater()
        n = len(self.controller.session.optimizers)
        for i in range(n):
            self.cards.insertWidget(i, OptimizerCard(self.controller, i))
        # the cards never get narrower than their content (no clipped close buttons); measured
        # once they are polished, which happens on the next turn of the event loop
        self._fit_width()
        QtCore.QTimer.singleShot(0, self, self._fit_width)
        if n > getattr(self, "_shown_cards", n):  # a card was added: bring it into view
            card = self.cards.itemAt(n - 1).widget()
            QtCore.QTimer.singleShot(0, lambda: self._show_card(card))
        self._shown_cards = n


class LossPlot(pg.PlotWidget):
    """Loss vs step for every trajectory, colours matching; log y optional.

    The legend sits in its own column right of the axes, so it never covers a curve,
    and has one entry per enabled optimizer drawn from the optimizer's own colour (not
    tied to a curve, whose index shifts when start points come and go). The y range
    comes from the runs that stay finite; a run that blows up is drawn until it leaves
    that range and marked there with a red cross, instead of rescaling the plot to 1e21.
    """

    def __init__(self, controller, parent=None):
        super().__init__(parent, background="#15171c")
        self.setObjectName("lossPlot")
        self.controller = controller
        self.log_y = True
        item = self.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "f")
        item.showGrid(x=True, y=True, alpha=0.2)
        for axis in ("left", "bottom"):  # axes redraw only when their range changes, not per frame
            item.getAxis(axis).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # SI prefixes on a log axis turned 1e21 into "(x1e+21)" and ticks of 1e-41
        item.getAxis("left").enableAutoSIPrefix(False)
        self.curves: list[pg.PlotDataItem] = []
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 255, 255, 120), width=1))
        self.addItem(self.cursor)
        self.left_marks = pg.ScatterPlotItem(symbol="x", size=11, pen=pg.mkPen("#ff5555", width=2),
                                             brush=None)
        self.left_marks.setZValue(10)
        self.addItem(self.left_marks)
        self._refit = QtCore.QTimer(self, singleShot=True, interval=250)
        self._refit.timeout.connect(self._fit_y)
        self.legend = pg.LegendItem(labelTextColor=(230, 230, 230), brush=pg.mkBrush(21, 23, 28, 230),
                                    verSpacing=-4)
        item.layout.addItem(self.legend, 2, 3)  # a column of its own, right of the plot
        item.layout.setColumnStretchFactor(3, 0)
        self._legend_entries: list[tuple[str, str]] | None = None
        self._proxies: list[pg.PlotDataItem] = []
        self._y_range: tuple[float, float] | None = None
        controller.trajectoriesChanged.connect(self._trajectories_changed)
        self._last_full = -1.0
        self._pending = False  # False: nothing scheduled; None: everything; a set: those starts
        self._deferred = QtCore.QTimer(self, singleShot=True)
        self._deferred.timeout.connect(self._flush)
        controller.stepChanged.connect(lambda t: self.cursor.setValue(t))
        controller.optimizersChanged.connect(self._update_legend)
        controller.sessionReplaced.connect(self._update_legend)
        self.refresh()

    def set_log(self, on: bool) -> None:
        self.log_y = on
        self.refresh(None)

    def _trajectories_changed(self, starts) -> None:
        """Redraw at most every 0.25 s: during a drag or a slider move the surface views keep up
        frame by frame, and this plot follows at 4 Hz (and exactly once the motion stops)."""
        import time

        now = time.perf_counter()
        if self._pending is not False:  # a redraw is scheduled: merge what it must cover
            self._pending = None if (starts is None or self._pending is None) else self._pending | set(starts)
            return
        if now - self._last_full < THROTTLE_S:
            self._pending = None if starts is None else set(starts)
            self._deferred.start(int((THROTTLE_S - (now - self._last_full)) * 1000) + 1)
            return
        self._last_full = now
        self.refresh(starts)

    def _flush(self) -> None:
        import time

        pending, self._pending = self._pending, False
        self._last_full = time.perf_counter()
        self.refresh(None if pending is None else sorted(pending))

    def _update_legend(self) -> None:
        entries = [(o.label, o.color) for o in self.controller.session.enabled_optimizers()]
        if entries == self._legend_entries:
            return
        self._legend_entries = entries
        self.legend.clear()
        self._proxies = []
        for label, color in entries:
            proxy = pg.PlotDataItem([], [], pen=pg.mkPen(color, width=2.5))  # never in the plot
            self._proxies.append(proxy)
            self.legend.addItem(proxy, label)

    def legend_entries(self) -> list[tuple[str, str]]:
        """(label, colour) of each legend entry as drawn."""
        return [(label.text, sample.item.opts["pen"].color().name())
                for sample, label in self.legend.items]

    def refresh(self, starts=None) -> None:
        """All curves; the y range is refitted only on full updates, not during a drag
        (refitting re-renders the axes, the most expensive part of this plot)."""
        c = self.controller
        b = c.batch
        self._update_legend()
        if b is None:
            return
        if starts is None:
            self._refit.start()  # refit once the slider or typing pauses
        enabled = c.session.enabled_optimizers()
        n_cfg, n_st = b.losses.shape[:2]
        while len(self.curves) < n_cfg * n_st:
            curve = pg.PlotDataItem(connect="finite")
            self.addItem(curve)
            self.curves.append(curve)
        while len(self.curves) > n_cfg * n_st:
            self.removeItem(self.curves.pop())
        losses = b.losses
        shift, label = 0.0, "f"
        if self.log_y:
            finite = losses[np.isfinite(losses)]
            low = float(finite.min()) if finite.size else 0.0
            if low <= 0:  # log needs positive values: plot f - min + tiny
                shift, label = -low + 1e-12 * max(1.0, abs(low)), "f − min f"
        axis_state = (self.log_y, label)
        if axis_state != getattr(self, "_axis_state", None):  # re-rendering the axes is costly
            self._axis_state = axis_state
            self.getPlotItem().setLogMode(y=self.log_y)
            self.getPlotItem().setLabel("left", label + (" (log scale)" if self.log_y else ""))
        self._shift = shift
        top = self._top(losses + shift)
        steps = np.arange(losses.shape[2])
        for ci in range(n_cfg):
            pen = pg.mkPen(enabled[ci].color, width=1)
            for k in (range(n_st) if starts is None else starts):
                y = losses[ci, k] + shift
                over = np.flatnonzero(~(y <= top))  # beyond the range, inf or NaN: it has left
                if over.size:
                    y = y[: over[0]]
                self.curves[ci * n_st + k].setData(steps[: y.size], y, pen=pen)
        self._mark_departures(losses + shift, top)
        self.cursor.setValue(c.step)

    def _top(self, values: np.ndarray) -> float:
        """Upper end of the y range: the largest value of the runs that stay finite and
        bounded, at most 1000x the largest starting value (a run on its way to 1e21 is not
        allowed to squash every other curve into the bottom pixel row)."""
        start = values[..., 0]
        ref = np.nanmax(np.abs(start[np.isfinite(start)])) if np.isfinite(start).any() else 1.0
        limit = max(ref, 1e-300) * 1e3
        finite = values[np.isfinite(values) & (values <= limit)]
        return float(finite.max()) if finite.size else limit

    def _mark_departures(self, values: np.ndarray, top: float) -> None:
        xs, ys, brushes = [], [], []
        for ci in range(values.shape[0]):
            for k in range(values.shape[1]):
                over = np.flatnonzero(~(values[ci, k] <= top))
                if over.size:
                    xs.append(max(over[0] - 1, 0))
                    ys.append(np.log10(top) if self.log_y and top > 0 else top)
        self.left_marks.setData(xs, ys)
        self._departures = len(xs)

    def _fit_y(self) -> None:
        b = self.controller.batch
        if b is None:
            return
        values = b.losses + getattr(self, "_shift", 0.0)
        top = self._top(values)
        finite = values[np.isfinite(values) & (values <= top)]
        if not finite.size:
            return
        lo, hi = float(finite.min()), top
        if self.log_y:
            lo, hi = np.log10(max(lo, 1e-300)), np.log10(max(hi, 1e-300))
        pad = 0.04 * (hi - lo) if hi > lo else 0.5
        self.getPlotItem().setYRange(lo - pad, hi + pad, padding=0)
        self._y_range = (lo - pad, hi + pad)


class PlaybackBar(QtWidgets.QWidget):
    """Step slider, play/pause, previous/next and speed (steps per second)."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setObjectName("playback")
        self.controller = controller
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        self.prev = QtWidgets.QToolButton(text="◀")
        self.play = QtWidgets.QToolButton(text="▶", objectName="playButton")
        self.next = QtWidgets.QToolButton(text="▶|")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, objectName="stepSlider")
        self.label = QtWidgets.QLabel()
        self.label.setMinimumWidth(90)
        self.speed = QtWidgets.QSpinBox(minimum=1, maximum=2000, suffix=" steps/s", value=60)
        for w in (self.prev, self.play, self.next):
            # one width for ▶ and ❚❚: the slider must not shift when playback starts
            w.setFixedWidth(max(w.sizeHint().width(), 34))
            lay.addWidget(w)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        lay.addWidget(QtWidgets.QLabel("speed"))
        lay.addWidget(self.speed)
        self.timer = QtCore.QTimer(self, interval=33)
        self.timer.timeout.connect(self._tick)
        self._acc = 0.0
        self.prev.clicked.connect(lambda: controller.set_step(controller.step - 1))
        self.next.clicked.connect(lambda: controller.set_step(controller.step + 1))
        self.play.clicked.connect(self.toggle)
        self.slider.valueChanged.connect(controller.set_step)
        controller.stepChanged.connect(self._sync)
        controller.trajectoriesChanged.connect(lambda _: self._sync(controller.step))
        self._sync(controller.step)

    def toggle(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.play.setText("▶")
        else:
            if self.controller.step >= self.controller.session.steps:
                self.controller.set_step(0)
            self._acc = 0.0
            self.timer.start()
            self.play.setText("❚❚")

    def _tick(self) -> None:
        self._acc += self.speed.value() * self.timer.interval() / 1000.0
        n = int(self._acc)
        if n:
            self._acc -= n
            self.controller.set_step(self.controller.step + n)
        if self.controller.step >= self.controller.session.steps:
            self.toggle()

    def _sync(self, step: int) -> None:
        with signals_blocked(self.slider):
            self.slider.setRange(0, self.controller.session.steps)
            self.slider.setValue(step)
        self.label.setText(f"step {step} / {self.controller.session.steps}")
