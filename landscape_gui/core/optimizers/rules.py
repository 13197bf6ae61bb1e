"""Numba update rules over a flat parameter vector of any length.

Each ``*_step`` function reproduces torch.optim's single-tensor code path
operation by operation (same order of floating-point operations, so the
trajectories agree to ~1e-12 over 1000 steps). They work on a vector of any
length: (x, y) for formulas, a network's flat weights in the neural-network mode.

Layout conventions shared with :mod:`landscape_gui.core.optimizers`:
``h`` is the packed hyperparameter vector (see ``optimizers.SPECS``), ``S`` is
``(N_STATE, n)`` per-coordinate state, ``t`` the 1-based step number and ``c``
that step's row of ``step_coefficients``. The plain-numpy twin of every rule is in
``reference.py``; tests compare both, and both against torch.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kinds import (ADADELTA, ADAFACTOR, ADAGRAD, ADAM, ADAMAX, ADAMW, ASGD, CTL_COOLDOWN, CTL_EPS, CTL_FACTOR,
                    CTL_LR, CTL_MIN_LR, CTL_MODE_MAX, CTL_PATIENCE, CTL_REL, CTL_THRESHOLD, LION, N_COEF, N_STATE,
                    NADAM, NEWTON, RADAM, RMSPROP, RPROP, SAM, SGD)

_JIT = dict(cache=True, nogil=True, error_model="numpy")
# Inlined at Numba-IR level into the runner: lets Numba drop the reference-count
# traffic of passing array views on every step (it was most of a step's cost).
_HOT = dict(_JIT, inline="always")


@njit(**_HOT)
def lerp(a, b, w):
    """torch.lerp's formula on the CPU (it switches form at |w| = 0.5)."""
    if abs(w) < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (1.0 - w)


@njit(**_HOT)
def _maximum(a, b):
    """torch.maximum: NaN wins."""
    if a != a or b != b:
        return np.nan
    return a if a > b else b


@njit(**_JIT)
def sgd_step(h, q, g, S, t):
    lr, momentum, dampening, wd, nesterov, maximize = h[0], h[1], h[2], h[3], h[4], h[5]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            gi = gi + wd * q[i]
        if momentum != 0.0:
            if t == 1:
                S[0, i] = gi
            else:
                S[0, i] = S[0, i] * momentum + (1.0 - dampening) * gi
            if nesterov != 0.0:
                gi = gi + momentum * S[0, i]
            else:
                gi = S[0, i]
        q[i] = q[i] + (-lr) * gi


@njit(**_JIT)
def adagrad_step(h, q, g, S, c, t):
    wd, eps, maximize = h[2], h[4], h[5]
    clr = c[t - 1, 0]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            gi = gi + wd * q[i]
        S[0, i] = S[0, i] + 1.0 * gi * gi
        std = np.sqrt(S[0, i]) + eps
        q[i] = q[i] + (-clr) * gi / std


@njit(**_JIT)
def rmsprop_step(h, q, g, S, t):
    lr, alpha, eps, wd, momentum, centered, maximize = h[0], h[1], h[2], h[3], h[4], h[5], h[6]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            gi = gi + wd * q[i]
        S[0, i] = S[0, i] * alpha + (1.0 - alpha) * gi * gi
        if centered != 0.0:
            S[2, i] = lerp(S[2, i], gi, 1.0 - alpha)
            avg = np.sqrt(S[0, i] + (-1.0) * S[2, i] * S[2, i])
        else:
            avg = np.sqrt(S[0, i])
        avg = avg + eps
        if momentum > 0.0:
            S[1, i] = S[1, i] * momentum + 1.0 * gi / avg
            q[i] = q[i] + (-lr) * S[1, i]
        else:
            q[i] = q[i] + (-lr) * gi / avg


@njit(**_JIT)
def adadelta_step(h, q, g, S, t):
    lr, rho, eps, wd, maximize = h[0], h[1], h[2], h[3], h[4]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            gi = gi + wd * q[i]
        S[0, i] = S[0, i] * rho + (1.0 - rho) * gi * gi
        std = np.sqrt(S[0, i] + eps)
        delta = np.sqrt(S[1, i] + eps) / std * gi
        S[1, i] = S[1, i] * rho + (1.0 - rho) * delta * delta
        q[i] = q[i] + (-lr) * delta


