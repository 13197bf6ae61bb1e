"""Plain-numpy twins of ``kernels.py`` (whole batches as matrices), for the tests and the
benchmark's baseline."""

from __future__ import annotations

import numpy as np

from .codes import CROSS_ENTROPY, RELU


def _act(z, act):
    return np.maximum(z, 0.0) if act == RELU else np.tanh(z)


def _act_grad(z, act):
    return (z > 0).astype(float) if act == RELU else 1.0 - np.tanh(z) ** 2


def _layers(theta, dims, woff, boff):
    for l in range(len(dims) - 1):
        n_in, n_out = dims[l], dims[l + 1]
        W = theta[woff[l]: woff[l] + n_in * n_out].reshape(n_out, n_in)
        b = theta[boff[l]: boff[l] + n_out]
        yield W, b


def forward(theta, X, dims, woff, boff, residual, act):
    """Outputs (n, n_out), pre-activations and layer inputs (for backprop)."""
    h = X
    Zs, Hs = [], []
    layers = list(_layers(theta, dims, woff, boff))
    for l, (W, b) in enumerate(layers):
        Hs.append(h)
        z = h @ W.T + b
        Zs.append(z)
        if l < len(layers) - 1:
            a = _act(z, act)
            h = h + a if residual[l] else a
    return Zs[-1], Zs, Hs


def _loss(out, yi, yf, loss_kind):
    if loss_kind == CROSS_ENTROPY:
        m = out.max(axis=1, keepdims=True)
        lse = (m + np.log(np.exp(out - m).sum(axis=1, keepdims=True)))[:, 0]
        losses = lse - out[np.arange(len(out)), yi]
        p = np.exp(out - lse[:, None])
        p[np.arange(len(out)), yi] -= 1.0
        acc = float((out.argmax(axis=1) == yi).mean())
        return losses, p, acc
    d = out - yf
    return (d * d).mean(axis=1), 2.0 * d / out.shape[1], 0.0


def dataset_loss(theta, X, yi, yf, dims, woff, boff, residual, act, loss_kind):
    out, _, _ = forward(theta, X, dims, woff, boff, residual, act)
    losses, _, acc = _loss(out, yi, yf, loss_kind)
    return float(losses.mean()), acc


def loss_and_grad(theta, X, yi, yf, idx, dims, woff, boff, residual, act, loss_kind):
    X, yi, yf = X[idx], yi[idx], yf[idx]
    out, Zs, Hs = forward(theta, X, dims, woff, boff, residual, act)
    losses, dout, _ = _loss(out, yi, yf, loss_kind)
    grad = np.zeros_like(theta)
    layers = list(_layers(theta, dims, woff, boff))
    dz = dout / len(X)
    dh_next = None
    for l in range(len(layers) - 1, -1, -1):
        W, _ = layers[l]
        if l < len(layers) - 1:
            dz = dh_next * _act_grad(Zs[l], act)
        n_in, n_out = dims[l], dims[l + 1]
        grad[woff[l]: woff[l] + n_in * n_out] = (dz.T @ Hs[l]).ravel()
        grad[boff[l]: boff[l] + n_out] = dz.sum(axis=0)
        dh = dz @ W
        if l < len(layers) - 1 and residual[l]:
            dh = dh + dh_next
        dh_next = dh
    loss = losses.mean()
    # complex parameters pass through (a complex-step derivative of this gradient is the
    # exact Hessian the tests check Hessian-vector products against)
    return (loss if np.iscomplexobj(loss) else float(loss)), grad


def _act_second(z, act):
    if act == RELU:
        return np.zeros_like(z)
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t * t)


def hessian_vector_product(theta, v, X, yi, yf, dims, woff, boff, residual, act, loss_kind):
    """The R-operator of ``curvature_kernels.loss_grad_hvp`` on whole batches: H v of the
    full-batch mean loss (and the loss and gradient)."""
    layers = list(_layers(theta, dims, woff, boff))
    vlayers = list(_layers(v, dims, woff, boff))
    h, rh = X, np.zeros_like(X)
    Zs, RZs, Hs, RHs = [], [], [], []
    for l, ((W, b), (V, vb)) in enumerate(zip(layers, vlayers)):
        Hs.append(h)
        RHs.append(rh)
        z = h @ W.T + b
        rz = h @ V.T + rh @ W.T + vb
        Zs.append(z)
        RZs.append(rz)
        if l < len(layers) - 1:
            a, ra = _act(z, act), _act_grad(z, act) * rz
            h, rh = (h + a, rh + ra) if residual[l] else (a, ra)
    out, rout = Zs[-1], RZs[-1]
    n = len(X)
    losses, dout, _ = _loss(out, yi, yf, loss_kind)
    if loss_kind == CROSS_ENTROPY:
        p = dout.copy()
        p[np.arange(n), yi] += 1.0
        rdout = p * (rout - (p * rout).sum(axis=1, keepdims=True))
    else:
        rdout = 2.0 * rout / out.shape[1]
    dz, rdz = dout / n, rdout / n
    grad, hv = np.zeros_like(theta), np.zeros_like(theta)
    dh_next = rdh_next = None
    for l in range(len(layers) - 1, -1, -1):
        (W, _), (V, _) = layers[l], vlayers[l]
        if l < len(layers) - 1:
            g1 = _act_grad(Zs[l], act)
            rdz = rdh_next * g1 + dh_next * _act_second(Zs[l], act) * RZs[l]
            dz = dh_next * g1
        n_in, n_out = dims[l], dims[l + 1]
        grad[woff[l]: woff[l] + n_in * n_out] = (dz.T @ Hs[l]).ravel()
        grad[boff[l]: boff[l] + n_out] = dz.sum(axis=0)
        hv[woff[l]: woff[l] + n_in * n_out] = (rdz.T @ Hs[l] + dz.T @ RHs[l]).ravel()
        hv[boff[l]: boff[l] + n_out] = rdz.sum(axis=0)
        dh, rdh = dz @ W, dz @ V + rdz @ W
        if l < len(layers) - 1 and residual[l]:
            dh, rdh = dh + dh_next, rdh + rdh_next
        dh_next, rdh_next = dh, rdh
    return float(losses.mean()), grad, hv


def exact_hessian(theta, X, yi, yf, dims, woff, boff, residual, act, loss_kind) -> np.ndarray:
    """The full-batch Hessian, exact to round-off and independent of the R-operator: the
    complex-step derivative of ``loss_and_grad``, column by column (for tests, small nets)."""
    idx = np.arange(len(X))
    n, h = theta.size, 1e-30
    H = np.empty((n, n))
    for k in range(n):
        t = theta.astype(complex)
        t[k] += 1j * h
        H[:, k] = loss_and_grad(t, X, yi, yf, idx, dims, woff, boff, residual, act, loss_kind)[1].imag / h
    return H
