"""Numba forward and backward passes of a multilayer perceptron over a flat parameter vector.

Layout (see ``model.MLP``): layer l maps ``dims[l]`` inputs to ``dims[l + 1]``
outputs with weights ``theta[woff[l]: woff[l] + dims[l+1]*dims[l]]`` (row-major,
one row per output unit: a "filter") and biases ``theta[boff[l]: ...]``. Hidden
layers apply the activation (0 relu, 1 tanh); a layer with ``residual[l]`` adds
its input back (h + act(W h + b)); the last layer is linear. Loss 0 is softmax
cross-entropy against integer labels, 1 is mean squared error against targets
(torch's CrossEntropyLoss / MSELoss, mean reduction).

Every function here has a plain-numpy twin in ``reference.py``; tests compare them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..formula.vmath import vexp, vlog, vtanh
from ..optimizers.kinds import CTL_LR, CTL_MOMENTUM, CTL_PLATEAU, SAM
from ..optimizers.rules import apply_schedule, coefficient_row, plateau_update, sam_perturbation, update
from .codes import CROSS_ENTROPY, MSE, RELU, TANH  # noqa: F401  (re-exported)

_JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)
#: ``vmath``'s source hash (``codegen._VMATH_VERSION``) when this file last changed. Numba's disk cache
#: checks only this file, and the kernels here inline vexp, vlog and vtanh: a test fails when vmath
#: changes and this line does not, so a user's cache never keeps the old functions.
VMATH_VERSION = "87ee3e8c"


@njit(**_JIT)
def _act(z, kind):
    if kind == RELU:
        return z if z > 0.0 else 0.0
    return np.tanh(z)


@njit(**_JIT)
def _act_grad(z, kind):
    if kind == RELU:
        return 1.0 if z > 0.0 else 0.0
    t = np.tanh(z)
    return 1.0 - t * t


@njit(**_JIT)
def _forward_one(theta, x, dims, woff, boff, residual, act, Z, Hs):
    """One sample through the net; Z[l] pre-activations, Hs[l] layer inputs (Hs[0] = x)."""
    n_layers = dims.shape[0] - 1
    for k in range(dims[0]):
        Hs[0, k] = x[k]
    for l in range(n_layers):
        n_in, n_out = dims[l], dims[l + 1]
        w0, b0 = woff[l], boff[l]
        for j in range(n_out):
            s = theta[b0 + j]
            row = w0 + j * n_in
            for k in range(n_in):
                s += theta[row + k] * Hs[l, k]
            Z[l, j] = s
        if l < n_layers - 1:
            for j in range(n_out):
                a = _act(Z[l, j], act)
                Hs[l + 1, j] = Hs[l, j] + a if residual[l] else a


@njit(**_JIT)
def _sample_loss(out, n_out, yi, yf, loss_kind, dout):
    """Loss of one sample from its outputs; dout = dloss/dout (unscaled). Returns (loss, correct)."""
    if loss_kind == CROSS_ENTROPY:
        m = out[0]
        best = 0
        for j in range(1, n_out):
            if out[j] > m:
                m = out[j]
                best = j
        s = 0.0
        for j in range(n_out):
            s += np.exp(out[j] - m)
        lse = m + np.log(s)
        for j in range(n_out):
            dout[j] = np.exp(out[j] - lse)
        dout[yi] -= 1.0
        return lse - out[yi], 1.0 if best == yi else 0.0
    total = 0.0
    for j in range(n_out):
        d = out[j] - yf[j]
        total += d * d
        dout[j] = 2.0 * d / n_out
    return total / n_out, 0.0


BLOCK = 128  # samples pushed through the net together (feature-major: the inner loops vectorise)


#: fused multiply-adds: half the instructions of the matrix loops (rounding: within an ulp)
_FMA = dict(_JIT, fastmath={"contract"})
#: sums over samples in SIMD lanes (reassociated: a few ulps from the one-sample order)
_SUM = dict(_JIT, fastmath={"contract", "reassoc"})


@njit(**_FMA)
def _axpy8(z, W, w0, n_in, j, h, m):
    """z[:m] += sum_k W[w0 + j*n_in + k] * h[k, :m], eight inputs per pass over the samples: one load
    and store of z per eight multiply-adds (stores, not arithmetic, bound one input at a time). The
    sum is a chain of fused multiply-adds from z in input order, as ``_dense4``'s."""
    row = w0 + j * n_in
    k = 0
    while k + 8 <= n_in:
        a0, a1, a2, a3 = W[row + k], W[row + k + 1], W[row + k + 2], W[row + k + 3]
        a4, a5, a6, a7 = W[row + k + 4], W[row + k + 5], W[row + k + 6], W[row + k + 7]
        h0, h1, h2, h3, h4, h5, h6, h7 = h[k], h[k + 1], h[k + 2], h[k + 3], h[k + 4], h[k + 5], h[k + 6], h[k + 7]
        for n in range(m):
            z[n] = (z[n] + a0 * h0[n] + a1 * h1[n] + a2 * h2[n] + a3 * h3[n]
                    + a4 * h4[n] + a5 * h5[n] + a6 * h6[n] + a7 * h7[n])
        k += 8
    while k < n_in:
        w = W[row + k]
        hk = h[k]
        for n in range(m):
            z[n] += w * hk[n]
        k += 1


