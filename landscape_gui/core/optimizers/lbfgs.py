"""torch.optim.LBFGS: limited-memory BFGS with torch's optional strong-Wolfe line search.

Unlike the other rules, one step re-evaluates the loss: each ``step(closure)`` runs up
to ``max_iter`` quasi-Newton iterations (and line-search trials), so the kernel gets
the formula's value-and-gradient function itself. Ported operation by operation from
torch 2.13 (``torch/optim/lbfgs.py``: ``_cubic_interpolate``, ``_strong_wolfe`` and
``LBFGS.step``), including its quirks (the first iteration's step ``min(1, 1/|g|_1)*lr``,
no re-evaluation after the last iteration without a line search, the history kept
across steps). ``LBFGSReference`` is the numpy twin, on a parameter vector of any
length with any closure (the network mode uses it, the tests compare both).

Hyperparameters are packed as lr, max_iter, max_eval, tolerance_grad,
tolerance_change, history_size, strong_wolfe (0/1).
"""

from __future__ import annotations


import numpy as np
from numba import njit

from .rules import _JIT, add_noise

#: per-run scalar state slots of ``lbfgs_step``
T_STEP, H_DIAG, PREV_LOSS, N_ITER, NUM_OLD, HEAD = range(6)
N_SCALARS = 6
MAX_HISTORY = 1000


def unpack(h):
    lr, max_iter, max_eval, tol_grad, tol_change, history, wolfe = (h[0], int(h[1]), int(h[2]), h[3], h[4],
                                                                    int(h[5]), h[6] != 0.0)
    return lr, max_iter, max_eval, tol_grad, tol_change, history, wolfe


# --- the Numba kernel (two coordinates: the formula runner) ---------------------------------------


