"""The Hessian of your own PyTorch model: spectrum, trace, density, per-layer blocks, and λmax
during training (the edge of stability).

Hessian-vector products are exact: forward-over-reverse with ``torch.func`` (a ``jvp`` of
the gradient), ``vmap``-ed over a block of vectors, summed over the batches (weighted by their
sizes: the Hessian of the mean loss over every sample). The model runs in eval mode (BatchNorm
with its running statistics, no dropout) on a private copy, in its own dtype, on ``cuda`` when
available; the caller's module is never written. The Lanczos, Hutchinson and SLQ code is the
network mode's (``core.nn.curvature``): one implementation, checked there against full
Hessians and here against ``torch.func.hessian``.

``executor=``: the batches are split into groups, one ``executor.map`` call per block of
products sums the groups' products (map-reduce), so a spectrum runs on a Dask cluster
(``core.nn.DaskExecutor(client)``) exactly as a plane does.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from dataclasses import dataclass, field

import numpy as np

from ..core.cancel import check
from ..core.nn.curvature import spectrum_of, top_eigenpairs
from .planes import _device, _dtype, _module_and_factory, _torch, cache_batches

BLOCK = 16   # tangent vectors per vmap call
MAX_STEPS = 480   # Lanczos steps at most for the top-k (the residuals say how far it got)


def _tol(dtype) -> float:
    """Lanczos stops when each Ritz pair's residual is below this x the spectrum's scale:
    rounding of the model's dtype (float32 products are not symmetric beyond ~1e-7)."""
    torch = _torch()
    return 1e-10 if dtype == torch.float64 else 2e-5


class _Products:
    """Σ_b n_b · H_b V over a list of batches, for the parameters ``names`` (the rest fixed)."""

    def __init__(self, module, loss_fn, batches, names, params, buffers):
        torch = _torch()
        from torch.func import functional_call, grad, jvp, vmap

        self.torch = torch
        self.names = list(names)
        self.batches = batches
        self.primal = {n: params[n] for n in self.names}
        fixed = {n: p for n, p in params.items() if n not in self.primal} | dict(buffers)

        def loss(sub, x, y):
            return loss_fn(functional_call(module, fixed | sub, (x,)), y)

        g = grad(loss)

        def hvp(v, x, y):
            return jvp(lambda s: g(s, x, y), (self.primal,), (v,))[1]

        self._hvp = hvp
        self._vhvp = vmap(hvp, in_dims=(0, None, None))
        self._loss = loss
        self.vmap_ok = True

    def loss_sum(self) -> float:
        with self.torch.no_grad():
            return float(sum(float(self._loss(self.primal, x, y)) * len(y) for x, y in self.batches))

    def __call__(self, V: dict) -> dict:
        """V: name -> (p, *shape) tangents; returns Σ_b n_b H_b V (float64, on the device)."""
        torch = self.torch
        p = next(iter(V.values())).shape[0]
        out = {n: torch.zeros(V[n].shape, dtype=torch.float64, device=V[n].device) for n in self.names}
        for x, y in self.batches:
            w = float(len(y))
            if self.vmap_ok:
                try:
                    res = self._vhvp(V, x, y)
                except RuntimeError:  # an op vmap cannot batch: one vector at a time, same numbers
                    self.vmap_ok = False
            if not self.vmap_ok:
                rows = [self._hvp({n: V[n][i] for n in self.names}, x, y) for i in range(p)]
                res = {n: torch.stack([r[n] for r in rows]) for n in self.names}
            for n in self.names:
                out[n] += res[n].double() * w
        return out


_WORKER_CACHE: dict = {}


