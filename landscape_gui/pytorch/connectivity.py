"""Mode connectivity for your own PyTorch model (Garipov et al. 2018; Draxler et al. 2018):
are two trained networks joined by a low-loss path?

The straight line (1 − t)·θa + t·θb usually crosses a barrier. ``method="bezier"`` trains the
bend θc of a quadratic Bézier curve φ(t) = (1 − t)²θa + 2t(1 − t)θc + t²θb; ``"polychain"``
the middle vertex of the two-segment path θa → θc → θb. θc is trained (Adam, as the network
mode's ``core.nn.connectivity``) to minimise the loss averaged along the path: one uniform t
per mini-batch, the gradient through ``torch.func.functional_call`` — the caller's models are
never written. BatchNorm runs in eval mode with the running statistics interpolated linearly
between the two ends.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from ..core.cancel import check
from ..core.files.landscapes import LandscapePlane
from ..core.nn.connectivity import barrier
from .planes import _device, _dtype, _module_and_factory, _torch, cache_batches, load_checkpoint, loss_plane

METHODS = ("bezier", "polychain")


@dataclass
class TorchCurve:
    t: np.ndarray                 # 0 (θa) … 1 (θb)
    loss_linear: np.ndarray       # along the straight line
    loss_curve: np.ndarray        # along the trained path
    barrier_linear: float         # the path's highest loss above the chord between its end losses
    barrier_curve: float
    plane: LandscapePlane | None  # the plane through θa, θb, θc (θa at the origin)
    linear_xy: np.ndarray         # the line in the plane's coordinates
    curve_xy: np.ndarray          # the path in the plane's coordinates
    train_losses: np.ndarray      # mean path loss per epoch
    method: str
    bend: dict                    # θc: parameter name -> tensor
    _module: object = None
    _ends: tuple = ()

    def state_at(self, t: float) -> dict:
        """The full state (parameters and buffers) of the path at ``t``."""
        a, b, c, names, buffers = self._ends
        return _state_at(self.method, a, b, c, names, buffers, float(t))

    def model_at(self, t: float):
        """A new module (a copy of model_a) holding the path's weights at ``t``."""
        torch = _torch()
        net = copy.deepcopy(self._module)
        with torch.no_grad():
            tensors = dict(net.named_parameters()) | dict(net.named_buffers())
            for n, v in self.state_at(t).items():
                tensors[n].copy_(v)
        return net.eval()


def _weights(method, t):
    """(w_a, w_c, w_b) of the path at t."""
    if method == "bezier":
        return (1 - t) ** 2, 2 * t * (1 - t), t ** 2
    if t <= 0.5:
        return 1 - 2 * t, 2 * t, 0.0
    return 0.0, 2 - 2 * t, 2 * t - 1


def _state_at(method, a, b, c, names, buffers, t):
    wa, wc, wb = _weights(method, t)
    out = {n: wa * a[n] + wc * c[n] + wb * b[n] for n in names}
    for n, (ba, bb) in buffers.items():
        out[n] = ba if not ba.is_floating_point() else (1 - t) * ba + t * bb
        if n.endswith("running_var") and ba.is_floating_point():
            out[n] = out[n].clamp(min=0.0)
    return out