@njit(**_JIT)
def _dot(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(**_JIT)
def _absmax(a):
    m = 0.0
    for i in range(a.shape[0]):
        v = abs(a[i])
        if v > m or v != v:
            m = v
    return m


@njit(**_JIT)
def cubic_interpolate(x1, f1, g1, x2, f2, g2, lo, hi, bounded):
    if bounded:
        xmin_bound, xmax_bound = lo, hi
    elif x1 <= x2:
        xmin_bound, xmax_bound = x1, x2
    else:
        xmin_bound, xmax_bound = x2, x1
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


@njit(**_JIT)
def _evaluate(value_and_gradient, p, x, t, d, xt, gout, noise, seed, stream, step, draw):
    """f and the gradient at x + t*d (torch's ``_directional_evaluate``)."""
    for i in range(x.shape[0]):
        xt[i] = x[i] + t * d[i]
    f, gx, gy = value_and_gradient(xt[0], xt[1], p)
    gout[0] = gx
    gout[1] = gy
    add_noise(gout, noise, seed, stream, step, draw)
    return f


@njit(**_JIT)
def _strong_wolfe(value_and_gradient, p, x, t, d, f, g, gtd, noise, seed, stream, step, draw0, max_ls,
                  g_new, g_prev, b_g0, b_g1, xt, tolerance_change):
    """torch's ``_strong_wolfe``; returns (f_new, t, evaluations) with the gradient in ``g_new``."""
    c1, c2 = 1e-4, 0.9
    n = x.shape[0]
    d_norm = _absmax(d)
    draw = draw0
    f_new = _evaluate(value_and_gradient, p, x, t, d, xt, g_new, noise, seed, stream, step, draw)
    draw += 1
    ls_func_evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, gtd_prev = 0.0, f, gtd
    for i in range(n):
        g_prev[i] = g[i]
    done = False
    ls_iter = 0
    # bracket as two slots (b0, b1) and a length; gradients in b_g0 / b_g1
    nb = 0
    b0 = b1 = bf0 = bf1 = bgtd0 = bgtd1 = 0.0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            nb, b0, b1, bf0, bf1, bgtd0, bgtd1 = 2, t_prev, t, f_prev, f_new, gtd_prev, gtd_new
            b_g0[:] = g_prev
            b_g1[:] = g_new
            break
        if abs(gtd_new) <= -c2 * gtd:
            nb, b0, bf0 = 1, t, f_new
            b_g0[:] = g_new
            done = True
            break
        if gtd_new >= 0:
            nb, b0, b1, bf0, bf1, bgtd0, bgtd1 = 2, t_prev, t, f_prev, f_new, gtd_prev, gtd_new
            b_g0[:] = g_prev
            b_g1[:] = g_new
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step, True)
        t_prev = tmp
        f_prev = f_new
        g_prev[:] = g_new
        gtd_prev = gtd_new
        f_new = _evaluate(value_and_gradient, p, x, t, d, xt, g_new, noise, seed, stream, step, draw)
        draw += 1
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        nb, b0, b1, bf0, bf1 = 2, 0.0, t, f, f_new
        b_g0[:] = g
        b_g1[:] = g_new
    insuf_progress = False
    if nb == 1:
        b1, bf1 = b0, bf0
    low, high = (0, 1) if bf0 <= bf1 else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(b1 - b0) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(b0, bf0, bgtd0, b1, bf1, bgtd1, 0.0, 0.0, False)
        bmax, bmin = max(b0, b1), min(b0, b1)
        eps = 0.1 * (bmax - bmin)
        if min(bmax - t, t - bmin) < eps:
            if insuf_progress or t >= bmax or t <= bmin:
                if abs(t - bmax) < abs(t - bmin):
                    t = bmax - eps
                else:
                    t = bmin + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new = _evaluate(value_and_gradient, p, x, t, d, xt, g_new, noise, seed, stream, step, draw)
        draw += 1
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        f_low = bf0 if low == 0 else bf1
        if f_new > (f + c1 * t * gtd) or f_new >= f_low:
            if high == 0:
                b0, bf0, bgtd0 = t, f_new, gtd_new
                b_g0[:] = g_new
            else:
                b1, bf1, bgtd1 = t, f_new, gtd_new
                b_g1[:] = g_new
            low, high = (0, 1) if bf0 <= bf1 else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * ((b1 - b0) if high == 1 else (b0 - b1)) >= 0:
                if high == 0:   # bracket[high] = bracket[low]
                    b0, bf0, bgtd0 = b1, bf1, bgtd1
                    b_g0[:] = b_g1
                else:
                    b1, bf1, bgtd1 = b0, bf0, bgtd0
                    b_g1[:] = b_g0
            if low == 0:
                b0, bf0, bgtd0 = t, f_new, gtd_new
                b_g0[:] = g_new
            else:
                b1, bf1, bgtd1 = t, f_new, gtd_new
                b_g1[:] = g_new
    if low == 0:
        g_new[:] = b_g0
        return bf0, b0, ls_func_evals
    g_new[:] = b_g1
    return bf1, b1, ls_func_evals


