"""The plain way, kept as the reference: copy weights into the model for each grid point
and evaluate it batch by batch, as loss-landscape's ``crunch``/``eval_loss`` do. Slow (one
point at a time, default memory order) but obviously right: the tests and ``bench`` compare
``loss_plane`` against it."""

from __future__ import annotations

import copy

import numpy as np


def plain_loop_plane(model, loss_fn, batches, centre: dict, d1: dict, d2: dict | None, alphas, betas=None):
    """values[j, i] = L(centre + alphas[i]·d1 + betas[j]·d2) (a line when ``betas`` is None),
    and the accuracy (percent) where the outputs are class scores."""
    import torch

    net = copy.deepcopy(model).eval()
    state = dict(net.named_parameters()) | dict(net.named_buffers())
    betas_ = [0.0] if betas is None else betas
    loss = np.empty((len(betas_), len(alphas)))
    acc = np.full_like(loss, np.nan)
    with torch.no_grad():
        for j, b in enumerate(betas_):
            for i, a in enumerate(alphas):
                for n, t in state.items():
                    if n in centre and d1.get(n) is not None and t.is_floating_point():
                        v = centre[n] + float(a) * d1[n]
                        if d2 is not None and betas is not None:
                            v = v + float(b) * d2[n]
                        t.copy_(v)
                total, correct, count = 0.0, 0, 0
                for x, y in batches:
                    out = net(x)
                    total += loss_fn(out, y).item() * len(y)
                    if out.dim() == 2 and not torch.is_floating_point(y):
                        correct += int((out.argmax(1) == y).sum())
                    count += len(y)
                loss[j, i] = total / count
                acc[j, i] = 100.0 * correct / count   # percent, as loss-landscape's evaluation
    return (loss[0], acc[0]) if betas is None else (loss, acc)


def autograd_hvp_matmat(module, loss_fn, batches, V: np.ndarray) -> np.ndarray:
    """The benchmark's baseline: one Hessian-vector product at a time by double backward
    (``torch.autograd.grad`` with ``create_graph``), as PyHessian and hessian-eigenthings."""
    import torch

    params = [p for p in module.parameters()]
    for p in params:
        p.requires_grad_(True)
    n_samples = sum(len(y) for _, y in batches)
    out = np.empty_like(V)
    for i, v in enumerate(V):
        vs, k = [], 0
        for p in params:
            vs.append(torch.as_tensor(v[k:k + p.numel()]).to(p.dtype).view_as(p))
            k += p.numel()
        acc = None
        for x, y in batches:
            loss = loss_fn(module(x), y) * (len(y) / n_samples)
            g = torch.autograd.grad(loss, params, create_graph=True)
            hv = torch.autograd.grad(g, params, grad_outputs=vs)
            flat = torch.cat([h.reshape(-1) for h in hv]).double()
            acc = flat if acc is None else acc + flat
        out[i] = acc.numpy()
    return out
