"""Direct answers about a landscape: its critical points, which minimum each start
ends in, where a learning rate becomes unstable, and how sharp a minimum is.

>>> cps = critical_points(f, (-5, 5), (-5, 5))            # minima, maxima, saddles
>>> b = basins(f, "SGD", {"lr": 0.01}, (-5, 5), (-5, 5))  # b.labels, b.attractors, b.fractions
>>> s = lr_sweep(f, "SGD", {}, start=(1, 1), lrs=np.geomspace(1e-4, 1, 200))
>>> lam, sam = sharpness(f, 3.0, 2.0, rho=0.05)

Long computations take ``progress(done, total)`` and ``cancel() -> bool``
callbacks and work in chunks, so a window can show a progress bar and stop them;
a cancelled run raises :class:`Cancelled`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import optimizers
from ..cancel import Cancelled
from ..cancel import check as _check
from ..formula.loss_function import PARALLEL_LOCK, LossFunction

KINDS = ("minimum", "maximum", "saddle", "degenerate")


_RING = 32  # basin runs keep their last 32 points (a power of two: the runner's ring)



def _domain(xrange, yrange):
    (x0, x1), (y0, y1) = (float(v) for v in xrange), (float(v) for v in yrange)
    if not (np.isfinite([x0, x1, y0, y1]).all() and x1 > x0 and y1 > y0):
        raise ValueError(f"invalid ranges x {xrange}, y {yrange}: need finite min < max")
    return (x0, x1), (y0, y1)


def _analysis_kernels(f: LossFunction, wait: bool):
    """(kernel module, formula module) or (None, None) while either is still compiling."""
    module = f.kernels(wait=wait)
    if module is None:
        return None, None
    from . import newton as analysis_kernels

    return analysis_kernels, module


# --- critical points ------------------------------------------------------------------


@dataclass(frozen=True)
class CriticalPoint:
    """A point where the gradient vanishes, classified by the Hessian's eigenvalues."""

    x: float
    y: float
    value: float
    kind: str                       # one of KINDS
    eigenvalues: tuple[float, float]  # ascending

    @property
    def condition_number(self) -> float:
        """|lambda|max / |lambda|min: how elongated the bowl (or saddle) is; inf if degenerate."""
        lo, hi = sorted(abs(v) for v in self.eigenvalues)
        return math.inf if lo == 0.0 else hi / lo

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[1])


def classify(eigenvalues, scale: float = 1.0, rel_tol: float = 1e-6) -> str:
    """Minimum/maximum/saddle by eigenvalue signs; "degenerate" when one is ~0.

    "~0" means below ``rel_tol`` times the larger of the point's own largest
    |eigenvalue| and ``scale`` (the landscape's typical curvature), so a shallow
    but honest bowl is not called degenerate and the monkey saddle's zero Hessian is.
    """
    lo, hi = float(min(eigenvalues)), float(max(eigenvalues))
    tol = rel_tol * max(abs(lo), abs(hi), scale)
    if abs(lo) <= tol or abs(hi) <= tol:
        return "degenerate"
    if lo > 0:
        return "minimum"
    if hi < 0:
        return "maximum"
    return "saddle"