@njit(**_FMA)
def _dense4(z, W, r0, n_in, j, h, m):
    """z[j..j+3, :m] += rows j..j+3 of a layer's weights (from ``W[r0]``, r0 = w0 + j * n_in) times
    h: one load of each input per four outputs, a quarter of ``_axpy8``'s loads (1.8x its speed
    on a 32 x 32 layer). Each output's sum is ``_axpy8``'s expression, so the same rounding: a chain of
    fused multiply-adds from z in input order (a pairwise tree of the eight products, as until the evening of
    2026-12-03, took 1.3-1.5x as long: its adds and multiplies did not fuse)."""
    z0, z1, z2, z3 = z[j], z[j + 1], z[j + 2], z[j + 3]
    r1, r2, r3 = r0 + n_in, r0 + 2 * n_in, r0 + 3 * n_in
    k = 0
    while k + 8 <= n_in:
        h0, h1, h2, h3, h4, h5, h6, h7 = h[k], h[k + 1], h[k + 2], h[k + 3], h[k + 4], h[k + 5], h[k + 6], h[k + 7]
        a00, a01, a02, a03, a04, a05, a06, a07 = (W[r0 + k], W[r0 + k + 1], W[r0 + k + 2], W[r0 + k + 3],
                                                  W[r0 + k + 4], W[r0 + k + 5], W[r0 + k + 6], W[r0 + k + 7])
        a10, a11, a12, a13, a14, a15, a16, a17 = (W[r1 + k], W[r1 + k + 1], W[r1 + k + 2], W[r1 + k + 3],
                                                  W[r1 + k + 4], W[r1 + k + 5], W[r1 + k + 6], W[r1 + k + 7])
        a20, a21, a22, a23, a24, a25, a26, a27 = (W[r2 + k], W[r2 + k + 1], W[r2 + k + 2], W[r2 + k + 3],
                                                  W[r2 + k + 4], W[r2 + k + 5], W[r2 + k + 6], W[r2 + k + 7])
        a30, a31, a32, a33, a34, a35, a36, a37 = (W[r3 + k], W[r3 + k + 1], W[r3 + k + 2], W[r3 + k + 3],
                                                  W[r3 + k + 4], W[r3 + k + 5], W[r3 + k + 6], W[r3 + k + 7])
        for n in range(m):
            x0, x1, x2, x3, x4, x5, x6, x7 = h0[n], h1[n], h2[n], h3[n], h4[n], h5[n], h6[n], h7[n]
            z0[n] = (z0[n] + a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3
                       + a04 * x4 + a05 * x5 + a06 * x6 + a07 * x7)
            z1[n] = (z1[n] + a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3
                       + a14 * x4 + a15 * x5 + a16 * x6 + a17 * x7)
            z2[n] = (z2[n] + a20 * x0 + a21 * x1 + a22 * x2 + a23 * x3
                       + a24 * x4 + a25 * x5 + a26 * x6 + a27 * x7)
            z3[n] = (z3[n] + a30 * x0 + a31 * x1 + a32 * x2 + a33 * x3
                       + a34 * x4 + a35 * x5 + a36 * x6 + a37 * x7)
        k += 8
    while k < n_in:
        hk = h[k]
        w0, w1, w2, w3 = W[r0 + k], W[r1 + k], W[r2 + k], W[r3 + k]
        for n in range(m):
            x = hk[n]
            z0[n] += w0 * x
            z1[n] += w1 * x
            z2[n] += w2 * x
            z3[n] += w3 * x
        k += 1


