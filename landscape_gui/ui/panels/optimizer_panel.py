"""The Optimizers dock: one card per optimizer instance (torch's hyperparameter names), the
run options (steps, noise, seed) and Add optimizer (built-ins, typed rules)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from landscape_gui.core import optimizers
from landscape_gui.ui.state.signals import signals_blocked


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
            if key == "schedule":
                continue   # its own row below, with inline errors
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
        self._add_schedule_row(form, o)
        lay.addLayout(form)

    def _add_schedule_row(self, form, o) -> None:
        """The Schedule field: torch.optim.lr_scheduler's text, checked as it is typed (the error
        under it, the position at fault selected), applied when editing finishes."""
        from landscape_gui.core.optimizers.schedules import SCHEDULERS, SUMMARIES

        self.schedule = QtWidgets.QLineEdit(o.hyperparameters.get("schedule", ""), objectName="schedule")
        self.schedule.setPlaceholderText("constant — e.g. CosineAnnealingLR(T_max=300)")
        self.schedule.setToolTip("A learning-rate schedule of torch.optim.lr_scheduler, stepped once per step:\n"
                                 + "\n".join(f"{n}: {SUMMARIES.get(n, '')}" for n in SCHEDULERS))
        completer = QtWidgets.QCompleter([f"{n}(" for n in SCHEDULERS], self.schedule)
        completer.setCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        self.schedule.setCompleter(completer)
        self.schedule.setMinimumWidth(64)
        self.schedule.textEdited.connect(self._check_schedule)
        self.schedule.editingFinished.connect(self._apply_schedule)
        self.schedule_error = QtWidgets.QLabel(objectName="scheduleError")
        self.schedule_error.setWordWrap(True)
        self.schedule_error.setStyleSheet("color: #ff6b6b;")
        self.schedule_error.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                          QtWidgets.QSizePolicy.Policy.Preferred)
        self.schedule_error.hide()
        form.addRow("schedule", self.schedule)
        form.addRow(self.schedule_error)
        self.fields["schedule"] = self.schedule

    def _schedule_problem(self, text: str):
        """The ScheduleError of ``text`` for this optimizer at the session's steps, or None."""
        from landscape_gui.core.optimizers.schedules import ScheduleError

        o = self.controller.session.optimizers[self.index]
        if not text.strip():
            return None
        try:
            cname, full = optimizers.validate(o.name, {**o.hyperparameters, "schedule": text})
            optimizers.schedule_arrays([(cname, full)], self.controller.session.steps)
        except ScheduleError as err:
            return err
        except ValueError as err:
            return ScheduleError(str(err), None)
        return None

    def show_schedule_error(self, err) -> None:
        if err is None:
            self.schedule_error.hide()
            self.schedule_error.setText("")
            self.schedule.setStyleSheet("")
            return
        self.schedule_error.setText(err.message)
        self.schedule_error.show()
        self.schedule.setStyleSheet("border: 1px solid #ff4d4d;")
        if err.position is not None:
            text = self.schedule.text()
            pos = max(0, min(err.position, len(text)))
            end = pos + 1
            while end < len(text) and (text[end].isalnum() or text[end] in "._-"):
                end += 1
            self.schedule.setSelection(pos, max(end - pos, 1))

    def _check_schedule(self, text: str) -> None:
        err = self._schedule_problem(text)
        if err is None:
            self.show_schedule_error(None)
        else:   # while typing: the message only (selecting would eat the next keystroke)
            self.schedule_error.setText(err.message)
            self.schedule_error.show()
            self.schedule.setStyleSheet("border: 1px solid #ff4d4d;")

    def _apply_schedule(self) -> None:
        text = self.schedule.text().strip()
        current = self.controller.session.optimizers[self.index].hyperparameters.get("schedule", "")
        err = self._schedule_problem(text)
        self.show_schedule_error(err)
        if err is not None or text == current:
            return
        try:
            self.controller.update_optimizer(self.index, hyperparameters={"schedule": text})
        except ValueError as exc:
            self.show_schedule_error(exc if hasattr(exc, "message") else None)
            self.controller.status.emit(str(exc))

    def _panel(self):
        w = self.parent()
        while w is not None and not isinstance(w, OptimizerPanel):
            w = w.parent()
        return w

    def _copy_torch(self) -> None:
        from landscape_gui.ui.panels.rule_editor import copy_torch_source

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
        self._shown_cards = len(controller.session.optimizers)
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
        self.steps.valueChanged.connect(self._set_steps)
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

    def _set_steps(self, v: int) -> None:
        """More steps than a schedule allows (OneCycleLR's total_steps) is refused, not run past it."""
        try:
            self.controller.set_run_options(steps=v)
        except ValueError as err:
            self.controller.status.emit(str(err))
            with signals_blocked(self.steps):
                self.steps.setValue(self.controller.session.steps)

    def _fill_add_menu(self) -> None:
        from landscape_gui.ui.panels.rule_editor import library

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
        from landscape_gui.ui.panels.rule_editor import RuleEditor

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
        focus = self._focused_field()
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
        if n > self._shown_cards:  # a card was added: bring it into view
            card = self.cards.itemAt(n - 1).widget()
            QtCore.QTimer.singleShot(0, lambda: self._show_card(card))
        self._shown_cards = n
        if focus is not None and focus[0] < n:  # Enter rebuilt the cards: the field keeps the focus
            field = self.cards.itemAt(focus[0]).widget().fields.get(focus[1])
            if field is not None:
                field.setFocus()

    def _focused_field(self) -> tuple[int, str] | None:
        """(card index, hyperparameter) of the field with the keyboard focus, if any."""
        w = QtWidgets.QApplication.focusWidget()
        for i in range(self.cards.count() - 1):
            card = self.cards.itemAt(i).widget()
            for key, field in card.fields.items():
                if field is w or (w is not None and field.isAncestorOf(w)):
                    return i, key
        return None

