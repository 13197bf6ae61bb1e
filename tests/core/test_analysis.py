"""Landscape analysis: critical points, basins of attraction, learning-rate sweeps, sharpness."""

import math
from collections import Counter

import numpy as np
import pytest

from landscape_gui.core import analysis, compile_function, functions, optimizers
from landscape_gui.core.analysis.newton import CONVERGED, newton_search, newton_search_reference


def lib(key):
    lf = functions.get(key)
    return lf, compile_function(lf.formula, lf.params, background=False)


def kinds(cps):
    return Counter(c.kind for c in cps)


def near(cps, point, kind, tol=1e-5):
    return [c for c in cps if c.kind == kind and abs(c.x - point[0]) <= tol and abs(c.y - point[1]) <= tol]


# Himmelblau's four saddles (Wolfram MathWorld / published tables, 6 decimals)
HIMMELBLAU_SADDLES = [(0.086677, 2.884254), (-3.073026, -0.081353), (3.385154, 0.073852),
                      (-0.127961, -1.953715)]


def test_himmelblau_has_four_minima_four_saddles_one_maximum_at_the_published_places():
    lf, f = lib("himmelblau")
    cps = analysis.critical_points(f, lf.xrange, lf.yrange)
    assert kinds(cps) == {"minimum": 4, "saddle": 4, "maximum": 1}
    for x, y, v in lf.minima:
        [c] = near(cps, (x, y), "minimum")
        assert c.value == pytest.approx(v, abs=1e-9)
    [c] = near(cps, lf.maxima[0][:2], "maximum")
    assert c.value == pytest.approx(lf.maxima[0][2], abs=1e-5)
    for p in HIMMELBLAU_SADDLES:
        assert len(near(cps, p, "saddle")) == 1, p


@pytest.mark.parametrize("key", [f.key for f in functions.FUNCTIONS
                                 if f.smooth_at_minima and f.key not in ("eggholder",)])
def test_every_listed_critical_point_of_the_library_is_found_with_its_kind(key):
    lf, f = lib(key)
    cps = analysis.critical_points(f, lf.xrange, lf.yrange)
    expected = ([(p, "minimum") for p in lf.minima + lf.local_minima]
                + [(p, "saddle") for p in lf.saddles] + [(p, "maximum") for p in lf.maxima])
    if key == "monkey_saddle":
        expected = [(p, "degenerate") for p in lf.saddles]
    for (x, y, v), kind in expected:
        tol = 1e-4 if len(f"{x}".split(".")[-1]) <= 4 else 1e-5  # tables give 4 or 6 decimals
        found = near(cps, (x, y), kind, tol=max(tol, 1e-5))
        assert len(found) == 1, (key, x, y, kind, [c for c in cps if abs(c.x - x) < 0.1])
        assert found[0].value == pytest.approx(v, abs=1e-3 * max(1, abs(v)))
    # every reported point really is critical, and its class matches its Hessian
    for c in cps:
        gx, gy = f.gradient(c.x, c.y)
        assert math.hypot(gx, gy) < 1e-5
        assert lf.xrange[0] <= c.x <= lf.xrange[1] and lf.yrange[0] <= c.y <= lf.yrange[1]


@pytest.mark.parametrize("key, counts", [
    ("saddle", {"saddle": 1}),
    ("monkey_saddle", {"degenerate": 1}),
    ("double_well", {"minimum": 2, "saddle": 1}),
    ("styblinski_tang", {"minimum": 4, "saddle": 4, "maximum": 1}),
    ("rastrigin", {"minimum": 121, "saddle": 220, "maximum": 100}),   # 21 x 21 grid of stationary points
    ("sphere", {"minimum": 1}),
])
def test_complete_critical_point_sets(key, counts):
    lf, f = lib(key)
    assert kinds(analysis.critical_points(f, lf.xrange, lf.yrange)) == counts


def test_eigenvalues_and_condition_number_of_a_known_bowl():
    f = compile_function("0.5*(x^2 + 25*y^2) + 0*x", background=False)
    [c] = analysis.critical_points(f, (-3, 3), (-2, 2))
    assert c.kind == "minimum" and (c.x, c.y) == pytest.approx((0, 0), abs=1e-12)
    assert c.eigenvalues == pytest.approx((1.0, 25.0))
    assert c.condition_number == pytest.approx(25.0) and c.lambda_max == pytest.approx(25.0)


def test_plateaus_are_reported_as_a_share_not_as_thousands_of_points():
    f = compile_function("0*x + 3", background=False)
    cps = analysis.critical_points(f, (-1, 1), (-1, 1))
    assert len(cps) == 0 and cps.flat_fraction > 0.99
    # a flat quadrant (x > -1, y > 0) of an otherwise curved landscape: about a quarter of the domain
    g = compile_function("min(x + 1, 0)^2 + min(y, 0)^2 + 0.1*max(-x - 2, 0)^3", background=False)
    cps = analysis.critical_points(g, (-3, 1), (-1, 1))
    assert 0.2 < cps.flat_fraction < 0.3
    assert analysis.critical_points(compile_function("x^3 - 3*x*y^2", background=False),
                                    (-2, 2), (-2, 2)).flat_fraction == 0.0


