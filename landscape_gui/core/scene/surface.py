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


def fill_holes(heights: np.ndarray, passes: int = 64) -> np.ndarray:
    """NaN cells take the mean of their finite neighbours, repeatedly, so that a hole in a
    surface (a point a loss-landscape run never computed) can be drawn transparent at the
    height of its rim instead of as a cliff down to the floor."""
    h = np.array(heights, dtype=np.float64)
    missing = ~np.isfinite(h)
    if not missing.any() or missing.all():
        return np.where(missing, 0.0, h)
    for _ in range(passes):
        if not missing.any():
            break
        v = np.where(missing, 0.0, h)
        w = (~missing).astype(np.float64)
        pv, pw = np.pad(v, 1), np.pad(w, 1)
        total = pv[:-2, 1:-1] + pv[2:, 1:-1] + pv[1:-1, :-2] + pv[1:-1, 2:]
        count = pw[:-2, 1:-1] + pw[2:, 1:-1] + pw[1:-1, :-2] + pw[1:-1, 2:]
        fill = missing & (count > 0)
        h[fill] = total[fill] / count[fill]
        missing &= ~fill
    return np.where(missing, np.nanmean(h), h)


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


def nice_ticks(lo: float, hi: float, target: int = 5) -> np.ndarray:
    """Round values (1, 2 or 5 x 10^k steps) inside [lo, hi], about ``target`` of them."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.array([lo]) if np.isfinite(lo) else np.zeros(0)
    raw = (hi - lo) / max(target - 1, 1)
    power = 10.0 ** np.floor(np.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10) if m * power >= raw), default=10 * power)
    first = np.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    ticks[np.abs(ticks) < step * 1e-9] = 0.0  # -0.0 and 1e-17 read as 0
    return ticks


def height_ticks(hmap: HeightMap, target: int = 5) -> list[tuple[float, float]]:
    """(height in [0, 1], f value) pairs for a z axis: round values, decades on a log scale."""
    top = hmap.value_at(1.0)
    if hmap.mode == "log":
        span = top - hmap.lo
        if span <= 0:
            return []
        # decades of f - min above the floor: 0, 10^a, ..., as the surface's log mapping draws them
        first = np.floor(np.log10(hmap.eps * 10))
        exps = np.arange(first, np.ceil(np.log10(span)) + 1)
        if len(exps) > target + 1:
            exps = exps[:: int(np.ceil(len(exps) / (target + 1)))]
        offsets = 10.0 ** np.clip(exps, -300, 300)
        offsets = offsets[offsets <= span * 1.0000001]
        # f = min + 10^k, rounded at the scale of 10^k so the label is a round number
        values = [hmap.lo] + [float(np.round(hmap.lo + o, int(-np.floor(np.log10(o))) + 1)) for o in offsets]
        values = np.array(values)
    else:
        values = nice_ticks(hmap.lo, top, target)
    heights = hmap(values)
    return [(float(h), float(v)) for h, v in zip(heights, values) if np.isfinite(h) and 0 <= h <= 1]


def tick_text(value: float, digits: int = 4) -> str:
    """Short and exact-looking: 2500, 0.25, 1e-05, -14 (``digits`` significant digits at most)."""
    if value == 0:
        return "0"
    a = abs(value)
    if 1e-3 <= a < 1e4:
        return f"{value:.{digits}g}"
    return f"{value:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
