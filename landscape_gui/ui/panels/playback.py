"""The playback bar: play / pause, the step slider and its read-out."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from landscape_gui.ui.state.signals import signals_blocked


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