@njit(**_JIT)
def adam_step(h, q, g, S, c, t):
    lr, beta1, beta2, eps, wd = h[0], h[1], h[2], h[3], h[4]
    amsgrad, maximize, decoupled = h[5], h[6], h[7]
    step_size, bc2_sqrt = c[t - 1, 0], c[t - 1, 1]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            if decoupled != 0.0:
                q[i] = q[i] * (1.0 - lr * wd)
            else:
                gi = gi + wd * q[i]
        S[0, i] = lerp(S[0, i], gi, 1.0 - beta1)
        S[1, i] = S[1, i] * beta2 + (1.0 - beta2) * gi * gi
        if amsgrad != 0.0:
            S[2, i] = _maximum(S[2, i], S[1, i])
            denom = np.sqrt(S[2, i]) / bc2_sqrt + eps
        else:
            denom = np.sqrt(S[1, i]) / bc2_sqrt + eps
        q[i] = q[i] + (-step_size) * S[0, i] / denom


@njit(**_JIT)
def adamax_step(h, q, g, S, c, t):
    beta1, beta2, eps, wd, maximize = h[1], h[2], h[3], h[4], h[5]
    clr = c[t - 1, 0]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            gi = gi + wd * q[i]
        S[0, i] = lerp(S[0, i], gi, 1.0 - beta1)
        S[1, i] = _maximum(S[1, i] * beta2, abs(gi) + eps)
        q[i] = q[i] + (-clr) * S[0, i] / S[1, i]


@njit(**_JIT)
def nadam_step(h, q, g, S, c, t):
    lr, beta1, beta2, eps, wd = h[0], h[1], h[2], h[3], h[4]
    decoupled, maximize = h[6], h[7]
    bc2, c_grad, c_avg = c[t - 1, 0], c[t - 1, 1], c[t - 1, 2]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            if decoupled != 0.0:
                q[i] = q[i] * (1.0 - lr * wd)
            else:
                gi = gi + wd * q[i]
        S[0, i] = lerp(S[0, i], gi, 1.0 - beta1)
        S[1, i] = S[1, i] * beta2 + (1.0 - beta2) * gi * gi
        denom = np.sqrt(S[1, i] / bc2) + eps
        q[i] = q[i] + c_grad * gi / denom
        q[i] = q[i] + c_avg * S[0, i] / denom


@njit(**_JIT)
def radam_step(h, q, g, S, c, t):
    lr, beta1, beta2, eps, wd, decoupled, maximize = h[0], h[1], h[2], h[3], h[4], h[5], h[6]
    bc1, bc2_sqrt, rect, rectified = c[t - 1, 0], c[t - 1, 1], c[t - 1, 2], c[t - 1, 3]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            if decoupled != 0.0:
                q[i] = q[i] * (1.0 - lr * wd)
            else:
                gi = gi + wd * q[i]
        S[0, i] = lerp(S[0, i], gi, 1.0 - beta1)
        S[1, i] = S[1, i] * beta2 + (1.0 - beta2) * gi * gi
        corrected = S[0, i] / bc1
        if rectified != 0.0:
            adaptive = bc2_sqrt / (np.sqrt(S[1, i]) + eps)
            q[i] = q[i] + (-1.0) * (corrected * lr * adaptive * rect)
        else:
            q[i] = q[i] + (-1.0) * (corrected * lr)


@njit(**_JIT)
def lion_step(h, q, g, S, t):
    """Lion (Chen et al. 2023): sign of an interpolated momentum, decoupled decay."""
    lr, beta1, beta2, wd, maximize = h[0], h[1], h[2], h[3], h[4]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        q[i] = q[i] * (1.0 - lr * wd)
        c = beta1 * S[0, i] + (1.0 - beta1) * gi
        q[i] = q[i] - lr * np.sign(c)
        S[0, i] = beta2 * S[0, i] + (1.0 - beta2) * gi