def test_no_critical_points_on_a_plane_and_points_outside_the_domain_are_dropped():
    assert analysis.critical_points(compile_function("x + 2*y", background=False), (-1, 1), (-1, 1)) == []
    f = compile_function("(x - 5)^2 + y^2", background=False)
    assert analysis.critical_points(f, (-1, 1), (-1, 1)) == []


def test_the_newton_kernel_matches_its_numpy_twin():
    lf, f = lib("six_hump_camel")
    rng = np.random.default_rng(0)
    seeds = np.ascontiguousarray(rng.uniform([-3, -2], [3, 2], size=(300, 2)))
    out = np.empty_like(seeds)
    status = np.empty(len(seeds), dtype=np.int64)
    m = f.kernels()
    newton_search(m.value_and_gradient, m.hessian, f.param_array, seeds, 100, 1.0, 1e-11, out, status)
    ref, ref_status = newton_search_reference(f, seeds, 100, 1.0, 1e-11)
    assert (status == ref_status).all()
    ok = status == CONVERGED
    assert ok.mean() > 0.9
    np.testing.assert_allclose(out[ok], ref[ok], atol=1e-9)


def test_classification_thresholds():
    assert analysis.classify([1.0, 2.0]) == "minimum"
    assert analysis.classify([-1.0, -2.0]) == "maximum"
    assert analysis.classify([-1.0, 2.0]) == "saddle"
    assert analysis.classify([1e-12, 2.0]) == "degenerate"
    assert analysis.classify([1e-3, 1e-3], scale=1e-3) == "minimum"  # shallow but honest


# --- basins --------------------------------------------------------------------------


def test_gradient_descent_basins_give_one_label_per_minimum_of_himmelblau():
    lf, f = lib("himmelblau")
    b = analysis.basins(f, "SGD", {"lr": 0.01}, lf.xrange, lf.yrange, shape=(96, 96), steps=500)
    assert b.labels.shape == (96, 96)
    assert len(b.attractors) == 4
    for (x, y, _) in lf.minima:
        assert min(math.hypot(x - ax, y - ay) for ax, ay in b.attractors) < 1e-6
    assert set(np.unique(b.labels)) == {0, 1, 2, 3}
    assert sum(b.fractions) + b.diverged_fraction + b.unsettled_fraction == pytest.approx(1.0)
    assert sum(b.fractions) == pytest.approx(1.0)
    assert all(0.15 < fr < 0.35 for fr in b.fractions)
    # a start right next to a minimum belongs to that minimum's basin
    for k, (ax, ay) in enumerate(b.attractors):
        assert b.label_at(ax + 0.05, ay + 0.05) == k


def test_six_hump_camel_basins_find_all_six_minima_and_attractors_are_sorted_by_area():
    lf, f = lib("six_hump_camel")
    b = analysis.basins(f, "SGD", {"lr": 0.01}, lf.xrange, lf.yrange, shape=(64, 64), steps=500)
    assert len(b.attractors) == 6
    for (x, y, _) in lf.minima + lf.local_minima:
        assert min(math.hypot(x - ax, y - ay) for ax, ay in b.attractors) < 2e-4
    assert b.fractions == sorted(b.fractions, reverse=True)


def test_divergence_and_crawling_runs_are_labelled_not_given_fake_attractors():
    f = compile_function("x^2 + y^2", background=False)
    b = analysis.basins(f, "SGD", {"lr": 1.5}, (-1, 1), (-1, 1), shape=(16, 16), steps=100)
    assert (b.labels == -1).all() and b.diverged_fraction == 1.0 and b.attractors == []
    lf, f = lib("rosenbrock")
    b = analysis.basins(f, "SGD", {"lr": 1e-4}, lf.xrange, lf.yrange, shape=(32, 32), steps=200)
    assert b.unsettled_fraction > 0.5
    for ax, ay in b.attractors:  # whatever settled, settled at the minimum
        assert math.hypot(ax - 1, ay - 1) < 0.05


def test_basin_endpoints_match_the_numpy_reference_runs():
    lf, f = lib("himmelblau")
    b = analysis.basins(f, "Adam", {"lr": 0.05}, lf.xrange, lf.yrange, shape=(8, 6), steps=300)
    xs, ys = analysis.cell_centres(lf.xrange, lf.yrange, (8, 6))
    for j in (0, 3, 5):
        for i in (0, 4, 7):
            t = optimizers.run(f, "Adam", (xs[i], ys[j]), 300, lr=0.05, wait=True)
            np.testing.assert_allclose(b.final_points[j, i], t.final_point, atol=1e-12)


