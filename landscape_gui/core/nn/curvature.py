"""The curvature of a network's loss: exact Hessian-vector products, the top of the Hessian
spectrum (Lanczos), its trace (exact for ReLU networks, else Hutchinson) and its eigenvalue
density (stochastic Lanczos quadrature), as PyHessian computes them — for the built-in MLPs,
without autograd.

Hessian-vector products are Pearlmutter's R-operator through backpropagation: the
directional derivative of every quantity backprop computes (see ``reference.
hessian_vector_product`` for the one-vector version, the tests' and benchmark's twin).
Here the forward pass, the softmax and backprop's own deltas are computed once per point
and reused for every vector, and many vectors go through together as batched matrix
products (BLAS): a Hutchinson estimate or a block of Lanczos runs costs a few matrix
products per vector, not a forward and backward pass each. Exact to rounding: no step
size, unlike a finite difference of gradients (1.4% off on ReLU nets, where units switch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cancel import check
from .codes import CROSS_ENTROPY, RELU
from .reference import _act, _act_grad, _layers, _loss


def _act_second(z, act):
    if act == RELU:
        return np.zeros_like(z)
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t * t)


class HessianOperator:
    """``H @ V`` for the full-batch mean loss of ``model`` on ``data`` at ``params``.

    ``matvec(v)`` and ``matmat(V)`` (rows of V are vectors) are exact; ``loss`` and
    ``grad`` come with it. Build one per point; each product reuses its forward pass.
    """

    def __init__(self, model, data, params):
        model = model.fit_to(data)
        self.model = model
        dims, woff, boff, residual, act, loss_kind = model.layout
        self.dims, self.woff, self.boff, self.residual, self.act, self.loss_kind = (
            dims, woff, boff, residual, act, loss_kind)
        theta = np.ascontiguousarray(params, dtype=np.float64)
        if theta.shape != (model.n_params,):
            raise ValueError(f"params has {theta.size} entries; {model.describe()} has {model.n_params}")
        self.theta = theta
        self.n = theta.size
        X = np.asarray(data.X, dtype=np.float64)
        yi, yf = data.kernel_targets()
        N = len(X)
        self.N = N
        self.layers = list(_layers(theta, dims, woff, boff))
        h = X
        self.Hs, self.Zs, self.g1, self.g2 = [], [], [], []
        for l, (W, b) in enumerate(self.layers):
            self.Hs.append(h)
            z = h @ W.T + b
            self.Zs.append(z)
            if l < len(self.layers) - 1:
                self.g1.append(_act_grad(z, act))
                self.g2.append(_act_second(z, act))
                a = _act(z, act)
                h = h + a if residual[l] else a
        out = self.Zs[-1]
        losses, dout, acc = _loss(out, yi, yf, loss_kind)
        self.loss, self.accuracy = float(losses.mean()), acc
        if loss_kind == CROSS_ENTROPY:
            p = dout.copy()
            p[np.arange(N), yi] += 1.0
            self.p = p
        # backprop's deltas (independent of the direction): dz[l] and the dh arriving at layer l
        self.dz = [None] * len(self.layers)
        self.dh_in = [None] * len(self.layers)
        grad = np.zeros(self.n)
        dz, dh_next = dout / N, None
        for l in range(len(self.layers) - 1, -1, -1):
            W, _ = self.layers[l]
            if l < len(self.layers) - 1:
                self.dh_in[l] = dh_next
                dz = dh_next * self.g1[l]
            self.dz[l] = dz
            n_in, n_out = dims[l], dims[l + 1]
            grad[woff[l]: woff[l] + n_in * n_out] = (dz.T @ self.Hs[l]).ravel()
            grad[boff[l]: boff[l] + n_out] = dz.sum(axis=0)
            dh = dz @ W
            if l < len(self.layers) - 1 and residual[l]:
                dh = dh + dh_next
            dh_next = dh
        self.grad = grad
        # each layer's inputs with a column of ones: the bias rides in the same matrix products
        self.Hs1 = [np.hstack([h, np.ones((N, 1))]) for h in self.Hs]
        self._ws = {}
        self.products = 0   # vectors multiplied so far (what an HVP count means in benchmarks)

    def matvec(self, v) -> np.ndarray:
        return self.matmat(np.asarray(v, dtype=np.float64)[None, :])[0]

    def matmat(self, V, block: int = 4) -> np.ndarray:
        """H v for every row v of V (k, n), ``block`` rows at a time: four measured fastest
        (arrays of N x block x width that stay in cache; 0.5 gradients' time a vector)."""
        V = np.asarray(V, dtype=np.float64)
        if V.ndim != 2 or V.shape[1] != self.n:
            raise ValueError(f"vectors must be (k, {self.n}), got {V.shape}")
        out = np.empty_like(V)
        for s in range(0, len(V), block):
            out[s:s + block] = self._block(V[s:s + block])
        self.products += len(V)
        return out

    #: elements of one (samples x k x width) array per chunk of samples: the R-operator's
    #: dozen such arrays then stay in the core's cache (a numpy pass over arrays streamed from
    #: memory cost three times the arithmetic on this 2-core machine)
    CHUNK_ELEMENTS = 65536

    def _work(self, k):
        """Buffers for a block of k vectors, made once per operator (allocating them per layer
        per block cost as much as the arithmetic)."""
        ws = self._ws.get(k)
        if ws is None:
            dims, L = self.dims, len(self.layers)
            rows = int(min(self.N, max(8, self.CHUNK_ELEMENTS // (k * max(dims)))))
            e = np.empty
            ws = {"rows": rows,
                  "RZ": [e((rows, k, dims[l + 1])) for l in range(L)],
                  "RH": [None] + [e((rows, k, dims[l])) for l in range(1, L)],
                  "TZ": [e((rows * k, dims[l + 1])) for l in range(L)],
                  "RDZ": [e((rows, k, dims[l + 1])) for l in range(L)],
                  "RDH": [None] + [e((rows, k, dims[l])) for l in range(1, L)],
                  "TD": [None] + [e((rows, k * dims[l])) for l in range(1, L)],
                  # the activation's slope repeated for the k vectors: a flat product with an
                  # (N, k, width) array is several times faster than numpy's broadcast over k
                  "G1": [np.repeat(g[:, None, :], k, axis=1) for g in self.g1]}
            if self.loss_kind == CROSS_ENTROPY:
                ws["P"] = np.repeat(self.p[:, None, :], k, axis=1)
                ws["PN"] = ws["P"] / self.N
            self._ws = {k: ws}   # one block size at a time (the last one asked)
        return ws

    def _block(self, V):
        """The R-operator for the k rows of V at once, a chunk of samples at a time (the sums
        over samples accumulate). Every per-sample array is laid out (samples, k, width), so
        each product over a layer is one 2-D matrix product (BLAS) for all k vectors: the
        layer's inputs times the k weight directions side by side, k x samples rows times the
        layer's weights, and back. The bias rides along as a column of ones."""
        dims, woff, boff = self.dims, self.woff, self.boff
        k, L, N = len(V), len(self.layers), self.N
        ws = self._work(k)
        Vwb = []   # per layer (k, n_out, n_in + 1): each vector's weight block and bias side by side
        for l in range(L):
            n_in, n_out = dims[l], dims[l + 1]
            blk = np.empty((k, n_out, n_in + 1))
            blk[:, :, :n_in] = V[:, woff[l]: woff[l] + n_in * n_out].reshape(k, n_out, n_in)
            blk[:, :, n_in] = V[:, boff[l]: boff[l] + n_out]
            Vwb.append(blk)
        VT = [Vwb[l].transpose(2, 0, 1).reshape(dims[l] + 1, k * dims[l + 1]) for l in range(L)]
        VB = [None] + [Vwb[l][:, :, :dims[l]].transpose(1, 0, 2).reshape(dims[l + 1], k * dims[l])
                       for l in range(1, L)]
        GW = [np.zeros((k, dims[l + 1], dims[l] + 1)) for l in range(L)]
        for s0 in range(0, N, ws["rows"]):
            self._chunk(ws, VT, VB, GW, s0, min(N, s0 + ws["rows"]))
        hv = np.empty((k, self.n))
        for l in range(L):
            n_in, n_out = dims[l], dims[l + 1]
            hv[:, woff[l]: woff[l] + n_in * n_out] = GW[l][:, :, :n_in].reshape(k, -1)
            hv[:, boff[l]: boff[l] + n_out] = GW[l][:, :, n_in]
        return hv

    def _chunk(self, ws, VT, VB, GW, s0, s1):
        dims, residual = self.dims, self.residual
        L, m = len(self.layers), s1 - s0
        k = GW[0].shape[0]
        rs = slice(s0, s1)
        RZ = [a[:m] for a in ws["RZ"]]
        RH = [None] + [a[:m] for a in ws["RH"][1:]]
        RDZ = [a[:m] for a in ws["RDZ"]]
        RDH = [None] + [a[:m] for a in ws["RDH"][1:]]
        G1 = [a[rs] for a in ws["G1"]]
        for l, (W, _) in enumerate(self.layers):
            n_in, n_out = dims[l], dims[l + 1]
            rz = RZ[l]
            # [H_l 1] @ [Vw_1 vb_1 ... Vw_k vb_k]^T: (m, n_in + 1) x (n_in + 1, k * n_out)
            np.matmul(self.Hs1[l][rs], VT[l], out=rz.reshape(m, k * n_out))
            if l > 0:   # + RH_l W^T: (m k, n_in) x (n_in, n_out)
                tz = ws["TZ"][l][: m * k]
                np.matmul(RH[l].reshape(m * k, n_in), W.T, out=tz)
                rz += tz.reshape(m, k, n_out)
            if l < L - 1:
                rh = RH[l + 1]
                np.multiply(G1[l], rz, out=rh)
                if residual[l] and l > 0:
                    rh += RH[l]
        rout = RZ[-1]
        if self.loss_kind == CROSS_ENTROPY:
            # softmax's R-derivative, over N: p (r - p.r) / N
            rdz = ws["PN"][rs] * (rout - np.einsum("nkc,nkc->nk", ws["P"][rs], rout)[:, :, None])
        else:
            rdz = 2.0 * rout / (rout.shape[2] * self.N)
        for l in range(L - 1, -1, -1):
            W, _ = self.layers[l]
            n_in, n_out = dims[l], dims[l + 1]
            dz = self.dz[l][rs]
            if l < L - 1:
                rdz = RDZ[l]
                np.multiply(RDH[l + 1], G1[l], out=rdz)
                if self.act != RELU:   # ReLU's second derivative is zero almost everywhere
                    rdz += (self.dh_in[l][rs] * self.g2[l][rs])[:, None, :] * RZ[l]
            # sum over samples of rdz_j^T [H_l 1]: (k * n_out, m) x (m, n_in + 1), weights and bias
            GW[l] += (rdz.reshape(m, k * n_out).T @ self.Hs1[l][rs]).reshape(k, n_out, n_in + 1)
            if l > 0:  # + dz^T RH_j: (n_out, m) x (m, k * n_in)
                GW[l][:, :, :n_in] += (dz.T @ RH[l].reshape(m, k * n_in)).reshape(n_out, k, n_in).transpose(1, 0, 2)
                # the derivative arriving at layer l's input: rdz_j @ W + dz @ Vw_j
                rdh = RDH[l]
                td = ws["TD"][l][:m]
                np.matmul(rdz.reshape(m * k, n_out), W, out=rdh.reshape(m * k, n_in))
                np.matmul(dz, VB[l], out=td)
                rdh += td.reshape(m, k, n_in)
                if l < L - 1 and residual[l]:
                    rdh += RDH[l + 1]

    def exact_trace(self) -> float | None:
        """The Hessian's trace without probes, for ReLU networks (None for tanh).

        H = J^T A J + sum_c (dL/dz_c) d2z_c, with J the logits' Jacobian and A the loss's Hessian
        in the logits. For fixed ReLU units every logit is a sum over paths of products of
        weights, each layer's weights at most once a path (skip connections too), so it is
        linear in each single weight or bias: the second term has a zero diagonal (ReLU's second
        derivative is zero almost everywhere, as in ``matmat``). The trace is then
        sum_n tr(J_n^T A_n J_n) / N: per layer, a sample's gradient of logit c is the outer
        product of its delta and the layer's input, so the layer contributes
        (|h|^2 + 1) sum_cc' A_cc' delta_c . delta_c'. That is C backward passes of deltas in all,
        instead of a hundred Hutchinson products, and exact to rounding."""
        if self.act != RELU:
            return None
        L, N, C = len(self.layers), self.N, int(self.dims[-1])
        D = np.repeat(np.eye(C)[None], N, axis=0)   # (sample, logit c, unit): d z_c / d z_L
        total = 0.0
        dh_next = None
        for l in range(L - 1, -1, -1):
            W, _ = self.layers[l]
            if l < L - 1:
                D = dh_next * self.g1[l][:, None, :]
            if self.loss_kind == CROSS_ENTROPY:   # A = diag(p) - p p^T
                q = np.einsum("nc,ncj->nj", self.p, D)
                s = np.einsum("nc,ncj->n", self.p, D * D) - np.einsum("nj,nj->n", q, q)
            else:   # the mean of C squared errors: A = 2 I / C
                s = (2.0 / C) * np.einsum("ncj,ncj->n", D, D)
            total += float(s @ np.einsum("nj,nj->n", self.Hs1[l], self.Hs1[l]))   # |h|^2 + 1: the bias's one
            dh = D @ W
            if l < L - 1 and self.residual[l]:
                dh = dh + dh_next
            dh_next = dh
        return total / N

    def dense(self) -> np.ndarray:
        """The whole Hessian (n x n): for small nets and tests."""
        H = self.matmat(np.eye(self.n))
        return (H + H.T) / 2


def loss_and_gradient(model, data, params) -> tuple[float, np.ndarray]:
    """(full-batch loss, exact gradient) at ``params``."""
    from . import kernels

    model = model.fit_to(data)
    theta = np.ascontiguousarray(params, dtype=np.float64)
    yi, yf = data.kernel_targets()
    g = np.empty(theta.size)
    loss = kernels.loss_and_grad(theta, data.X, yi, yf, np.arange(len(data), dtype=np.int64), *model.layout, g)
    return float(loss), g


def hessian_vector_product(model, data, params, v) -> np.ndarray:
    """H v of the full-batch loss, exact (an R-operator pass through backprop)."""
    return HessianOperator(model, data, params).matvec(v)


# --- Lanczos -------------------------------------------------------------------------------------


def lanczos(op, v0, steps: int, cancel=None):
    """``steps`` of Lanczos with full reorthogonalisation from ``v0``: (alpha, beta, Q)."""
    n = op.n
    m = min(int(steps), n)
    Q = np.zeros((m, n))
    alpha, beta = np.zeros(m), np.zeros(m)
    q = v0 / np.linalg.norm(v0)
    for j in range(m):
        check(cancel, "spectrum cancelled")
        Q[j] = q
        w = op.matvec(q)
        alpha[j] = q @ w
        w -= Q[: j + 1].T @ (Q[: j + 1] @ w)   # twice is enough (Kahan-Parlett)
        w -= Q[: j + 1].T @ (Q[: j + 1] @ w)
        b = np.linalg.norm(w)
        beta[j] = b
        if b <= 1e-12 * max(1.0, abs(alpha[: j + 1]).max()):
            return alpha[: j + 1], beta[: j + 1], Q[: j + 1]
        q = w / b
    return alpha, beta, Q


def _tridiagonal(alpha, beta):
    T = np.diag(alpha)
    if len(alpha) > 1:
        T += np.diag(beta[: len(alpha) - 1], 1) + np.diag(beta[: len(alpha) - 1], -1)
    return T


def top_eigenpairs(op, k: int = 1, tol: float = 1e-10, seed: int = 0, cancel=None, max_steps: int | None = None,
                   v0=None):
    """The k largest (algebraic) eigenvalues (descending) and unit eigenvectors (k, n):
    Lanczos, run longer (up to ``max_steps``, or n) until each Ritz pair's residual is below
    ``tol`` x the spectrum's scale."""
    rng = np.random.default_rng(seed)
    warm = v0 is not None
    if v0 is None:
        v0 = rng.standard_normal(op.n)
    else:  # a warm start, plus a little of every direction (a start orthogonal to the top one stalls)
        v0 = np.asarray(v0, dtype=np.float64) + 1e-3 * rng.standard_normal(op.n) / math.sqrt(op.n)
    limit = min(op.n, max_steps or op.n)
    m = min(limit, 3 * k + 17 if warm else max(3 * k + 30, 60))
    while True:
        alpha, beta, Q = lanczos(op, v0, m, cancel)
        vals, vecs, resid = _ritz(alpha, beta, Q, k)
        scale = max(np.abs(vals).max(), 1e-300)
        if len(alpha) < m or m >= limit or (resid <= tol * scale).all():
            return vals, _signed(vecs)
        m = min(limit, 2 * m)


def block_lanczos_runs(op, V0, steps: int, cancel=None, keep_basis: bool = False):
    """Independent Lanczos runs (full reorthogonalisation each) from the rows of V0, advanced
    together: one ``matmat`` of all runs per step. Returns a list of (alpha, beta) per run,
    with ``keep_basis`` (alpha, beta, Q) with Q the run's orthonormal Krylov basis (rows)."""
    p, n = V0.shape
    m = min(int(steps), n)
    Q = np.zeros((p, m, n))
    alpha, beta = np.zeros((p, m)), np.zeros((p, m))
    q = V0 / np.linalg.norm(V0, axis=1, keepdims=True)
    length = np.full(p, m)
    live = np.ones(p, dtype=bool)
    for j in range(m):
        check(cancel, "spectrum cancelled")
        Q[:, j] = q
        W = op.matmat(q)
        alpha[:, j] = np.einsum("pn,pn->p", q, W)
        Qj = Q[:, : j + 1]
        for _ in range(2):  # full reorthogonalisation, twice (Kahan-Parlett): W -= Q^T (Q W) per run
            W -= np.matmul(np.matmul(Qj, W[:, :, None]).transpose(0, 2, 1), Qj)[:, 0]
        b = np.linalg.norm(W, axis=1)
        beta[:, j] = b
        ended = live & (b <= 1e-12 * np.maximum(1.0, np.abs(alpha[:, : j + 1]).max(axis=1)))
        length[ended] = j + 1
        live &= ~ended
        if not live.any():
            break
        q = np.where(live[:, None], W / np.where(b > 0, b, 1.0)[:, None], 0.0)
    if keep_basis:
        return [(alpha[r, : length[r]], beta[r, : length[r]], Q[r, : length[r]]) for r in range(p)]
    return [(alpha[r, : length[r]], beta[r, : length[r]]) for r in range(p)]


def _ritz(alpha, beta, Q, k):
    """The k largest Ritz pairs of one Lanczos run and their residual norms |beta_m y_m|."""
    theta, Y = np.linalg.eigh(_tridiagonal(alpha, beta))
    order = np.argsort(theta)[::-1][:k]
    resid = np.abs(beta[len(alpha) - 1] * Y[-1, order])
    vecs = Y[:, order].T @ Q
    return theta[order], vecs / np.linalg.norm(vecs, axis=1, keepdims=True), resid


def _signed(vecs):
    """Eigenvectors with a fixed sign: the largest-magnitude entry of each positive (so the
    same Hessian gives the same directions however the Lanczos run started)."""
    idx = np.argmax(np.abs(vecs), axis=1)
    sign = np.sign(vecs[np.arange(len(vecs)), idx])
    return vecs * np.where(sign == 0, 1.0, sign)[:, None]


def slq_density(op, probes: int = 4, steps: int = 80, grid: int = 600, sigma: float | None = None, seed: int = 0,
                cancel=None, runs=None):
    """Eigenvalue density by stochastic Lanczos quadrature (Ubaru et al. 2017; PyHessian):
    each probe's Ritz values, weighted by the squared first components of their vectors,
    smoothed by a Gaussian. Returns (grid, density) with the density integrating to 1.
    ``runs``: the Lanczos runs already made (``density_runs``), else they are made here."""
    if runs is None:
        runs = density_runs(op, probes, steps, seed, cancel)
    probes = len(runs)
    nodes, weights = [], []
    for a, b, *_ in runs:
        t, Y = np.linalg.eigh(_tridiagonal(a, b))
        nodes.append(t)
        weights.append(Y[0] ** 2 / probes)
    nodes, weights = np.concatenate(nodes), np.concatenate(weights)
    lo, hi = nodes.min(), nodes.max()
    width = max(hi - lo, 1e-12 * max(1.0, abs(hi)))
    s = sigma if sigma is not None else 0.01 * width
    xs = np.linspace(lo - 6 * s, hi + 6 * s, int(grid))
    dens = (weights[None, :] * np.exp(-0.5 * ((xs[:, None] - nodes[None, :]) / s) ** 2)).sum(axis=1)
    dens /= s * math.sqrt(2 * math.pi)
    dens /= np.trapezoid(dens, xs)   # the kernel's tails cut at 6 sigma: exactly 1
    return xs, dens


def density_runs(op, probes: int = 4, steps: int = 80, seed: int = 0, cancel=None, keep_basis: bool = False):
    """The SLQ probes' Lanczos runs (Gaussian starts drawn from ``seed``)."""
    rng = np.random.default_rng(seed + 7)
    return block_lanczos_runs(op, rng.standard_normal((int(probes), op.n)), steps, cancel, keep_basis)


def hutchinson_trace(op, samples: int = 100, seed: int = 0):
    """(trace, standard error) from Rademacher probes z: the mean of z^T H z."""
    rng = np.random.default_rng(seed + 3)
    Z = rng.choice([-1.0, 1.0], size=(int(samples), op.n))
    est = np.einsum("kn,kn->k", Z, op.matmat(Z))
    err = est.std(ddof=1) / math.sqrt(len(est)) if len(est) > 1 else math.inf
    return float(est.mean()), float(err)


@dataclass
class Spectrum:
    eigenvalues: np.ndarray              # the k largest, descending
    eigenvectors: np.ndarray             # (k, n_params), unit rows
    trace: float
    trace_stderr: float                  # 0 for an exact trace
    density_grid: np.ndarray | None
    density: np.ndarray | None
    loss: float
    products: int                        # Hessian-vector products used
    trace_method: str = "Hutchinson"     # or "exact" (ReLU networks: ``HessianOperator.exact_trace``)

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[0])

    def trace_summary(self) -> str:
        """The trace as a reader should take it: exact, or an estimate with its standard error."""
        if self.trace_method == "exact":
            return f"trace {self.trace:.4g} (exact)"
        return f"trace {self.trace:.4g} ± {self.trace_stderr:.2g} (Hutchinson, 1 s.e.)"


def hessian_spectrum(model, data, params, k: int = 5, trace_samples: int = 100, density: bool = True,
                     seed: int = 0, density_probes: int = 4, density_steps: int = 80, cancel=None,
                     progress=None) -> Spectrum:
    """The top-k eigenvalues (Lanczos on exact HVPs), the trace (exact for ReLU networks, else
    Hutchinson with its standard error) and, with ``density``, the eigenvalue density (SLQ) of
    the full-batch Hessian."""
    return spectrum_of(HessianOperator(model, data, params), k, trace_samples, density, seed, density_probes,
                       density_steps, cancel, progress)


def spectrum_of(op, k=5, trace_samples=100, density=True, seed=0, density_probes=4, density_steps=80, cancel=None,
                progress=None, tol: float = 1e-10, max_steps: int | None = None) -> Spectrum:
    """``hessian_spectrum`` for any operator with ``n``, ``matvec``, ``matmat`` and ``loss``;
    ``tol``: the Ritz residuals' bound relative to the spectrum's scale (the products' rounding);
    ``max_steps``: the most Lanczos steps of the top-k run (None: up to n)."""
    k = int(max(1, min(k, op.n)))
    steps_done = 0
    total = 1 + (1 if trace_samples else 0) + (1 if density else 0)

    def tick():
        nonlocal steps_done
        steps_done += 1
        if progress is not None:
            progress(steps_done, total)

    runs = None
    if density:
        # the density's Lanczos runs also hold the top of the spectrum: when their Ritz pairs
        # have converged (residual below tol), no separate Lanczos run is needed
        runs = density_runs(op, density_probes, density_steps, seed, cancel, keep_basis=True)
        tick()
    vals = None
    if runs:
        best = min((_ritz(a, b, Q, k) for a, b, Q in runs if len(a) >= k), key=lambda r: r[2].max(), default=None)
        if best is not None and (best[2] <= tol * max(np.abs(best[0]).max(), 1e-300)).all():
            vals, vecs = best[0], _signed(best[1])
    if vals is None:
        vals, vecs = top_eigenpairs(op, k, tol=tol, seed=seed, cancel=cancel, max_steps=max_steps)
    tick()
    tr = err = math.nan
    method = "Hutchinson"
    if trace_samples:
        check(cancel, "spectrum cancelled")
        exact = getattr(op, "exact_trace", lambda: None)()
        if exact is not None:
            tr, err, method = exact, 0.0, "exact"
        else:
            tr, err = hutchinson_trace(op, trace_samples, seed)
        tick()
    xs = dens = None
    if density:
        xs, dens = slq_density(op, runs=runs)
        tick()
    return Spectrum(vals, vecs, tr, err, xs, dens, op.loss, op.products, method)




class ReferenceOperator:
    """The same products one vector at a time through ``reference.hessian_vector_product``
    (forward pass and all): the benchmark's numpy baseline for a spectrum."""

    def __init__(self, model, data, params):
        self.model = model.fit_to(data)
        self.theta = np.ascontiguousarray(params, dtype=np.float64)
        self.n = self.theta.size
        self.data = data
        self.yi, self.yf = data.kernel_targets()
        self.loss = float("nan")
        self.products = 0

    def matvec(self, v):
        from .reference import hessian_vector_product as ref

        self.products += 1
        self.loss, _, hv = ref(self.theta, v, self.data.X, self.yi, self.yf, *self.model.layout)
        return hv

    def matmat(self, V):
        return np.stack([self.matvec(v) for v in V])
