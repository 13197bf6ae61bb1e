"""Screen <-> scene geometry for the 3-D view: projecting points, casting rays.

Pure numpy so it is testable without a screen; the view passes its camera
matrix (projection x view, as pyqtgraph builds them) and its size in pixels.
"""

from __future__ import annotations

import numpy as np


def project(points: np.ndarray, mvp: np.ndarray, width: float, height: float) -> np.ndarray:
    """Scene points (n, 3) -> pixel coordinates (n, 2), origin top-left; NaN behind the camera."""
    p = np.c_[np.asarray(points, dtype=float).reshape(-1, 3), np.ones(len(points))]
    clip = p @ mvp.T
    w = clip[:, 3:4]
    with np.errstate(all="ignore"):
        ndc = clip[:, :2] / w
    px = (ndc[:, 0] + 1) * 0.5 * width
    py = (1 - ndc[:, 1]) * 0.5 * height
    out = np.c_[px, py]
    out[w[:, 0] <= 0] = np.nan
    return out


def pixel_ray(px: float, py: float, mvp: np.ndarray, width: float, height: float):
    """The ray through a pixel: (origin on the near plane, unit direction), scene coordinates."""
    inv = np.linalg.inv(mvp)
    ndc_x, ndc_y = 2 * px / width - 1, 1 - 2 * py / height
    near = inv @ np.array([ndc_x, ndc_y, -1.0, 1.0])
    far = inv @ np.array([ndc_x, ndc_y, 1.0, 1.0])
    near, far = near[:3] / near[3], far[:3] / far[3]
    d = far - near
    return near, d / np.linalg.norm(d)


def intersect_heightfield(origin, direction, xs, ys, z, samples: int = 768):
    """First hit of a ray with the surface z[j, i] over the grid (xs[i], ys[j]), or None.

    Marches the ray through the grid's bounding box, finds the first sample
    below the (bilinearly interpolated) surface, and refines by bisection.
    Cells where z is NaN (holes) are never hit.
    """
    origin, direction = np.asarray(origin, float), np.asarray(direction, float)
    lo = np.array([xs[0], ys[0], np.nanmin(z)])
    hi = np.array([xs[-1], ys[-1], np.nanmax(z)])
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - origin) / direction, (hi - origin) / direction
    tmin = np.nanmax(np.minimum(t1, t2))
    tmax = np.nanmin(np.maximum(t1, t2))
    if not (tmax >= max(tmin, 0.0)):
        return None
    tmin = max(tmin, 0.0)
    ts = np.linspace(tmin, tmax, samples)
    pts = origin[None, :] + ts[:, None] * direction[None, :]
    gap = pts[:, 2] - _bilinear(xs, ys, z, pts[:, 0], pts[:, 1])
    below = np.nonzero(gap <= 0)[0]
    if below.size == 0:
        return None
    k = below[0]
    if k == 0:
        return pts[0]
    a, b = ts[k - 1], ts[k]
    for _ in range(40):
        m = 0.5 * (a + b)
        p = origin + m * direction
        if p[2] - _bilinear(xs, ys, z, p[:1], p[1:2])[0] > 0:
            a = m
        else:
            b = m
    return origin + b * direction


def _bilinear(xs, ys, z, x, y):
    x, y = np.atleast_1d(x), np.atleast_1d(y)
    fi = np.interp(x, xs, np.arange(xs.size))
    fj = np.interp(y, ys, np.arange(ys.size))
    i0 = np.clip(np.floor(fi).astype(int), 0, xs.size - 2)
    j0 = np.clip(np.floor(fj).astype(int), 0, ys.size - 2)
    u, v = fi - i0, fj - j0
    out = (z[j0, i0] * (1 - u) * (1 - v) + z[j0, i0 + 1] * u * (1 - v)
           + z[j0 + 1, i0] * (1 - u) * v + z[j0 + 1, i0 + 1] * u * v)
    inside = (x >= xs[0]) & (x <= xs[-1]) & (y >= ys[0]) & (y <= ys[-1])
    return np.where(inside, out, -np.inf)  # outside the grid: never "below the surface"