def test_basins_report_progress_and_can_be_cancelled():
    lf, f = lib("himmelblau")
    seen = []
    analysis.basins(f, "SGD", {"lr": 0.01}, lf.xrange, lf.yrange, shape=(512, 100), steps=10,
                    progress=lambda done, total: seen.append((done, total)))
    assert len(seen) > 1 and seen[-1] == (100, 100) and seen == sorted(seen)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(analysis.Cancelled):
        analysis.basins(f, "SGD", {"lr": 0.01}, lf.xrange, lf.yrange, shape=(512, 100), steps=10,
                        cancel=cancel)


def test_basin_arguments_are_checked():
    f = compile_function("x^2 + y^2", background=False)
    with pytest.raises(ValueError):
        analysis.basins(f, "SGD", {}, (1, -1), (-1, 1))
    with pytest.raises(ValueError):
        analysis.basins(f, "SGD", {}, (-1, 1), (-1, 1), steps=0)
    with pytest.raises(ValueError):
        analysis.basins(f, "Sgd2", {}, (-1, 1), (-1, 1))


# --- learning-rate sweep -----------------------------------------------------------------


@pytest.mark.parametrize("hyper, edge", [
    ({}, 2 / 25),
    ({"momentum": 0.9}, 2 * 1.9 / 25),
    ({"momentum": 0.9, "nesterov": True}, 2 * 1.9 / (2.8 * 25)),
    ({"momentum": 0.5, "dampening": 0.5}, 2 * 1.5 / (0.5 * 25)),
])
def test_lr_sweep_divergence_edge_on_a_quadratic_bowl_is_the_theory_within_one_sweep_step(hyper, edge):
    f = compile_function("0.5*(x^2 + 25*y^2)", background=False)
    lrs = np.geomspace(1e-4, 1, 200)
    s = analysis.lr_sweep(f, "SGD", hyper, (2.0, 1.0), lrs, steps=500)
    assert s.lambda_max == pytest.approx(25.0)
    assert s.edge == pytest.approx(edge)
    i = np.flatnonzero(s.diverged)[0]
    assert lrs[i - 1] <= edge <= lrs[i]
    assert not s.diverged[:i].any() and s.diverged[i:].all()
    assert (s.steps_to_converge[s.diverged] == -1).all()
    # steps to converge shrink as lr grows towards the best rate, and a converged run is really there
    good = np.flatnonzero(s.steps_to_converge > 0)
    assert good.size > 20
    start_loss = 0.5 * (4 + 25)
    assert s.final_loss[good].max() < 1e-6 * start_loss
    # fastest near the optimal rate 2/(lambda_min + lambda_max) of plain GD; slow at tiny rates
    if not hyper:
        fastest = lrs[good[np.argmin(s.steps_to_converge[good])]]
        assert 0.5 * 2 / 26 < fastest <= 2 / 25
        assert s.steps_to_converge[0] == -1  # lr 1e-4 gets nowhere in 500 steps


def test_lr_sweep_on_adam_has_no_edge_formula_and_checks_its_input():
    f = compile_function("x^2 + y^2", background=False)
    s = analysis.lr_sweep(f, "Adam", {"betas": (0.9, 0.999)}, (1.0, 1.0), np.geomspace(1e-3, 1, 20), 200)
    assert math.isnan(s.edge) and s.lambda_max == pytest.approx(2.0)
    with pytest.raises(ValueError):
        analysis.lr_sweep(f, "SGD", {}, (0, 0), [0.1, -1.0])


# --- sharpness ----------------------------------------------------------------------------


def test_sharpness_of_a_quadratic_is_exact():
    f = compile_function("0.5*(x^2 + 25*y^2)", background=False)
    lam, sam = analysis.sharpness(f, 0.0, 0.0, rho=0.05)
    assert lam == pytest.approx(25.0)
    assert sam == pytest.approx(0.5 * 25 * 0.05 ** 2, rel=1e-6)   # the worst direction is y, at the rim


def test_the_sharp_minimum_is_sharper_than_the_flat_one():
    lf, f = lib("sharp_flat")
    cps = [c for c in analysis.critical_points(f, lf.xrange, lf.yrange) if c.kind == "minimum"]
    assert len(cps) == 2
    sharp = min(cps, key=lambda c: c.x)
    flat = max(cps, key=lambda c: c.x)
    ls, ss = analysis.sharpness(f, sharp.x, sharp.y)
    lf_, sf = analysis.sharpness(f, flat.x, flat.y)
    assert ls > 10 * lf_ and ss > 10 * sf
    assert ls == pytest.approx(sharp.lambda_max)
