"""A seeded monkey: the real window driven through random actions a person could take, failing on
anything a person would see go wrong.

Actions: add, drag and delete start points in both views (real mouse events, right-click and
the Delete key); type formulas, valid and broken; presets and formula examples; add, edit and
remove optimizers and typed rules; play, scrub, undo, redo; switch modes; export images.

After every action: no uncaught exception (``sys.excepthook`` and Qt's own warnings are
collected), every drawn point of every trajectory, head, arrow and exit mark inside the domain
(2-D data and the 3-D box), and the window answering within ``MAX_UNRESPONSIVE_S``.

``landscape-gui monkey --seconds 1800 --seed 7`` runs it long; the test suite runs a short one.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

MAX_UNRESPONSIVE_S = 2.0
MAX_STARTS = 16  # starts the monkey keeps at most (x up to 8 optimizers: 128 paths, each redrawn per drag)
Qt = QtCore.Qt

FORMULAS = ["x^2 + 10*y^2", "(1 - x)^2 + 100*(y - x^2)^2", "sin(3*x)*cos(2*y) + 0.1*(x^2 + y^2)",
            "x^2 - y^2", "log(1 + x^2 + y^2) + a*tanh(x*y)", "abs(x) + abs(y)", "exp(-(x^2 + y^2))*b",
            "relu(x) + softplus(y)", "sqrt(x^2 + y^2 + 0.01)", "max(x, y)^2 + min(x, -y)"]
BROKEN = ["sinn(x)", "x^^2", "(x + y", "x +* y", "log(", "1/0 + x", "exp(1000) + x", "y ** ", "foo(x, y, )"]
BUILTINS = ["SGD", "Adam", "RMSprop", "Adagrad", "NAdam", "Lion", "AdamW", "Rprop"]
RULE = """hyper lr = 0.01, beta = 0.9
state m = 0
m = beta*m + (1 - beta)*g
x = x - lr*m
"""


@dataclass
class MonkeyReport:
    seed: int
    actions: int = 0
    counts: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    slowest: tuple = (0.0, "")

    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items(), key=lambda kv: -kv[1]))
        head = f"monkey seed {self.seed}: {self.actions} actions ({kinds}); slowest {self.slowest[0]:.2f} s " \
               f"({self.slowest[1]})"
        return head + ("" if self.ok() else f"\nFAILED ({len(self.failures)}):\n" + "\n".join(self.failures[:20]))


def send_mouse(widget, kind, pos, button=Qt.MouseButton.LeftButton, buttons=None):
    """A real QMouseEvent ("press", "move" or "release" at ``pos``); QTest's move events carry no
    buttons in Qt 6, so drags need these (the monkey's and the tests' one way to use the mouse).
    ``buttons``: those held during the event (default: ``button`` while pressed or moving)."""
    types = {"press": QtCore.QEvent.Type.MouseButtonPress, "move": QtCore.QEvent.Type.MouseMove,
             "release": QtCore.QEvent.Type.MouseButtonRelease}
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == "release" else button
    if kind == "move":
        button = Qt.MouseButton.NoButton
    p = QtCore.QPointF(*pos)
    ev = QtGui.QMouseEvent(types[kind], p, widget.mapToGlobal(p), button, buttons, Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, ev)


class Monkey:
    def __init__(self, window, seed: int = 0):
        self.window = window
        self.rng = random.Random(seed)
        self.report = MonkeyReport(seed)
        self.folder = Path(tempfile.mkdtemp(prefix="landscape-monkey-"))
        self._errors: list[str] = []
        self.on_failure = None  # callable(text): each failure as it happens (a long run prints them)
        from landscape_gui import examples

        self.formula_examples = [e for e in examples.ids() if examples.info(e).mode != "network"]
        self.actions = [
            (6, "add start 2-D", self.add_start_2d), (5, "add start 3-D", self.add_start_3d),
            (6, "drag 2-D", self.drag_2d), (5, "drag 3-D", self.drag_3d),
            (3, "remove start", self.remove_start), (4, "type formula", self.type_formula),
            (3, "broken formula", self.broken_formula), (2, "preset", self.preset), (2, "example", self.example),
            (3, "add optimizer", self.add_optimizer), (3, "edit optimizer", self.edit_optimizer),
            (2, "remove optimizer", self.remove_optimizer), (1, "typed rule", self.typed_rule),
            (3, "play", self.play), (6, "scrub", self.scrub), (5, "undo", self.undo), (3, "redo", self.redo),
            (2, "switch mode", self.switch_mode), (1, "export", self.export), (2, "domain", self.domain),
            (2, "parameter", self.parameter),
        ]

    # -- collecting errors -------------------------------------------------------------------
    def __enter__(self):
        self._old_hook = sys.excepthook
        sys.excepthook = self._excepthook
        self._old_showwarning = warnings.showwarning
        warnings.showwarning = self._warning  # a warning printed to the terminal is a failure too
        self._old_handler = QtCore.qInstallMessageHandler(self._qt_message)
        return self

    def __exit__(self, *exc):
        sys.excepthook = self._old_hook
        warnings.showwarning = self._old_showwarning
        QtCore.qInstallMessageHandler(self._old_handler)
        return False

    def _excepthook(self, kind, value, tb):
        import traceback

        self._errors.append("uncaught " + "".join(traceback.format_exception(kind, value, tb))[-1500:])

    def _warning(self, message, category, filename, lineno, file=None, line=None):
        self._errors.append(f"printed {category.__name__}: {message} ({filename}:{lineno})")

    def _qt_message(self, mode, context, message):
        if mode in (QtCore.QtMsgType.QtWarningMsg, QtCore.QtMsgType.QtCriticalMsg, QtCore.QtMsgType.QtFatalMsg):
            if "QXcbConnection" in message or "propagateSizeHints" in message:
                return  # the X server's chatter, not the program's
            self._errors.append(f"Qt {mode.name}: {message}")

    # -- running -------------------------------------------------------------------------------
    def run(self, seconds: float | None = None, actions: int | None = None, progress=None) -> MonkeyReport:
        deadline = time.monotonic() + seconds if seconds else None
        weights = [w for w, _, _ in self.actions]
        w = self.window
        w.ask_save_changes = lambda: "discard"
        while (actions is None or self.report.actions < actions) and (deadline is None or time.monotonic() < deadline):
            _, name, act = self.rng.choices(self.actions, weights)[0]
            t0 = time.perf_counter()
            try:
                act()
            except Exception as exc:  # noqa: BLE001 - a failure of the program, reported
                import traceback

                self._errors.append(f"{name}: {type(exc).__name__}: {exc}\n{traceback.format_exc()[-1200:]}")
            self._settle()
            took = time.perf_counter() - t0
            self.report.actions += 1
            self.report.counts[name] = self.report.counts.get(name, 0) + 1
            if took > self.report.slowest[0]:
                self.report.slowest = (took, name)
            if took > MAX_UNRESPONSIVE_S and name not in ("export",):
                self._errors.append(f"{name}: the window did not answer for {took:.1f} s")
            self._check_drawn(name)
            for e in self._errors:
                self.report.failures.append(f"#{self.report.actions} {e}")
                if self.on_failure is not None:
                    self.on_failure(self.report.failures[-1])
            self._errors = []
            if progress is not None and self.report.actions % 50 == 0:
                progress(self.report)
            if len(self.report.failures) >= 20:
                break
        return self.report

    def _settle(self) -> None:
        app = QtWidgets.QApplication.instance()
        for _ in range(3):
            app.processEvents()
        QtCore.QThread.msleep(5)
        app.processEvents()

    # -- the checks ----------------------------------------------------------------------------
    def _check_drawn(self, name: str) -> None:
        w = self.window
        if w.modes.currentIndex() != 0:
            return
        s = w.controller.session
        (x0, x1), (y0, y1) = s.xrange, s.yrange
        tol = 1e-9 * max(1.0, x1 - x0, y1 - y0)

        def inside(x, y):
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            keep = np.isfinite(x) & np.isfinite(y)
            x, y = x[keep], y[keep]
            return bool(np.all((x >= x0 - tol) & (x <= x1 + tol) & (y >= y0 - tol) & (y <= y1 + tol)))

        cv = w.contour_view
        for label, item in [("head", cv.heads), ("exit", cv.exits), ("arrow", cv.arrows)] + \
                [("path", c) for c in cv.curves]:
            x, y = item.getData()
            if x is not None and len(x) and not inside(x, y):
                self._errors.append(f"after {name}: a 2-D {label} outside the domain")
        from landscape_gui.ui.views.surface_view import HALF

        sv = w.surface_view
        for label, item in [("head", sv.heads), ("exit", sv.exits), ("arrow", sv.arrows)] + \
                [("path", line) for line in sv.lines]:
            pos = item.pos
            if pos is not None and len(pos) and np.any(np.abs(np.asarray(pos)[:, :2]) > HALF + 1e-6):
                self._errors.append(f"after {name}: a 3-D {label} outside the box")

    # -- helpers -------------------------------------------------------------------------------
    def _formula_mode(self) -> None:
        if self.window.modes.currentIndex() != 0:
            self.window.modes.setCurrentIndex(0)

    def _point(self, margin: float = 0.0):
        (x0, x1), (y0, y1) = self.window.controller.session.xrange, self.window.controller.session.yrange
        u, v = self.rng.uniform(-margin, 1 + margin), self.rng.uniform(-margin, 1 + margin)
        return x0 + u * (x1 - x0), y0 + v * (y1 - y0)

    def _pixel_2d(self, x, y):
        plot = self.window.contour_view
        vb = plot.getPlotItem().getViewBox()
        p = plot.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y)))
        return p.x(), p.y()

    def _pixel_3d(self, x, y):
        from landscape_gui.core.scene.picking import project

        v = self.window.surface_view
        c = self.window.controller
        h = np.nan_to_num(c.heights(c.function.value(x, y)))
        sx, sy, sz = v.to_scene(np.array([x]), np.array([y]), np.array([h]))
        return project(np.c_[sx, sy, sz], v.mvp(), v.width(), v.height())[0]

    # -- the actions ---------------------------------------------------------------------------
    def _room_for_a_start(self) -> bool:
        """A person adds a handful of starts, not hundreds: past MAX_STARTS one is removed instead."""
        if len(self.window.controller.session.starts) < MAX_STARTS:
            return True
        self.window.remove_start_point()
        return False

    def add_start_2d(self):
        self._formula_mode()
        if not self._room_for_a_start():
            return
        vp = self.window.contour_view.viewport()
        p = self._pixel_2d(*self._point())
        send_mouse(vp, "press", p)
        send_mouse(vp, "release", p)

    def add_start_3d(self):
        self._formula_mode()
        if not self._room_for_a_start():
            return
        v = self.window.surface_view
        p = self._pixel_3d(*self._point())
        if np.isfinite(p).all():
            send_mouse(v, "press", p)
            send_mouse(v, "release", p)

    def _drag(self, widget, pixel, start):
        a = pixel(*start)
        target = self._point(margin=0.3)  # sometimes past the edge: clamped there
        b = pixel(*target)
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return
        send_mouse(widget, "press", a)
        for k in range(1, 5):
            u = k / 4
            send_mouse(widget, "move", (a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1])))
            QtWidgets.QApplication.instance().processEvents()
        send_mouse(widget, "release", b)

    def drag_2d(self):
        self._formula_mode()
        starts = self.window.controller.session.starts
        if starts:
            self._drag(self.window.contour_view.viewport(), self._pixel_2d, self.rng.choice(starts))

    def drag_3d(self):
        self._formula_mode()
        starts = self.window.controller.session.starts
        if starts:
            self._drag(self.window.surface_view, self._pixel_3d, self.rng.choice(starts))

    def remove_start(self):
        self._formula_mode()
        w = self.window
        starts = w.controller.session.starts
        if not starts:
            return
        if self.rng.random() < 0.5:
            vp = w.contour_view.viewport()
            p = self._pixel_2d(*self.rng.choice(starts))
            send_mouse(vp, "press", p, Qt.MouseButton.RightButton)
            send_mouse(vp, "release", p, Qt.MouseButton.RightButton)
        else:
            w.remove_start_point()  # what Delete does

    def type_formula(self):
        self._formula_mode()
        text = self.rng.choice(FORMULAS)
        self.window.function_editor.set_formula(text)

    def broken_formula(self):
        self._formula_mode()
        ed = self.window.function_editor
        before = self.window.controller.session.function_text
        ed.set_formula(self.rng.choice(BROKEN))
        if self.window.controller.session.function_text != before and "1/0" not in before:
            pass  # an accepted formula (1/0 + x folds to inf and is refused; others are errors)

    def preset(self):
        from landscape_gui.core import functions

        self._formula_mode()
        self.window.controller.load_preset(self.rng.choice(functions.FUNCTIONS).key)

    def example(self):
        self.window.open_example(self.rng.choice(self.formula_examples))

    def add_optimizer(self):
        c = self.window.controller
        if len(c.session.optimizers) < 8:
            c.add_optimizer(self.rng.choice(BUILTINS), {"lr": 10 ** self.rng.uniform(-4, 0)})

    def edit_optimizer(self):
        c = self.window.controller
        if not c.session.optimizers:
            return
        i = self.rng.randrange(len(c.session.optimizers))
        choice = self.rng.random()
        if choice < 0.6:
            c.update_optimizer(i, hyperparameters={"lr": 10 ** self.rng.uniform(-4, 0.5)})
        elif choice < 0.8:
            c.update_optimizer(i, enabled=not c.session.optimizers[i].enabled)
        else:
            c.update_optimizer(i, name=self.rng.choice(BUILTINS))

    def remove_optimizer(self):
        c = self.window.controller
        if len(c.session.optimizers) > 1:
            c.remove_optimizer(self.rng.randrange(len(c.session.optimizers)))

    def typed_rule(self):
        c = self.window.controller
        name = f"Monkey{self.rng.randrange(3)}"
        if len(c.session.optimizers) < 8:
            c.add_rule_optimizer(name, RULE, {"lr": 10 ** self.rng.uniform(-3, -1)})

    def play(self):
        self._formula_mode()
        pb = self.window.playback
        pb.toggle()
        end = time.perf_counter() + self.rng.uniform(0.05, 0.4)
        app = QtWidgets.QApplication.instance()
        while time.perf_counter() < end:
            app.processEvents()
            QtCore.QThread.msleep(10)
        pb.toggle()

    def scrub(self):
        c = self.window.controller
        c.set_step(self.rng.randrange(c.session.steps + 1))

    def undo(self):
        self.window.controller.undo_stack.undo()

    def redo(self):
        self.window.controller.undo_stack.redo()

    def switch_mode(self):
        # the network mode builds its panel; the file mode shows its hint; back to formulas often
        self.window.modes.setCurrentIndex(self.rng.choice([0, 0, 1, 2]))

    def export(self):
        view = self.rng.choice(["2d", "3d"])
        suffix = self.rng.choice([".png", ".png", ".svg"]) if view == "2d" else ".png"
        w = self.window
        QtWidgets.QMessageBox.warning = lambda *a, **k: self._errors.append(f"export dialog: {a[2]}")
        if not w.export_to(self.folder / f"monkey{suffix}", view=view, size=(320, 240)):
            self._errors.append(f"export {view} {suffix} failed: {w.status_label.text()}")

    def domain(self):
        c = self.window.controller
        lo = self.rng.uniform(-5, 0)
        c.set_domain((lo, lo + self.rng.uniform(0.5, 8)), (lo, lo + self.rng.uniform(0.5, 8)))

    def parameter(self):
        c = self.window.controller
        if c.session.params:
            c.set_param(self.rng.choice(list(c.session.params)), self.rng.uniform(-2, 2))


def run_monkey(seconds: float | None = None, actions: int | None = None, seed: int = 0) -> int:
    """``landscape-gui monkey``: a window of its own (no autosave), the report on stdout."""
    from landscape_gui.ui.window.app import configure_qt

    configure_qt()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from landscape_gui.core import optimizers
    from landscape_gui.ui import MainWindow

    window = MainWindow(autosave=False)
    window.show()
    optimizers.prepare(optimizers.names(), background=False)
    app.processEvents()
    with Monkey(window, seed) as monkey:
        monkey.on_failure = lambda text: print("FAILURE", text, flush=True)
        report = monkey.run(seconds=seconds, actions=actions,
                            progress=lambda r: print(f"  {r.actions} actions, {len(r.failures)} failures", flush=True))
    print(report.summary(), flush=True)
    window.ask_save_changes = lambda: "discard"
    window.close()
    return 0 if report.ok() else 1