@njit(**_FMA)
def _dense(z, W, w0, b0, n_in, n_out, h, m):
    """z[j, :m] = b[j] + sum_k W[j, k] h[k, :m] for every output j of a layer (weights from
    ``W[w0]``, row-major, biases from ``W[b0]``): four outputs at a time, then one at a time."""
    for j in range(n_out):
        bj = W[b0 + j]
        zj = z[j]
        for n in range(m):
            zj[n] = bj
    _accumulate(z, W, w0, n_in, n_out, h, m)


@njit(**_FMA)
def _accumulate(z, W, w0, n_in, n_out, h, m):
    """z[j, :m] += sum_k W[w0 + j * n_in + k] h[k, :m] for every j < n_out (W's rows row-major from
    ``w0``): four rows at a time (``_dense4``), then one at a time (``_axpy8``)."""
    j = 0
    while j + 4 <= n_out:
        _dense4(z, W, w0 + j * n_in, n_in, j, h, m)
        j += 4
    while j < n_out:
        _axpy8(z[j], W, w0, n_in, j, h, m)
        j += 1


@njit(**_FMA)
def _forward_block(theta, XT, i0, m, dims, woff, boff, residual, act, A, B):
    """Samples i0..i0+m through the net, feature-major: returns the (n_out, BLOCK) output buffer.

    A and B are (wmax, BLOCK) scratch buffers that swap roles layer by layer; the
    innermost loop runs over samples (contiguous), so it compiles to SIMD axpys.
    """
    n_layers = dims.shape[0] - 1
    h, z = A, B
    for k in range(dims[0]):
        for n in range(m):
            h[k, n] = XT[k, i0 + n]
    for l in range(n_layers):
        n_in, n_out = dims[l], dims[l + 1]
        w0, b0 = woff[l], boff[l]
        _dense(z, theta, w0, b0, n_in, n_out, h, m)
        if l < n_layers - 1:
            for j in range(n_out):
                zj = z[j]
                hj = h[j]
                if act == RELU:
                    for n in range(m):
                        a = zj[n] if zj[n] > 0.0 else 0.0
                        zj[n] = hj[n] + a if residual[l] else a
                else:
                    for n in range(m):
                        a = vtanh(zj[n])   # SIMD tanh (vmath): within a dozen ulps of np.tanh
                        zj[n] = hj[n] + a if residual[l] else a
            h, z = z, h
    return z


@njit(**_JIT)
def _log_sum_exp(Z, n_out, m, mx, sm, best):
    """sm[n] = log(sum_j exp(Z[j, n])) and best[n] = argmax_j Z[j, n] for the block's m samples (the
    largest subtracted first), a column of samples at a time: the loops over outputs outermost, so
    each pass over the samples vectorises (SIMD exp and log from vmath, within an ulp of numpy's)."""
    for n in range(m):
        mx[n] = Z[0, n]
        best[n] = 0
    for j in range(1, n_out):
        for n in range(m):
            if Z[j, n] > mx[n]:
                mx[n] = Z[j, n]
                best[n] = j
    for n in range(m):
        sm[n] = 0.0
    for j in range(n_out):
        for n in range(m):
            sm[n] += vexp(Z[j, n] - mx[n])
    for n in range(m):
        sm[n] = mx[n] + vlog(sm[n])


@njit(**_JIT)
def dataset_loss(theta, X, yi, yf, dims, woff, boff, residual, act, loss_kind):
    """(mean loss, accuracy) over all samples; accuracy 0 for regression."""
    return _loss_feature_major(theta, np.ascontiguousarray(X.T), yi, yf, dims, woff, boff, residual, act,
                               loss_kind)