def critical_points(f: LossFunction, xrange, yrange, resolution: int = 96, *, max_iter: int = 100,
                    merge_tol: float | None = None, wait: bool = True) -> list[CriticalPoint]:
    """Every critical point Newton reaches from a ``resolution``² seed grid, inside the domain.

    Points closer than ``merge_tol`` (default 1e-4 of the domain's diagonal) are one.
    Sorted minima first, then saddles, maxima and degenerate points, each by value. More
    than MAX_DEGENERATE degenerate points mean a plateau: they are left out and counted in
    the result's ``flat_fraction``.
    """
    (x0, x1), (y0, y1) = _domain(xrange, yrange)
    n = int(resolution)
    if not 2 <= n <= 2048:
        raise ValueError(f"resolution must be between 2 and 2048, got {resolution}")
    diag = math.hypot(x1 - x0, y1 - y0)
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
    seeds = np.ascontiguousarray(np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2))
    max_step, xtol = 0.25 * diag, 1e-11 * diag
    kernels, module = _analysis_kernels(f, wait)
    if kernels is None:
        from .newton import newton_search_reference

        found, status = newton_search_reference(f, seeds, max_iter, max_step, xtol)
    else:
        found = np.empty_like(seeds)
        status = np.empty(len(seeds), dtype=np.int64)
        with PARALLEL_LOCK:
            kernels.newton_search(module.value_and_gradient, module.hessian, f.param_array, seeds,
                                  int(max_iter), max_step, xtol, found, status)
    margin = 1e-9 * diag
    ok = ((status == 0) & (found[:, 0] >= x0 - margin) & (found[:, 0] <= x1 + margin)
          & (found[:, 1] >= y0 - margin) & (found[:, 1] <= y1 + margin))
    found = found[ok]
    if not len(found):
        return CriticalPoints()
    with np.errstate(all="ignore"):
        gx, gy = f.gradient(seeds[:, 0], seeds[:, 1])
        (hxx, hxy), (_, hyy) = f.hessian(seeds[:, 0], seeds[:, 1])
    gscale = np.nanmedian(np.abs(np.concatenate([np.ravel(gx), np.ravel(gy)])))
    curv = np.abs(np.concatenate([np.ravel(hxx), np.ravel(hxy), np.ravel(hyy)]))
    curv = curv[np.isfinite(curv)]
    cscale = float(np.median(curv)) if curv.size else 1.0
    pts = _merge(found, merge_tol if merge_tol is not None else 1e-4 * diag)
    px, py = pts[:, 0], pts[:, 1]
    with np.errstate(all="ignore"):
        gx, gy = (np.broadcast_to(v, px.shape) for v in f.gradient(px, py))
        (a, b), (_, d) = f.hessian(px, py)
        a, b, d = (np.broadcast_to(v, px.shape) for v in (a, b, d))
        values = np.broadcast_to(f.value(px, py), px.shape)
        lo, hi = _eigenvalues_2x2(a, b, d)
    # a true zero of the gradient, not a stall where Newton's steps merely got small
    gtol = 1e-6 * max(1.0, float(gscale) if np.isfinite(gscale) else 1.0)
    keep = (np.hypot(gx, gy) <= gtol) & np.isfinite(lo) & np.isfinite(hi)
    result = [CriticalPoint(float(px[i]), float(py[i]), float(values[i]),
                            classify((lo[i], hi[i]), cscale), (float(lo[i]), float(hi[i])))
              for i in np.flatnonzero(keep)]
    order = {k: i for i, k in enumerate(("minimum", "saddle", "maximum", "degenerate"))}
    result.sort(key=lambda c: (order[c.kind], c.value, c.x, c.y))
    out = CriticalPoints(result)
    flat = [c for c in result if c.kind == "degenerate"]
    if len(flat) > MAX_DEGENERATE:
        # a plateau (f constant on a region) is not a set of points: report its extent instead
        out = CriticalPoints([c for c in result if c.kind != "degenerate"])
        out.flat_fraction = len(flat) / (n * n)
    return out


MAX_DEGENERATE = 50  # more degenerate points than this: a flat region


class CriticalPoints(list):
    """The critical points, plus ``flat_fraction``: the share of the seed grid lying on a
    plateau (gradient and Hessian zero on a whole region), whose points are not listed."""

    flat_fraction: float = 0.0


def _merge(points: np.ndarray, tol: float) -> np.ndarray:
    """One point per single-linkage cluster of points within ``tol`` (the member nearest
    the cluster's mean: Newton's endpoints agree to ~1e-12, so any member is exact)."""
    groups = _cluster(points, tol)
    n = groups.max() + 1
    counts = np.bincount(groups, minlength=n)
    mean = np.column_stack([np.bincount(groups, points[:, k], n) / counts for k in (0, 1)])
    dist = np.hypot(*(points - mean[groups]).T)
    order = np.lexsort((dist, groups))
    first = order[np.r_[0, np.flatnonzero(np.diff(groups[order])) + 1]]
    return points[first]