@njit(**_JIT)
def lbfgs_step(h, q, g, loss, value_and_gradient, p, noise, seed, stream, step, V, dirs, stps, ro, al, sc):
    """One ``LBFGS.step(closure)`` from ``q`` where the closure gave ``loss`` and gradient ``g``.

    ``V`` (8, n): d, prev_flat_grad, flat_grad, scratch; ``dirs``/``stps`` (history, n) and
    ``ro``/``al`` (history) a ring of the curvature pairs; ``sc`` the scalar state (T_STEP, ...).
    """
    lr, max_iter, max_eval, tol_grad, tol_change, history = h[0], int(h[1]), int(h[2]), h[3], h[4], int(h[5])
    wolfe = h[6] != 0.0
    n = q.shape[0]
    d, prev_g, flat_g, y, s, qv = V[0], V[1], V[2], V[3], V[4], V[5]
    g_prev, xt = V[6], V[7]
    for i in range(n):
        flat_g[i] = g[i]
    current_evals = 1
    draw = 1
    if _absmax(flat_g) <= tol_grad:
        return
    t = sc[T_STEP]
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        sc[N_ITER] += 1
        num_old = int(sc[NUM_OLD])
        head = int(sc[HEAD])
        if sc[N_ITER] == 1:
            for i in range(n):
                d[i] = -flat_g[i]
            num_old = 0
            head = 0
            sc[H_DIAG] = 1.0
        else:
            for i in range(n):
                y[i] = flat_g[i] - prev_g[i]
                s[i] = d[i] * t
            ys = _dot(y, s)
            if ys > 1e-10:
                if num_old == history:   # pop the oldest: the ring's head moves on
                    head = (head + 1) % history
                    num_old -= 1
                slot = (head + num_old) % history
                dirs[slot, :] = y
                stps[slot, :] = s
                ro[slot] = 1.0 / ys
                num_old += 1
                sc[H_DIAG] = ys / _dot(y, y)
            for i in range(n):
                qv[i] = -flat_g[i]
            for k in range(num_old - 1, -1, -1):
                slot = (head + k) % history
                al[k] = _dot(stps[slot], qv) * ro[slot]
                for i in range(n):
                    qv[i] = qv[i] + (-al[k]) * dirs[slot, i]
            for i in range(n):
                d[i] = qv[i] * sc[H_DIAG]
            for k in range(num_old):
                slot = (head + k) % history
                be_i = _dot(dirs[slot], d) * ro[slot]
                for i in range(n):
                    d[i] = d[i] + (al[k] - be_i) * stps[slot, i]
        sc[NUM_OLD] = num_old
        sc[HEAD] = head
        for i in range(n):
            prev_g[i] = flat_g[i]
        sc[PREV_LOSS] = loss
        if sc[N_ITER] == 1:
            abs_sum = 0.0
            for i in range(n):
                abs_sum += abs(flat_g[i])
            t = min(1.0, 1.0 / abs_sum) * lr
        else:
            t = lr
        gtd = _dot(flat_g, d)
        if gtd > -tol_change:
            break
        ls_func_evals = 0
        if wolfe:
            x_init = xt.copy()
            for i in range(n):
                x_init[i] = q[i]
            # torch calls _strong_wolfe without tolerance_change: its default 1e-9, not the group's
            loss, t, ls_func_evals = _strong_wolfe(value_and_gradient, p, x_init, t, d, loss, flat_g, gtd, noise,
                                                   seed, stream, step, draw, max_eval - current_evals, y, g_prev,
                                                   s, qv, xt, 1e-9)
            draw += ls_func_evals
            flat_g[:] = y
            for i in range(n):
                q[i] = q[i] + t * d[i]
            opt_cond = _absmax(flat_g) <= tol_grad
        else:
            for i in range(n):
                q[i] = q[i] + t * d[i]
            opt_cond = False
            if n_iter != max_iter:
                loss, gx, gy = value_and_gradient(q[0], q[1], p)
                flat_g[0] = gx
                flat_g[1] = gy
                add_noise(flat_g, noise, seed, stream, step, draw)
                draw += 1
                opt_cond = _absmax(flat_g) <= tol_grad
                ls_func_evals = 1
        current_evals += ls_func_evals
        if n_iter == max_iter:
            break
        if current_evals >= max_eval:
            break
        if opt_cond:
            break
        small = True
        for i in range(n):
            if abs(d[i] * t) > tol_change or d[i] * t != d[i] * t:
                small = False
        if small:
            break
        if abs(loss - sc[PREV_LOSS]) < tol_change:
            break
    sc[T_STEP] = t


# --- the numpy twin (any length, any closure) --------------------------------------------------------


def _cubic(x1, f1, g1, x2, f2, g2, bounds=None):
    """``cubic_interpolate`` run as plain Python (the same lines, torch's signature)."""
    lo, hi = bounds if bounds is not None else (0.0, 0.0)
    return cubic_interpolate.py_func(x1, f1, g1, x2, f2, g2, lo, hi, bounds is not None)


def _dot_np(a, b) -> float:
    total = 0.0
    for v in np.asarray(a) * np.asarray(b):
        total += v
    return float(total)


