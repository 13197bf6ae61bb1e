"""SessionController: the one place where the window changes the Session.

Widgets call its methods; it calls core (compile, grid, run_many) and emits a
signal for what changed. Views are functions of the session plus the computed
``grid``/``heights``/``batch``. A drag touches only one start: one
``run_many`` call for that start, one ``trajectoriesChanged([i])`` signal.
"""

from __future__ import annotations

import functools
import time

import numpy as np
from PySide6 import QtCore, QtGui

from landscape_gui.core import ExpressionError, compile_function, grid_axes, optimizers
from landscape_gui.core.formula import LossFunction, compile_expression
from landscape_gui.core.functions import get as get_function
from landscape_gui.core.scene.surface import height_map
from landscape_gui.core.session import (
    OptimizerInstance,
    Session,
    next_color,
)

#: optimizer steps the numpy twin may take on the GUI thread while kernels compile (~0.5 s): 8
#: optimizers x 30 starts x 500 steps took 23 s there, a frozen window
NUMPY_STEP_BUDGET = 6000


class SnapshotCommand(QtGui.QUndoCommand):
    """An undo step: the session as JSON-able data before and after one user action.

    Sessions are small, so whole snapshots are simpler and safer than inverse
    operations; consecutive steps with the same ``merge_key`` (one slider drag,
    one parameter) merge into one."""

    def __init__(self, controller, text, before, after, merge_key=None):
        super().__init__(text)
        self.controller, self.before, self.after, self.merge_key = controller, before, after, merge_key
        self._first = True

    def id(self):
        return -1 if self.merge_key is None else hash(self.merge_key) & 0x7FFFFFFF

    def mergeWith(self, other):
        if other.merge_key != self.merge_key or self.merge_key is None:
            return False
        self.after = other.after
        return True

    def redo(self):
        if self._first:  # the action itself already changed the session
            self._first = False
            return
        self.controller.apply_snapshot(self.after)

    def undo(self):
        self.controller.apply_snapshot(self.before)


def undoable(text, merge=None):
    """Record the decorated controller method as one undo step (unless it changed nothing)."""

    def wrap(method):
        @functools.wraps(method)
        def inner(self, *args, **kwargs):
            if self._recording is not None:  # inside another recorded action or a drag
                return method(self, *args, **kwargs)
            before = self.session.to_dict()
            self._recording = text
            try:
                result = method(self, *args, **kwargs)
            finally:
                self._recording = None
            after = self.session.to_dict()
            if after != before:
                key = merge(self, *args, **kwargs) if merge else None
                self.undo_stack.push(SnapshotCommand(self, text, before, after, key))
            return result

        return inner

    return wrap


