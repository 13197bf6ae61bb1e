"""Every listed optimum of the test-function library, checked against compile_function."""

import numpy as np
import pytest

from landscape_gui.core import compile_function, functions

LIBRARY = functions.FUNCTIONS


def refine(f, x, y, iterations=40):
    """Newton on the gradient: converges to the critical point near (x, y)."""
    for _ in range(iterations):
        gx, gy = f.gradient(x, y)
        (a, b), (_, d) = f.hessian(x, y)
        step = np.linalg.lstsq(np.array([[a, b], [b, d]]), np.array([gx, gy]), rcond=None)[0]
        x, y = x - step[0], y - step[1]
    return x, y


def test_library_is_large_and_well_formed():
    assert len(LIBRARY) >= 20
    assert len(set(functions.names())) == len(LIBRARY)
    must = {"rosenbrock", "himmelblau", "rastrigin", "ackley", "beale", "booth", "matyas", "levi13",
            "goldstein_price", "eggholder", "holder_table", "cross_in_tray", "styblinski_tang",
            "mccormick", "schaffer2", "six_hump_camel", "three_hump_camel", "easom", "bukin6",
            "ill_conditioned", "saddle", "monkey_saddle"}
    assert must <= set(functions.names())
    for lf in LIBRARY:
        assert lf.xrange[0] < lf.xrange[1] and lf.yrange[0] < lf.yrange[1]
        assert lf.lesson and lf.source
        for x, y in lf.starts:
            assert lf.xrange[0] <= x <= lf.xrange[1] and lf.yrange[0] <= y <= lf.yrange[1]


def test_lookup_by_key_or_title():
    assert functions.get("Rosenbrock").key == "rosenbrock"
    assert functions.get("six-hump camel").key == "six_hump_camel"
    with pytest.raises(KeyError, match="did you mean 'rosenbrock'"):
        functions.get("rosenbrok")


@pytest.mark.parametrize("lf", LIBRARY, ids=[f.key for f in LIBRARY])
def test_listed_points(lf):
    f = compile_function(lf.formula, lf.params)
    kinds = [("minimum", p) for p in lf.minima + lf.local_minima]
    kinds += [("saddle", p) for p in lf.saddles] + [("maximum", p) for p in lf.maxima]
    assert kinds or lf.minima
    for kind, (x, y, value) in kinds:
        assert f.value(x, y) == pytest.approx(value, abs=1e-4), (kind, x, y)
        assert lf.xrange[0] <= x <= lf.xrange[1] and lf.yrange[0] <= y <= lf.yrange[1]
        if kind == "minimum" and not lf.smooth_at_minima:
            continue
        # the gradient vanishes: Newton from the listed point stays within 1e-4 of it
        rx, ry = refine(f, x, y)
        assert np.hypot(rx - x, ry - y) < 1e-4, (kind, x, y, rx, ry)
        assert np.hypot(*f.gradient(rx, ry)) < 1e-8
        (a, b), (_, d) = f.hessian(rx, ry)
        eig = np.linalg.eigvalsh(np.array([[a, b], [b, d]]))
        if lf.key == "monkey_saddle":
            assert np.allclose(eig, 0.0)  # degenerate
        elif kind == "minimum":
            assert eig.min() > 0
        elif kind == "maximum":
            assert eig.max() < 0
        else:
            assert eig.min() < 0 < eig.max()


def test_global_minima_are_global_on_a_grid():
    for lf in LIBRARY:
        if not lf.minima:
            continue
        f = compile_function(lf.formula, lf.params)
        grid = f.grid(lf.xrange, lf.yrange, (301, 301))
        assert np.nanmin(grid) >= lf.global_minimum - 1e-3 * (1 + abs(lf.global_minimum)), lf.key