@njit(**_JIT)
def _loss_feature_major(theta, XT, yi, yf, dims, woff, boff, residual, act, loss_kind):
    """``dataset_loss`` for data already transposed to (features, samples): the plane kernels
    transpose once for all their grid points."""
    n_layers = dims.shape[0] - 1
    wmax = dims.max()
    A = np.empty((wmax, BLOCK))
    B = np.empty((wmax, BLOCK))
    out = np.empty(wmax)
    dout = np.empty(wmax)
    n_out = dims[n_layers]
    total = 0.0
    correct = 0.0
    n_samples = XT.shape[1]
    mx = np.empty(BLOCK)
    sm = np.empty(BLOCK)
    best = np.empty(BLOCK, dtype=np.int64)
    for i0 in range(0, n_samples, BLOCK):
        m = min(BLOCK, n_samples - i0)
        Z = _forward_block(theta, XT, i0, m, dims, woff, boff, residual, act, A, B)
        if loss_kind == CROSS_ENTROPY:
            _log_sum_exp(Z, n_out, m, mx, sm, best)   # _sample_loss's numbers, a block at a time
            for n in range(m):
                c = yi[i0 + n]
                total += sm[n] - Z[c, n]
                correct += 1.0 if best[n] == c else 0.0
        else:
            for n in range(m):
                for j in range(n_out):
                    out[j] = Z[j, n]
                l, c = _sample_loss(out, n_out, yi[i0 + n], yf[i0 + n], loss_kind, dout)
                total += l
                correct += c
    return total / n_samples, correct / n_samples


@njit(**_SUM)
def _wgrad44(grad, w0, n_in, j, k, dz, h, m):
    """grad[rows j..j+3, columns k..k+3] of a layer's weights (from ``w0``) += this block's sums over
    samples of dz[j, n] * h[k, n]: sixteen dot products in one pass, SIMD over the samples."""
    d0, d1, d2, d3 = dz[j], dz[j + 1], dz[j + 2], dz[j + 3]
    h0, h1, h2, h3 = h[k], h[k + 1], h[k + 2], h[k + 3]
    g00, g01, g02, g03 = 0.0, 0.0, 0.0, 0.0
    g10, g11, g12, g13 = 0.0, 0.0, 0.0, 0.0
    g20, g21, g22, g23 = 0.0, 0.0, 0.0, 0.0
    g30, g31, g32, g33 = 0.0, 0.0, 0.0, 0.0
    for n in range(m):
        e0, e1, e2, e3 = d0[n], d1[n], d2[n], d3[n]
        x0, x1, x2, x3 = h0[n], h1[n], h2[n], h3[n]
        g00 += e0 * x0
        g01 += e0 * x1
        g02 += e0 * x2
        g03 += e0 * x3
        g10 += e1 * x0
        g11 += e1 * x1
        g12 += e1 * x2
        g13 += e1 * x3
        g20 += e2 * x0
        g21 += e2 * x1
        g22 += e2 * x2
        g23 += e2 * x3
        g30 += e3 * x0
        g31 += e3 * x1
        g32 += e3 * x2
        g33 += e3 * x3
    grad[w0 + j * n_in + k] += g00
    grad[w0 + j * n_in + k + 1] += g01
    grad[w0 + j * n_in + k + 2] += g02
    grad[w0 + j * n_in + k + 3] += g03
    grad[w0 + (j + 1) * n_in + k] += g10
    grad[w0 + (j + 1) * n_in + k + 1] += g11
    grad[w0 + (j + 1) * n_in + k + 2] += g12
    grad[w0 + (j + 1) * n_in + k + 3] += g13
    grad[w0 + (j + 2) * n_in + k] += g20
    grad[w0 + (j + 2) * n_in + k + 1] += g21
    grad[w0 + (j + 2) * n_in + k + 2] += g22
    grad[w0 + (j + 2) * n_in + k + 3] += g23
    grad[w0 + (j + 3) * n_in + k] += g30
    grad[w0 + (j + 3) * n_in + k + 1] += g31
    grad[w0 + (j + 3) * n_in + k + 2] += g32
    grad[w0 + (j + 3) * n_in + k + 3] += g33


@njit(**_SUM)
def _wgrad_dot(grad, e, dj, hk, m):
    """grad[e] += this block's sum over samples of dj[n] * hk[n]: one weight (the rows and columns
    that do not fill a ``_wgrad44`` tile)."""
    g = 0.0
    for n in range(m):
        g += dj[n] * hk[n]
    grad[e] += g