@njit(**_JIT)
def rprop_step(h, q, g, S, t):
    """torch.optim.Rprop: per-coordinate step sizes grow by etaplus while the gradient keeps its
    sign and shrink by etaminus when it flips (that step is skipped). S[0] prev, S[1] step size."""
    etaminus, etaplus, step_min, step_max, maximize = h[1], h[2], h[3], h[4], h[5]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        s = np.sign(gi * S[0, i])
        if s > 0.0:
            s = etaplus
        elif s < 0.0:
            s = etaminus
        else:
            s = 1.0
        S[1, i] = min(max(S[1, i] * s, step_min), step_max)   # clamp_(min, max)
        if s == etaminus:
            gi = 0.0
        q[i] = q[i] + (-1.0) * (np.sign(gi) * S[1, i])
        S[0, i] = gi


@njit(**_JIT)
def asgd_step(h, q, g, S, c, t):
    """torch.optim.ASGD: SGD with a decaying rate eta_t and the running average ax of the
    iterates (averaging starts at step t0). S[0] is ax; eta and mu come from the table."""
    lambd, wd, maximize = h[1], h[4], h[5]
    eta, mu = c[t - 1, 0], c[t - 1, 1]
    for i in range(q.shape[0]):
        gi = -g[i] if maximize != 0.0 else g[i]
        if wd != 0.0:
            gi = gi + wd * q[i]
        q[i] = q[i] * (1.0 - lambd * eta)
        q[i] = q[i] + (-eta) * gi
        if mu != 1.0:
            S[0, i] = S[0, i] + (q[i] - S[0, i]) * mu
        else:
            S[0, i] = q[i]


@njit(**_JIT)
def adafactor_step(h, q, g, S, c, t):
    """torch.optim.Adafactor on a vector (torch factors only matrices): relative step size
    alpha = max(eps2, RMS(x)) * min(lr, 1/sqrt(t)), update clipped to RMS d. S[0] variance."""
    lr, eps1, eps2, d, wd, maximize = h[0], h[2], h[3], h[4], h[5], h[6]
    one_minus_beta2_t, rho_t = c[t - 1, 0], c[t - 1, 1]
    n = q.shape[0]
    if eps1 != eps1:   # None: the dtype's machine epsilon
        eps1 = 2.220446049250313e-16
    norm2 = 0.0
    for i in range(n):
        norm2 += q[i] * q[i]
    alpha = max(eps2, np.sqrt(norm2) / (n ** 0.5)) * rho_t
    if wd != 0.0:
        for i in range(n):
            q[i] = q[i] * (1.0 - lr * wd)
    unorm2 = 0.0
    for i in range(n):
        gi = -g[i] if maximize != 0.0 else g[i]
        S[0, i] = lerp(S[0, i], gi * gi, one_minus_beta2_t)
        u = 1.0 / np.sqrt(max(S[0, i], eps1 * eps1)) * gi
        S[1, i] = u
        unorm2 += u * u
    denom = max(1.0, np.sqrt(unorm2) / ((n ** 0.5) * d))
    for i in range(n):
        q[i] = q[i] + (-alpha / denom) * S[1, i]


@njit(**_HOT)
def sam_perturbation(h, q, g, e):
    """SAM's ascent step e = rho * g / ||g|| (ASAM: scaled by |q| per coordinate)."""
    rho, adaptive = h[6], h[7]
    norm2 = 0.0
    for i in range(q.shape[0]):
        s = abs(q[i]) * g[i] if adaptive != 0.0 else g[i]
        norm2 += s * s
    scale = rho / (np.sqrt(norm2) + 1e-12)
    for i in range(q.shape[0]):
        w = q[i] * q[i] if adaptive != 0.0 else 1.0
        e[i] = w * g[i] * scale


@njit(**_JIT)
def newton_step(h, q, g, H):
    """Damped saddle-free Newton: q -= lr * (|H| + damping*I)^-1 g.

    |H| replaces every Hessian eigenvalue by its absolute value, so on an
    indefinite Hessian the step still goes downhill (Dauphin et al. 2014)
    instead of jumping to the saddle. Two dimensions only (a network's Hessian
    is never formed): the symmetric 2x2 eigen-decomposition in closed form, which
    needs no LAPACK (so no scipy) and is faster than a library call. ``hypot``
    keeps Hessian entries above 1e154 from overflowing when squared.
    """
    lr, damping = h[0], h[1]
    a, b, d = H[0, 0], H[0, 1], H[1, 1]
    mean = 0.5 * a + 0.5 * d
    r = np.hypot(0.5 * a - 0.5 * d, b)
    l1, l2 = mean + r, mean - r
    if b == 0.0 and a >= d:
        v1x, v1y = 1.0, 0.0
    elif b == 0.0:
        v1x, v1y = 0.0, 1.0
    else:
        v1x, v1y = l1 - d, b
        nv = np.hypot(v1x, v1y)
        v1x, v1y = v1x / nv, v1y / nv
    v2x, v2y = -v1y, v1x
    c1 = (v1x * g[0] + v1y * g[1]) / (abs(l1) + damping)
    c2 = (v2x * g[0] + v2y * g[1]) / (abs(l2) + damping)
    q[0] = q[0] - lr * (c1 * v1x + c2 * v2x)
    q[1] = q[1] - lr * (c1 * v1y + c2 * v2y)