def _eigenvalues_2x2(a, b, d):
    """Eigenvalues (ascending) of symmetric [[a, b], [b, d]], elementwise and stable."""
    mean = 0.5 * (a + d)
    r = np.hypot(0.5 * (a - d), b)
    return mean - r, mean + r


# --- sharpness -------------------------------------------------------------------------


def sharpness(f: LossFunction, x: float, y: float, rho: float = 0.05) -> tuple[float, float]:
    """(largest Hessian eigenvalue, SAM sharpness max_{|e|<=rho} f(p+e) - f(p)) at p = (x, y).

    The SAM maximum is searched on a polar grid over the disc, then refined by
    projected gradient ascent from the best grid point.
    """
    rho = float(rho)
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")
    (a, b), (_, d) = f.hessian(x, y)
    h = np.array([[a, b], [b, d]], dtype=np.float64)
    lam = float(np.linalg.eigvalsh(h)[1]) if np.isfinite(h).all() else math.nan
    f0 = float(f.value(x, y))
    angles = np.linspace(0.0, 2 * np.pi, 72, endpoint=False)
    radii = rho * np.array([0.25, 0.5, 0.75, 1.0])
    ex = (radii[:, None] * np.cos(angles)[None, :]).ravel()
    ey = (radii[:, None] * np.sin(angles)[None, :]).ravel()
    vals = np.asarray(f.value(x + ex, y + ey), dtype=np.float64)
    vals = np.where(np.isfinite(vals), vals, -np.inf)
    k = int(np.argmax(vals))
    best, e = float(vals[k]), np.array([ex[k], ey[k]])
    step = rho / 8
    for _ in range(60):  # projected gradient ascent with a shrinking step
        gx, gy = (float(v) for v in f.gradient(x + e[0], y + e[1]))
        g = np.array([gx, gy])
        norm = float(np.hypot(*g))
        if not np.isfinite(norm) or norm == 0:
            break
        trial = e + step * g / norm
        r = float(np.hypot(*trial))
        if r > rho:
            trial *= rho / r
        v = float(f.value(x + trial[0], y + trial[1]))
        if np.isfinite(v) and v > best:
            best, e = v, trial
        else:
            step *= 0.5
            if step < 1e-9 * rho:
                break
    return lam, max(best, f0) - f0


# --- basins of attraction -----------------------------------------------------------------


@dataclass
class Basins:
    """Which attractor each start (a grid cell's centre) ends near.

    ``labels[j, i]`` indexes ``attractors`` for the cell at (x_i, y_j); ``-1``: the
    run diverged; ``-2``: it did not settle (still drifting when the steps ran out). ``fractions[k]`` is attractor k's share of the domain;
    together with ``diverged_fraction`` and ``unsettled_fraction`` they sum to 1.
    """

    labels: np.ndarray
    attractors: list[tuple[float, float]]
    fractions: list[float]
    attractor_losses: list[float]
    diverged_fraction: float
    unsettled_fraction: float
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    optimizer: str
    hyperparameters: dict
    steps: int
    final_points: np.ndarray = field(repr=False, default=None)  # (ny, nx, 2)

    def label_at(self, x: float, y: float) -> int:
        ny, nx = self.labels.shape
        (x0, x1), (y0, y1) = self.xrange, self.yrange
        i = min(max(int((x - x0) / (x1 - x0) * nx), 0), nx - 1)
        j = min(max(int((y - y0) / (y1 - y0) * ny), 0), ny - 1)
        return int(self.labels[j, i])


def cell_centres(xrange, yrange, shape) -> tuple[np.ndarray, np.ndarray]:
    """Centres of an (nx, ny) tiling of the domain: the starts of a basin map."""
    (x0, x1), (y0, y1) = _domain(xrange, yrange)
    nx, ny = (int(shape[0]), int(shape[1])) if np.ndim(shape) else (int(shape), int(shape))
    if nx < 1 or ny < 1 or nx * ny > 4096 * 4096:
        raise ValueError(f"basin shape must be between 1x1 and 4096x4096, got {nx}x{ny}")
    return (x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx, y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny)