class LBFGSReference:
    """torch.optim.LBFGS's ``step`` in numpy: ``step(x, closure)`` returns the new x, where
    ``closure(x)`` returns (loss, gradient)."""

    def __init__(self, h, n: int):
        self.h = np.asarray(h, dtype=float)
        self.state: dict = {"n_iter": 0}

    def _wolfe(self, closure, x, t, d, f, g, gtd, max_ls, tolerance_change, c1=1e-4, c2=0.9):
        def obj(t):
            return closure(x + t * d)

        d_norm = float(np.max(np.abs(d)))
        f_new, g_new = obj(t)
        ls_func_evals = 1
        gtd_new = _dot_np(g_new, d)
        t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g.copy(), gtd
        done = False
        ls_iter = 0
        bracket = bracket_f = bracket_g = bracket_gtd = None
        while ls_iter < max_ls:
            if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
                bracket, bracket_f = [t_prev, t], [f_prev, f_new]
                bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
                break
            if abs(gtd_new) <= -c2 * gtd:
                bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
                done = True
                break
            if gtd_new >= 0:
                bracket, bracket_f = [t_prev, t], [f_prev, f_new]
                bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
                break
            min_step = t + 0.01 * (t - t_prev)
            max_step = t * 10
            tmp = t
            t = _cubic(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
            t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
            f_new, g_new = obj(t)
            ls_func_evals += 1
            gtd_new = _dot_np(g_new, d)
            ls_iter += 1
        if ls_iter == max_ls:
            bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
        insuf_progress = False
        low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
        while not done and ls_iter < max_ls:
            if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
                break
            t = _cubic(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
            eps = 0.1 * (max(bracket) - min(bracket))
            if min(max(bracket) - t, t - min(bracket)) < eps:
                if insuf_progress or t >= max(bracket) or t <= min(bracket):
                    t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                    insuf_progress = False
                else:
                    insuf_progress = True
            else:
                insuf_progress = False
            f_new, g_new = obj(t)
            ls_func_evals += 1
            gtd_new = _dot_np(g_new, d)
            ls_iter += 1
            if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
                bracket[high_pos], bracket_f[high_pos] = t, f_new
                bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
                low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
            else:
                if abs(gtd_new) <= -c2 * gtd:
                    done = True
                elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                    bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                    bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
                bracket[low_pos], bracket_f[low_pos] = t, f_new
                bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
        return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals

    def step(self, x, closure, loss=None, grad=None):
        """``loss``/``grad``: the closure's value at ``x`` if the caller has it already."""
        lr, max_iter, max_eval, tol_grad, tol_change, history, wolfe = unpack(self.h)
        st = self.state
        x = np.array(x, dtype=float)
        if loss is None:
            loss, grad = closure(x)
        loss, flat_grad = float(loss), np.array(grad, dtype=float)
        current_evals = 1
        if np.max(np.abs(flat_grad)) <= tol_grad:
            return x
        d, t = st.get("d"), st.get("t")
        old_dirs, old_stps, ro = st.get("old_dirs"), st.get("old_stps"), st.get("ro")
        H_diag, prev_flat_grad = st.get("H_diag"), st.get("prev_flat_grad")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            st["n_iter"] += 1
            if st["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot_np(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / _dot_np(y, y)
                num_old = len(old_dirs)
                al = [0.0] * num_old
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = _dot_np(old_stps[i], q) * ro[i]
                    q = q + (-al[i]) * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = _dot_np(old_dirs[i], r) * ro[i]
                    r = r + (al[i] - be_i) * old_stps[i]
                d = r
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * lr if st["n_iter"] == 1 else lr
            gtd = _dot_np(flat_grad, d)
            if gtd > -tol_change:
                break
            ls_func_evals = 0
            if wolfe:
                loss, flat_grad, t, ls_func_evals = self._wolfe(closure, x.copy(), t, d, loss, flat_grad, gtd,
                                                                max_eval - current_evals, 1e-9)
                x = x + t * d
                opt_cond = np.max(np.abs(flat_grad)) <= tol_grad
            else:
                x = x + t * d
                opt_cond = False
                if n_iter != max_iter:
                    loss, flat_grad = closure(x)
                    loss, flat_grad = float(loss), np.array(flat_grad, dtype=float)
                    opt_cond = np.max(np.abs(flat_grad)) <= tol_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.max(np.abs(d * t)) <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break
        st.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                  prev_flat_grad=prev_flat_grad)
        return x