@njit(**_FMA)
def loss_and_grad(theta, X, yi, yf, idx, dims, woff, boff, residual, act, loss_kind, grad):
    """Mean loss over the samples ``idx`` and its exact gradient (backpropagation) into ``grad``.

    Feature-major blocks of samples, as ``_forward_block``: every loop over samples is SIMD,
    the weight gradient a block's dot products over samples (sixteen a pass, ``_wgrad44``), and
    the gradient flowing back a layer is its transposed weights times dz, computed as the
    forward layers are. Agrees with ``loss_and_grad_by_sample`` to rounding.
    """
    n_layers = dims.shape[0] - 1
    wmax = dims.max()
    n_out = dims[n_layers]
    Zs = np.empty((n_layers, wmax, BLOCK))
    Hs = np.empty((n_layers, wmax, BLOCK))
    dz = np.empty((wmax, BLOCK))
    dh = np.empty((wmax, BLOCK))
    mx = np.empty(BLOCK)
    sm = np.empty(BLOCK)
    best = np.empty(BLOCK, dtype=np.int64)   # (the argmax _log_sum_exp also gives; unused here)
    WT = np.empty_like(theta)   # each layer's weights transposed (in the same places): backprop's rows
    for l in range(1, n_layers):
        n_in, n_o = dims[l], dims[l + 1]
        for j in range(n_o):
            for k in range(n_in):
                WT[woff[l] + k * n_o + j] = theta[woff[l] + j * n_in + k]
    grad[:] = 0.0
    total = 0.0
    M = idx.shape[0]
    scale = 1.0 / M
    for i0 in range(0, M, BLOCK):
        m = min(BLOCK, M - i0)
        h = Hs[0]
        for n in range(m):
            xi = X[idx[i0 + n]]
            for k in range(dims[0]):
                h[k, n] = xi[k]
        for l in range(n_layers):
            n_in, n_o = dims[l], dims[l + 1]
            z = Zs[l]
            h = Hs[l]
            _dense(z, theta, woff[l], boff[l], n_in, n_o, h, m)
            if l < n_layers - 1:
                hn = Hs[l + 1]
                for j in range(n_o):
                    zj = z[j]
                    hj = h[j]
                    hnj = hn[j]
                    for n in range(m):
                        a = (zj[n] if zj[n] > 0.0 else 0.0) if act == RELU else vtanh(zj[n])
                        hnj[n] = hj[n] + a if residual[l] else a
        out = Zs[n_layers - 1]
        # the loss and d loss / d output (scaled by 1/M), a column of samples at a time
        if loss_kind == CROSS_ENTROPY:
            _log_sum_exp(out, n_out, m, mx, sm, best)
            for n in range(m):
                total += sm[n] - out[yi[idx[i0 + n]], n]
            for j in range(n_out):
                for n in range(m):
                    dz[j, n] = vexp(out[j, n] - sm[n])
            for n in range(m):
                dz[yi[idx[i0 + n]], n] -= 1.0
            for j in range(n_out):
                for n in range(m):
                    dz[j, n] *= scale
        else:
            for n in range(m):
                t = yf[idx[i0 + n]]
                s = 0.0
                for j in range(n_out):
                    d = out[j, n] - t[j]
                    s += d * d
                    dz[j, n] = 2.0 * d / n_out * scale
                total += s / n_out
        for l in range(n_layers - 1, -1, -1):
            n_in, n_o = dims[l], dims[l + 1]
            w0, b0 = woff[l], boff[l]
            if l < n_layers - 1:   # dz = dh_next * act'(z)
                z = Zs[l]
                for j in range(n_o):
                    zj = z[j]
                    dj = dz[j]
                    hj = dh[j]
                    if act == RELU:
                        for n in range(m):
                            dj[n] = hj[n] if zj[n] > 0.0 else 0.0
                    else:
                        for n in range(m):
                            t = vtanh(zj[n])
                            dj[n] = hj[n] * (1.0 - t * t)
            h = Hs[l]
            # the weights' and biases' gradients: this block's sums over samples, tiles of 4 x 4
            for j in range(n_o):
                s = 0.0
                dj = dz[j]
                for n in range(m):
                    s += dj[n]
                grad[b0 + j] += s
            j = 0
            while j < n_o:
                rows = 4 if j + 4 <= n_o else 1
                k = 0
                while k < n_in:
                    cols = 4 if k + 4 <= n_in else 1
                    if rows == 4 and cols == 4:
                        _wgrad44(grad, w0, n_in, j, k, dz, h, m)
                    else:
                        for a in range(rows):
                            for b in range(cols):
                                _wgrad_dot(grad, w0 + (j + a) * n_in + k + b, dz[j + a], h[k + b], m)
                    k += cols
                j += rows
            if l > 0:
                # dh[k] = sum_j W[j, k] dz[j] (+ dh_next[k] through a residual connection)
                keep = l < n_layers - 1 and residual[l]   # dh holds dh_next: the skip path's share
                if not keep:
                    for k in range(n_in):
                        dk = dh[k]
                        for n in range(m):
                            dk[n] = 0.0
                _accumulate(dh, WT, w0, n_o, n_in, dz, m)   # the transposed weights times dz
    return total * scale


