"""The 2-D runner: trajectories of one optimizer kind from many starts, in parallel.

One small kernel per optimizer kind (``trajectory_kernel(kind)``), compiled the
first time that kind is used and cached on disk, instead of one runner holding
all twelve rules: a new machine compiles in seconds what the default session needs
(SGD, Adam, RMSprop), not a minute for everything. Each kind's kernel has its rule
inlined with ``kind`` a compile-time constant, so the hot loop is as tight as a
hand-written one. The driver (``run_batches``) compiles once and receives
that kernel, and the formula's kernels, as first-class functions: an indirect call
per trajectory, not per step. It runs without the GIL on a few Python threads
rather than in a Numba parallel region, so optimizer runs never queue behind
another parallel kernel (a basin map, a grid).
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
from numba import njit, types
from numba.core.dispatcher import Dispatcher

from .kinds import (ADADELTA, ADAFACTOR, ADAGRAD, ADAM, ADAMAX, ADAMW, ASGD, CTL_COOLDOWN, CTL_EPS, CTL_FACTOR,
                    CTL_LR, CTL_MIN_LR, CTL_MODE_MAX, CTL_MOMENTUM, CTL_PATIENCE, CTL_REL, CTL_THRESHOLD,
                    CTL_PLATEAU, CUSTOM_BASE, FORMULA_KERNEL, KIND_NAMES, LBFGS, LION, N_COEF, N_CTL, N_STATE, NADAM,
                    NEWTON, RADAM, RMSPROP, RPROP, SAM, SGD)
from .lbfgs import N_SCALARS as _LBFGS_SCALARS, lbfgs_step
from .rules import (_JIT, adadelta_step, adafactor_step, adagrad_step, adam_step, adamax_step, add_noise,
                    apply_schedule, asgd_step, escaped, init_state, lion_step, moments, nadam_step,
                    newton_step, plateau_step, radam_step, replan_rows, rmsprop_step, rprop_step, sam_perturbation,
                    scheduled_coefficients, sgd_step, step_coefficients)

_VG = FORMULA_KERNEL


@njit(**_JIT)
def _blank_from(pts, ls, k):
    """After a divergence nothing is kept: NaN from step k on (written only then, not up front)."""
    pts[k:, :] = np.nan
    ls[k:] = np.nan


_TRAJECTORY_SIG = types.int64(
    _VG, _VG, types.float64[::1], types.float64[::1], types.float64[:, ::1], types.float64[:, ::1],
    types.float64[::1], types.float64[::1],
    types.int64, types.float64, types.int64, types.int64, types.float64, types.boolean,
    types.float64[:, ::1], types.float64[::1], types.float64[:, ::1], types.float64[:, ::1],
    types.float64[:, ::1])
TRAJECTORY = types.FunctionType(_TRAJECTORY_SIG)


def _rules_digest() -> str:
    """A digest of the sources the kernels inline (an edited rule must not load a stale kernel)."""
    import hashlib
    from pathlib import Path

    here = Path(__file__).parent
    text = "".join((here / name).read_text() for name in ("rules.py", "lbfgs.py", "kinds.py"))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _make_trajectory_kernel(kind: int):
    """Compile (or load from Numba's disk cache) the trajectory kernel of one kind.

    A closure over ``KIND``, renamed per kind so that each kind has its own cache
    index file: two processes compiling different kinds at once never overwrite
    each other's entry (Numba also keys the entry on the closure's contents).
    """
    KIND = int(kind)

    def trajectory(value_and_gradient, hessian, p, h0, table0, sched, ctl, start, steps, noise, seed, stream,
                   box, record, pts, ls, gr, m1, m2):
        # A schedule: ``sched[t - 1]`` holds step t's rate (and cycled momentum; NaN: unchanged).
        # Its stores are written out here: through an inlined helper, or with the table reassigned
        # inside the loop, a step costs a third more. ReduceLROnPlateau (ctl[CTL_PLATEAU]) lowers
        # the rate from the loss at each step, its state in scalars; a reduction (rare) rewrites
        # the remaining steps' rate-dependent scalars in this run's own copy of the table. A run
        # at a constant rate pays two tests a step (~2%), and no second kernel is compiled.
        scheduled = sched.shape[0] > 0
        lr_slot = int(ctl[CTL_LR])
        slot = int(ctl[CTL_MOMENTUM])
        plateau = ctl[CTL_PLATEAU] != 0.0
        mode_max = ctl[CTL_MODE_MAX] != 0.0
        rel = ctl[CTL_REL] != 0.0
        factor, patience, threshold = ctl[CTL_FACTOR], ctl[CTL_PATIENCE], ctl[CTL_THRESHOLD]
        cooldown, min_lr, eps = ctl[CTL_COOLDOWN], ctl[CTL_MIN_LR], ctl[CTL_EPS]
        best = -np.inf if mode_max else np.inf
        bad = 0.0
        cool = 0.0
        h = h0.copy()
        if scheduled:
            apply_schedule(h, sched, 1, lr_slot, slot)
        table = table0.copy() if plateau else table0   # before the loop: a loop-carried array costs
        n = start.shape[0]
        q = start.copy()
        g = np.empty(n)
        qe = np.empty(n)
        e = np.empty(n)
        H = np.zeros((n, n))
        S = np.zeros((N_STATE, n))
        mom1 = np.empty(n)
        mom2 = np.empty(n)
        # KIND as a run-time integer for the helpers that switch on it: passed as the constant, it
        # was a literal type, and each kind compiled its own init_state, moments and replan_rows
        # (0.8 s of a kind's 3 s compile); they run once a run, when recording, or on a plateau
        kind = np.int64(KIND)
        init_state(kind, h, S)
        if KIND == LBFGS:   # its history of curvature pairs, kept across steps as torch keeps it
            history = int(h[5])
            LV = np.zeros((8, n))
            LD = np.zeros((history, n))
            LS = np.zeros((history, n))
            LR = np.zeros(history)
            LA = np.zeros(history)
            LC = np.zeros(_LBFGS_SCALARS)
        # Endpoint mode: when ``pts``/``ls`` have fewer rows than steps+1 (a power of two),
        # they are a ring holding the last points only (step t in row t & mask), so a
        # basin map of 65k starts needs no 500-step paths.
        full = pts.shape[0] > steps
        mask = pts.shape[0] - 1
        pts[0, 0] = q[0]
        pts[0, 1] = q[1]
        for t in range(1, steps + 2):
            f, gx, gy = value_and_gradient(q[0], q[1], p)
            ls[(t - 1) if full else ((t - 1) & mask)] = f
            if not np.isfinite(f):
                _blank_from(pts, ls, t - 1)
                return t - 1
            if t == steps + 1:
                break
            if scheduled:
                v = sched[t - 1, 0]
                if v == v:
                    h[lr_slot] = v
                if slot >= 0:
                    v = sched[t - 1, 1]
                    if v == v:
                        h[slot] = v
            g[0] = gx
            g[1] = gy
            add_noise(g, noise, seed, stream, t, 0)
            if record:
                gr[t - 1, 0] = g[0]
                gr[t - 1, 1] = g[1]
            if KIND == SAM:
                sam_perturbation(h, q, g, e)
                qe[0] = q[0] + e[0]
                qe[1] = q[1] + e[1]
                _, gx, gy = value_and_gradient(qe[0], qe[1], p)
                g[0] = gx
                g[1] = gy
                add_noise(g, noise, seed, stream, t, 1)
            elif KIND == NEWTON:
                hxx, hxy, hyy = hessian(q[0], q[1], p)
                H[0, 0] = hxx
                H[0, 1] = hxy
                H[1, 0] = hxy
                H[1, 1] = hyy
            # KIND is a constant: Numba prunes this switch (the one in ``rules.update``) to one branch
            if KIND == SGD or KIND == SAM:
                sgd_step(h, q, g, S, t)
            elif KIND == ADAGRAD:
                adagrad_step(h, q, g, S, table, t)
            elif KIND == RMSPROP:
                rmsprop_step(h, q, g, S, t)
            elif KIND == ADADELTA:
                adadelta_step(h, q, g, S, t)
            elif KIND == ADAM or KIND == ADAMW:
                adam_step(h, q, g, S, table, t)
            elif KIND == ADAMAX:
                adamax_step(h, q, g, S, table, t)
            elif KIND == NADAM:
                nadam_step(h, q, g, S, table, t)
            elif KIND == RADAM:
                radam_step(h, q, g, S, table, t)
            elif KIND == LION:
                lion_step(h, q, g, S, t)
            elif KIND == NEWTON:
                newton_step(h, q, g, H)
            elif KIND == RPROP:
                rprop_step(h, q, g, S, t)
            elif KIND == ASGD:
                asgd_step(h, q, g, S, table, t)
            elif KIND == ADAFACTOR:
                adafactor_step(h, q, g, S, table, t)
            elif KIND == LBFGS:
                lbfgs_step(h, q, g, f, value_and_gradient, p, noise, seed, stream, t, LV, LD, LS, LR, LA, LC)
            if record:
                moments(kind, h, S, mom1, mom2)
                m1[t - 1, 0] = mom1[0]
                m1[t - 1, 1] = mom1[1]
                m2[t - 1, 0] = mom2[0]
                m2[t - 1, 1] = mom2[1]
            if plateau:   # ReduceLROnPlateau.step(f), torch's rule
                old = h[lr_slot]
                new, best, bad, cool = plateau_step(f, old, best, bad, cool, mode_max, rel, threshold, patience,
                                                    factor, min_lr, eps, cooldown)
                if new != old:
                    h[lr_slot] = new
                    replan_rows(kind, h, t, old, table)
            if escaped(q, box):
                _blank_from(pts, ls, t)
                return t
            i = t if full else (t & mask)
            pts[i, 0] = q[0]
            pts[i, 1] = q[1]
        return -1

    # the rules' digest in the name: Numba's cache does not see edits to the inlined rules
    trajectory.__qualname__ = trajectory.__name__ = f"trajectory_{KIND_NAMES[KIND]}_{_rules_digest()}"
    return njit(_TRAJECTORY_SIG, **_JIT)(trajectory)


_kernels: dict[int, object] = {}
_coefficients: dict[int, object] = {}   # a typed rule's step table (the built-ins: shared_kernels)
_kernels_lock = threading.Lock()


def trajectory_kernel(kind: int):
    """The compiled trajectory kernel of ``kind`` (compiled on first use, then kept).

    Built-in kinds are closures over this module's rules; a typed rule's kernel is
    generated from its text (``custom_codegen``). Any other id is an error, never a
    fall-through to some other rule.
    """
    k = _kernels.get(kind)
    if k is None:
        with _kernels_lock:
            k = _kernels.get(kind)
            if k is None:
                if kind >= CUSTOM_BASE:
                    from .custom import rule_for_kind
                    from .custom_codegen import compile_kernel

                    k, _coefficients[kind] = compile_kernel(rule_for_kind(kind))
                elif kind in KIND_NAMES:
                    k = _make_trajectory_kernel(kind)
                else:
                    raise ValueError(f"unknown optimizer kind {kind}")
                _kernels[kind] = k
    return k


class _Compiled:
    """A compiled function as a first-class function value: its machine address looked up once
    (Numba's wrapper-address protocol) and its Numba type made once (``_numba_type_``)."""

    __slots__ = ("_numba_type_", "address", "dispatcher")

    def __init__(self, dispatcher, ftype):
        cres = dispatcher.get_compile_result(ftype.signature)
        self.address = cres.library.get_pointer_to_function(cres.fndesc.llvm_cfunc_wrapper_name)
        self._numba_type_ = ftype
        self.dispatcher = dispatcher   # keeps the code alive as long as the address is used

    def __wrapper_address__(self):
        return self.address


_addresses: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def first_class(fn, ftype=_VG):
    """``fn`` (a compiled Numba function) as a first-class function value for the kernels.

    Passing the dispatcher itself makes Numba look its address up on every call
    (``get_compile_result``: signature normalising and type hashing) and build its type again
    (~0.1 ms a function): a drag runs 8 kinds x 3 functions, and that was half of its time.
    Anything that is not a dispatcher (a cfunc, a wrapper-address object) is returned as it is."""
    if not isinstance(fn, Dispatcher):
        return fn
    wrapped = _addresses.get(fn)
    if wrapped is None or wrapped._numba_type_ != ftype:
        wrapped = _Compiled(fn, ftype)
        _addresses[fn] = wrapped
    return wrapped


def ready(kind: int) -> bool:
    """True when ``kind`` can run at once: its kernel and the shared drivers are loaded."""
    return kind in _kernels and _shared is not None


_RUN_JOBS_SIG = types.void(
    TRAJECTORY, _VG, _VG, types.float64[::1], types.float64[:, ::1], types.float64[:, :, ::1],
    types.float64[:, :, ::1], types.float64[:, ::1],
    types.float64[:, ::1], types.int64, types.float64, types.int64, types.int64, types.float64, types.boolean,
    types.float64[:, :, :, ::1], types.float64[:, :, ::1], types.float64[:, :, :, ::1],
    types.float64[:, :, :, ::1], types.float64[:, :, :, ::1], types.int64[:, ::1], types.int64,
    types.int64)


def _run_jobs(trajectory, value_and_gradient, hessian, p, hypers, tables, scheds, ctls, starts, steps, noise, seed,
              stream0, box, record, points, losses, grads, first, second, diverged_at, job0, job1):
    """Jobs ``job0 <= j < job1`` of the configs x starts grid (j = config * n_starts + start).

    Serial and without the GIL: ``run_batches`` splits the jobs over threads itself,
    so no Numba parallel region (and its one-at-a-time threading layer) is involved
    and a drag never waits for a basin map that is computing.
    """
    n_st = starts.shape[0]
    for job in range(job0, job1):
        c = job // n_st
        s = job % n_st
        r = c if record else 0
        k = s if record else 0
        diverged_at[c, s] = trajectory(value_and_gradient, hessian, p, hypers[c], tables[c], scheds[c], ctls[c],
                                       starts[s],
                                       steps, noise, seed, stream0 + s, box, record, points[c, s],
                                       losses[c, s], grads[r, k], first[r, k], second[r, k])


_TABLES_SIG = types.void(types.int64, types.float64[:, ::1], types.int64, types.float64[:, :, ::1],
                         types.float64[:, :, ::1], types.float64[:, ::1])


def _step_tables(kind, hypers, steps, tables, scheds, ctls):
    for c in range(hypers.shape[0]):
        if scheds.shape[1] > 0:
            scheduled_coefficients(kind, hypers[c], steps, tables[c], scheds[c], int(ctls[c, CTL_MOMENTUM]))
        else:
            step_coefficients(kind, hypers[c], steps, tables[c])


_shared = None
_shared_lock = threading.Lock()


def shared_kernels():
    """``(run_jobs, step_tables)``, the drivers every kind runs through, compiled (or loaded from
    Numba's disk cache) on first use rather than when this module is imported: compiling them
    takes seconds, and a first launch's child processes (``warmup``) then compile them once, in
    one child, beside the other child's first kind, instead of both children before either."""
    global _shared
    shared = _shared
    if shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = (njit(_RUN_JOBS_SIG, **_JIT)(_run_jobs), njit(_TABLES_SIG, **_JIT)(_step_tables))
            shared = _shared
    return shared


from ..threads import THREADS, background_pool as _background_pool, pool as _pool  # noqa: E402

#: Below this many optimizer steps in all, one thread is faster than handing work out.
_MIN_STEPS_TO_SPLIT = 20_000


class KindBatch:
    """The arguments of one kind's share of a batch: configs (all of ``kind``) x starts.

    ``points``/``losses`` may hold fewer rows than steps+1 (a power of two): then
    each run keeps only its last points, in a ring (see ``trajectory``); state
    arrays are written only if ``record``. Start s draws its gradient noise from
    stream ``stream0 + s``, so recomputing one start of a larger set (a drag)
    reproduces exactly what the full batch gave it.
    """

    def __init__(self, kind, value_and_gradient, hessian, p, hypers, starts, steps, noise, seed, stream0, box,
                 record, points, losses, grads, first, second, diverged_at, scheds=None, ctls=None):
        n_cfg = hypers.shape[0]
        if scheds is None:   # no schedule: (configs, 0, 2) rows of rates
            scheds = np.empty((n_cfg, 0, 2))
        if ctls is None:
            ctls = no_schedule(n_cfg)
        scheds = np.ascontiguousarray(scheds, dtype=np.float64)
        ctls = np.ascontiguousarray(ctls, dtype=np.float64)
        tables = np.empty((n_cfg, max(steps, 1), N_COEF))
        kernel = trajectory_kernel(kind)
        if kind >= CUSTOM_BASE:
            for c in range(n_cfg):
                _coefficients[kind](hypers[c], steps, tables[c], scheds[c], ctls[c])
        else:
            shared_kernels()[1](kind, hypers, steps, tables, scheds, ctls)
        self.args = (first_class(kernel, TRAJECTORY), first_class(value_and_gradient), first_class(hessian), p,
                     hypers, tables, scheds, ctls, starts, steps,
                     noise, seed, stream0, box, record, points, losses, grads, first, second, diverged_at)
        self.jobs = hypers.shape[0] * starts.shape[0]
        self.steps = max(steps, 1)


def run_batches(batches: list[KindBatch], background: bool = False) -> None:
    """Run every kind's batch, its jobs dealt out over ``THREADS`` threads (the caller's included).

    ``background``: all of it on low-priority threads (the caller just waits), so that a
    drag in the window keeps a core while a basin map computes.
    """
    run_jobs = shared_kernels()[0]
    total = sum(b.jobs * b.steps for b in batches)
    parts = THREADS if (_pool is not None and total >= _MIN_STEPS_TO_SPLIT) else 1
    if parts == 1 and not background:
        for b in batches:
            run_jobs(*b.args, 0, b.jobs)
        return
    # Each thread takes a contiguous slice of the concatenated job list (equal step counts).
    work = [[] for _ in range(parts)]
    edges = np.linspace(0, total, parts + 1)
    offset = 0
    for b in batches:
        for i in range(parts):
            lo = max(edges[i], offset)
            hi = min(edges[i + 1], offset + b.jobs * b.steps)
            j0, j1 = int(round((lo - offset) / b.steps)), int(round((hi - offset) / b.steps))
            if j1 > j0:
                work[i].append((b.args, j0, j1))
        offset += b.jobs * b.steps

    def do(items):
        for args, j0, j1 in items:
            run_jobs(*args, j0, j1)

    if background:
        for fut in [_background_pool.submit(do, items) for items in work if items]:
            fut.result()
        return
    futures = [_pool.submit(do, items) for items in work[1:] if items]
    do(work[0])
    for fut in futures:
        fut.result()


def no_schedule(n_cfg: int) -> np.ndarray:
    """``ctl`` rows of runs at a constant rate (lr in slot 0, nothing cycled, no plateau rule)."""
    ctls = np.zeros((n_cfg, N_CTL))
    ctls[:, CTL_MOMENTUM] = -1.0
    return ctls


def run_endpoints(value_and_gradient, hessian, p, kind, h, starts, steps, noise, seed, stream0, box,
                  last, last_loss, diverged_at, background: bool = False, sched=None, ctl=None):
    """One optimizer from many starts, keeping only each run's last R points.

    ``last`` is (starts, R, 2) with R a power of two: if R > steps, row t is the
    point after step t; otherwise a ring, ``last[s, t & (R - 1)]`` for the last R
    steps (so the caller can tell settling from drifting); ``last_loss`` likewise.
    Used by basin maps, where full (starts, steps) paths would not fit in memory.
    """
    dummy = np.empty((1, 1, 1, 2))
    run_batches([KindBatch(kind, value_and_gradient, hessian, p, np.ascontiguousarray(h, dtype=np.float64)[None, :],
                           starts, steps, noise, seed, stream0, box, False, last[None], last_loss[None], dummy,
                           dummy, dummy, diverged_at[None], None if sched is None else sched[None],
                           None if ctl is None else ctl[None])], background=background)