@njit(**_JIT)
def init_state(kind, h, S):
    S[:, :] = 0.0
    if kind == ADAGRAD:
        S[0, :] = h[3]  # initial_accumulator_value
    elif kind == RPROP:
        S[1, :] = h[0]  # every step size starts at lr


@njit(**_HOT)
def coefficient_row(kind, h, t, lr_prev, mu_product, c):
    """Step t's scalars (bias corrections, NAdam's mu products, RAdam's rectifier) into ``c``.

    ``lr_prev`` is the previous step's rate (ASGD's eta is computed with it, as torch stores it
    after each step); returns NAdam's running mu product. The expressions (and their ``**``
    calls) are torch's, so the values are bit-equal.
    """
    lr = h[0]
    beta1, beta2 = h[1], h[2]
    tf = float(t)
    c[:] = 0.0
    if kind == ADAGRAD:
        c[4] = 1.0 + (tf - 1.0) * h[1]
        c[0] = lr / c[4]
    elif kind == ADAM or kind == ADAMW:
        bc1 = 1.0 - beta1 ** tf
        bc2 = 1.0 - beta2 ** tf
        c[0] = lr / bc1
        c[1] = bc2 ** 0.5
        c[4] = bc1
    elif kind == ADAMAX:
        c[4] = 1.0 - beta1 ** tf
        c[0] = lr / c[4]
    elif kind == NADAM:
        momentum_decay = h[5]
        bc2 = 1.0 - beta2 ** tf
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (tf * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((tf + 1.0) * momentum_decay)))
        mu_product = mu_product * mu
        mu_product_next = mu_product * mu_next
        c[0] = bc2
        c[1] = -lr * (1.0 - mu) / (1.0 - mu_product)
        c[2] = (-lr * mu_next) / (1.0 - mu_product_next)
        c[4] = 1.0 - mu
        c[5] = 1.0 - mu_product
        c[6] = mu_next
        c[7] = 1.0 - mu_product_next
    elif kind == ASGD:   # eta and mu as torch stores them after the previous step
        lambd, alpha, t0 = h[1], h[2], h[3]
        prev = tf - 1.0
        c[0] = lr if t == 1 else lr_prev / ((1.0 + lambd * lr_prev * prev) ** alpha)
        c[1] = 1.0 if t == 1 else 1.0 / max(1.0, prev - t0)
    elif kind == ADAFACTOR:
        c[0] = tf ** h[1]                    # 1 - beta2_t = t^beta2_decay
        c[4] = 1.0 / (tf ** 0.5)
        c[1] = min(lr, c[4])                 # rho_t
    elif kind == RADAM:
        bc1 = 1.0 - beta1 ** tf
        bc2 = 1.0 - beta2 ** tf
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * tf * (beta2 ** tf) / bc2
        c[0] = bc1
        c[1] = bc2 ** 0.5
        if rho_t > 5.0:
            c[2] = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
            c[3] = 1.0
    return mu_product


@njit(**_JIT)
def step_coefficients(kind, h, steps, table):
    """``coefficient_row`` for steps 1..steps at a constant rate: ``table[t - 1]`` serves step t.

    They depend only on the step number, so a batch computes them once per optimizer
    instead of once per start.
    """
    mu_product = 1.0
    for t in range(1, steps + 1):
        mu_product = coefficient_row(kind, h, t, h[0], mu_product, table[t - 1])


