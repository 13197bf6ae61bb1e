"""How f values become heights on screen: linear, log, or clipped at a percentile.

Rosenbrock spans 0..2500 and Eggholder's interesting part is a few percent of
its range; a linear z axis shows one spike and a flat plain. ``HeightMap`` maps f
to [0, 1] once per grid and then maps any value (trajectory points, the cursor)
the same way, so trajectories lie exactly on the drawn surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z_SCALES = ("linear", "log", "clip")


@dataclass(frozen=True)
class HeightMap:
    mode: str
    lo: float           # f value drawn at height 0
    hi: float           # f value drawn at height 1 (clip: the percentile)
    eps: float          # log mode: offset so log(f - lo + eps) is finite at the minimum
    undefined: float    # fraction of grid cells where f is NaN/inf (drawn as holes)

    def __call__(self, values):
        """Heights in [0, 1] for f values; NaN stays NaN (a hole)."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(all="ignore"):
            if self.mode == "log":
                t = (np.log(np.maximum(v - self.lo, 0.0) + self.eps) - np.log(self.eps)) / (
                    np.log(self.hi - self.lo + self.eps) - np.log(self.eps))
            else:
                t = (v - self.lo) / (self.hi - self.lo)
            t = np.where(np.isposinf(v), 1.0, t)
            return np.clip(t, 0.0, 1.0)

    def value_at(self, height: float) -> float:
        """Inverse: the f value drawn at ``height`` (for tick labels)."""
        if self.mode == "log":
            span = np.log(self.hi - self.lo + self.eps) - np.log(self.eps)
            return float(self.lo - self.eps + np.exp(np.log(self.eps) + height * span))
        return float(self.lo + height * (self.hi - self.lo))


def height_map(grid: np.ndarray, mode: str = "linear", percentile: float = 98.0) -> HeightMap:
    """Choose the mapping for ``grid`` (NaN/inf cells are ignored and reported)."""
    if mode not in Z_SCALES:
        raise ValueError(f"z scale must be one of {', '.join(Z_SCALES)}, got {mode!r}")
    finite = grid[np.isfinite(grid)]
    undefined = 1.0 - finite.size / max(grid.size, 1)
    if finite.size == 0:
        return HeightMap(mode, 0.0, 1.0, 1.0, undefined)
    lo, hi = float(finite.min()), float(finite.max())
    if mode == "clip":
        hi = float(np.percentile(finite, percentile))
    if not hi > lo:  # constant function: a flat sheet at mid height
        return HeightMap("linear", lo - 0.5, lo + 0.5, 1.0, undefined)
    eps = max((hi - lo) * 1e-4, 1e-300)
    return HeightMap(mode, lo, hi, eps, undefined)


def isolines(xs: np.ndarray, ys: np.ndarray, heights: np.ndarray, n_levels: int = 12) -> np.ndarray:
    """Isolines of ``heights`` (on the grid xs, ys) at evenly spaced display heights.

    Returns one (n, 2) array of points with NaN rows between line pieces, ready to
    draw as a single path. Levels are in display height, so with the log z scale
    they are log-spaced in f, as a reader of a contour plot expects.
    """
    import contourpy

    z = np.where(np.isfinite(heights), heights, np.nan)
    gen = contourpy.contour_generator(x=xs, y=ys, z=np.ma.masked_invalid(z),
                                      line_type=contourpy.LineType.ChunkCombinedNan)
    pieces = []
    for level in (np.arange(n_levels) + 0.5) / n_levels:
        (chunk,) = gen.lines(level)[0]
        if chunk is not None and len(chunk):
            pieces += [chunk, np.full((1, 2), np.nan)]
    return np.concatenate(pieces) if pieces else np.zeros((0, 2))
