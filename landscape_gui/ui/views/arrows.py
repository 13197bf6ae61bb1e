"""What an optimizer "sees" at the playback step, as line segments in data coordinates.

-∇f (white), the first moment / momentum (grey), the step actually taken (the
optimizer's colour, true length), and for adaptive methods a rectangle whose
sides scale with √v per axis: where it is long and thin, Adam and RMSprop divide
that axis's gradient by more, which is why they turn where SGD goes straight.
Directions are drawn at a fixed length (a tenth of the domain) because their
magnitudes span many orders; the step is drawn to scale.
"""

from __future__ import annotations

import numpy as np

GRADIENT = (0.95, 0.95, 0.95, 0.95)
MOMENTUM = (0.62, 0.62, 0.66, 0.95)


def _direction(x, y, v, length):
    n = float(np.hypot(v[0], v[1]))
    if not np.isfinite(n) or n == 0:
        return None
    return (x, y), (x + v[0] / n * length, y + v[1] / n * length)


def state_arrows(controller, ci: int, k: int, t: int, color) -> list:
    """Segments ((x0, y0), (x1, y1), rgba) for config ``ci``, start ``k``, at step ``t``."""
    b = controller.batch
    s = controller.session
    if b is None or b.gradients is None or t >= b.gradients.shape[2]:
        return []
    span = min(s.xrange[1] - s.xrange[0], s.yrange[1] - s.yrange[0])
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


def head_steps(batch, step: int) -> np.ndarray:
    """(configs, starts) index of each path's point at the playback ``step``: the step itself,
    or the last finite point before it for a path that diverged earlier (vectorised: this
    runs on every drag and slider event)."""
    t = min(int(step), batch.points.shape[2] - 1)
    finite = np.isfinite(batch.points[:, :, : t + 1, 0])
    back = np.argmax(finite[:, :, ::-1], axis=2)
    return np.where(finite.any(axis=2), t - back, 0)