def basins(f: LossFunction, name: str, hyperparameters: dict | None, xrange, yrange,
           shape=(256, 256), steps: int = 500, *, noise: float = 0.0, seed: int = 0,
           settle_tol: float | None = None, cluster_tol: float | None = None,
           progress=None, cancel=None, background: bool = False) -> Basins:
    """Run ``name`` from every cell of the domain and group the endpoints into attractors.

    ``cluster_tol`` (default 1.5 cell diagonals): settled endpoints closer than this
    (single linkage) share an attractor, placed at the member with the lowest loss.
    A run is "settled" when its drift per step at the end (centroid of its last 16
    points vs the 16 before, so oscillation around a point is not drift) is at most
    ``settle_tol`` (default: running as long again would move it less than 5% of
    ``cluster_tol``); one still crawling along a valley is labelled -2, not given an
    attractor of its own. Runs in row chunks, calling
    ``progress(done_rows, total_rows)`` and honouring ``cancel()`` between chunks.
    ``background=True`` runs on low-priority threads (the window's map: a drag keeps a core).
    """
    cname, hyper = optimizers.validate(name, hyperparameters)
    kind, h = optimizers._pack_valid(cname, hyper)
    xs, ys = cell_centres(xrange, yrange, shape)
    nx, ny = xs.size, ys.size
    (x0, x1), (y0, y1) = _domain(xrange, yrange)
    cell = math.hypot((x1 - x0) / nx, (y1 - y0) / ny)
    steps = int(steps)
    if not 1 <= steps <= optimizers.MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {optimizers.MAX_STEPS}, got {steps}")
    cluster_tol = 1.5 * cell if cluster_tol is None else float(cluster_tol)
    settle_tol = 0.05 * cluster_tol / steps if settle_tol is None else float(settle_tol)
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    seed = int(seed) & 0x7FFF_FFFF_FFFF_FFFF
    box = optimizers._box(np.array([[x0, y0], [x1, y1]]), ((x0, x1), (y0, y1)))
    module = f.kernels(wait=True)  # a numpy fallback would take minutes: wait for Numba
    from ..optimizers import endpoints, runner
    sched, ctl = None, None
    if hyper.get("schedule"):
        rows, ctls = optimizers.schedule_arrays([(cname, hyper)], steps)
        sched = np.full((steps, 2), np.nan) if rows[0] is None else rows[0]
        ctl = ctls[0]
    ring = _RING
    k = min(_RING // 2, (steps + 1) // 2)   # compare the centroids of the last two k-step windows
    order = np.arange(steps - 2 * k + 1, steps + 1)
    rows_of = order if steps + 1 <= ring else order & (ring - 1)
    weights = None
    if steps + 1 > ring:   # every ring row holds one of the last 2k points: +1/k late, -1/k early,
        w = np.empty(ring)  # as a (ring x 2, 2) matrix: one product of the flat ring gives x and y
        w[rows_of[k:]] = 1.0 / k
        w[rows_of[:k]] = -1.0 / k
        weights = np.zeros((ring, 2, 2))
        weights[:, 0, 0] = weights[:, 1, 1] = w
        weights = weights.reshape(2 * ring, 2)
    final = np.empty((ny, nx, 2))
    drift = np.empty((ny, nx))
    final_loss = np.empty((ny, nx))
    diverged = np.empty((ny, nx), dtype=np.int64)
    rows = max(1, 16384 // nx)  # ~16k runs a chunk: a few tens of ms, so cancel is prompt
    # one set of buffers for every chunk: fresh ones (12 MB) cost their page faults each time,
    # a quarter of the kernel's own time on this machine
    last_buf = np.empty((min(rows, ny) * nx, ring, 2))
    loss_buf = np.empty((min(rows, ny) * nx, ring))
    div_buf = np.empty(min(rows, ny) * nx, dtype=np.int64)
    for j0 in range(0, ny, rows):
        _check(cancel)
        j1 = min(ny, j0 + rows)
        starts = np.ascontiguousarray(
            np.stack(np.meshgrid(xs, ys[j0:j1]), axis=-1).reshape(-1, 2))
        stream0 = j0 * nx
        last, last_loss, div = last_buf[:len(starts)], loss_buf[:len(starts)], div_buf[:len(starts)]
        if sched is not None:   # per-step rates: the general runner
            runner.run_endpoints(module.value_and_gradient, module.hessian, f.param_array, kind, h,
                                 starts, steps, noise, seed, stream0, box, last, last_loss, div,
                                 background=background, sched=sched, ctl=ctl)
        elif kind in endpoints.BLOCKED_KINDS:   # a kernel of this formula and kind: SIMD over starts
            endpoints.run(module, f.param_array, kind, h, starts, steps, noise, seed, stream0, box,
                          last, last_loss, div, background=background)
        else:
            runner.run_endpoints(module.value_and_gradient, module.hessian, f.param_array, kind, h,
                                 starts, steps, noise, seed, stream0, box, last, last_loss, div,
                                 background=background)
        fl = last_loss[:, rows_of[-1]]
        n = j1 - j0
        with np.errstate(invalid="ignore"):
            if weights is None:   # the run's points in order in the ring's first rows: a view
                tail = last[:, rows_of[0]:rows_of[-1] + 1]
                moved = tail[:, k:].mean(axis=1) - tail[:, :k].mean(axis=1)
            else:   # the whole ring, in rotated order: one weighted sum, not a gather of it
                moved = last.reshape(len(last), 2 * ring) @ weights
        final[j0:j1] = last[:, rows_of[-1]].reshape(n, nx, 2)
        drift[j0:j1] = (np.hypot(moved[:, 0], moved[:, 1]) / k).reshape(n, nx)
        final_loss[j0:j1] = fl.reshape(n, nx)
        diverged[j0:j1] = div.reshape(n, nx)
        if progress is not None:
            progress(j1, ny)
    _check(cancel)
    labels = np.full((ny, nx), -2, dtype=np.int64)
    bad = (diverged >= 0) | ~np.isfinite(final).all(axis=-1) | ~np.isfinite(final_loss)
    labels[bad] = -1
    settled = ~bad & (drift <= settle_tol)
    attractors, losses, fractions = [], [], []
    if settled.any():
        pts = final[settled]
        fl = final_loss[settled]
        groups = _cluster(pts, cluster_tol)
        sizes = np.bincount(groups)
        order = np.argsort(-sizes, kind="stable")
        relabel = np.empty_like(order)
        relabel[order] = np.arange(order.size)
        labels[settled] = relabel[groups]
        total = nx * ny
        for g in order:
            members = np.flatnonzero(groups == g)
            best = members[np.argmin(fl[members])]
            attractors.append((float(pts[best, 0]), float(pts[best, 1])))
            losses.append(float(fl[best]))
            fractions.append(float(sizes[g]) / total)
    return Basins(labels, attractors, fractions, losses, float(bad.mean()),
                  float((labels == -2).mean()), (x0, x1), (y0, y1), cname, hyper, steps, final)


def settling_steps(f: LossFunction, b: Basins, *, sample: int = 32, seed: int = 0, cancel=None) -> int | None:
    """Roughly how many steps would settle the runs ``b`` left "still moving".

    Reruns a random sample of the unsettled cells for up to 256x the steps (one
    trajectory each) and applies ``basins``' own settling test to every longer prefix;
    returns the first round step count at which 90% of the sample settles, or None if
    not even ``MAX_STEPS`` do (a valley floor it crawls along forever).
    """
    ys_, xs_ = np.nonzero(b.labels == -2)
    if xs_.size == 0:
        return None
    rng = np.random.default_rng(seed)
    pick = rng.choice(xs_.size, size=min(sample, xs_.size), replace=False)
    ny, nx = b.labels.shape
    (x0, x1), (y0, y1) = b.xrange, b.yrange
    starts = np.c_[x0 + (xs_[pick] + 0.5) * (x1 - x0) / nx, y0 + (ys_[pick] + 0.5) * (y1 - y0) / ny]
    longest = min(b.steps * 256, optimizers.MAX_STEPS)
    _check(cancel)
    run = optimizers.run_many(f, [(b.optimizer, b.hyperparameters)], starts, longest,
                              domain=(b.xrange, b.yrange))
    pts = run.points[0]
    cell = math.hypot((x1 - x0) / nx, (y1 - y0) / ny)
    candidates = sorted({int(b.steps * m) for m in (2, 4, 8, 16, 32, 64, 128, 256)} | {longest})
    for steps in candidates:
        if steps > longest:
            break
        k = min(_RING // 2, (steps + 1) // 2)
        tail = pts[:, steps - 2 * k + 1: steps + 1]
        with np.errstate(invalid="ignore"):
            moved = tail[:, k:].mean(axis=1) - tail[:, :k].mean(axis=1)
        drift = np.hypot(moved[:, 0], moved[:, 1]) / k
        if np.mean(drift <= 0.05 * 1.5 * cell / steps) >= 0.9:
            return int(float(f"{steps:.2g}"))  # a round number: 8000, not 7936
    return None


def _cluster(points: np.ndarray, tol: float) -> np.ndarray:
    """Single-linkage groups of points within ``tol`` (via a tol-sized cell grid); group ids."""
    cells = np.floor(points / tol).astype(np.int64)
    lo = cells.min(axis=0) if len(cells) else np.zeros(2, dtype=np.int64)
    span = (cells.max(axis=0) - lo + 1) if len(cells) else np.ones(2, dtype=np.int64)
    if float(span[0]) * float(span[1]) < 2.0 ** 62:
        # one int64 key per cell, ordered as (cx, cy) are: a 1-D unique, 5x faster than axis=0's
        keys = (cells[:, 0] - lo[0]) * span[1] + (cells[:, 1] - lo[1])
        ukeys, inverse = np.unique(keys, return_inverse=True)
        uniq = np.column_stack([ukeys // span[1] + lo[0], ukeys % span[1] + lo[1]])
    else:
        uniq, inverse = np.unique(cells, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    parent = np.arange(len(uniq))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index = {c: i for i, c in enumerate(map(tuple, uniq.tolist()))}
    for i, (cx, cy) in enumerate(uniq.tolist()):
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                j = index.get((cx + dx, cy + dy))
                if j is not None and j != i:
                    ri, rj = find(i), find(j)
                    if ri != rj:
                        parent[ri] = rj
    roots = np.array([find(i) for i in range(len(uniq))])
    _, group_of_cell = np.unique(roots, return_inverse=True)
    return group_of_cell.ravel()[inverse]


# --- learning-rate sweep ---------------------------------------------------------------


@dataclass
class LRSweep:
    """One optimizer from one start at many learning rates.

    ``diverged[i]``: the run left the finite world or ended higher than it
    started. ``steps_to_converge[i]``: first step from which the run's loss stays
    within ``tol`` x (its starting gap) of the lowest loss any rate reached (-1: it
    diverged or never got there, e.g. it stopped in another minimum). ``edge`` is the
    theory's stability limit (gradient descent: 2/lambda_max; heavy-ball momentum m:
    2(1+m)/lambda_max; Nesterov: 2(1+m)/((1+2m) lambda_max)) from the Hessian at the
    minimum the best run reached, or NaN where no such formula exists (adaptive methods).
    """

    lrs: np.ndarray
    final_loss: np.ndarray
    steps_to_converge: np.ndarray
    diverged: np.ndarray
    start: tuple[float, float]
    optimizer: str
    hyperparameters: dict
    minimum: tuple[float, float] | None
    lambda_max: float
    edge: float
    steps: int = 0          # steps each run had

    @property
    def first_diverged_lr(self) -> float:
        """The smallest swept lr whose run diverged (NaN if none did)."""
        idx = np.flatnonzero(self.diverged)
        return float(self.lrs[idx[0]]) if idx.size else math.nan


def stability_edge(name: str, hyperparameters: dict | None, lambda_max: float) -> float:
    """The largest stable lr on a quadratic with top curvature ``lambda_max`` (NaN if unknown)."""
    cname, h = optimizers.validate(name, hyperparameters)
    if not (lambda_max > 0) or cname not in ("SGD",) or h.get("weight_decay", 0.0) != 0.0:
        return math.nan
    m, damp = float(h["momentum"]), float(h["dampening"])
    if m == 0.0:
        return 2.0 / lambda_max
    if h["nesterov"]:
        return 2.0 * (1.0 + m) / ((1.0 + 2.0 * m) * lambda_max)
    # heavy ball with dampening d: the gradient enters with weight (1 - d) after step 1
    return 2.0 * (1.0 + m) / ((1.0 - damp) * lambda_max) if damp < 1 else math.inf


def lr_sweep(f: LossFunction, name: str, hyperparameters: dict | None, start, lrs=None,
             steps: int = 500, *, noise: float = 0.0, seed: int = 0, tol: float = 1e-6,
             wait: bool = True) -> LRSweep:
    """Run one optimizer from ``start`` at every lr of ``lrs`` (default geomspace(1e-4, 1, 200))."""
    lrs = np.geomspace(1e-4, 1.0, 200) if lrs is None else np.asarray(lrs, dtype=np.float64).ravel()
    if lrs.size == 0 or not (np.isfinite(lrs).all() and (lrs > 0).all()):
        raise ValueError("lrs must be positive finite numbers")
    base = dict(hyperparameters or {})
    base.pop("lr", None)
    cname, full = optimizers.validate(name, base)
    if "lr" not in full:   # a typed rule may call its rate something else
        raise ValueError(f"{cname} has no hyperparameter 'lr' to sweep (it has {', '.join(full) or 'none'})")
    configs = [(cname, {**base, "lr": float(lr)}) for lr in lrs]
    start = np.asarray(start, dtype=np.float64).reshape(2)
    batch = optimizers.run_many(f, configs, start[None, :], steps, noise=noise, seed=seed, wait=wait)
    pts = batch.points[:, 0]            # (n_lr, steps+1, 2)
    losses = batch.losses[:, 0]
    final = losses[:, -1]
    with np.errstate(invalid="ignore"):
        diverged = (batch.diverged[:, 0] >= 0) | ~np.isfinite(final) | (final > losses[:, 0])
    # converged: the loss gap to the lowest loss any rate reached has shrunk below
    # ``tol`` of the starting gap, for good
    ok = ~diverged & np.isfinite(final)
    best_loss = float(final[ok].min()) if ok.any() else math.nan
    with np.errstate(invalid="ignore"):
        gap = losses - best_loss
        outside = ~(gap <= tol * np.maximum(losses[:, :1] - best_loss, 0.0))
    inside_at_end = ~outside[:, -1]
    last_out = np.where(outside.any(axis=1), steps + 1 - np.argmax(outside[:, ::-1], axis=1), 0)
    steps_to = np.where(diverged | ~inside_at_end, -1, last_out).astype(np.int64)
    final_loss = np.where(diverged, np.where(np.isfinite(final), final, np.inf), final)
    # the minimum reached: the best non-diverged run's end; its curvature sets the edge
    minimum, lam = None, math.nan
    ok = np.flatnonzero(ok)
    if ok.size:
        best = ok[np.argmin(final[ok])]
        mx, my = pts[best, -1]
        minimum = (float(mx), float(my))
        (a, b), (_, d) = f.hessian(mx, my)
        hm = np.array([[a, b], [b, d]], dtype=np.float64)
        if np.isfinite(hm).all():
            lam = float(np.linalg.eigvalsh(hm)[1])
    edge = stability_edge(cname, base, lam) if np.isfinite(lam) else math.nan
    return LRSweep(lrs, final_loss, steps_to, diverged, (float(start[0]), float(start[1])), cname,
                   full, minimum, lam, edge, int(steps))


from .race import RaceResult, race  # noqa: E402

__all__ = ["CriticalPoint", "CriticalPoints", "critical_points", "classify", "sharpness", "Basins", "basins",
           "cell_centres", "LRSweep", "lr_sweep", "stability_edge", "Cancelled", "KINDS", "race", "RaceResult"]
