"""Schedules in the window: the card's Schedule field (inline errors with the position), the runs
following it, the lr strip under the loss plot, and steps a schedule cannot take refused."""

import numpy as np
from PySide6 import QtCore, QtWidgets

from landscape_gui.core import optimizers


def card(window, i=0):
    from landscape_gui.ui.panels.optimizer_panel import OptimizerCard

    return [c for c in window.findChildren(OptimizerCard) if c.index == i][0]


def type_schedule(qtbot, c, text):
    c.schedule.setFocus()
    c.schedule.selectAll()
    qtbot.keyClicks(c.schedule, text)
    qtbot.keyClick(c.schedule, QtCore.Qt.Key.Key_Return)


def test_a_typed_schedule_drives_the_runs_and_the_lr_strip(window, qtbot):
    ctl = window.controller
    o = ctl.session.optimizers[0]
    c = card(window)
    type_schedule(qtbot, c, "CosineAnnealingLR(T_max=300, eta_min=1e-5)")
    qtbot.waitUntil(lambda: ctl.session.optimizers[0].hyperparameters.get("schedule", "").startswith("Cosine"))
    c = card(window)
    assert not c.schedule_error.isVisible()
    steps = ctl.session.steps
    want = optimizers.run_many(ctl.function, [ctl.session.optimizers[0].config()], ctl.session.starts, steps,
                               noise=ctl.session.noise, seed=ctl.session.seed,
                               domain=(ctl.session.xrange, ctl.session.yrange))
    assert np.allclose(ctl.batch.points[0], want.points[0], equal_nan=True)
    # the strip: that run's rates, in its colour, drawn against the step
    plot = window.findChild(QtWidgets.QWidget, "lossPlot")
    plot.refresh(None)
    x, y = plot.lr_curves[0].getData()
    rates = optimizers.schedule_values("CosineAnnealingLR(T_max=300, eta_min=1e-5)", o.hyperparameters["lr"],
                                       steps, o.name)
    assert x[0] == 1 and len(y) == steps
    np.testing.assert_allclose(10 ** y if plot.lr_strip.ctrl.logYCheck.isChecked() else y, rates, rtol=1e-12)
    assert plot.lr_curves[0].opts["pen"].color().name() == o.color
    # the same step sits at the same screen x in both (x linked, left edges lined up)
    main, strip = plot.getPlotItem().getViewBox(), plot.lr_strip.getViewBox()
    for step in (0, steps // 2, steps):
        a = main.mapViewToScene(QtCore.QPointF(step, main.viewRange()[1][0])).x()
        b = strip.mapViewToScene(QtCore.QPointF(step, strip.viewRange()[1][0])).x()
        assert abs(a - b) < 1.0, (step, a, b)
    assert strip.sceneBoundingRect().top() >= main.sceneBoundingRect().bottom()   # under the plot
    # undo takes the schedule back off
    ctl.undo_stack.undo()
    assert "schedule" not in ctl.session.optimizers[0].hyperparameters


def test_a_bad_schedule_is_refused_inline_with_its_position_and_nothing_runs_at_a_constant_rate(window, qtbot):
    ctl = window.controller
    before = ctl.batch.points.copy()
    c = card(window)
    type_schedule(qtbot, c, "CosineAnnealingLR(T_max=-3)")
    c = card(window)
    assert c.schedule_error.isVisible()
    assert "T_max must be a positive integer, got -3" in c.schedule_error.text()
    assert c.schedule.selectedText() == "-3"
    assert "schedule" not in ctl.session.optimizers[0].hyperparameters
    assert np.array_equal(ctl.batch.points, before, equal_nan=True)
    # fixing it clears the message
    type_schedule(qtbot, c, "StepLR(step_size=100, gamma=0.5)")
    qtbot.waitUntil(lambda: "schedule" in ctl.session.optimizers[0].hyperparameters)
    assert not card(window).schedule_error.isVisible()


def test_more_steps_than_a_schedule_takes_are_refused_and_said(window, qtbot):
    ctl = window.controller
    steps = ctl.session.steps
    ctl.update_optimizer(0, hyperparameters={"schedule": f"OneCycleLR(max_lr=0.01, total_steps={steps})"})
    box = window.findChild(QtWidgets.QSpinBox, "stepsBox")
    messages = []
    ctl.status.connect(messages.append)
    box.setValue(steps + 100)
    assert ctl.session.steps == steps and box.value() == steps
    assert any("total_steps" in m for m in messages)
