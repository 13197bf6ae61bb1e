"""The fair race: the same budget and starts for every optimizer, tuned on a log grid."""

import math

import numpy as np
import pytest

from landscape_gui.core import analysis, compile_function
from landscape_gui.core.analysis.race import lr_grid, ranked, trial_settings


@pytest.fixture(scope="module")
def quadratic():
    return compile_function("x^2 + 10*y^2", background=False)


def test_tuned_gradient_descent_is_at_the_theorys_optimal_rate(quadratic):
    """On x^2 + 10y^2 (Hessian eigenvalues 2 and 20) gradient descent contracts fastest at
    lr = 2/(lambda_min + lambda_max) = 1/11: the tuned rate is within one grid step of it."""
    starts = np.random.default_rng(0).uniform(-2, 2, size=(5, 2))
    (res,) = analysis.race(quadratic, [("SGD", {})], starts, steps=400, budget=32, tol=1e-8)
    grid = lr_grid("SGD", 32)
    ratio = grid[1] / grid[0]
    best = res.best["lr"]
    assert 1 / ratio <= best / (2 / (2 + 20)) <= ratio, best
    assert math.isfinite(res.steps_to_tol) and res.steps_to_tol < 200
    assert len(res.trials) == 32
    assert {t["hyperparameters"]["lr"] for t in res.trials} == set(grid)


def test_every_config_gets_the_same_budget_and_starts_and_results_rank(quadratic):
    starts = [(1.5, 1.0), (-1.0, 0.5), (0.3, -1.2)]
    configs = [("SGD", {"momentum": 0.9}), ("Adam", {}), ("RMSprop", {}), ("Adagrad", {})]
    seen = []
    results = analysis.race(quadratic, configs, starts, steps=300, budget=16, tol=1e-6,
                            progress=lambda d, n: seen.append((d, n)))
    assert [r.name for r in results] == ["SGD", "Adam", "RMSprop", "Adagrad"]
    assert all(len(r.trials) == 16 for r in results)
    assert seen[-1] == (4, 4)
    fastest = ranked(results)
    assert fastest[0].steps_to_tol <= fastest[-1].steps_to_tol
    assert results[0].best["momentum"] == 0.9          # fixed settings are kept
    # heavy-ball momentum, tuned, beats tuned plain Adam on this well-conditioned quadratic
    assert results[0].steps_to_tol < results[1].steps_to_tol


def test_tuning_momentum_splits_the_budget(quadratic):
    settings = trial_settings("SGD", {}, 30, tune=("lr", "momentum"))
    assert len(settings) == 30
    assert {s["momentum"] for s in settings} == {0.0, 0.5, 0.9, 0.95, 0.99}
    adam = trial_settings("Adam", {}, 8, tune=("lr", "momentum"))
    assert {s["betas"][0] for s in adam} == {0.0, 0.9}
    (res,) = analysis.race(quadratic, [("SGD", {})], [(1.5, 1.0)], steps=200, budget=30, tune=("lr", "momentum"))
    assert res.best["momentum"] > 0   # momentum helps on an ill-conditioned bowl


def test_schedules_ride_along_and_bad_requests_are_refused(quadratic):
    (res,) = analysis.race(quadratic, [("SGD", {"schedule": "StepLR(step_size=100, gamma=0.5)"})], [(1.0, 1.0)],
                           steps=200, budget=8)
    assert res.best["schedule"].startswith("StepLR")
    with pytest.raises(ValueError, match="tune"):
        analysis.race(quadratic, [("SGD", {})], [(1.0, 1.0)], tune=("eps",))
    with pytest.raises(ValueError, match="budget"):
        analysis.race(quadratic, [("SGD", {})], [(1.0, 1.0)], budget=0)
    with pytest.raises(ValueError, match="at least one"):
        analysis.race(quadratic, [], [(1.0, 1.0)])
    with pytest.raises(analysis.Cancelled):
        analysis.race(quadratic, [("SGD", {}), ("Adam", {})], [(1.0, 1.0)], cancel=lambda: True)
