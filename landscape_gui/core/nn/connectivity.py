"""Mode connectivity: are two trained networks joined by a low-loss path? (Garipov et al. 2018,
"Loss surfaces, mode connectivity, and fast ensembling of DNNs"; Draxler et al. 2018.)

The straight line (1 - t) θa + t θb usually crosses a barrier. A quadratic Bézier curve
φ(t) = (1 - t)² θa + 2t(1 - t) θc + t² θb with a trained bend θc often does not: θc is
trained to minimise the loss averaged along the curve, E_t L(φ(t)), by stochastic gradient
steps at one random t per mini-batch (∂φ/∂θc = 2t(1 - t)), Adam's rule on θc.
The three points span a plane that holds the whole curve and the line: ``Curve.plane``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cancel import check
from .datasets import Dataset
from .landscape import Landscape, plane_values, points_losses
from .model import MLP


@dataclass
class Curve:
    t: np.ndarray                 # points along both paths, 0 (θa) ... 1 (θb)
    loss_linear: np.ndarray       # L((1 - t) θa + t θb)
    loss_curve: np.ndarray        # L(φ(t)) on the trained curve
    barrier_linear: float         # max on the path above the chord between its end losses
    barrier_curve: float
    bend: np.ndarray              # θc, the trained control point
    plane: Landscape              # the plane through θa, θb, θc (origin θa)
    linear_xy: np.ndarray         # (len(t), 2) the line in the plane's coordinates
    curve_xy: np.ndarray          # (len(t), 2) the curve in the plane's coordinates
    train_losses: np.ndarray      # mean curve loss per epoch of the bend's training
    method: str = "bezier"


def bezier(a, b, c, t):
    """Points of the quadratic Bézier curve with ends a, b and control point c, at times t."""
    t = np.asarray(t, dtype=np.float64)[:, None]
    return (1 - t) ** 2 * a[None] + 2 * t * (1 - t) * c[None] + t ** 2 * b[None]


def barrier(losses: np.ndarray, t: np.ndarray | None = None) -> float:
    """The path's highest loss above the straight interpolation of its two end losses,
    max_t L(t) − ((1 − t)·L(0) + t·L(1)) (Frankle et al. 2020): 0 for a path that never rises
    above its chord, also between a checkpoint early in training and the end of it (where the
    start's own higher loss is no barrier). ``t``: where the losses were taken (uniform by default)."""
    losses = np.asarray(losses, dtype=np.float64)
    t = np.linspace(0.0, 1.0, len(losses)) if t is None else np.asarray(t, dtype=np.float64)
    chord = (1.0 - t) * losses[0] + t * losses[-1]
    return float(max(np.max(losses - chord), 0.0))


def connect(model: MLP, data: Dataset, params_a, params_b, method: str = "bezier", epochs: int = 100,
            seed: int = 0, lr: float = 0.01, batch_size: int = 64, points: int = 61, grid=(41, 41),
            progress=None, cancel=None, backend: str = "numba") -> Curve:
    """Train a Bézier curve between two solutions and compare it with the straight line.
    ``backend="numpy"``: gradients by ``reference.loss_and_grad`` (the benchmark's baseline)."""
    from . import kernels, reference

    def loss_and_grad(phi, idx, out):
        if backend == "numpy":
            loss, out[:] = reference.loss_and_grad(phi, X, yi, yf, idx, *model.layout)
            return loss
        return kernels.loss_and_grad(phi, X, yi, yf, idx, *model.layout, out)

    if method != "bezier":
        raise ValueError(f'method must be "bezier" (a quadratic Bézier curve), got {method!r}')
    model = model.fit_to(data)
    a = np.ascontiguousarray(params_a, dtype=np.float64)
    b = np.ascontiguousarray(params_b, dtype=np.float64)
    if a.shape != (model.n_params,) or b.shape != a.shape:
        raise ValueError(f"both solutions need {model.n_params} parameters ({model.describe()}), "
                         f"got {a.shape} and {b.shape}")
    if np.array_equal(a, b):
        raise ValueError("the two solutions are the same point: there is no path to train")
    epochs, batch_size = int(epochs), max(1, min(int(batch_size), len(data)))
    rng = np.random.default_rng(seed)
    c = 0.5 * (a + b)
    m = np.zeros_like(c)
    v = np.zeros_like(c)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    X, (yi, yf) = data.X, data.kernel_targets()
    g = np.empty_like(c)
    step = 0
    train_losses = []
    n = len(data)
    for epoch in range(epochs):
        check(cancel, "curve training cancelled")
        perm = rng.permutation(n).astype(np.int64)
        if backend != "numpy":   # the whole epoch in one kernel (the same numbers as the loop below)
            ts_epoch = rng.uniform(size=-(-n // batch_size))
            loss, step = kernels.bezier_epoch(a, b, c, m, v, step, ts_epoch, perm, batch_size, X, yi, yf,
                                              *model.layout, lr, beta1, beta2, eps)
            train_losses.append(loss)
            if progress is not None:
                progress(epoch + 1, epochs)
            if not np.isfinite(c).all() or not np.isfinite(loss):
                raise ValueError(f"the curve's training diverged at epoch {epoch + 1}: lower lr (now {lr:g})")
            continue
        total = 0.0
        batches = range(0, n, batch_size)
        for s in batches:
            idx = perm[s:s + batch_size]
            t = rng.uniform()
            w = 2 * t * (1 - t)
            phi = (1 - t) ** 2 * a + w * c + t ** 2 * b
            total += loss_and_grad(phi, idx, g)
            g *= w
            step += 1
            m = beta1 * m + (1 - beta1) * g                    # torch.optim.Adam on the bend
            v = beta2 * v + (1 - beta2) * g * g
            mhat = m / (1 - beta1 ** step)
            vhat = v / (1 - beta2 ** step)
            c = c - lr * mhat / (np.sqrt(vhat) + eps)
        train_losses.append(total / len(batches))
        if progress is not None:
            progress(epoch + 1, epochs)
        if not np.isfinite(c).all() or not np.isfinite(train_losses[-1]):
            raise ValueError(f"the curve's training diverged at epoch {epoch + 1}: lower lr (now {lr:g})")
    ts = np.linspace(0.0, 1.0, int(points))
    e1, e2 = plane_axes(a, b, c, rng)
    u = b - a
    nu = np.linalg.norm(u)
    curve_pts = bezier(a, b, c, ts)
    curve_xy = np.c_[(curve_pts - a) @ e1, (curve_pts - a) @ e2]
    linear_xy = np.c_[ts * nu, np.zeros_like(ts)]
    zero = np.zeros_like(a)
    loss_linear = points_losses(model, data, a, u, zero, np.c_[ts, np.zeros_like(ts)])
    loss_curve = points_losses(model, data, a, e1, e2, curve_xy)
    xy = np.vstack([curve_xy, linear_xy])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = 0.2 * np.maximum(hi - lo, 0.05 * nu)
    na, nb = (int(grid[0]), int(grid[1])) if np.ndim(grid) else (int(grid), int(grid))
    alphas = np.linspace(lo[0] - pad[0], hi[0] + pad[0], na)
    betas = np.linspace(lo[1] - pad[1], hi[1] + pad[1], nb)
    check(cancel, "curve training cancelled")
    values, acc = plane_values(model, data, a, e1, e2, alphas, betas, cancel=cancel)
    plane = Landscape(values, alphas, betas, np.stack([e1, e2]), a, "points",
                      acc if model.loss == "cross_entropy" else None, None, curve_xy, loss_curve, None)
    return Curve(ts, loss_linear, loss_curve, barrier(loss_linear, ts), barrier(loss_curve, ts), c, plane, linear_xy,
                 curve_xy, np.array(train_losses))


def plane_axes(a, b, c, rng=None):
    """Orthonormal axes of the plane through a, b, c with origin a: e1 along b − a, e2 the rest of
    c − a (any direction orthogonal to e1 when c lies on the line)."""
    u = b - a
    nu = np.linalg.norm(u)
    if nu == 0:
        raise ValueError("the plane's first two points are the same")
    e1 = u / nu
    r = (c - a) - ((c - a) @ e1) * e1
    nr = np.linalg.norm(r)
    e2 = r / nr if nr > 1e-12 * nu else _any_orthogonal(e1, rng or np.random.default_rng(0))
    return e1, e2


@dataclass
class TransferPlane:
    """Three solutions of one network: pre-trained on task A, fine-tuned from it on task B, and
    trained on B from scratch; the loss on B along the straight lines from the pre-trained one, and
    the plane through all three (origin: the pre-trained solution)."""

    t: np.ndarray
    loss_to_finetuned: np.ndarray     # L_B((1 - t) θpre + t θft)
    loss_to_scratch: np.ndarray       # L_B((1 - t) θpre + t θscratch)
    barrier_finetuned: float
    barrier_scratch: float
    distance_finetuned: float         # |θft − θpre|
    distance_scratch: float           # |θscratch − θpre|
    plane: Landscape                  # directions "points"
    points_xy: np.ndarray             # (3, 2): pre-trained, fine-tuned, scratch in the plane
    points_loss: np.ndarray           # their losses on B


def transfer_plane(model: MLP, data: Dataset, pretrained, finetuned, scratch, points: int = 41, grid=(41, 41),
                   cancel=None) -> TransferPlane:
    """Where fine-tuning goes (Neyshabur et al. 2020, "What is being transferred in transfer
    learning?"): the fine-tuned solution stays in the pre-trained one's basin — no barrier on the
    straight line between them — while training from scratch ends elsewhere, behind a barrier."""
    model = model.fit_to(data)
    a, b, c = (np.ascontiguousarray(p, dtype=np.float64) for p in (pretrained, finetuned, scratch))
    for name, p in (("pretrained", a), ("finetuned", b), ("scratch", c)):
        if p.shape != (model.n_params,):
            raise ValueError(f"{name} has {p.size} parameters; {model.describe()} has {model.n_params}")
    e1, e2 = plane_axes(a, b, c)
    ts = np.linspace(0.0, 1.0, int(points))
    zero = np.zeros_like(a)
    line = np.c_[ts, np.zeros_like(ts)]
    to_ft = points_losses(model, data, a, b - a, zero, line)
    to_sc = points_losses(model, data, a, c - a, zero, line)
    xy = np.array([[0.0, 0.0], [(b - a) @ e1, (b - a) @ e2], [(c - a) @ e1, (c - a) @ e2]])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = 0.25 * np.maximum(hi - lo, 1e-6)
    na, nb = (int(grid[0]), int(grid[1])) if np.ndim(grid) else (int(grid), int(grid))
    alphas = np.linspace(lo[0] - pad[0], hi[0] + pad[0], na)
    betas = np.linspace(lo[1] - pad[1], hi[1] + pad[1], nb)
    check(cancel, "plane cancelled")
    values, acc = plane_values(model, data, a, e1, e2, alphas, betas, cancel=cancel)
    loss3 = points_losses(model, data, a, e1, e2, xy)
    plane = Landscape(values, alphas, betas, np.stack([e1, e2]), a, "points",
                      acc if model.loss == "cross_entropy" else None, None, xy, loss3, None)
    return TransferPlane(ts, to_ft, to_sc, barrier(to_ft, ts), barrier(to_sc, ts), float(np.linalg.norm(b - a)),
                         float(np.linalg.norm(c - a)), plane, xy, loss3)


def _any_orthogonal(e1, rng):
    r = rng.standard_normal(e1.size)
    r -= (r @ e1) * e1
    return r / np.linalg.norm(r)


def curve_loss(model: MLP, data: Dataset, a, b, c, ts) -> np.ndarray:
    """L(φ(t)) for the Bézier curve (a, c, b) at times ``ts`` (the tests' reference)."""
    from .training import evaluate

    return np.array([evaluate(model, data, p)[0] for p in bezier(a, b, c, ts)])

