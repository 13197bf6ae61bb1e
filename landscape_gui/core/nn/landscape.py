"""The loss landscape around trained parameters: a plane L(theta* + a*d1 + b*d2), the 1-D path
between two solutions, and how sharp the minimum is.

Directions (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets"):
``"filter"``: random Gaussian directions, each filter (one unit's weight row) rescaled
to the norm of the same filter in theta*, biases zero, so that planes of different
nets are comparable; ``"pca"``: the first two principal directions of the centred
training trajectory (theta_i - theta*), onto which the trajectory is projected; ``"random"``:
plain Gaussian directions scaled to theta*'s norm.

Evaluation is split into tiles of grid rows, each computed by one parallel Numba
call. The tiles go through an executor with a ``map(fn, tiles)`` method: the
default runs them here, one after another; ``DaskExecutor(client)`` sends them to a
Dask cluster (any object with that ``map`` will do), since a tile is a picklable
function of plain arrays.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .datasets import Dataset
from .model import MLP
from ..cancel import check

DIRECTIONS = ("filter", "pca", "random")


class LocalExecutor:
    """Tiles one after another in this process (each tile is itself parallel in Numba)."""

    def map(self, fn, tiles):
        return map(fn, tiles)


class DaskExecutor:
    """Tiles as Dask tasks: ``DaskExecutor(dask.distributed.Client(...))``. Dask is not a
    dependency: this only needs the client's ``map`` and ``gather``."""

    def __init__(self, client):
        self.client = client

    def map(self, fn, tiles):
        return self.client.gather(self.client.map(fn, list(tiles)))


@dataclass
class Landscape:
    values: np.ndarray              # (len(betas), len(alphas)) loss on the data given
    alphas: np.ndarray
    betas: np.ndarray
    directions: np.ndarray          # (2, n_params)
    params: np.ndarray              # theta*, the plane's origin
    kind: str                       # "filter" | "pca" | "random"
    accuracy: np.ndarray | None = None       # classification: accuracy at each grid point
    test_values: np.ndarray | None = None    # with test data: its loss on the same grid
    trajectory_xy: np.ndarray | None = None  # (k, 2) for "pca": the trajectory's coordinates
    trajectory_losses: np.ndarray | None = None  # loss at those plane points (the path as drawn)
    explained_variance: np.ndarray | None = None  # "pca": share of the trajectory's variance per direction

    @property
    def xrange(self) -> tuple[float, float]:
        return float(self.alphas[0]), float(self.alphas[-1])

    @property
    def yrange(self) -> tuple[float, float]:
        return float(self.betas[0]), float(self.betas[-1])

    def value_at(self, a, b):
        """Bilinear interpolation of ``values`` at plane coordinates (for hover read-outs)."""
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        fa = np.interp(a, self.alphas, np.arange(self.alphas.size))
        fb = np.interp(b, self.betas, np.arange(self.betas.size))
        i0 = np.clip(np.floor(fa).astype(int), 0, self.alphas.size - 2)
        j0 = np.clip(np.floor(fb).astype(int), 0, self.betas.size - 2)
        u, v = fa - i0, fb - j0
        V = self.values
        out = ((1 - u) * (1 - v) * V[j0, i0] + u * (1 - v) * V[j0, i0 + 1]
               + (1 - u) * v * V[j0 + 1, i0] + u * v * V[j0 + 1, i0 + 1])
        inside = (a >= self.alphas[0]) & (a <= self.alphas[-1]) & (b >= self.betas[0]) & (b <= self.betas[-1])
        return np.where(inside, out, np.nan)


# --- directions ------------------------------------------------------------------------------


def filter_normalized_direction(model: MLP, params: np.ndarray, rng) -> np.ndarray:
    """A Gaussian direction with every filter scaled to the norm of theta*'s filter; biases 0."""
    d = rng.standard_normal(params.size)
    for s, e in model.filters():
        dn = np.linalg.norm(d[s:e])
        d[s:e] *= np.linalg.norm(params[s:e]) / (dn if dn > 0 else 1.0)
    d[model.bias_mask()] = 0.0
    return d


