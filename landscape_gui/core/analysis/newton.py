"""Numba kernel for the critical-point search, with its numpy twin for the tests.

Newton's method on grad f = 0 finds minima, maxima and saddles alike (it solves
for a zero gradient, it does not descend), so running it from a dense grid of
seeds and keeping where the runs stop gives the landscape's critical points.
The formula's gradient and Hessian arrive as compiled function pointers (as in
``optimizers.runner``), so this compiles once per machine.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types

from ..optimizers.kinds import FORMULA_KERNEL as _VG

_JIT = dict(cache=True, nogil=True, error_model="numpy")

#: status codes of ``newton_search``
CONVERGED, NOT_CONVERGED, SINGULAR, NOT_FINITE = 0, 1, 2, 3

_NEWTON_SIG = types.void(_VG, _VG, types.float64[::1], types.float64[:, ::1], types.int64,
                         types.float64, types.float64, types.float64[:, ::1], types.int64[::1])


@njit(**_JIT)
def _newton_one(value_and_gradient, hessian, p, x, y, max_iter, max_step, xtol):
    """Newton from (x, y); returns (x, y, status). Steps longer than ``max_step`` are shortened."""
    for _ in range(max_iter):
        _, gx, gy = value_and_gradient(x, y, p)
        hxx, hxy, hyy = hessian(x, y, p)
        if not (np.isfinite(gx) and np.isfinite(gy) and np.isfinite(hxx) and np.isfinite(hxy)
                and np.isfinite(hyy)):
            return x, y, NOT_FINITE
        if gx == 0.0 and gy == 0.0:
            return x, y, CONVERGED
        det = hxx * hyy - hxy * hxy
        if det == 0.0:
            return x, y, SINGULAR
        dx = (hyy * gx - hxy * gy) / det
        dy = (hxx * gy - hxy * gx) / det
        length = np.sqrt(dx * dx + dy * dy)
        if not np.isfinite(length):
            return x, y, SINGULAR
        if length > max_step:
            dx *= max_step / length
            dy *= max_step / length
        x -= dx
        y -= dy
        if length <= xtol:
            return x, y, CONVERGED
    return x, y, NOT_CONVERGED


@njit(_NEWTON_SIG, parallel=True, **_JIT)
def newton_search(value_and_gradient, hessian, p, seeds, max_iter, max_step, xtol, out, status):
    """Newton from every seed in parallel: ``out[i]`` where seed i stopped, ``status[i]`` why."""
    for i in prange(seeds.shape[0]):
        x, y, s = _newton_one(value_and_gradient, hessian, p, seeds[i, 0], seeds[i, 1], max_iter,
                              max_step, xtol)
        out[i, 0] = x
        out[i, 1] = y
        status[i] = s


def newton_search_reference(f, seeds, max_iter, max_step, xtol):
    """Plain-numpy twin of ``newton_search`` (all seeds at once, same rule and stopping)."""
    q = np.array(seeds, dtype=np.float64, copy=True)
    status = np.full(len(q), NOT_CONVERGED, dtype=np.int64)
    active = np.ones(len(q), dtype=bool)
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            x, y = q[idx, 0], q[idx, 1]
            gx, gy = f.gradient(x, y)
            (hxx, hxy), (_, hyy) = f.hessian(x, y)
            gx, gy, hxx, hxy, hyy = (np.broadcast_to(a, x.shape) for a in (gx, gy, hxx, hxy, hyy))
            bad = ~(np.isfinite(gx) & np.isfinite(gy) & np.isfinite(hxx) & np.isfinite(hxy)
                    & np.isfinite(hyy))
            zero = ~bad & (gx == 0.0) & (gy == 0.0)
            det = hxx * hyy - hxy * hxy
            singular = ~bad & ~zero & (det == 0.0)
            dx = (hyy * gx - hxy * gy) / det
            dy = (hxx * gy - hxy * gx) / det
            length = np.sqrt(dx * dx + dy * dy)
            singular |= ~bad & ~zero & ~singular & ~np.isfinite(length)
            move = ~(bad | zero | singular)
            shrink = np.where(length > max_step, max_step / length, 1.0)
            q[idx[move], 0] -= (dx * shrink)[move]
            q[idx[move], 1] -= (dy * shrink)[move]
            done = move & (length <= xtol)
            status[idx[bad]] = NOT_FINITE
            status[idx[singular]] = SINGULAR
            status[idx[zero | done]] = CONVERGED
            active[idx[~move | done]] = False
    return q, status