def connect(model_a, model_b, loss_fn, batches, method="bezier", epochs=100, seed=0, lr=0.01, points=61,
            grid=(25, 25), max_batches=None, device=None, progress=None, cancel=None) -> TorchCurve:
    """Train a low-loss path between ``model_a`` and ``model_b`` (modules, state dicts or
    checkpoint paths of the same architecture) and compare it with the straight line."""
    torch = _torch()
    from torch.func import functional_call

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    epochs = int(epochs)
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    module, _ = _module_and_factory(model_a)
    dev, dtype = _device(device, module), _dtype(module)
    sa, sb = load_checkpoint(module, module), load_checkpoint(model_b, module)
    names = [n for n, _ in module.named_parameters()]
    a = {n: sa[n].detach().to(dev, dtype) for n in names}
    b = {n: sb[n].detach().to(dev, dtype) for n in names}
    if all(torch.equal(a[n], b[n]) for n in names):
        raise ValueError("the two models are the same point: there is no path to train")
    buffers = {n: (sa[n].detach().to(dev), sb[n].detach().to(dev)) for n, _ in module.named_buffers()}
    for n, (ba, bb) in buffers.items():
        if ba.is_floating_point():
            buffers[n] = (ba.to(dtype), bb.to(dtype))
    data = cache_batches(batches, dev, dtype, max_batches)
    net = copy.deepcopy(module).to(dev).eval().requires_grad_(False)
    c = {n: (0.5 * (a[n] + b[n])).clone().requires_grad_(True) for n in names}
    opt = torch.optim.Adam(list(c.values()), lr=float(lr))
    gen = np.random.default_rng(seed)
    train_losses = []
    for epoch in range(epochs):
        check(cancel, "curve training cancelled")
        total = 0.0
        for k in gen.permutation(len(data)):
            x, y = data[k]
            t = float(gen.uniform())
            state = _state_at(method, a, b, c, names, buffers, t)
            loss = loss_fn(functional_call(net, state, (x,)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        train_losses.append(total / len(data))
        if not math.isfinite(train_losses[-1]):
            raise ValueError(f"the path's training diverged at epoch {epoch + 1}: lower lr (now {lr:g})")
        if progress is not None:
            progress(epoch + 1, epochs)
    c = {n: v.detach() for n, v in c.items()}
    ts = np.linspace(0.0, 1.0, int(points))

    def losses(path):
        out = np.empty(len(ts))
        with torch.no_grad():
            for i, t in enumerate(ts):
                check(cancel, "curve training cancelled")
                st = path(float(t))
                out[i] = sum(float(loss_fn(functional_call(net, st, (x,)), y)) * len(y) for x, y in data)
        return out / sum(len(y) for _, y in data)

    lin = losses(lambda t: _state_at("bezier", a, b, {n: 0.5 * (a[n] + b[n]) for n in names}, names, buffers, t))
    cur = losses(lambda t: _state_at(method, a, b, c, names, buffers, t))
    # the plane through a, b, c: e1 along b − a, e2 the rest of c − a
    fa = torch.cat([a[n].reshape(-1) for n in names]).double().cpu().numpy()
    fb = torch.cat([b[n].reshape(-1) for n in names]).double().cpu().numpy()
    fc = torch.cat([c[n].reshape(-1) for n in names]).double().cpu().numpy()
    u = fb - fa
    nu = float(np.linalg.norm(u))
    e1 = u / nu
    r = (fc - fa) - ((fc - fa) @ e1) * e1
    nr = float(np.linalg.norm(r))
    pts = np.stack([sum(w * p for w, p in zip(_weights(method, t), (fa, fc, fb))) for t in ts]) - fa
    curve_xy = np.c_[pts @ e1, pts @ (r / nr) if nr > 0 else np.zeros(len(ts))]
    linear_xy = np.c_[ts * nu, np.zeros_like(ts)]
    plane = None
    if grid and nr > 1e-9 * nu:
        mid = {n: v.cpu() for n, v in _state_at("bezier", a, b, c, names, buffers, 0.5).items()}
        mid.update({n: c[n].cpu() for n in names})
        xy = np.vstack([curve_xy, linear_xy])
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = 0.2 * np.maximum(hi - lo, 0.05 * nu)
        span_a = max(abs(lo[0] - pad[0]), abs(hi[0] + pad[0]))
        span_b = max(abs(lo[1] - pad[1]), abs(hi[1] + pad[1]))
        plane = loss_plane(module, loss_fn, data, directions="points", grid=grid, span=max(span_a, span_b),
                           checkpoints=[sa, sb, mid], device=dev, cancel=cancel)
        plane.trajectory_xy = curve_xy
        plane.trajectory_losses = cur
        plane.info["path_label"] = f"{method} path θa → θb"
    return TorchCurve(ts, lin, cur, barrier(lin, ts), barrier(cur, ts), plane, linear_xy, curve_xy, np.array(train_losses),
                      method, {n: v.cpu() for n, v in c.items()}, module,
                      (a, b, c, names, buffers))