def pca_directions(trajectory: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal directions of the path (theta_i - theta*) (unit rows) and their
    shares of its variance: a *centred* PCA (the mean of the rows removed first), as sklearn's
    PCA and so loss-landscape's ``projection.py`` compute it, so that planes drawn here and
    there agree. (Until December 2026 this was an uncentred SVD, whose plane was tilted by up
    to ~20 degrees on the same path.) Signs: each direction's largest entry is positive."""
    M = np.asarray(trajectory, dtype=np.float64) - np.asarray(params, dtype=np.float64)[None, :]
    if M.shape[0] < 3:
        raise ValueError("PCA directions need a trajectory of at least 3 snapshots (train for 2+ epochs)")
    _, s, vt = np.linalg.svd(M - M.mean(axis=0, keepdims=True), full_matrices=False)
    D = vt[:2].copy()
    for k in range(len(D)):
        if D[k, np.argmax(np.abs(D[k]))] < 0:
            D[k] = -D[k]
    var = s ** 2
    share = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    return D, share


# --- the plane ----------------------------------------------------------------------------------


def _evaluate_tile(spec, tile):
    """Loss (and accuracy) of the grid rows ``tile = (j0, j1)``: one parallel kernel call.
    Module-level and fed plain arrays, so it pickles (for a cluster executor)."""
    from . import kernels

    theta, d1, d2, alphas, betas, X, yi, yf, layout = spec
    j0, j1 = tile
    out = np.empty((j1 - j0, alphas.size))
    acc = np.empty((j1 - j0, alphas.size))
    kernels.plane_losses(theta, d1, d2, alphas, betas[j0:j1], X, yi, yf, *layout, out, acc)
    return out, acc


def plane_values(model, data, params, d1, d2, alphas, betas, *, executor=None, tile_rows=None,
                 progress=None, cancel=None):
    """(loss, accuracy) grids of the plane through ``params`` spanned by d1, d2."""
    yi, yf = data.kernel_targets()
    spec = (np.ascontiguousarray(params, dtype=np.float64), np.ascontiguousarray(d1), np.ascontiguousarray(d2),
            np.asarray(alphas, dtype=np.float64), np.asarray(betas, dtype=np.float64), data.X, yi, yf,
            model.layout)
    nb = len(betas)
    if tile_rows is None:  # ~a tenth of a second a tile: progress moves, cancel is prompt
        tile_rows = max(1, min(nb, int(2e7 / max(1, len(alphas) * len(data) * model.n_params / 8))))
    tiles = [(j, min(nb, j + tile_rows)) for j in range(0, nb, tile_rows)]
    values = np.empty((nb, len(alphas)))
    acc = np.empty((nb, len(alphas)))
    fn = functools.partial(_evaluate_tile, spec)
    ex = executor or LocalExecutor()
    if isinstance(ex, LocalExecutor):
        results = []
        for tile in tiles:
            check(cancel, "landscape cancelled")
            results.append(fn(tile))
            if progress is not None:
                progress(tile[1], nb)
    else:
        results = list(ex.map(fn, tiles))
    for (j0, j1), (v, a) in zip(tiles, results):
        values[j0:j1], acc[j0:j1] = v, a
    return values, acc


def landscape(model: MLP, data: Dataset, params, directions: str = "filter", grid=(51, 51),
              span: float | None = None, seed: int = 0, trajectory=None, test_data: Dataset | None = None,
              executor=None, progress=None, cancel=None) -> Landscape:
    """L(theta* + a*d1 + b*d2) on a ``grid`` = (n_alpha, n_beta) of plane coordinates.

    ``span``: a and b run over [-span, span] (default 1 for "filter"/"random"; for
    "pca" the trajectory's extent plus a quarter on each side).
    """
    if directions not in DIRECTIONS:
        raise ValueError(f"directions must be one of {', '.join(DIRECTIONS)}, got {directions!r}")
    model = model.fit_to(data)
    params = np.ascontiguousarray(params, dtype=np.float64)
    if params.shape != (model.n_params,):
        raise ValueError(f"params has {params.size} entries; {model.describe()} has {model.n_params}")
    na, nb = (int(grid[0]), int(grid[1])) if np.ndim(grid) else (int(grid), int(grid))
    if not (2 <= na <= 2048 and 2 <= nb <= 2048):
        raise ValueError(f"grid must be between 2x2 and 2048x2048, got {na}x{nb}")
    rng = np.random.default_rng(seed)
    xy = share = None
    if directions == "filter":
        D = np.stack([filter_normalized_direction(model, params, rng) for _ in range(2)])
    elif directions == "random":
        D = rng.standard_normal((2, params.size))
        D *= np.linalg.norm(params) / np.linalg.norm(D, axis=1, keepdims=True)
    else:
        if trajectory is None:
            raise ValueError('directions="pca" needs the training trajectory (trajectory=run.trajectory)')
        D, share = pca_directions(trajectory, params)
        xy = (np.asarray(trajectory, dtype=np.float64) - params[None, :]) @ D.T
    if span is not None:
        span = float(span)
        if not (math.isfinite(span) and span > 0):
            raise ValueError(f"span must be a finite number > 0, got {span!r}")
        alphas = np.linspace(-span, span, na)
        betas = np.linspace(-span, span, nb)
    elif xy is not None:
        lo = np.minimum(xy.min(axis=0), 0.0)
        hi = np.maximum(xy.max(axis=0), 0.0)
        pad = 0.25 * np.maximum(hi - lo, 1e-6)
        alphas = np.linspace(lo[0] - pad[0], hi[0] + pad[0], na)
        betas = np.linspace(lo[1] - pad[1], hi[1] + pad[1], nb)
    else:
        alphas = np.linspace(-1.0, 1.0, na)
        betas = np.linspace(-1.0, 1.0, nb)
    values, acc = plane_values(model, data, params, D[0], D[1], alphas, betas, executor=executor,
                               progress=progress, cancel=cancel)
    test_values = None
    if test_data is not None:
        test_values, _ = plane_values(model, test_data, params, D[0], D[1], alphas, betas, executor=executor,
                                      cancel=cancel)
    land = Landscape(values, alphas, betas, D, params, directions,
                     acc if model.loss == "cross_entropy" else None, test_values, xy, None, share)
    if xy is not None:
        land.trajectory_losses = points_losses(model, data, params, D[0], D[1], xy)
    return land


def points_losses(model, data, params, d1, d2, ab) -> np.ndarray:
    """Loss at plane points ab (k, 2)."""
    from . import kernels

    yi, yf = data.kernel_targets()
    out = np.empty(len(ab))
    kernels.points_losses(np.ascontiguousarray(params, dtype=np.float64), np.ascontiguousarray(d1),
                          np.ascontiguousarray(d2), np.ascontiguousarray(ab, dtype=np.float64), data.X, yi, yf,
                          *model.layout, out)
    return out


@dataclass
class Interpolation:
    alphas: np.ndarray           # 0 is solution a, 1 is solution b
    losses: np.ndarray
    test_losses: np.ndarray | None


def interpolate(model: MLP, data: Dataset, params_a, params_b, n: int = 51, extend: float = 0.25,
                test_data: Dataset | None = None) -> Interpolation:
    """Loss along (1 - t) theta_a + t theta_b for t in [-extend, 1 + extend] (Goodfellow et al. 2015)."""
    model = model.fit_to(data)
    a = np.ascontiguousarray(params_a, dtype=np.float64)
    d = np.ascontiguousarray(params_b, dtype=np.float64) - a
    ts = np.linspace(-extend, 1 + extend, int(n))
    ab = np.c_[ts, np.zeros_like(ts)]
    zero = np.zeros_like(a)
    losses = points_losses(model, data, a, d, zero, ab)
    test = points_losses(model, test_data, a, d, zero, ab) if test_data is not None else None
    return Interpolation(ts, losses, test)


# --- sharpness -----------------------------------------------------------------------------------


def sharpness(model: MLP, data: Dataset, params, iters: int = 200, tol: float = 1e-7, seed: int = 0,
              cancel=None) -> float:
    """The top Hessian eigenvalue (λmax) at ``params``: Lanczos on exact Hessian-vector products
    (``curvature``), at most ``iters`` steps, Ritz residual below ``tol`` x the spectrum's scale.
    ``cancel()`` is checked every step."""
    from .curvature import HessianOperator, top_eigenpairs

    model = model.fit_to(data)
    op = HessianOperator(model, data, params)
    vals, _ = top_eigenpairs(op, 1, tol=tol, seed=seed, cancel=cancel, max_steps=int(iters))
    return float(vals[0])


def sam_sharpness(model: MLP, data: Dataset, params, rho: float = 0.05, steps: int = 20, cancel=None) -> float:
    """max_{|e| <= rho} L(theta + e) - L(theta), by projected gradient ascent from SAM's first step."""
    from .curvature import loss_and_gradient
    from .training import evaluate

    model = model.fit_to(data)
    params = np.ascontiguousarray(params, dtype=np.float64)
    base, g = loss_and_gradient(model, data, params)
    ng = np.linalg.norm(g)
    e = rho * g / ng if ng > 0 else np.zeros_like(g)
    best = evaluate(model, data, params + e)[0]
    step = rho / 4
    for _ in range(int(steps)):
        check(cancel, "sharpness cancelled")
        _, g = loss_and_gradient(model, data, params + e)
        ng = np.linalg.norm(g)
        if ng == 0:
            break
        trial = e + step * g / ng
        r = np.linalg.norm(trial)
        if r > rho:
            trial *= rho / r
        val = evaluate(model, data, params + trial)[0]
        if val > best:
            best, e = val, trial
        else:
            step /= 2
    return float(best - base)


def roughness(values: np.ndarray) -> float:
    """How non-convex a landscape plane is: the share of interior grid points where the
    surface's discrete Hessian has a clearly negative eigenvalue (lambda_min < -1% of
    |lambda_max|). Li et al. 2018 map |lambda_min/lambda_max| to show that deep nets without
    skip connections are chaotic; a convex bowl scores 0, an egg crate about 1."""
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] < 3 or v.shape[1] < 3:
        raise ValueError("roughness needs a grid of at least 3x3")
    hxx = v[1:-1, 2:] - 2 * v[1:-1, 1:-1] + v[1:-1, :-2]
    hyy = v[2:, 1:-1] - 2 * v[1:-1, 1:-1] + v[:-2, 1:-1]
    hxy = (v[2:, 2:] - v[2:, :-2] - v[:-2, 2:] + v[:-2, :-2]) / 4
    mean, r = (hxx + hyy) / 2, np.hypot((hxx - hyy) / 2, hxy)
    lmin, lmax = mean - r, mean + r
    ok = np.isfinite(lmin) & np.isfinite(lmax)
    return float((lmin[ok] < -0.01 * np.abs(lmax[ok])).mean()) if ok.any() else float("nan")