@dataclass
class _ProductTask:
    """One group of batches' products, picklable for a cluster worker (which builds its model
    copy and cached batches once per token)."""

    token: str
    model: object
    names: list
    state: dict            # every parameter and buffer, CPU tensors
    batches: list          # the CPU batches of this task (all groups)
    loss_fn: object
    device: str | None
    dtype: str

    def __call__(self, job):
        group, V = job
        torch = _torch()
        prods = _WORKER_CACHE.get((self.token, group))
        if prods is None:
            module, _ = _module_and_factory(self.model)
            device = _device(self.device, module)
            dtype = getattr(torch, self.dtype)
            module = module.to(device, dtype).eval().requires_grad_(False)
            params = {n: self.state[n].to(device, dtype) for n, _ in module.named_parameters()}
            buffers = {n: self.state[n].to(device) for n, _ in module.named_buffers()}
            batches = cache_batches(group_of(self.batches, group), device, dtype)
            prods = _Products(module, self.loss_fn, batches, self.names, params, buffers)
            _WORKER_CACHE.clear()
            _WORKER_CACHE[(self.token, group)] = prods
        Vt = {n: torch.as_tensor(v).to(next(iter(prods.primal.values())).device, prods.primal[n].dtype)
              for n, v in V.items()}
        return {n: t.cpu().numpy() for n, t in prods(Vt).items()}


def group_of(batches, group):
    k, groups = group
    return [b for i, b in enumerate(batches) if i % groups == k]


class TorchHessian:
    """The Hessian of the mean loss over ``batches`` with respect to the parameters ``names``
    (all by default; the rest held fixed, so a subset gives that diagonal block) as an
    operator on flat float64 vectors: ``n``, ``matvec``, ``matmat``, ``loss``, ``products``."""

    def __init__(self, module, loss_fn, batches, names=None, device=None, executor=None, groups=None, state=None,
                 factory=None):
        torch = _torch()
        self.torch = torch
        self.device = _device(device, module)
        self.dtype = _dtype(module)
        src = state if state is not None else (dict(module.named_parameters()) | dict(module.named_buffers()))
        self.all_params = [n for n, _ in module.named_parameters()]
        self.names = list(names) if names is not None else list(self.all_params)
        unknown = [n for n in self.names if n not in self.all_params]
        if unknown:
            raise ValueError(f"not parameters of the model: {', '.join(unknown)}")
        self.shapes = {n: tuple(src[n].shape) for n in self.names}
        self.sizes = [int(np.prod(self.shapes[n], dtype=np.int64)) for n in self.names]
        self.n = int(sum(self.sizes))
        self.executor = executor
        self.products = 0
        if executor is None:
            self.module = copy.deepcopy(module).to(self.device).eval().requires_grad_(False)
            params = {n: src[n].detach().to(self.device, self.dtype) for n in self.all_params}
            buffers = {n: src[n].detach().to(self.device) for n, _ in module.named_buffers()}
            self.batches = batches if isinstance(batches, list) and batches and torch.is_tensor(batches[0][0]) \
                and batches[0][0].device == self.device else cache_batches(batches, self.device, self.dtype)
            self.samples = sum(len(y) for _, y in self.batches)
            self._prods = _Products(self.module, loss_fn, self.batches, self.names, params, buffers)
            self.loss = self._prods.loss_sum() / self.samples
        else:
            cpu = cache_batches(batches, torch.device("cpu"), self.dtype)
            self.samples = sum(len(y) for _, y in cpu)
            self.groups = max(1, min(len(cpu), int(groups or len(cpu))))
            st = {n: t.detach().cpu().clone() for n, t in src.items()}
            self._task = _ProductTask(uuid.uuid4().hex, factory or module, self.names, st, cpu, loss_fn,
                                      None if device is None else str(device), str(self.dtype).replace("torch.", ""))
            self._prods = None
            local = _Products(copy.deepcopy(module).eval().requires_grad_(False), loss_fn, cpu, self.names,
                              {n: st[n].to(self.dtype) for n in self.all_params},
                              {n: st[n] for n, _ in module.named_buffers()})
            self.loss = local.loss_sum() / self.samples

    def to_dict(self, v: np.ndarray, lead: tuple = ()) -> dict:
        out, k = {}, 0
        for n, m in zip(self.names, self.sizes):
            out[n] = v[..., k:k + m].reshape(lead + self.shapes[n])
            k += m
        return out

    def to_tensors(self, v: np.ndarray) -> dict:
        """A flat vector as parameter name -> CPU tensor of the model's dtype."""
        torch = self.torch
        return {n: torch.as_tensor(np.ascontiguousarray(a)).to(self.dtype) for n, a in self.to_dict(v).items()}

    def matvec(self, v) -> np.ndarray:
        return self.matmat(np.asarray(v, dtype=np.float64)[None])[0]

    def matmat(self, V) -> np.ndarray:
        torch = self.torch
        V = np.atleast_2d(np.asarray(V, dtype=np.float64))
        p = V.shape[0]
        out = np.empty_like(V)
        for s in range(0, p, BLOCK):
            part = V[s:s + BLOCK]
            q = len(part)
            if self.executor is None:
                Vt = {n: torch.as_tensor(np.ascontiguousarray(a)).to(self.device, self.dtype)
                      for n, a in self.to_dict(part, (q,)).items()}
                res = {n: t.cpu().numpy() for n, t in self._prods(Vt).items()}
                parts = [res]
            else:
                Vd = {n: np.ascontiguousarray(a) for n, a in self.to_dict(part, (q,)).items()}
                parts = list(self.executor.map(self._task, [((g, self.groups), Vd) for g in range(self.groups)]))
            for j, n in enumerate(self.names):
                k = sum(self.sizes[:j])
                acc = sum(r[n] for r in parts)
                out[s:s + q, k:k + self.sizes[j]] = acc.reshape(q, -1) / self.samples
        self.products += p
        return out


