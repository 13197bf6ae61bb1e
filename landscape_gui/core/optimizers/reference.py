"""Plain-numpy twins of ``rules``: the readable version of each rule.

Written as torch.optim writes them (vector operations on the whole parameter
vector), with Lion, SAM and Newton taken from their papers. Tests run both
against each other; the window uses this while a new formula's kernels compile.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import kinds as K

_MASK = (1 << 64) - 1


def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def gaussian(seed: int, stream: int, t: int, k: int) -> float:
    """Same counter-based normal draw as ``rules.gaussian``."""
    gold = 0x9E3779B97F4A7C15
    key = _mix64((seed * gold + stream) & _MASK)
    key = _mix64((key + t * gold) & _MASK)
    a = _mix64((key + 2 * k + 1) & _MASK)
    b = _mix64((key + 2 * k + 2) & _MASK)
    u1 = ((a >> 11) + 0.5) / 9007199254740992.0
    u2 = (b >> 11) / 9007199254740992.0
    return float(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))


def _lerp(a, b, w):
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1.0 - w)


@functools.lru_cache(maxsize=8)
def _nans(n: int) -> np.ndarray:
    """A read-only row of NaN (``moments`` of a state an optimizer does not have, every step)."""
    a = np.full(n, np.nan)
    a.setflags(write=False)
    return a


class ReferenceOptimizer:
    """State and step of one optimizer on one parameter vector."""

    def __init__(self, kind: int, h: np.ndarray, n: int):
        self.kind, self.h, self.t = kind, h, 0
        self.buf = None
        self.m = np.zeros(n)
        self.v = np.full(n, h[3]) if kind == K.ADAGRAD else np.zeros(n)
        self.v_max = np.zeros(n)
        self.acc = np.zeros(n)
        self.grad_avg = np.zeros(n)
        self.mu_product = 1.0
        if kind == K.RPROP:
            self.acc = np.full(n, h[0])          # step sizes start at lr; self.m is prev
        self.eta, self.mu = (h[0], 1.0) if kind == K.ASGD else (np.nan, np.nan)

    def step(self, q: np.ndarray, g: np.ndarray, H=None) -> np.ndarray:
        """Return the new point (``q`` is not modified)."""
        self.t += 1
        t, h, kind = self.t, self.h, self.kind
        q = q.copy()
        if kind in (K.SGD, K.SAM):
            lr, momentum, dampening, wd, nesterov, maximize = h[:6]
            g = -g if maximize else g
            if wd:
                g = g + wd * q
            if momentum:
                self.buf = g.copy() if self.buf is None else self.buf * momentum + (1 - dampening) * g
                g = g + momentum * self.buf if nesterov else self.buf
            return q - lr * g
        if kind == K.ADAGRAD:
            lr, lr_decay, wd, _, eps, maximize = h[:6]
            g = -g if maximize else g
            if wd:
                g = g + wd * q
            clr = lr / (1 + (t - 1) * lr_decay)
            self.v = self.v + g * g
            return q - clr * g / (np.sqrt(self.v) + eps)
        if kind == K.RMSPROP:
            lr, alpha, eps, wd, momentum, centered, maximize = h[:7]
            g = -g if maximize else g
            if wd:
                g = g + wd * q
            self.v = self.v * alpha + (1 - alpha) * g * g
            if centered:
                self.grad_avg = _lerp(self.grad_avg, g, 1 - alpha)
                avg = np.sqrt(self.v - self.grad_avg * self.grad_avg) + eps
            else:
                avg = np.sqrt(self.v) + eps
            if momentum > 0:
                self.m = self.m * momentum + g / avg
                return q - lr * self.m
            return q - lr * g / avg
        if kind == K.ADADELTA:
            lr, rho, eps, wd, maximize = h[:5]
            g = -g if maximize else g
            if wd:
                g = g + wd * q
            self.v = self.v * rho + (1 - rho) * g * g
            delta = np.sqrt(self.acc + eps) / np.sqrt(self.v + eps) * g
            self.acc = self.acc * rho + (1 - rho) * delta * delta
            return q - lr * delta
        if kind in (K.ADAM, K.ADAMW, K.NADAM, K.RADAM):
            lr, b1, b2, eps, wd = h[:5]
            if kind in (K.ADAM, K.ADAMW):
                amsgrad, maximize, decoupled = h[5:8]
            elif kind == K.NADAM:
                amsgrad, (momentum_decay, decoupled, maximize) = 0, h[5:8]
            else:
                amsgrad, (decoupled, maximize) = 0, h[5:7]
            g = -g if maximize else g
            if wd:
                if decoupled:
                    q = q * (1 - lr * wd)
                else:
                    g = g + wd * q
            self.m = _lerp(self.m, g, 1 - b1)
            self.v = self.v * b2 + (1 - b2) * g * g
            bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
            if kind == K.NADAM:
                mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
                mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
                self.mu_product *= mu
                denom = np.sqrt(self.v / bc2) + eps
                q = q + (-lr * (1 - mu) / (1 - self.mu_product)) * g / denom
                return q + (-lr * mu_next / (1 - self.mu_product * mu_next)) * self.m / denom
            if kind == K.RADAM:
                rho_inf = 2 / (1 - b2) - 1
                rho_t = rho_inf - 2 * t * b2 ** t / bc2
                if rho_t > 5:
                    rect = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    return q - self.m / bc1 * lr * (np.sqrt(bc2) / (np.sqrt(self.v) + eps)) * rect
                return q - self.m / bc1 * lr
            v = self.v
            if amsgrad:
                self.v_max = np.maximum(self.v_max, self.v)
                v = self.v_max
            return q - (lr / bc1) * self.m / (np.sqrt(v) / np.sqrt(bc2) + eps)
        if kind == K.ADAMAX:
            lr, b1, b2, eps, wd, maximize = h[:6]
            g = -g if maximize else g
            if wd:
                g = g + wd * q
            self.m = _lerp(self.m, g, 1 - b1)
            self.v = np.maximum(self.v * b2, np.abs(g) + eps)
            return q - lr / (1 - b1 ** t) * self.m / self.v
        if kind == K.LION:
            # Chen et al. 2023, Algorithm 2
            lr, b1, b2, wd, maximize = h[:5]
            g = -g if maximize else g
            c = b1 * self.m + (1 - b1) * g
            q = q * (1 - lr * wd) - lr * np.sign(c)
            self.m = b2 * self.m + (1 - b2) * g
            return q
        if kind == K.NEWTON:
            lr, damping = h[:2]
            w, vecs = np.linalg.eigh(H)
            return q - lr * vecs @ ((vecs.T @ g) / (np.abs(w) + damping))
        if kind == K.RPROP:   # torch.optim.Rprop
            etaminus, etaplus, smin, smax, maximize = h[1:6]
            g = -g if maximize else g
            sign = np.sign(g * self.m)
            factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1.0))
            self.acc = np.clip(self.acc * factor, smin, smax)
            g = np.where(factor == etaminus, 0.0, g)
            self.m = g
            return q - np.sign(g) * self.acc
        if kind == K.ASGD:    # torch.optim.ASGD
            lr, lambd, alpha, t0, wd, maximize = h[:6]
            g = -g if maximize else g
            if wd:
                g = g + wd * q
            q = q * (1 - lambd * self.eta) - self.eta * g
            self.m = self.m + (q - self.m) * self.mu if self.mu != 1 else q.copy()
            self.eta = lr / ((1 + lambd * lr * t) ** alpha)
            self.mu = 1 / max(1, t - t0)
            return q
        if kind == K.ADAFACTOR:   # torch.optim.Adafactor, vector (unfactored) case
            lr, decay, eps1, eps2, d, wd, maximize = h[:7]
            eps1 = np.finfo(np.float64).eps if np.isnan(eps1) else eps1
            g = -g if maximize else g
            alpha = max(eps2, np.sqrt(np.sum(q * q)) / q.size ** 0.5) * min(lr, 1 / t ** 0.5)
            if wd:
                q = q * (1 - lr * wd)
            self.v = _lerp(self.v, g * g, t ** decay)
            update = 1 / np.sqrt(np.maximum(self.v, eps1 * eps1)) * g
            denom = max(1.0, np.sqrt(np.sum(update * update)) / (q.size ** 0.5 * d))
            return q - alpha / denom * update
        raise ValueError(f"unknown optimizer kind {kind}")

    def moments(self):
        """(first moment, second moment) as ``rules.moments`` reports them."""
        nan = _nans(self.m.shape[0])
        kind, h = self.kind, self.h
        if kind in (K.SGD, K.SAM):
            return (self.buf.copy() if h[1] and self.buf is not None else nan), nan
        if kind in (K.ADAGRAD, K.ADADELTA):
            return nan, self.v.copy()
        if kind == K.RMSPROP:
            first = self.m if h[4] > 0 else self.grad_avg if h[5] else nan
            return first.copy(), self.v.copy()
        if kind in (K.ADAM, K.ADAMW):
            return self.m.copy(), (self.v_max if h[5] else self.v).copy()
        if kind == K.ADAMAX:
            return self.m.copy(), self.v ** 2
        if kind in (K.NADAM, K.RADAM):
            return self.m.copy(), self.v.copy()
        if kind in (K.LION, K.ASGD):
            return self.m.copy(), nan
        if kind == K.ADAFACTOR:
            return nan, self.v.copy()
        return nan, nan


def sam_perturbation(h, q, g):
    """Foret et al. 2021 eq. 2 (ASAM, Kwon et al. 2021, when adaptive)."""
    rho, adaptive = h[6], h[7]
    scale = np.abs(q) if adaptive else np.ones_like(q)
    s = scale * g
    # in the kernel's order of operations (np.linalg.norm's scaled BLAS norm and rho*g/|g| round
    # differently, and near a minimum SAM's direction g/|g| amplifies that last bit)
    step = rho / (np.sqrt(np.sum(s * s)) + 1e-12)
    return (q * q if adaptive else np.ones_like(q)) * g * step


class _Rates:
    """A schedule's effect on the hyperparameter vector, step by step (``runner.trajectory``'s
    ``sched``/``ctl``): ``at(t)`` before step t, ``after(loss)`` after it (ReduceLROnPlateau)."""

    def __init__(self, h, sched, ctl):
        self.h = np.array(h, dtype=float)
        self.sched = None if sched is None or len(sched) == 0 else np.asarray(sched)
        self.ctl = ctl
        self.lr_slot = 0 if ctl is None else int(ctl[K.CTL_LR])
        self.slot = -1 if ctl is None else int(ctl[K.CTL_MOMENTUM])
        self.rule = None
        if ctl is not None and ctl[K.CTL_PLATEAU]:
            from .schedules import PlateauRule

            self.rule = PlateauRule("max" if ctl[K.CTL_MODE_MAX] else "min", ctl[K.CTL_FACTOR],
                                    int(ctl[K.CTL_PATIENCE]), ctl[K.CTL_THRESHOLD],
                                    "rel" if ctl[K.CTL_REL] else "abs", int(ctl[K.CTL_COOLDOWN]),
                                    ctl[K.CTL_MIN_LR], ctl[K.CTL_EPS])
            self.state = (math.inf if self.rule.mode == "min" else -math.inf, 0, 0)

    def at(self, t):
        if self.sched is not None:
            v, m = self.sched[t - 1]
            if v == v:
                self.h[self.lr_slot] = v
            if self.slot >= 0 and m == m:
                self.h[self.slot] = m
        return self.h

    def after(self, loss):
        if self.rule is not None:
            from .schedules import plateau_step

            lr, *self.state = plateau_step(self.rule, float(loss), self.h[self.lr_slot], *self.state)
            self.h[self.lr_slot] = lr


def reference_run(f, kind, h, start, steps, noise=0.0, seed=0, stream=0, box=1e300, record=False,
                  sched=None, ctl=None):
    """One trajectory with the same conventions as ``runner.trajectory_kernel``."""
    rates = _Rates(h, sched, ctl)
    h = rates.at(1) if steps else rates.h
    if kind == K.LBFGS:   # evaluates inside a step: the closure numbers its noise draws 1, 2, ...
        from .lbfgs import LBFGSReference

        opt = LBFGSReference(h, 2)

        def step(q, g, loss, gradient, t):
            draws = iter(range(1, 1 << 30))
            return opt.step(q, lambda p: (f.value(p[0], p[1]), gradient(p, next(draws))), loss, g)

        return _loop(f, start, steps, noise, seed, stream, box, record, _scheduled(step, rates, opt), None)
    if kind >= K.CUSTOM_BASE:  # a typed rule: its own interpreter
        from .custom import RuleInterpreter, rule_for_kind

        rule = RuleInterpreter(rule_for_kind(kind), h, 2)
        names = [n for n, _ in rule.rule.hypers]

        def rule_step(q, g, loss, gradient, t):
            for k, name in enumerate(names):
                rule.scalars[name] = float(rates.h[k])
            return rule.step(q, g, loss, gradient)

        return _loop(f, start, steps, noise, seed, stream, box, record, _scheduled(rule_step, rates, None),
                     rule.moments)
    opt = ReferenceOptimizer(kind, h, 2)

    def step(q, g, loss, gradient, t):
        h = opt.h
        H = None
        if kind == K.SAM:
            g = gradient(q + sam_perturbation(h, q, g), 1)
        elif kind == K.NEWTON:
            (hxx, hxy), (_, hyy) = f.hessian(q[0], q[1])
            H = np.array([[hxx, hxy], [hxy, hyy]])
        return opt.step(q, g, H)

    return _loop(f, start, steps, noise, seed, stream, box, record, _scheduled(step, rates, opt), opt.moments)


def _scheduled(step, rates, opt):
    """``step`` with step t's rate (and cycled momentum) set first, and the plateau rule after."""
    def inner(q, g, loss, gradient, t):
        h = rates.at(t)
        if opt is not None:
            opt.h = h
        out = step(q, g, loss, gradient, t)
        rates.after(loss)
        return out
    return inner


