"""The network mode's model and the views' data-source contract, without any window or
OpenGL: jobs, their signals, cancel and failure; ``ViewSource``; ``signals_blocked``."""

import numpy as np
import pytest
from PySide6 import QtWidgets

from landscape_gui.core import nn
from landscape_gui.ui.state.network_model import NetworkModel, compare
from landscape_gui.ui.state.plane_source import LandscapeSource, ViewSource
from landscape_gui.ui.state.signals import signals_blocked


@pytest.fixture
def model(qtbot):
    m = NetworkModel()
    m.settings = nn.NetworkSettings(n=200, width=6, epochs=8, grid=9, batch_size=32)
    m.make_data()
    yield m
    m.shutdown()


def run_job(qtbot, model, signal, start, timeout=60000):
    with qtbot.waitSignal(signal, timeout=timeout):
        start()


def test_training_in_the_background_with_live_sharpness(qtbot, model):
    model.settings.track_sharpness = 10
    seen = []
    model.sharpnessMeasured.connect(lambda rows: seen.append(rows.copy()))
    busy = []
    model.busyChanged.connect(busy.append)
    run_job(qtbot, model, model.resultChanged, model.train)
    r = model.result
    assert busy == [True, False] and r.run.sharpness is not None
    assert len(seen) == len(r.run.sharpness) and np.array_equal(seen[-1], r.run.sharpness)
    assert r.regions.classes.shape == (120, 120)   # the preview's regions came with the run
    assert r.sharpness == pytest.approx(nn.sharpness(r.run.model, r.run.train_data, r.run.params), rel=1e-6)


def test_cancel_drops_the_run_and_says_so(qtbot, model):
    model.settings.epochs = 5000
    messages = []
    model.message.connect(messages.append)
    model.train()
    qtbot.wait(50)
    with qtbot.waitSignal(model.busyChanged, timeout=5000):
        model.cancel("train")
    qtbot.wait(300)
    assert model.result is None and not model.busy and "training cancelled" in messages


def test_a_failing_job_reports_and_changes_nothing(qtbot, model, monkeypatch):
    run_job(qtbot, model, model.resultChanged, model.train)
    model.pin("A")
    model.settings.seed = 1
    run_job(qtbot, model, model.resultChanged, model.train)
    model.pin("B")
    messages = []
    model.message.connect(messages.append)
    def broken(*args, **kwargs):
        raise ValueError("the curve's training diverged at epoch 1")

    monkeypatch.setattr(nn, "connect", broken)
    assert model.connect_pinned(epochs=3)
    qtbot.waitUntil(lambda: any("curve training failed: ValueError: the curve's training diverged" in m
                                for m in messages), timeout=30000)
    assert model.curve is None and not model.running("connect")
    assert not model.show_sweep_run(3)               # no sweep yet: nothing happens


def test_the_comparison_of_two_runs(qtbot, model):
    run_job(qtbot, model, model.resultChanged, model.train)
    a = model.result
    assert "Pin two runs" in compare(a, None).note
    model.settings.seed = 1
    run_job(qtbot, model, model.resultChanged, model.train)
    b = model.result
    c = compare(a, b)
    assert c.path is not None and len(c.path.alphas) == 61 and c.barrier is not None
    lo, hi = c.levels
    assert lo < hi and np.isfinite([lo, hi]).all()
    model.settings.depth = 3
    run_job(qtbot, model, model.resultChanged, model.train)
    assert "different architectures" in compare(a, model.result).note


def test_both_sources_keep_the_view_contract(qtbot):
    from landscape_gui.core.session import Session
    from landscape_gui.ui.state.session_controller import SessionController

    formula = SessionController(Session.default())
    plane = LandscapeSource()
    assert isinstance(formula, ViewSource) and isinstance(plane, ViewSource)
    assert formula.editable and not plane.editable
    xy = np.array([[0.0, 0.0], [1.0, 0.5]])
    plane.set_paths([("line", "#ff0000", xy, np.array([1.0, 2.0])),
                     ("curve", "#00ff00", np.r_[xy, [[2.0, 0.0]]], np.array([1.0, 0.5, 0.2]))])
    b = plane.batch
    assert b.points.shape == (2, 1, 3, 2) and np.isnan(b.points[0, 0, 2]).all()
    assert [p.label for p in plane.session.paths] == ["line", "curve"] and plane.session.steps == 2


def test_signals_blocked_is_exception_safe_and_nests(qtbot):
    a, b = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
    qtbot.addWidget(a)
    qtbot.addWidget(b)
    fired = []
    a.valueChanged.connect(fired.append)
    with pytest.raises(RuntimeError):
        with signals_blocked(a, [b]):
            a.setValue(3)
            raise RuntimeError("boom")
    assert not a.signalsBlocked() and not b.signalsBlocked() and fired == []
    b.blockSignals(True)
    with signals_blocked(a, b):
        with signals_blocked(a):
            pass
        assert a.signalsBlocked()
    assert not a.signalsBlocked() and b.signalsBlocked()   # each back to what it was
    a.setValue(5)
    assert fired == [5]