@njit(**_JIT)
def loss_and_grad_by_sample(theta, X, yi, yf, idx, dims, woff, boff, residual, act, loss_kind, grad):
    """``loss_and_grad`` one sample at a time (the previous kernel; a test's twin)."""
    n_layers = dims.shape[0] - 1
    wmax = dims.max()
    Z = np.empty((n_layers, wmax))
    Hs = np.empty((n_layers, wmax))
    dz = np.empty(wmax)
    dh = np.empty(wmax)
    dh_next = np.empty(wmax)
    n_out = dims[n_layers]
    grad[:] = 0.0
    total = 0.0
    m = idx.shape[0]
    scale = 1.0 / m
    for ii in range(m):
        i = idx[ii]
        _forward_one(theta, X[i], dims, woff, boff, residual, act, Z, Hs)
        l, _ = _sample_loss(Z[n_layers - 1], n_out, yi[i], yf[i], loss_kind, dz)
        total += l
        for j in range(n_out):
            dz[j] *= scale
        for l in range(n_layers - 1, -1, -1):
            n_in, n_o = dims[l], dims[l + 1]
            w0, b0 = woff[l], boff[l]
            if l < n_layers - 1:  # dz = dh_next * act'(z)
                for j in range(n_o):
                    dz[j] = dh_next[j] * _act_grad(Z[l, j], act)
            for k in range(n_in):
                dh[k] = dh_next[k] if (l < n_layers - 1 and residual[l]) else 0.0
            for j in range(n_o):
                d = dz[j]
                grad[b0 + j] += d
                row = w0 + j * n_in
                for k in range(n_in):
                    grad[row + k] += d * Hs[l, k]
                    dh[k] += theta[row + k] * d
            for k in range(n_in):
                dh_next[k] = dh[k]
    return total * scale


@njit(**_JIT)
def _plane_range(theta, d1, d2, alphas, betas, XT, yi, yf, dims, woff, boff, residual, act, loss_kind,
                 out, acc, p0, p1):
    na = alphas.shape[0]
    for p in range(p0, p1):
        j = p // na
        i = p % na
        q = theta + alphas[i] * d1 + betas[j] * d2
        out[j, i], acc[j, i] = _loss_feature_major(q, XT, yi, yf, dims, woff, boff, residual, act, loss_kind)


@njit(**_JIT)
def _points_range(theta, d1, d2, ab, XT, yi, yf, dims, woff, boff, residual, act, loss_kind, out, p0, p1):
    for p in range(p0, p1):
        q = theta + ab[p, 0] * d1 + ab[p, 1] * d2
        out[p], _ = _loss_feature_major(q, XT, yi, yf, dims, woff, boff, residual, act, loss_kind)


def plane_losses(theta, d1, d2, alphas, betas, X, yi, yf, dims, woff, boff, residual, act, loss_kind,
                 out, acc):
    """L(theta + a*d1 + b*d2) for every (a, b) = (alphas[i], betas[j]): out[j, i]. Points are dealt
    to the shared threads a few at a time (``core.threads``), so a busy core takes fewer."""
    from ..threads import run_shared

    XT = np.ascontiguousarray(X.T)
    n = alphas.shape[0] * betas.shape[0]
    run_shared(lambda p0, p1: _plane_range(theta, d1, d2, alphas, betas, XT, yi, yf, dims, woff, boff, residual,
                                           act, loss_kind, out, acc, p0, p1), n, _points_per_task(n))