def _loop(f, start, steps, noise, seed, stream, box, record, step, moments):
    """The runner's loop in numpy. ``step(q, g, loss, gradient, t)`` returns the next point, where
    ``gradient(point, draw)`` is the gradient at ``point`` with noise draw ``draw`` of step t
    (0 is g's). A loss that is not finite, or a point outside ``box``, ends the run."""
    n = 2
    pts = np.full((steps + 1, n), np.nan)
    ls = np.full(steps + 1, np.nan)
    gr, m1, m2 = (np.full((max(steps, 1), n), np.nan) for _ in range(3))
    q = np.array(start, dtype=float)
    pts[0] = q
    for t in range(1, steps + 2):
        loss = f.value(q[0], q[1])
        ls[t - 1] = loss
        if not math.isfinite(loss):
            pts[t - 1] = np.nan
            return pts, ls, t - 1, gr, m1, m2
        if t == steps + 1:
            break

        def gradient(point, draw, t=t):
            g = np.array(f.gradient(point[0], point[1]), dtype=float)
            if noise:
                g = g + noise * np.array([gaussian(seed, stream, t, draw * n + i) for i in range(n)])
            return g

        g = gradient(q, 0)
        if record:
            gr[t - 1] = g
        with np.errstate(all="ignore"):
            q = step(q, g, loss, gradient, t)
        if record and moments is not None:
            m1[t - 1], m2[t - 1] = moments()
        x, y = float(q[0]), float(q[1])   # two floats: math, not four numpy reductions a step
        if not (math.isfinite(x) and math.isfinite(y)) or abs(x) > box or abs(y) > box:
            return pts, ls, t, gr, m1, m2
        pts[t] = q
    return pts, ls, -1, gr, m1, m2


def reference_batch(f, kinds, hypers, starts, steps, noise, seed, box, record, stream0=0, scheds=None, ctls=None):
    """``runner.run_batches`` in plain Python/numpy; returns the arrays of a ``Batch``."""
    n_cfg, n_st = len(kinds), len(starts)
    points = np.full((n_cfg, n_st, steps + 1, 2), np.nan)
    losses = np.full((n_cfg, n_st, steps + 1), np.nan)
    diverged = np.full((n_cfg, n_st), -1, dtype=np.int64)
    rec = np.full((3, n_cfg, n_st, steps, 2), np.nan) if record else None
    for c in range(n_cfg):
        for s in range(n_st):
            pts, ls, d, gr, m1, m2 = reference_run(f, int(kinds[c]), hypers[c], starts[s], steps,
                                                   noise, seed, stream0 + s, box, record,
                                                   None if scheds is None else scheds[c],
                                                   None if ctls is None else ctls[c])
            points[c, s], losses[c, s], diverged[c, s] = pts, ls, d
            if record:
                rec[0, c, s], rec[1, c, s], rec[2, c, s] = gr[:steps], m1[:steps], m2[:steps]
    if record:
        return points, losses, diverged, rec[0], rec[1], rec[2]
    return points, losses, diverged

