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


def test_analysis_race_ranks_tuned_optimizers_and_fills_the_cards(window, qtbot):
    from landscape_gui.core import analysis

    ctl = window.controller
    assert ctl.set_function_text("x^2 + 10*y^2")
    ctl.set_run_options(steps=200)
    act = window.analysis_actions["race"]
    act.trigger()
    panel = window.analysis_panel
    assert panel.tabs.currentIndex() == 3 and panel.isVisible()
    panel.race_budget.setValue(8)
    panel.race_tol.setText("1e-6")
    qtbot.mouseClick(panel.race_run, QtCore.Qt.MouseButton.LeftButton)
    assert "race" in window.analysis.running
    qtbot.waitUntil(lambda: window.analysis.race_results is not None, timeout=60000)
    rows = window.analysis.race_results
    enabled = [o for o in ctl.session.optimizers if o.enabled]
    assert panel.race_table.rowCount() == len(enabled) == len(rows)
    steps = [r.steps_to_tol for _, r in rows]
    assert steps == sorted(steps)
    top = rows[0][1]
    assert panel.race_table.item(0, 1).toolTip() == top.label
    assert panel.race_table.item(0, 1).text().startswith(f"{top.name} lr={top.best['lr']:.3g}")
    # the same race from core: the same tuned settings
    again = analysis.race(ctl.function, [o.config() for o in enabled], ctl.session.starts, 200, budget=8,
                          tol=1e-6, seed=ctl.session.seed, noise=ctl.session.noise)
    assert sorted(r.label for r in again) == sorted(r.label for _, r in rows)
    qtbot.mouseClick(panel.race_use, QtCore.Qt.MouseButton.LeftButton)
    for i, res in rows:
        assert ctl.session.optimizers[i].hyperparameters["lr"] == res.best["lr"]
    ctl.undo_stack.undo()   # one undo step takes them all back
    assert any(ctl.session.optimizers[i].hyperparameters["lr"] != res.best["lr"] for i, res in rows)


def test_a_race_can_be_cancelled(window, qtbot):
    panel = window.analysis_panel
    window.show_analysis_tab(3)
    window.controller.set_run_options(steps=3000)
    panel.race_budget.setValue(256)
    qtbot.mouseClick(panel.race_run, QtCore.Qt.MouseButton.LeftButton)
    assert panel.race_cancel.isEnabled()
    qtbot.mouseClick(panel.race_cancel, QtCore.Qt.MouseButton.LeftButton)
    assert "race" not in window.analysis.running
    assert panel.race_run.isEnabled() and not panel.race_cancel.isEnabled()
    assert window.analysis.race_results is None


def test_the_network_mode_trains_under_a_schedule_per_epoch(window, qtbot):
    from gui_helpers import to_nn_mode, train_and_wait

    panel = to_nn_mode(window, qtbot)
    panel.epochs_spin.setValue(6)
    panel.optimizer_edit.setText("SGD(lr=0.1, momentum=0.9)")
    panel.schedule_edit.setText("CosineAnnealingLR(T_max=-3)")
    qtbot.mouseClick(panel.train_button, QtCore.Qt.MouseButton.LeftButton)
    assert "T_max must be a positive integer" in panel.status.text()
    assert not panel.model.busy
    panel.schedule_edit.setText("StepLR(step_size=2, gamma=0.5)")
    panel.schedule_per.setCurrentIndex(panel.schedule_per.findData("epoch"))
    result = train_and_wait(panel, qtbot)
    run = result.run
    per_epoch = len(run.lrs) // 6
    np.testing.assert_allclose(run.lrs, np.repeat([0.1, 0.1, 0.05, 0.05, 0.025, 0.025], per_epoch))
    assert panel.model.settings.hyperparameters["schedule"] == "StepLR(step_size=2, gamma=0.5)"
    assert panel.model.settings.schedule_per == "epoch"