def points_losses(theta, d1, d2, ab, X, yi, yf, dims, woff, boff, residual, act, loss_kind, out):
    """L(theta + a*d1 + b*d2) at arbitrary plane points ab (k, 2)."""
    from ..threads import run_shared

    XT = np.ascontiguousarray(X.T)
    ab = np.ascontiguousarray(ab, dtype=np.float64)
    n = ab.shape[0]
    run_shared(lambda p0, p1: _points_range(theta, d1, d2, ab, XT, yi, yf, dims, woff, boff, residual, act,
                                            loss_kind, out, p0, p1), n, _points_per_task(n))


def _points_per_task(n: int) -> int:
    from ..threads import THREADS

    return max(1, -(-n // (8 * THREADS)))


@njit(**_JIT)
def train_epoch(theta, X, yi, yf, perm, batch_size, dims, woff, boff, residual, act, loss_kind,
                kind, h, table, S, t0, step_losses, sched, ctl, P, C, step_lrs):
    """One pass over ``perm`` in mini-batches; torch-exact update rules on the flat vector.

    ``t0`` is the number of steps already taken (the optimizer's step counter);
    returns the new count. SAM takes its second gradient at theta + e on the same batch.
    A schedule: step t's rate (and cycled momentum) from ``sched[t - 1]`` (none when it has no
    rows), ReduceLROnPlateau per step when ``ctl[CTL_PLATEAU] == 1`` (state ``P``); each step's
    scalars are computed as it comes (``C``: NAdam's mu product, the previous rate), and the rate
    it used goes to ``step_lrs``.
    """
    n = theta.shape[0]
    g = np.empty(n)
    e = np.empty(n)
    qe = np.empty(n)
    H = np.zeros((1, 1))
    t = t0
    n_batches = (perm.shape[0] + batch_size - 1) // batch_size
    for b in range(n_batches):
        idx = perm[b * batch_size: min((b + 1) * batch_size, perm.shape[0])]
        t += 1
        step_losses[t - 1] = loss_and_grad(theta, X, yi, yf, idx, dims, woff, boff, residual, act,
                                           loss_kind, g)
        if kind == SAM:
            sam_perturbation(h, theta, g, e)
            for k in range(n):
                qe[k] = theta[k] + e[k]
            loss_and_grad(qe, X, yi, yf, idx, dims, woff, boff, residual, act, loss_kind, g)
        if sched.shape[0] > 0:
            apply_schedule(h, sched, t, int(ctl[CTL_LR]), int(ctl[CTL_MOMENTUM]))
        C[0] = coefficient_row(kind, h, t, C[1], C[0], table[t - 1])
        C[1] = h[0]
        step_lrs[t - 1] = h[0]
        update(kind, h, theta, g, H, S, t, table)
        if ctl[CTL_PLATEAU] == 1.0:
            plateau_update(ctl, P, step_losses[t - 1], h)
    return t


@njit(**_JIT)
def bezier_epoch(a, b, c, m, v, step, ts, perm, batch_size, X, yi, yf, dims, woff, boff, residual, act, loss_kind,
                 lr, beta1, beta2, eps):
    """One epoch of training a quadratic Bezier curve's bend ``c`` (Garipov et al. 2018): per
    mini-batch a point phi(t) = (1-t)^2 a + 2t(1-t) c + t^2 b at ``ts[batch]``, its loss
    gradient times d phi / d c, and torch.optim.Adam's step on c (m, v updated in place).
    Returns (mean loss over the batches, the step count)."""
    n = c.shape[0]
    phi = np.empty(n)
    g = np.empty(n)
    total = 0.0
    n_batches = (perm.shape[0] + batch_size - 1) // batch_size
    for k in range(n_batches):
        idx = perm[k * batch_size: min((k + 1) * batch_size, perm.shape[0])]
        t = ts[k]
        w = 2 * t * (1 - t)
        wa = (1 - t) ** 2
        wb = t ** 2
        for i in range(n):
            phi[i] = wa * a[i] + w * c[i] + wb * b[i]
        total += loss_and_grad(phi, X, yi, yf, idx, dims, woff, boff, residual, act, loss_kind, g)
        step += 1
        bc1 = 1 - beta1 ** step
        bc2 = 1 - beta2 ** step
        for i in range(n):
            gi = g[i] * w
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
            c[i] = c[i] - lr * (m[i] / bc1) / (np.sqrt(v[i] / bc2) + eps)
    return total / n_batches, step