@njit(**_JIT)
def scheduled_coefficients(kind, h, steps, table, sched, slot):
    """``step_coefficients`` under a schedule: step t's rate (and cycled momentum / beta1) from
    ``sched[t - 1]`` (see ``apply_schedule``)."""
    hh = h.copy()
    mu_product = 1.0
    apply_schedule(hh, sched, 1, 0, slot)
    lr_prev = hh[0]
    for t in range(1, steps + 1):
        apply_schedule(hh, sched, t, 0, slot)
        mu_product = coefficient_row(kind, hh, t, lr_prev, mu_product, table[t - 1])
        lr_prev = hh[0]


@njit(**_JIT)
def replan_rows(kind, h, t, lr_before, table):
    """After ReduceLROnPlateau lowered the rate at the end of step t: the rate-dependent scalars of
    steps t+1.. recomputed at the new rate ``h[0]`` from the rate-free parts each row keeps (columns
    4..7), in torch's order of operations; ASGD's eta of step t+1 still from ``lr_before``."""
    lr = h[0]
    lr_prev = lr_before
    for k in range(t + 1, table.shape[0] + 1):
        c = table[k - 1]
        if kind == ADAGRAD or kind == ADAM or kind == ADAMW or kind == ADAMAX:
            c[0] = lr / c[4]
        elif kind == NADAM:
            c[1] = -lr * c[4] / c[5]
            c[2] = (-lr * c[6]) / c[7]
        elif kind == ADAFACTOR:
            c[1] = min(lr, c[4])
        elif kind == ASGD:
            coefficient_row(kind, h, k, lr_prev, 1.0, c)
        lr_prev = lr


@njit(**_HOT)
def apply_schedule(h, sched, t, lr_slot, slot):
    """Step t's rate into ``h[lr_slot]``, and its cycled momentum (beta1) into ``h[slot]`` when
    the schedule cycles one. NaN leaves the value as it is (a run at a constant rate, or one whose
    rate a plateau rule sets, batched beside scheduled ones)."""
    if lr_slot >= 0:
        v = sched[t - 1, 0]
        if v == v:
            h[lr_slot] = v
    if slot >= 0:
        m = sched[t - 1, 1]
        if m == m:
            h[slot] = m


@njit(**_HOT)
def plateau_step(f, lr, best, bad, cool, mode_max, rel, threshold, patience, factor, min_lr, eps, cooldown):
    """One ``ReduceLROnPlateau.step(f)`` as torch writes it, on scalars only (a kernel keeps its state
    in registers): returns (lr, best, num_bad_epochs, cooldown_counter)."""
    if mode_max:
        better = f > best * (threshold + 1.0) if rel else f > best + threshold
    else:
        better = f < best * (1.0 - threshold) if rel else f < best - threshold
    if better:
        best = f
        bad = 0.0
    else:
        bad += 1.0
    if cool > 0.0:
        cool -= 1.0
        bad = 0.0
    if bad > patience:
        new = max(lr * factor, min_lr)
        if lr - new > eps:
            lr = new
        cool = cooldown
        bad = 0.0
    return lr, best, bad, cool


@njit(**_HOT)
def plateau_update(ctl, P, f, h):
    """``plateau_step`` on ``h[ctl[CTL_LR]]`` with its state in ``P`` (best, num_bad_epochs,
    cooldown_counter) and the settings packed in ``ctl`` (``kinds.CTL_*``)."""
    k = int(ctl[CTL_LR])
    h[k], P[0], P[1], P[2] = plateau_step(f, h[k], P[0], P[1], P[2], ctl[CTL_MODE_MAX] != 0.0, ctl[CTL_REL] != 0.0,
                                          ctl[CTL_THRESHOLD], ctl[CTL_PATIENCE], ctl[CTL_FACTOR], ctl[CTL_MIN_LR],
                                          ctl[CTL_EPS], ctl[CTL_COOLDOWN])