class SessionController(QtCore.QObject):
    editable = True   # a plane_source.ViewSource whose start points the views' gestures edit
    holes = False     # where f is undefined the surface is a grey floor
    axis_names = ("x", "y", "f")
    surfaceChanged = QtCore.Signal()            # grid, heights, axes (formula, params, domain, z scale)
    functionChanged = QtCore.Signal()           # formula accepted (parameters may have changed)
    functionError = QtCore.Signal(str, int)     # message, position (-1: none); empty message clears
    startsChanged = QtCore.Signal()
    optimizersChanged = QtCore.Signal()
    trajectoriesChanged = QtCore.Signal(object)  # list of start indices, or None for all
    stepChanged = QtCore.Signal(int)            # playback step
    sessionReplaced = QtCore.Signal()           # undo/redo/open: every view re-reads the session
    sessionStarted = QtCore.Signal(str)         # a new piece of work: "new", "open", "preset", "example"
    status = QtCore.Signal(str)
    kernelStatus = QtCore.Signal(str)           # compile progress: its own place, never over a message

    @property
    def figure_title(self) -> str:
        s = self.session
        params = ", ".join(f"{k}={v:g}" for k, v in s.params.items())
        return f"f(x, y) = {s.function_text}" + (f"   ({params})" if params else "")

    def __init__(self, session: Session | None = None, parent=None):
        super().__init__(parent)
        self.session = session or Session.default()
        self.undo_stack = QtGui.QUndoStack(self)
        self._recording: str | None = None
        self._drag_before: dict | None = None
        self.hovered_start: int | None = None  # the start marker under the mouse, if any
        self.function = compile_function(self.session.function_text, self.session.params)
        self.grid = np.zeros((2, 2))
        self.xs = self.ys = np.zeros(2)
        self.heights = height_map(self.grid)
        self.height_grid = self.heights(self.grid)  # the grid as drawn: heights in [0, 1], NaN holes
        self.batch: optimizers.Batch | None = None
        self.partial = False  # the paths are shown for fewer steps than asked (kernels compiling)
        self._last_grid_status = 0.0
        self._last_kernel_status: str | None = None
        self.step = self.session.steps
        self.timings: dict[str, float] = {}
        self._compile_later = QtCore.QTimer(self, singleShot=True, interval=400)
        self._compile_later.timeout.connect(lambda: self.function.compiled.start_numba(background=True))
        self._kernel_poll = QtCore.QTimer(self, interval=100)
        self._kernel_poll.timeout.connect(self._check_kernels)
        self._kernels_were_pending = False
        self._kernel_poll.start()
        self._recompute_surface()
        self._recompute_trajectories()

    # -- function ------------------------------------------------------------------
    @undoable("Edit Formula")
    def set_function_text(self, text: str) -> bool:
        """Compile ``text``; on error keep the last good surface and report the position."""
        t0 = time.perf_counter()
        old = self.session.params
        try:
            # tier 1 only: the Numba compile starts once typing pauses (_start_kernels), so a
            # burst of half-typed formulas does not queue a compile for each of them
            compiled = compile_expression(text)
            params = {n: old.get(n, 1.0) for n in compiled.parsed.parameters}
            f = LossFunction(compiled, params)
        except ExpressionError as err:
            self.functionError.emit(err.message, -1 if err.position is None else err.position)
            return False
        self.timings["compile_ms"] = (time.perf_counter() - t0) * 1e3
        self.session.function_text = text
        self.session.params = params
        self.session.preset = None
        self.function = f
        self.functionError.emit("", -1)
        self.functionChanged.emit()
        self._recompute_surface()
        self._recompute_trajectories()
        self._compile_later.start()
        self._kernel_poll.start()
        return True

    @undoable("Change Parameter", merge=lambda self, name, value: ("param", name))
    def set_param(self, name: str, value: float) -> None:
        if name not in self.session.params or self.session.params[name] == value:
            return
        self.session.params[name] = float(value)
        self.function = self.function.with_params(**{name: float(value)})  # no recompilation
        self._recompute_surface()
        self._recompute_trajectories()

    @undoable("Load Preset")
    def load_preset(self, key: str) -> None:
        """A library function as it opens (domain, starts, grid, z scale), run by *your* optimizers:
        each keeps its settings, with its learning rate set to the preset's safe rate for it
        (torch's default, lowered by 10x until no run from the preset's starts leaves the box).
        The status bar says what changed; Ctrl+Z restores the previous function and rates."""
        from landscape_gui.core.session.presets import safe_rates

        fresh = Session.from_preset(key)
        s = self.session
        s.function_text, s.params, s.xrange, s.yrange = (fresh.function_text, fresh.params,
                                                         fresh.xrange, fresh.yrange)
        s.starts, s.zscale, s.preset, s.resolution = fresh.starts, fresh.zscale, key, fresh.resolution
        self.function = compile_function(s.function_text, s.params)
        rates = safe_rates(self.function, [(o.name, o.hyperparameters) for o in s.optimizers], s.starts,
                           s.xrange, s.yrange)
        changed = []
        for o, (_, hyper) in zip(s.optimizers, rates):
            if hyper.get("lr") != o.hyperparameters.get("lr"):
                changed.append(f"{o.name} lr {o.hyperparameters['lr']:g} → {hyper['lr']:g}")
            o.hyperparameters = hyper
        self.optimizersChanged.emit()
        self.functionError.emit("", -1)
        self.functionChanged.emit()
        self.startsChanged.emit()
        self._recompute_surface()
        self._recompute_trajectories()
        self._kernel_poll.start()
        self.sessionStarted.emit("preset")
        title = get_function(key).title
        self.status.emit(f"preset {title}: your {len(s.optimizers)} optimizers, learning rates safe for it"
                         + (f" ({'; '.join(changed)})" if changed else " (unchanged)"))

    @undoable("Change Domain")
    def set_domain(self, xrange, yrange) -> None:
        xrange, yrange = tuple(map(float, xrange)), tuple(map(float, yrange))
        if not (xrange[1] > xrange[0] and yrange[1] > yrange[0]):
            self.status.emit("The range minimum must be below its maximum.")
            return
        self.session.xrange, self.session.yrange = xrange, yrange
        self.session.starts = [self.clamp(p) for p in self.session.starts]
        self._recompute_surface()
        self.startsChanged.emit()
        self._recompute_trajectories()

    @undoable("Change Resolution")
    def set_resolution(self, n: int) -> None:
        self.session.resolution = int(n)
        self._recompute_surface()
        self.trajectoriesChanged.emit(None)  # their heights follow the new mesh

    @undoable("Change Z Scale")
    def set_zscale(self, mode: str, percentile: float | None = None) -> None:
        self.session.zscale = mode
        if percentile is not None:
            self.session.percentile = float(percentile)
        self.heights = height_map(self.grid, mode, self.session.percentile)
        self.height_grid = self.heights(self.grid)
        self.surfaceChanged.emit()
        self.trajectoriesChanged.emit(None)

    @undoable("Change Colour Map")
    def set_colormap(self, name: str) -> None:
        self.session.colormap = name
        self.surfaceChanged.emit()

    @undoable("Change Network Settings")
    def set_network(self, settings: dict) -> None:
        """The network mode's settings (stored with the session; training itself is not undone)."""
        self.session.network = dict(settings)

    def set_landscape_view(self, view: dict | None) -> None:
        """The opened landscape file and how it is shown (stored with the session)."""
        self.session.landscape = dict(view) if view is not None else None

    # -- start points ----------------------------------------------------------------
    def clamp(self, p) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.session.xrange, self.session.yrange
        return (min(max(float(p[0]), x0), x1), min(max(float(p[1]), y0), y1))

    @undoable("Add Start Point")
    def add_start(self, x: float, y: float) -> int:
        self.session.starts.append(self.clamp((x, y)))
        self.startsChanged.emit()
        self._recompute_trajectories()
        i = len(self.session.starts) - 1
        self._report_start(i, "added at")
        return i

    @undoable("Move Start Point")
    def move_start(self, i: int, x: float, y: float) -> None:
        """The drag hot path: model, one run_many for start i, one signal."""
        self.session.starts[i] = self.clamp((x, y))
        self._recompute_trajectories([i])
        self.startsChanged.emit()
        self._report_start(i, "at")

    @undoable("Remove Start Point")
    def remove_start(self, i: int) -> None:
        if 0 <= i < len(self.session.starts):
            del self.session.starts[i]
            self.startsChanged.emit()
            self._recompute_trajectories()
            n = len(self.session.starts)
            self.status.emit(f"start {i + 1} removed ({n} start point{'s' if n != 1 else ''} left)")

    def _report_start(self, i: int, verb: str) -> None:
        """Where start ``i`` is (after clamping to the domain: what the marker and the file hold)."""
        x, y = self.session.starts[i]
        self.status.emit(f"start {i + 1} {verb} x = {x:.4g}, y = {y:.4g}, f = {float(self.function.value(x, y)):.6g}")

    def begin_drag(self, i: int) -> None:
        """A drag is one undo step: remember the session as it was at the press."""
        self._drag_before = self.session.to_dict()
        self._recording = "Move Start Point"

    def end_drag(self) -> None:
        before, self._drag_before, self._recording = self._drag_before, None, None
        if before is not None:
            after = self.session.to_dict()
            if after != before:
                self.undo_stack.push(SnapshotCommand(self, "Move Start Point", before, after))

    # -- optimizers ----------------------------------------------------------------------
    @undoable("Add Optimizer")
    def add_optimizer(self, name: str = "SGD", hyperparameters: dict | None = None) -> int:
        _, full = optimizers.validate(name, hyperparameters or {})
        self.session.optimizers.append(OptimizerInstance(name, full, next_color(self.session)))
        self._optimizers_changed()
        return len(self.session.optimizers) - 1

    @undoable("Add Optimizer")
    def add_rule_optimizer(self, name: str, text: str, hyperparameters: dict | None = None) -> int:
        """Define (or redefine) the typed rule ``name`` in this session and add an instance of it."""
        self.define_rule(name, text)
        return self.add_optimizer(name, hyperparameters)

    @undoable("Edit Rule")
    def define_rule(self, name: str, text: str) -> None:
        """Set the session's rule ``name`` (``optimizers.define`` checks it: RuleError on bad text).

        Instances of a redefined rule keep the values of hyperparameters the new text still
        has and take the new defaults for the others."""
        optimizers.define(name, text)
        self.session.rules[name] = optimizers.rule_text(name)
        defaults = optimizers.defaults(name)
        for o in self.session.optimizers:
            if o.name == name:
                kept = {k: v for k, v in o.hyperparameters.items() if k in defaults}
                o.hyperparameters = optimizers.validate(name, kept)[1]
        optimizers.prepare([name])   # its kernel compiles in the background meanwhile
        self._optimizers_changed()

    @undoable("Duplicate Optimizer")
    def duplicate_optimizer(self, i: int) -> int:
        o = self.session.optimizers[i]
        return self.add_optimizer(o.name, dict(o.hyperparameters))

    @undoable("Remove Optimizer")
    def remove_optimizer(self, i: int) -> None:
        if 0 <= i < len(self.session.optimizers):
            del self.session.optimizers[i]
            self._optimizers_changed()

    @undoable("Edit Optimizer")
    def update_optimizer(self, i: int, *, name: str | None = None, hyperparameters: dict | None = None,
                         enabled: bool | None = None, color: str | None = None) -> None:
        o = self.session.optimizers[i]
        if name is not None and name != o.name:
            o.name, o.hyperparameters = name, optimizers.defaults(name)
        if hyperparameters is not None:
            cname, full = optimizers.validate(o.name, {**o.hyperparameters, **hyperparameters})
            if full.get("schedule"):
                optimizers.schedule_arrays([(cname, full)], self.session.steps)   # refuse what cannot run
            o.hyperparameters = full
        if enabled is not None:
            o.enabled = bool(enabled)
        if color is not None:
            o.color = color
        self._optimizers_changed()

    @undoable("Use Race Settings")
    def use_settings(self, settings: dict[int, dict]) -> None:
        """Set several optimizers' hyperparameters at once (one undo step): index -> hyperparameters."""
        for i, hyper in settings.items():
            o = self.session.optimizers[i]
            _, o.hyperparameters = optimizers.validate(o.name, dict(hyper))
        self._optimizers_changed()

    @undoable("Change Run Options")
    def set_run_options(self, *, steps: int | None = None, noise: float | None = None,
                        seed: int | None = None) -> None:
        s = self.session
        if steps is not None:
            for o in s.optimizers:   # a schedule that cannot take this many steps: refused, named
                if o.hyperparameters.get("schedule"):
                    try:
                        optimizers.schedule_arrays([o.config()], int(steps))
                    except ValueError as err:
                        raise ValueError(f"{o.label}: {err}") from None
            s.steps = int(steps)
        if noise is not None:
            s.noise = float(noise)
        if seed is not None:
            s.seed = int(seed)
        self.step = min(self.step, s.steps) if steps is None else s.steps
        self._recompute_trajectories()
        self.stepChanged.emit(self.step)

    def _optimizers_changed(self) -> None:
        self._recompute_trajectories()  # first: views redraw from the new batch
        self.optimizersChanged.emit()

    # -- whole sessions (undo/redo, open, new) ------------------------------------------------
    def apply_snapshot(self, data: dict) -> None:
        """Replace the session with ``data`` (validated) and refresh every view."""
        self.replace_session(Session.from_dict(data))

    def replace_session(self, session: Session, origin: str | None = None) -> None:
        """Show ``session``; ``origin`` ("new", "open", "example") when it starts a new piece of
        work (not an undo step): ``sessionStarted`` tells whoever explains the old one."""
        self.session = session
        self.function = compile_function(session.function_text, session.params)
        self.step = min(self.step, session.steps)
        self.hovered_start = None
        self._recompute_surface()
        self._recompute_trajectories()
        self.functionError.emit("", -1)
        self.sessionReplaced.emit()
        self.stepChanged.emit(self.step)
        self._kernel_poll.start()
        if origin is not None:
            self.sessionStarted.emit(origin)

    # -- playback -----------------------------------------------------------------------
    def set_step(self, step: int) -> None:
        step = int(min(max(step, 0), self.session.steps))
        if step != self.step:
            self.step = step
            self.stepChanged.emit(step)

    # -- computing -----------------------------------------------------------------------
    def _recompute_surface(self) -> None:
        s = self.session
        t0 = time.perf_counter()
        n = int(s.resolution)
        self.xs, self.ys = grid_axes(s.xrange, s.yrange, (n, n))
        # a fresh array each time: views keep references to the previous one
        self.grid = self.function.grid(s.xrange, s.yrange, (n, n))
        self.heights = height_map(self.grid, s.zscale, s.percentile)
        self.height_grid = self.heights(self.grid)
        self.timings["grid_ms"] = (time.perf_counter() - t0) * 1e3
        self.surfaceChanged.emit()
        now = time.perf_counter()
        if now - self._last_grid_status > 0.5:  # not on every slider step
            self._last_grid_status = now
            msg = f"grid {n}×{n} in {self.timings['grid_ms']:.1f} ms"
            if self.surface_note():
                msg += " — " + self.surface_note()
            self.status.emit(msg)

    def enabled_configs(self) -> list[tuple[str, dict]]:
        return [o.config() for o in self.session.enabled_optimizers()]

    def _fast(self, configs) -> bool:
        """Whether the formula's and these optimizers' Numba kernels can run now."""
        return self.function.compiled_ready and all(
            optimizers.runner_ready(name, wait=False) for name in dict.fromkeys(n for n, _ in configs))

    def _recompute_trajectories(self, starts: list[int] | None = None) -> None:
        """Every path (``starts=None``) or only some starts' (a drag). While the kernels compile
        the numpy twin computes the same numbers on this thread, far more slowly: it gets at most
        NUMPY_STEP_BUDGET optimizer steps (the paths are shown that far, ``partial``), and the
        full paths follow as soon as the kernels are ready (``_check_kernels``)."""
        s = self.session
        configs = self.enabled_configs()
        t0 = time.perf_counter()
        domain = (s.xrange, s.yrange)
        steps = s.steps
        work = len(configs) * len(s.starts)
        if work and work * steps > NUMPY_STEP_BUDGET and not self._fast(configs):
            steps = max(1, min(steps, NUMPY_STEP_BUDGET // work))
        self.partial = steps < s.steps
        if self.partial:
            self._kernel_poll.start()
        if starts is None or self.batch is None or self.batch.points.shape[:2] != (len(configs), len(s.starts)) \
                or self.batch.points.shape[2] != steps + 1:
            pts = np.array(s.starts, dtype=float).reshape(-1, 2)
            self.batch = optimizers.run_many(self.function, configs, pts, steps, noise=s.noise, seed=s.seed,
                                             domain=domain, record_state=True, wait=False,
                                             schedule_steps=s.steps)
            starts = None
        else:
            for i in starts:
                one = optimizers.run_many(self.function, configs, [s.starts[i]], steps, noise=s.noise,
                                          seed=s.seed, domain=domain, record_state=True, wait=False,
                                          stream_offset=i, schedule_steps=s.steps)
                b = self.batch
                b.starts[i] = one.starts[0]
                b.points[:, i], b.losses[:, i], b.diverged[:, i] = one.points[:, 0], one.losses[:, 0], one.diverged[:, 0]
                b.gradients[:, i], b.first_moment[:, i], b.second_moment[:, i] = (
                    one.gradients[:, 0], one.first_moment[:, 0], one.second_moment[:, 0])
        self.timings["optimize_ms"] = (time.perf_counter() - t0) * 1e3
        self.trajectoriesChanged.emit(starts)

    def _check_kernels(self) -> None:
        """Poll (10 Hz, only while something compiles): the status bar counts kernels as they arrive.

        Says "ready" only when this poll saw something still compiling, so a new
        session whose kernels are all cached says nothing; a failure is said once.
        """
        everything = optimizers.names()
        known = {n.lower() for n in everything}
        # a typed rule removed meanwhile (another test, another window's editor) is no kernel to prepare
        names = [o.name for o in self.session.enabled_optimizers() if o.name.lower() in known]
        optimizers.prepare(names + everything)  # the session's first, then the rest (idempotent)
        ready, wanted, error = optimizers.kernel_progress()
        compiled = self.function.compiled
        formula_done = compiled.numba_ready or compiled.numba_error is not None
        if error or compiled.numba_error:
            self._kernel_poll.stop()
            self.kernelStatus.emit("fast kernels unavailable, using the slower numpy path: "
                             + (error or compiled.numba_error))
            return
        if self.partial and self._fast(self.enabled_configs()):
            self._recompute_trajectories()  # the whole paths, now at kernel speed
        if formula_done and ready == wanted and not self.partial:
            self._kernel_poll.stop()
            if self._kernels_were_pending:
                self.kernelStatus.emit(f"fast kernels ready: formula and {wanted} optimizers")
                QtCore.QTimer.singleShot(8000, self, lambda: self.kernelStatus.emit(""))
            self._kernels_were_pending = False
            return
        self._kernels_were_pending = True
        parts = [f"{ready} of {wanted} optimizers"] + ([] if formula_done else ["formula compiling"])
        msg = "fast kernels: " + ", ".join(parts) + " (numpy meanwhile, same numbers" + (
            f"; paths shown to step {self.batch.points.shape[2] - 1} until then)" if self.partial and self.batch
            is not None else ")")
        if msg != self._last_kernel_status:
            self._last_kernel_status = msg
            self.kernelStatus.emit(msg)

    # -- queries for views ----------------------------------------------------------------
    def known_minima(self) -> np.ndarray:
        """Published minima (global and local) of the preset in use, as (n, 2); empty otherwise."""
        from landscape_gui.core.functions import get as get_function

        if not self.session.preset:
            return np.zeros((0, 2))
        lf = get_function(self.session.preset)
        pts = [(x, y) for x, y, _ in lf.minima + lf.local_minima]
        return np.array(pts, dtype=float).reshape(-1, 2)

    def surface_note(self) -> str:
        u = self.heights.undefined
        return f"f is undefined on {100 * u:.1f}% of the domain (grey)" if u > 0 else ""

    def diverged_message(self) -> str:
        if self.batch is None:
            return ""
        parts = []
        for c, o in enumerate(self.session.enabled_optimizers()):
            for k in range(self.batch.diverged.shape[1]):
                d = self.batch.diverged_at(c, k)
                if d is not None:
                    parts.append(f"{o.label} from start {k + 1} diverged at step {d}")
        return "; ".join(parts)