@dataclass
class HessianSpectrum:
    """What ``hessian_spectrum`` returns; ``blocks`` holds the same fields per block."""

    eigenvalues: np.ndarray                 # (k,) descending
    eigenvectors: list                      # k dicts parameter name -> tensor, unit norm overall
    trace: float
    trace_stderr: float
    density_grid: np.ndarray | None
    density: np.ndarray | None
    residuals: np.ndarray                   # ‖H v − λ v‖ / max|λ| per pair, measured afterwards
    loss: float
    products: int
    parameters: list
    blocks: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[0])


def layer_blocks(module) -> dict:
    """Each module's own parameters (``conv1.weight`` and ``conv1.bias`` -> ``conv1``)."""
    out: dict = {}
    for n, _ in module.named_parameters():
        out.setdefault(n.rsplit(".", 1)[0] if "." in n else n, []).append(n)
    return out


def one_blas_thread():
    """numpy's BLAS on one thread while torch computes the products. Lanczos alternates a product
    (torch's threads) with a reorthogonalisation (numpy's): each library's idle threads spin-wait
    while the other works, which made the spectrum of the bench CNN 1.7x slower on two cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:   # not installed with the torch extra: correct, only slower
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _spectrum(op, k, trace_samples, density, seed, cancel, progress) -> HessianSpectrum:
    with one_blas_thread():
        spec = spectrum_of(op, k=k, trace_samples=trace_samples, density=density, seed=seed, cancel=cancel,
                           progress=progress, tol=_tol(op.dtype), max_steps=MAX_STEPS)
    check(cancel, "spectrum cancelled")
    vecs = np.asarray(spec.eigenvectors)
    HV = op.matmat(vecs)
    scale = max(float(np.abs(spec.eigenvalues).max()), 1e-300)
    resid = np.linalg.norm(HV - spec.eigenvalues[:, None] * vecs, axis=1) / scale
    return HessianSpectrum(np.asarray(spec.eigenvalues), [op.to_tensors(v) for v in vecs], spec.trace,
                           spec.trace_stderr, spec.density_grid, spec.density, resid, op.loss, op.products,
                           list(op.names),
                           info={"residuals": [float(r) for r in resid], "loss": op.loss, "products": op.products,
                                 "parameters": op.n, "samples": op.samples, "trace_samples": int(trace_samples),
                                 "dtype": str(op.dtype),
                                 "device": str(op.device)})


def hessian_spectrum(model, loss_fn, batches, k=5, trace_samples=100, density=True, blocks=None, max_batches=None,
                     device=None, seed=0, executor=None, progress=None, cancel=None) -> HessianSpectrum:
    """The top-k eigenpairs (Lanczos, full reorthogonalisation, run to the dtype's rounding),
    the trace (Hutchinson, with its standard error) and the eigenvalue density (stochastic
    Lanczos quadrature; it integrates to 1) of the Hessian of the mean loss over ``batches``.

    ``blocks``: None, ``"layer"`` (each module's own parameters) or a dict name -> [parameter
    names]: the same for each diagonal block of the Hessian, in ``.blocks``. ``spec.info``
    (and ``spec.residuals``) is the trust report: ‖H v − λ v‖ measured after the run."""
    torch = _torch()
    module, factory = _module_and_factory(model)
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    dev = _device(device, module)
    data = cache_batches(batches, dev if executor is None else torch.device("cpu"), _dtype(module), max_batches)
    if blocks == "layer":
        groups = layer_blocks(module)
    elif blocks is None:
        groups = {}
    elif isinstance(blocks, dict):
        groups = {str(b): list(ns) for b, ns in blocks.items()}
    else:
        raise ValueError(f'blocks must be None, "layer" or a dict name -> [parameter names], got {blocks!r}')
    ops = [("", None)] + list(groups.items())
    total = len(ops)
    results = {}
    for i, (name, names) in enumerate(ops):
        check(cancel, "spectrum cancelled")
        op = TorchHessian(module, loss_fn, data, names, device=dev, executor=executor, factory=factory)
        sub = None if progress is None else (lambda d, t, i=i: progress(i * t + d, total * t))
        results[name] = _spectrum(op, min(k, op.n), trace_samples, density, seed, cancel, sub)
    spec = results.pop("")
    spec.blocks = results
    return spec


class SharpnessTracker:
    """λmax of the training loss every ``every`` optimizer steps (Cohen et al. 2021: with
    full-batch gradient descent it rises to 2/lr and hovers there, the edge of stability).

    >>> tracker = SharpnessTracker(model, loss_fn, batches, every=25)
    >>> for step in range(1000):
    ...     ...; optimizer.step(); tracker.step()
    >>> tracker.steps, tracker.sharpness

    λmax is measured at the weights the model has then (step 0 too, when the tracker is made),
    by Lanczos warm-started from the last top eigenvector; the model is not written."""

    def __init__(self, model, loss_fn, batches, every: int = 25, device=None, max_batches=None, at_start=True):
        module, _ = _module_and_factory(model)
        if int(every) < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.model = module
        self.loss_fn = loss_fn
        self.every = int(every)
        self.device = _device(device, module)
        self.batches = cache_batches(batches, self.device, _dtype(module), max_batches)
        self._shadow = copy.deepcopy(module)
        self.count = 0
        self.steps: list[int] = []
        self.sharpness: list[float] = []
        self.losses: list[float] = []
        self._v = None
        if at_start:
            self.measure()

    def measure(self) -> float:
        """λmax (and the loss) at the model's weights now, recorded at the current step count."""
        state = dict(self.model.named_parameters()) | dict(self.model.named_buffers())
        op = TorchHessian(self._shadow, self.loss_fn, self.batches, device=self.device,
                          state={n: t.detach() for n, t in state.items()})
        with one_blas_thread():
            vals, vecs = top_eigenpairs(op, 1, tol=_tol(op.dtype), v0=self._v, max_steps=MAX_STEPS)
        self._v = vecs[0]
        self.steps.append(self.count)
        self.sharpness.append(float(vals[0]))
        self.losses.append(op.loss)
        return float(vals[0])

    def step(self) -> float | None:
        """Count one optimizer step; λmax when this step is a multiple of ``every``."""
        self.count += 1
        if self.count % self.every == 0:
            return self.measure()
        return None
