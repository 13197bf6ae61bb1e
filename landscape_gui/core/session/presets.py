"""How a library function opens: resolution, z scale, domain and optimizer settings,
chosen from the function itself rather than by hand per preset.

- **Resolution**: the smallest grid whose picture no longer changes when the grid is
  doubled (mean height difference under 1% of the height range). A function that
  oscillates faster than the finest grid can show (Schaffer N.2 on [-100, 100]) would
  draw moiré at any size: its default view is narrowed around the global minimum
  until the picture converges.
- **z scale**: log when a linear scale would squash most of the domain into the bottom
  5% of the height (a flat floor with walls), else linear.
- **Optimizers**: the default four, each learning rate lowered by 10x until no run from
  the preset's start points diverges or leaves the domain (a path that shoots out of the
  3-D box teaches nothing).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import optimizers
from ..formula import compile_function
from ..scene.surface import height_map

#: the grid sizes the window offers (the resolution box)
RESOLUTIONS = (64, 128, 200, 256, 384, 512)
#: mean |height(n) - height(2n-1)| (heights in [0, 1]) at which a grid counts as converged
CONVERGED = 0.01
#: below this a lit, coloured mesh looks faceted whatever the function
MIN_RESOLUTION = 128
STEPS = 500


def converged_resolution(f, xrange, yrange, zscale: str) -> int | None:
    """Smallest size in RESOLUTIONS whose surface equals the doubled grid's, or None."""
    for n in RESOLUTIONS:
        fine = f.grid(xrange, yrange, (2 * n - 1, 2 * n - 1))
        hmap = height_map(fine, zscale)
        hf = hmap(fine)
        hc = hf[::2, ::2]  # the n x n grid is every other point of the 2n-1 grid
        # the coarse surface between its points (what the mesh draws) vs the true values there
        mid_x = 0.5 * (hc[:, :-1] + hc[:, 1:])
        mid_y = 0.5 * (hc[:-1, :] + hc[1:, :])
        err = np.r_[np.abs(mid_x - hf[::2, 1::2]).ravel(), np.abs(mid_y - hf[1::2, ::2]).ravel()]
        err = err[np.isfinite(err)]
        # nearly everywhere (99% of the cells) within 1% of the height range: a narrow valley
        # that is wrong in a few cells shows, so the mean alone is not enough
        if err.size and n >= MIN_RESOLUTION and np.percentile(err, 99) < CONVERGED:
            return n
        if err.size and n == RESOLUTIONS[-1] and np.mean(err) < CONVERGED / 2:
            return n  # creases (abs, min) converge slowly in a few cells; no moiré elsewhere
    return None


def choose_zscale(f, xrange, yrange) -> str:
    g = f.grid(xrange, yrange, (96, 96))
    finite = g[np.isfinite(g)]
    if finite.size == 0 or np.ptp(finite) == 0:
        return "linear"
    t = (finite - finite.min()) / np.ptp(finite)
    # half the domain within the bottom 7% of a linear z axis: a flat floor with walls
    return "log" if np.median(t) < 0.07 else "linear"


def _stays(f, name, hyper, starts, xrange, yrange, top: float) -> bool:
    """No divergence, and the loss never above the top of the 3-D box (the path would shoot
    out of it). Sliding off the side of a saddle, downhill, is allowed: that is its lesson."""
    b = optimizers.run_many(f, [(name, hyper)], np.asarray(starts, dtype=float), STEPS,
                            domain=(xrange, yrange), wait=False)
    if (b.diverged >= 0).any():
        return False
    losses = b.losses[0]
    return bool(np.isfinite(b.points).all() and np.all(losses <= top))


def box_top(f, xrange, yrange) -> float:
    """The loss at the top of the 3-D box (a little above the highest grid value)."""
    g = f.grid(xrange, yrange, (96, 96))
    top = float(np.nanmax(np.where(np.isfinite(g), g, np.nan)))
    return top + 0.05 * abs(top)


def starting_rate(name: str) -> float | None:
    """The rate a preset starts an optimizer from: the app's default session's rate for that
    optimizer (Adam 0.05, RMSprop 0.01, SGD 0.001), else torch's default."""
    from .model import default_optimizers

    for o in default_optimizers():
        if o.name == name:
            return float(o.hyperparameters["lr"])
    return optimizers.defaults(name).get("lr")


def safe_rates(f, configs, starts, xrange, yrange, from_defaults: bool = True) -> list[tuple[str, dict]]:
    """Each config with its lr lowered by 10x until every run from ``starts`` stays in the box
    (``from_defaults``: starting from ``starting_rate`` of that optimizer, else from the
    config's own); configs without an lr are returned as they are."""
    top = box_top(f, xrange, yrange)
    out = []
    for name, hyper in configs:
        hyper = dict(hyper)
        if "lr" in hyper:
            if from_defaults and starting_rate(name) is not None:
                hyper["lr"] = float(starting_rate(name))
            for _ in range(8):
                if _stays(f, name, hyper, starts, xrange, yrange, top):
                    break
                hyper["lr"] = float(f"{hyper['lr'] / 10:.0e}")
        out.append((name, hyper))
    return out


def tuned_optimizers(f, starts, xrange, yrange) -> list[tuple[str, dict]]:
    """The default optimizers with each lr lowered until every run stays in the box."""
    from .model import default_optimizers

    return safe_rates(f, [(o.name, o.hyperparameters) for o in default_optimizers()], starts, xrange, yrange,
                      from_defaults=False)


@lru_cache(maxsize=64)
def preset_view(key: str) -> dict:
    """{resolution, zscale, xrange, yrange, optimizers} for library function ``key``."""
    from ..functions import get as get_function

    lf = get_function(key)
    f = compile_function(lf.formula, lf.params)
    xrange, yrange = tuple(lf.xrange), tuple(lf.yrange)
    zscale = choose_zscale(f, xrange, yrange)
    n = converged_resolution(f, xrange, yrange, zscale)
    centre = np.array(lf.minima[0][:2]) if lf.minima else np.array([np.mean(xrange), np.mean(yrange)])
    shrink = 0
    while n is None and shrink < 6:  # faster than any grid: look closer, around the minimum
        shrink += 1
        hx, hy = (xrange[1] - xrange[0]) / 4, (yrange[1] - yrange[0]) / 4
        cx = float(np.clip(centre[0], xrange[0] + hx, xrange[1] - hx))
        cy = float(np.clip(centre[1], yrange[0] + hy, yrange[1] - hy))
        xrange, yrange = (cx - hx, cx + hx), (cy - hy, cy + hy)
        zscale = choose_zscale(f, xrange, yrange)
        n = converged_resolution(f, xrange, yrange, zscale)
    n = n or RESOLUTIONS[-1]
    starts = [p for p in (lf.starts or [(0.0, 0.0)])
              if xrange[0] <= p[0] <= xrange[1] and yrange[0] <= p[1] <= yrange[1]]
    if not starts:  # the narrowed view lost them: start between the edge and the minimum
        starts = [(float(xrange[0] + 0.2 * (xrange[1] - xrange[0])), float(yrange[0] + 0.8 * (yrange[1] - yrange[0])))]
    return {"resolution": n, "zscale": zscale, "xrange": xrange, "yrange": yrange, "starts": starts,
            "optimizers": tuned_optimizers(f, starts, xrange, yrange)}
