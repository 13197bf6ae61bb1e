"""What the views draw of the trajectories, clipped to the domain: the one place that decides it.

A run that leaves the domain is drawn to the box's edge and marked there (``clip_paths``); at
any playback step its head stops at the last point inside (``head_steps``), and the arrows of
what the optimizer "sees" there are cut at the box (``clip_segments``). Nothing the views get
from ``frame`` lies outside the domain, whatever the run did (a learning rate past 2/λmax
reaches x = -4.9e6 in a few steps).

The arrows (``state_arrows``): -∇f (white), the first moment / momentum (grey), the step
actually taken (the optimizer's colour, true length), and for adaptive methods a rectangle
whose sides scale with √v per axis: where it is long and thin, Adam and RMSprop divide that
axis's gradient by more, which is why they turn where SGD goes straight. Directions are drawn
at a fixed length (a tenth of the domain) because their magnitudes span many orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRADIENT = (0.95, 0.95, 0.95, 0.95)
MOMENTUM = (0.62, 0.62, 0.66, 0.95)


def clip_paths(points: np.ndarray, xrange, yrange) -> tuple[np.ndarray, np.ndarray]:
    """Where each path first leaves the domain: ``(kept, exits)``.

    ``points`` is (..., n, 2). ``kept[...]`` is how many leading points lie inside (the
    path is drawn that far); ``exits[...]`` is the point where the segment from the last
    inside point crosses the domain's edge (NaN for a path that stays inside). A run that
    overshoots is drawn to the box and marked there, not as a line out of the picture.
    """
    (x0, x1), (y0, y1) = xrange, yrange
    x, y = points[..., 0], points[..., 1]
    with np.errstate(invalid="ignore"):
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    n = points.shape[-2]
    out = ~inside & np.isfinite(x) & np.isfinite(y)
    first_out = np.where(out.any(axis=-1), out.argmax(axis=-1), n)
    finite = np.isfinite(x)
    first_nan = np.where((~finite).any(axis=-1), (~finite).argmax(axis=-1), n)
    kept = np.minimum(first_out, first_nan)
    exits = np.full(points.shape[:-2] + (2,), np.nan)
    leaving = (first_out < n) & (first_out > 0) & (first_out <= first_nan)
    if leaving.any():
        idx = np.nonzero(leaving)
        j = first_out[idx]
        a = points[idx + (j - 1,)]
        b = points[idx + (j,)]
        d = b - a
        with np.errstate(divide="ignore", invalid="ignore"):
            # the smallest t in (0, 1] at which a + t*d meets an edge
            tx = np.where(d[:, 0] > 0, (x1 - a[:, 0]) / d[:, 0], np.where(d[:, 0] < 0, (x0 - a[:, 0]) / d[:, 0], np.inf))
            ty = np.where(d[:, 1] > 0, (y1 - a[:, 1]) / d[:, 1], np.where(d[:, 1] < 0, (y0 - a[:, 1]) / d[:, 1], np.inf))
        t = np.clip(np.nan_to_num(np.minimum(tx, ty), nan=0.0, posinf=0.0), 0.0, 1.0)
        exits[idx] = a + t[:, None] * d
    return kept, exits


def clip_segments(segments: np.ndarray, xrange, yrange) -> tuple[np.ndarray, np.ndarray]:
    """Segments (n, 2, 2) cut to the box (Liang–Barsky): ``(clipped, keep)`` where ``keep`` marks
    the segments with a part inside; non-finite segments are dropped."""
    seg = np.asarray(segments, dtype=float).reshape(-1, 2, 2)
    (x0, x1), (y0, y1) = xrange, yrange
    a, d = seg[:, 0], seg[:, 1] - seg[:, 0]
    lo = np.zeros(len(seg))
    hi = np.ones(len(seg))
    keep = np.isfinite(seg).all(axis=(1, 2))
    with np.errstate(all="ignore"):
        for p, q in ((-d[:, 0], a[:, 0] - x0), (d[:, 0], x1 - a[:, 0]),
                     (-d[:, 1], a[:, 1] - y0), (d[:, 1], y1 - a[:, 1])):
            parallel = p == 0
            keep &= ~(parallel & (q < 0))
            r = q / p
            lo = np.where(~parallel & (p < 0), np.maximum(lo, r), lo)
            hi = np.where(~parallel & (p > 0), np.minimum(hi, r), hi)
    keep &= lo <= hi
    out = np.empty_like(seg)
    out[:, 0] = a + lo[:, None] * d
    out[:, 1] = a + hi[:, None] * d
    out[:, 0] = np.clip(out[:, 0], (x0, y0), (x1, y1))  # rounding: never a hair outside
    out[:, 1] = np.clip(out[:, 1], (x0, y0), (x1, y1))
    return out[keep], keep


def head_steps(batch, step: int, xrange=None, yrange=None) -> np.ndarray:
    """(configs, starts) index of each path's point at the playback ``step``: the step itself,
    or the last finite point before it for a path that diverged earlier, or — given the
    domain — the last point inside it for a path that left (vectorised: this runs on every
    drag and slider event)."""
    t = min(int(step), batch.points.shape[2] - 1)
    finite = np.isfinite(batch.points[:, :, : t + 1, 0])
    back = np.argmax(finite[:, :, ::-1], axis=2)
    idx = np.where(finite.any(axis=2), t - back, 0)
    if xrange is not None:
        kept, _ = clip_paths(batch.points[:, :, : t + 1], xrange, yrange)
        idx = np.minimum(idx, np.maximum(kept - 1, 0))
    return idx


def _direction(x, y, v, length):
    n = float(np.hypot(v[0], v[1]))
    if not np.isfinite(n) or n == 0:
        return None
    return (x, y), (x + v[0] / n * length, y + v[1] / n * length)


def state_arrows(batch, xrange, yrange, ci: int, k: int, t: int, color) -> list:
    """Segments ((x0, y0), (x1, y1), rgba) for config ``ci``, start ``k``, at step ``t``
    (unclipped: ``frame`` cuts them to the domain)."""
    b = batch
    if b is None or b.gradients is None or t >= b.gradients.shape[2]:
        return []
    span = min(xrange[1] - xrange[0], yrange[1] - yrange[0])
    length = 0.1 * span
    x, y = b.points[ci, k, t]
    if not np.isfinite(x):
        return []
    out = []
    g = b.gradients[ci, k, t]
    seg = _direction(x, y, -g, length)
    if seg:
        out.append((*seg, GRADIENT))
    m = b.first_moment[ci, k, t]
    if np.isfinite(m).all():
        seg = _direction(x, y, -m, 0.8 * length)
        if seg:
            out.append((*seg, MOMENTUM))
    nxt = b.points[ci, k, t + 1] if t + 1 < b.points.shape[2] else None
    if nxt is not None and np.isfinite(nxt).all():
        out.append(((x, y), (float(nxt[0]), float(nxt[1])), color))
    v = b.second_moment[ci, k, t]
    if np.isfinite(v).all() and v.max() > 0:
        r = np.sqrt(v)
        r = r / r.max() * 0.06 * span
        (x0, x1), (y0, y1) = (x - r[0], x + r[0]), (y - r[1], y + r[1])
        faded = (color[0], color[1], color[2], 0.7)
        for a, bb in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
            out.append((a, bb, faded))
    return out


@dataclass
class Frame:
    """What both views draw at one playback step, all inside the domain."""

    index: np.ndarray          # (configs, starts) step index of each head
    heads: np.ndarray          # (configs, starts, 2) head positions
    losses: np.ndarray         # (configs, starts) loss at each head
    segments: np.ndarray       # (n, 2, 2) arrow segments, clipped to the domain
    segment_colors: np.ndarray  # (n, 4) RGBA floats
    segment_owner: np.ndarray   # (n,) flat index ci * starts + k of the head each segment belongs to


def frame(batch, step: int, xrange, yrange, colors, arrows: bool = True) -> Frame:
    """Heads and (``arrows``) state arrows of every path at ``step``; ``colors`` one RGBA per config."""
    idx = head_steps(batch, step, xrange, yrange)
    heads = np.take_along_axis(batch.points, idx[:, :, None, None], axis=2)[:, :, 0]
    losses = np.take_along_axis(batch.losses, idx[:, :, None], axis=2)[:, :, 0]
    seg, col, owner = [], [], []
    if arrows:
        n_cfg, n_st = idx.shape
        for ci in range(n_cfg):
            for k in range(n_st):
                for p, q, c in state_arrows(batch, xrange, yrange, ci, k, int(idx[ci, k]), colors[ci]):
                    seg.append((p, q))
                    col.append(c)
                    owner.append(ci * n_st + k)
    segments = np.array(seg, dtype=float).reshape(-1, 2, 2)
    segment_colors = np.array(col, dtype=float).reshape(-1, 4)
    segments, keep = clip_segments(segments, xrange, yrange)
    return Frame(idx, heads, losses, segments, segment_colors[keep], np.array(owner, dtype=int)[keep])