@njit(**_JIT)
def update(kind, h, q, g, H, S, t, table):
    """One step of optimizer ``kind`` (``table`` from ``step_coefficients``).

    For a runtime ``kind``. The hot loop in ``runner`` spells the same switch
    out instead of calling this: there ``kind`` is a constant, Numba prunes the
    switch before typing, and a step costs ~15 ns instead of ~50 ns (measured:
    neither a call to this function nor inlining it gets the pruning).
    """
    if kind == SGD or kind == SAM:
        sgd_step(h, q, g, S, t)
    elif kind == ADAGRAD:
        adagrad_step(h, q, g, S, table, t)
    elif kind == RMSPROP:
        rmsprop_step(h, q, g, S, t)
    elif kind == ADADELTA:
        adadelta_step(h, q, g, S, t)
    elif kind == ADAM or kind == ADAMW:
        adam_step(h, q, g, S, table, t)
    elif kind == ADAMAX:
        adamax_step(h, q, g, S, table, t)
    elif kind == NADAM:
        nadam_step(h, q, g, S, table, t)
    elif kind == RADAM:
        radam_step(h, q, g, S, table, t)
    elif kind == LION:
        lion_step(h, q, g, S, t)
    elif kind == NEWTON:
        newton_step(h, q, g, H)
    elif kind == RPROP:
        rprop_step(h, q, g, S, t)
    elif kind == ASGD:
        asgd_step(h, q, g, S, table, t)
    elif kind == ADAFACTOR:
        adafactor_step(h, q, g, S, table, t)


@njit(**_JIT)
def moments(kind, h, S, m1, m2):
    """The optimizer's visible state: first moment (momentum) and second moment v.

    NaN where the optimizer has no such state. ``m2`` is the accumulator whose
    square root divides the step (Adamax: its infinity norm, squared).
    """
    for i in range(m1.shape[0]):
        m1[i] = np.nan
        m2[i] = np.nan
        if kind == SGD or kind == SAM:
            if h[1] != 0.0:
                m1[i] = S[0, i]
        elif kind == ADAGRAD or kind == ADADELTA:
            m2[i] = S[0, i]
        elif kind == RMSPROP:
            m2[i] = S[0, i]
            if h[4] > 0.0:
                m1[i] = S[1, i]
            elif h[5] != 0.0:
                m1[i] = S[2, i]
        elif kind == ADAM or kind == ADAMW:
            m1[i] = S[0, i]
            m2[i] = S[2, i] if h[5] != 0.0 else S[1, i]
        elif kind == ADAMAX:
            m1[i] = S[0, i]
            m2[i] = S[1, i] * S[1, i]
        elif kind == NADAM or kind == RADAM:
            m1[i] = S[0, i]
            m2[i] = S[1, i]
        elif kind == LION:
            m1[i] = S[0, i]
        elif kind == ASGD:
            m1[i] = S[0, i]   # the averaged iterate ax
        elif kind == ADAFACTOR:
            m2[i] = S[0, i]


# --- reproducible gradient noise: a counter-based generator --------------------------
# Keyed by (seed, stream, step, draw) so a start's noise does not depend on how many
# other starts or optimizers run beside it, nor on thread scheduling.

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


@njit(**_JIT)
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(**_JIT)
def gaussian(seed, stream, t, k):
    """Standard normal draw number ``k`` of step ``t`` in ``stream`` (Box-Muller)."""
    key = _mix64(np.uint64(seed) * _GOLD + np.uint64(stream))
    key = _mix64(key + np.uint64(t) * _GOLD)
    a = _mix64(key + np.uint64(2 * k + 1))
    b = _mix64(key + np.uint64(2 * k + 2))
    u1 = (float(a >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)
    u2 = float(b >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(**_HOT)
def add_noise(g, noise, seed, stream, t, draw):
    if noise != 0.0:
        n = g.shape[0]
        for i in range(n):
            g[i] += noise * gaussian(seed, stream, t, draw * n + i)


@njit(**_HOT)
def escaped(q, box):
    for i in range(q.shape[0]):
        if not np.isfinite(q[i]) or abs(q[i]) > box:
            return True
    return False


@njit(**_JIT)
def replay(kind, h, start, grads, out):
    """Apply ``kind``'s rule to given gradients: ``out[t]`` is the point after t steps.

    Open-loop (the gradients are not re-evaluated), so it compares update rules
    alone, bit for bit, with a recorded run (torch's, in the tests).
    """
    n = start.shape[0]
    steps = grads.shape[0]
    q = start.copy()
    g = np.empty(n)
    H = np.zeros((n, n))
    S = np.zeros((N_STATE, n))
    table = np.empty((max(steps, 1), N_COEF))
    step_coefficients(kind, h, steps, table)
    init_state(kind, h, S)
    out[0, :] = q
    for t in range(1, steps + 1):
        g[:] = grads[t - 1]
        update(kind, h, q, g, H, S, t, table)
        out[t, :] = q
