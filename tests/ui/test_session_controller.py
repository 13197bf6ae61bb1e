"""The session controller on its own, without a window: every change one undo step, signals per
change, positions clamped to the domain (and reported so), new work announced with its origin."""

import numpy as np

from landscape_gui.core.session import Session
from landscape_gui.ui.state.session_controller import SessionController


def make(qtbot):
    c = SessionController(Session.default())
    return c


def test_start_points_are_clamped_undone_and_reported(qtbot):
    c = make(qtbot)
    messages, starts = [], []
    c.status.connect(messages.append)
    c.startsChanged.connect(lambda: starts.append(list(c.session.starts)))
    replaced = []
    c.sessionReplaced.connect(lambda: replaced.append(list(c.session.starts)))
    (_, x1), (y0, _) = c.session.xrange, c.session.yrange
    n = len(c.session.starts)
    i = c.add_start(x1 + 5.0, y0 - 5.0)
    assert c.session.starts[i] == (x1, y0)
    assert messages[-1].startswith(f"start {i + 1} added at x = {x1:.4g}, y = {y0:.4g}")
    c.move_start(i, 0.5, 0.25)
    assert c.session.starts[i] == (0.5, 0.25) and c.batch.points[:, i, 0].tolist() == [[0.5, 0.25]] * len(
        c.session.enabled_optimizers())
    c.remove_start(i)
    assert len(c.session.starts) == n and "removed" in messages[-1]
    c.undo_stack.undo()   # the removal
    assert c.session.starts[i] == (0.5, 0.25)
    c.undo_stack.undo()   # the move
    c.undo_stack.undo()   # the addition
    assert len(c.session.starts) == n
    c.undo_stack.redo()
    assert c.session.starts[i] == (x1, y0)
    assert len(starts) == 3 and len(replaced) == 4  # edits say what changed; undo/redo re-read the whole


def test_an_edit_that_changes_nothing_is_no_undo_step(qtbot):
    c = make(qtbot)
    count = c.undo_stack.count()
    c.set_param("nothing", 1.0)
    c.set_function_text(c.session.function_text + "  ")  # compiles to the same text? it is a change
    c.update_optimizer(0, hyperparameters={})
    assert c.undo_stack.count() - count <= 1


def test_new_work_is_announced_with_its_origin_and_undo_is_not(qtbot):
    c = make(qtbot)
    origins = []
    c.sessionStarted.connect(origins.append)
    c.replace_session(Session.default(), origin="open")
    c.load_preset("himmelblau")
    c.add_start(0.1, 0.2)
    c.undo_stack.undo()
    assert origins == ["open", "preset"]


def test_paths_are_budgeted_while_kernels_compile_and_completed_after(qtbot, monkeypatch):
    from landscape_gui.ui.state import session_controller as sc

    c = make(qtbot)
    monkeypatch.setattr(c, "_fast", lambda configs: False)   # as if every kernel were compiling
    for k in range(10):
        c.add_start(-1.0 + 0.2 * k, 1.0)
    work = len(c.enabled_configs()) * len(c.session.starts)
    assert c.partial and c.batch.points.shape[2] - 1 == max(1, sc.NUMPY_STEP_BUDGET // work)
    monkeypatch.setattr(c, "_fast", lambda configs: True)    # the kernels arrive
    qtbot.waitUntil(lambda: not c.partial and c.batch.points.shape[2] == c.session.steps + 1, timeout=5000)
    assert np.isfinite(c.batch.points[:, :, -1]).all()
