"""Loss planes of a PyTorch model, fast: many grid points per call, never touching the model.

A grid point is a *state*: every parameter (and, for planes through checkpoints, every
floating buffer such as BatchNorm's running statistics) at θ + α·d₁ + β·d₂. States are
fed to the user's module with ``torch.func.functional_call``, so the caller's parameters
are never written (loss-landscape copies weights into the model for every point, and a
crash leaves the model changed). Two ways to evaluate a chunk of points:

- ``"vmap"``: ``vmap`` over stacked states, one call for a chunk of points (sized to fit
  memory). On a GPU this is the big win: one kernel launch serves many points.
- ``"loop"``: one ``functional_call`` per point over the cached batches, with 4-D weights
  and inputs in channels-last order on the CPU (oneDNN's fast path; ~3x for small CNNs,
  where vmap's grouped convolutions are slower than a loop).

``method="auto"`` times both on the first chunk and keeps the faster (both results are
used). The model runs in eval mode under ``torch.inference_mode``; its training flag is
restored afterwards.

Directions (Li et al. 2018 and its reference code, ``net_plotter.py``):
``"filter"``: Gaussian, each filter (dim 0 slice of a weight) rescaled to the norm of the
same filter of θ*; parameters with ≤ 1 dimension (biases, BatchNorm weights) get zero
(loss-landscape's ``ignore='biasbn'``). ``"random"``: Gaussian, each direction scaled to
θ*'s whole norm (as the built-in network mode). ``"pca"``: the first two principal
directions of the *centred* matrix of (θ_i − θ*) over ``checkpoints`` (sklearn's PCA, as
loss-landscape's ``projection.py``), the path projected as its ``project_trajectory``
does (x_i = (θ_i − θ*)·d₁ with unit directions). ``"points"``: the plane through three
checkpoints θ₀ (the centre), θ₁, θ₂ (Garipov et al. 2018), orthonormal axes, so the
coordinates are distances in weight space; BatchNorm statistics are interpolated with the
same affine weights.
"""

from __future__ import annotations

import copy
import math
import uuid
from dataclasses import dataclass

import numpy as np

from ..core.cancel import check
from ..core.files.landscapes import LandscapePlane
from ..core.nn.landscape import pca_directions

DIRECTIONS = ("filter", "random", "pca", "points", "hessian")
METRICS = ("loss", "accuracy")


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("loss planes of PyTorch models need torch: pip install 'landscape-gui[torch]' "
                          "(opening .h5/.npz landscapes does not)") from None
    return torch


# --- the model, its state and checkpoints ---------------------------------------------------------


def _module_and_factory(model):
    torch = _torch()
    if isinstance(model, torch.nn.Module):
        return model, None
    if callable(model):
        built = model()
        if not isinstance(built, torch.nn.Module):
            raise TypeError(f"the model factory returned {type(built).__name__}, not a torch.nn.Module")
        return built, model
    raise TypeError(f"model must be a torch.nn.Module or a function returning one, got {type(model).__name__}")


def _device(device, module):
    torch = _torch()
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _dtype(module):
    torch = _torch()
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _state_names(module):
    """(parameter names, floating buffer names) in ``named_parameters``/``named_buffers`` order."""
    params = [n for n, _ in module.named_parameters()]
    buffers = [n for n, b in module.named_buffers() if b.is_floating_point()]
    return params, buffers


def load_checkpoint(ckpt, module) -> dict:
    """A state dict from a dict, a path (``torch.load``), or a module; loss-landscape's
    ``{'state_dict': ...}`` and the common ``model_state_dict`` wrappers are unwrapped."""
    torch = _torch()
    where = "checkpoint"
    if isinstance(ckpt, torch.nn.Module):
        state = ckpt.state_dict()
    elif isinstance(ckpt, dict):
        state = ckpt
    else:
        where = str(ckpt)
        try:
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ValueError(f"{where}: cannot load ({exc})") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{where}: not a state dict (got {type(state).__name__})")
    state = {k.removeprefix("module."): v for k, v in state.items()}  # DataParallel's prefix
    params, buffers = _state_names(module)
    missing = [n for n in params + buffers if n not in state]
    if missing:
        raise ValueError(f"{where}: does not fit the model: missing {', '.join(missing[:5])}"
                         + (" …" if len(missing) > 5 else ""))
    ref = dict(module.named_parameters()) | dict(module.named_buffers())
    for n in params + buffers:
        if tuple(state[n].shape) != tuple(ref[n].shape):
            raise ValueError(f"{where}: {n} has shape {tuple(state[n].shape)}, the model's is "
                             f"{tuple(ref[n].shape)}")
    return state


def _flat(state: dict, names, dtype=np.float64) -> np.ndarray:
    return np.concatenate([state[n].detach().cpu().reshape(-1).numpy().astype(dtype) for n in names])


def _unflat(vec: np.ndarray, like: dict, names) -> dict:
    torch = _torch()
    out, k = {}, 0
    for n in names:
        t = like[n]
        m = t.numel()
        out[n] = torch.as_tensor(vec[k:k + m].reshape(tuple(t.shape)), dtype=t.dtype)
        k += m
    return out


# --- directions ------------------------------------------------------------------------------------


def filter_direction(params: dict, generator) -> dict:
    """loss-landscape's ``create_random_direction(norm='filter', ignore='biasbn')``."""
    torch = _torch()
    out = {}
    for n, w in params.items():
        d = torch.randn(w.shape, generator=generator, dtype=w.dtype)
        if w.dim() <= 1:
            d.zero_()
        else:
            w = w.detach().cpu()
            for di, wi in zip(d, w):
                di.mul_(wi.norm() / (di.norm() + 1e-10))
        out[n] = d
    return out


def random_direction(params: dict, generator) -> dict:
    """Gaussian, scaled to θ*'s norm as a whole (biases included)."""
    torch = _torch()
    d = {n: torch.randn(w.shape, generator=generator, dtype=w.dtype) for n, w in params.items()}
    total = math.sqrt(sum(float(w.detach().double().pow(2).sum()) for w in params.values()))
    dn = math.sqrt(sum(float(v.double().pow(2).sum()) for v in d.values()))
    return {n: v * (total / dn if dn > 0 else 1.0) for n, v in d.items()}


# --- evaluation ------------------------------------------------------------------------------------


def auto_method(device, batches) -> str:
    """``method="auto"``, by a rule (identical calls give bit-identical planes; a choice by
    timing did not): on a CPU, images (4-D inputs) go point by point through oneDNN's
    channels-last convolutions, ~3x faster than vmap's grouped ones; everything else, and
    every model on a GPU, is vmap-ed over chunks of points."""
    if device.type == "cpu" and any(x.dim() == 4 for x, _ in batches):
        return "loop"
    return "vmap"


def _is_classification(out, y) -> bool:
    torch = _torch()
    return out.dim() == 2 and out.shape[1] > 1 and y.dim() == 1 and not torch.is_floating_point(y)


class PlaneEvaluator:
    """Loss (and accuracy) at plane points for one model on one set of batches.

    Built once per process (a cluster worker builds it once per plane) around a private
    copy of the module on the device, holding the plane's centre; the batches are cached
    there, and the centre and the two directions are per-name tensors.
    """

    def __init__(self, module, names, centre, d1, d2, batches, loss_fn, device, dtype, metrics, method="auto"):
        torch = _torch()
        self.torch = torch
        self.device = device
        self.dtype = dtype
        self.loss_fn = loss_fn
        self.metrics = tuple(metrics)
        self.moving = [n for n in names if d1.get(n) is not None
                       and (bool(d1[n].any()) or (d2 is not None and d2.get(n) is not None and bool(d2[n].any())))]
        self.centre = {n: centre[n].to(device, dtype) for n in self.moving}
        # BatchNorm variances interpolated past the end points (t < 0 along a line) can turn
        # negative, and the net then gives NaN: a variance is at least 0
        self.variances = {n for n in self.moving if n.endswith("running_var")}
        self.d1 = {n: d1[n].to(device, dtype) for n in self.moving}
        self.d2 = ({n: (d2[n] if d2.get(n) is not None else torch.zeros_like(d1[n])).to(device, dtype)
                    for n in self.moving} if d2 is not None else None)
        cpu = device.type == "cpu"
        # oneDNN's fast convolutions want channels-last weights and inputs (a private copy: safe)
        self.channels_last = cpu and any(x.dim() == 4 for x, _ in batches)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
            batches = [(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x, y) for x, y in batches]
        self.module = module.eval().requires_grad_(False)
        self.tensors = dict(module.named_parameters()) | dict(module.named_buffers())
        with torch.no_grad():  # the centre everywhere, so only the moving tensors change per point
            for n in names:
                self.tensors[n].copy_(centre[n])
        self.batches = batches
        self.samples = sum(len(y) for _, y in batches)
        self.method = method if method != "auto" else auto_method(device, batches)
        self.fallback = method == "auto"
        self.chunk = self._chunk_size()

    def _set_point(self, a: float, b: float) -> None:
        for n in self.moving:
            t = self.tensors[n]
            t.copy_(self.centre[n]).add_(self.d1[n], alpha=a)
            if self.d2 is not None and b != 0.0:
                t.add_(self.d2[n], alpha=b)
            if n in self.variances:
                t.clamp_(min=0.0)

    def _stacked(self, ab) -> dict:
        torch = self.torch
        a = torch.as_tensor(ab[:, 0], dtype=self.dtype, device=self.device)
        b = torch.as_tensor(ab[:, 1], dtype=self.dtype, device=self.device)
        out = {}
        for n in self.moving:
            c, d1 = self.centre[n], self.d1[n]
            shape = (-1,) + (1,) * c.dim()
            v = c.unsqueeze(0) + a.view(shape) * d1.unsqueeze(0)
            if self.d2 is not None:
                v = v + b.view(shape) * self.d2[n].unsqueeze(0)
            out[n] = v.clamp(min=0.0) if n in self.variances else v
        return out

    def _chunk_size(self) -> int:
        """Points per vmap call: one batch's activations for each point must fit a budget."""
        torch = self.torch
        sizes = []
        hooks = [m.register_forward_hook(lambda _m, _i, o: sizes.append(o.numel() if torch.is_tensor(o) else 0))
                 for m in self.module.modules()]
        try:
            with torch.inference_mode():
                out = self.module(self.batches[0][0])
        finally:
            for h in hooks:
                h.remove()
        self.classify = "accuracy" in self.metrics and _is_classification(out, self.batches[0][1])
        per_point = (sum(sizes) + sum(v.numel() for v in self.centre.values())) * torch.finfo(self.dtype).bits // 8
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            budget = free // 3
        else:
            budget = 512 * 2 ** 20
        return int(max(1, min(256, budget // max(1, 3 * per_point))))

    # the two ways
    def _by_vmap(self, ab):
        torch = self.torch
        from torch.func import functional_call, vmap

        loss_fn, classify, module = self.loss_fn, self.classify, self.module

        def one(state, x, y):
            out = functional_call(module, state, (x,))
            loss = loss_fn(out, y)
            correct = (out.argmax(dim=1) == y).sum() if classify else torch.zeros((), device=out.device)
            return loss, correct

        f = vmap(one, in_dims=(0, None, None))
        total = torch.zeros(len(ab), dtype=torch.float64, device=self.device)
        correct = torch.zeros(len(ab), dtype=torch.float64, device=self.device)
        states = self._stacked(ab)
        for x, y in self.batches:
            loss, c = f(states, x, y)
            total += loss.double() * len(y)
            correct += c.double()
        return total.cpu().numpy() / self.samples, 100.0 * correct.cpu().numpy() / self.samples

    def _by_loop(self, ab):
        torch = self.torch
        loss_fn, module = self.loss_fn, self.module
        total = torch.zeros(len(ab), dtype=torch.float64, device=self.device)
        correct = torch.zeros(len(ab), dtype=torch.float64, device=self.device)
        for k, (a, b) in enumerate(ab):
            self._set_point(float(a), float(b))
            for x, y in self.batches:
                out = module(x)
                total[k] += loss_fn(out, y).double() * len(y)
                if self.classify:
                    correct[k] += (out.argmax(dim=1) == y).sum()
        return total.cpu().numpy() / self.samples, 100.0 * correct.cpu().numpy() / self.samples

    def evaluate(self, ab, cancel=None):
        """(losses, accuracies or None) at the plane points ``ab`` (k, 2)."""
        torch = self.torch
        ab = np.asarray(ab, dtype=np.float64).reshape(-1, 2)
        losses, accs = np.empty(len(ab)), np.empty(len(ab))
        k = 0
        with torch.inference_mode():
            while k < len(ab):
                check(cancel, "loss plane cancelled")
                n = self.chunk if self.method == "vmap" else 16
                part = ab[k:k + n]
                try:
                    loss, acc = (self._by_vmap if self.method == "vmap" else self._by_loop)(part)
                except RuntimeError:
                    if not self.fallback:
                        raise
                    self.method, self.fallback = "loop", False  # data-dependent code vmap cannot batch
                    continue
                losses[k:k + len(part)], accs[k:k + len(part)] = loss, acc
                k += len(part)
        return losses, (accs if self.classify else None)


# --- data --------------------------------------------------------------------------------------------


def cache_batches(batches, device, dtype, max_batches=None) -> list:
    """The (inputs, targets) pairs on the device, floating inputs in the model's dtype.
    ``batches`` may be any iterable of pairs (a DataLoader) or a function returning one."""
    torch = _torch()
    if callable(batches) and not hasattr(batches, "__iter__"):
        batches = batches()
    out = []
    for k, item in enumerate(batches):
        if max_batches is not None and k >= max_batches:
            break
        try:
            x, y = item[0], item[1]
        except (TypeError, IndexError, KeyError):
            raise TypeError("batches must yield (inputs, targets) pairs, e.g. a DataLoader") from None
        x, y = torch.as_tensor(x), torch.as_tensor(y)
        if x.is_floating_point():
            x = x.to(dtype)
        if y.is_floating_point():
            y = y.to(dtype)
        out.append((x.to(device), y.to(device)))
    if not out:
        raise ValueError("batches yielded no data")
    return out


# --- one tile of rows, picklable for a cluster ---------------------------------------------------------


_WORKER_CACHE: dict = {}


@dataclass
class PlaneTask:
    """Evaluates tiles of grid points; pickles to a worker, which builds its evaluator once
    (model from the factory or the pickled module, batches cached on its device)."""

    token: str
    model: object          # a module (pickled) or a picklable function returning one
    names: list
    centre: dict           # name -> CPU tensor
    d1: dict
    d2: dict | None
    batches: object        # the cached CPU batches, or a picklable function returning an iterable
    loss_fn: object
    device: str | None
    dtype: str
    metrics: tuple
    max_batches: int | None
    method: str
    points: np.ndarray     # (m, 2): every point of the plane, in row order
    local: object = None   # the evaluator of this process, when run here

    def evaluator(self) -> PlaneEvaluator:
        if self.local is not None:
            return self.local
        ev = _WORKER_CACHE.get(self.token)
        if ev is None:
            torch = _torch()
            module, _ = _module_and_factory(self.model)
            device = _device(self.device, module)
            dtype = getattr(torch, self.dtype)
            module = module.to(device).eval()
            batches = cache_batches(self.batches, device, dtype, self.max_batches)
            ev = PlaneEvaluator(module, self.names, self.centre, self.d1, self.d2, batches, self.loss_fn, device,
                                dtype, self.metrics, self.method)
            _WORKER_CACHE.clear()  # one plane at a time per worker: free the last one's memory
            _WORKER_CACHE[self.token] = ev
        return ev

    def __call__(self, tile):
        s, e = tile
        return self.evaluator().evaluate(self.points[s:e])

    def __getstate__(self):
        d = dict(self.__dict__)
        d["local"] = None
        return d


# --- the public functions ---------------------------------------------------------------------------


class _Prepared:
    """What both loss_plane and loss_line need: the private module, data and the state."""

    def __init__(self, model, loss_fn, batches, device, max_batches, metrics, method):
        torch = _torch()
        self.torch = torch
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"metrics: unknown {', '.join(map(repr, unknown))} (choose from {METRICS})")
        if "loss" not in metrics:
            raise ValueError('metrics must include "loss"')
        if method not in ("auto", "vmap", "loop"):
            raise ValueError(f'method must be "auto", "vmap" or "loop", got {method!r}')
        self.caller_module, self.factory = _module_and_factory(model)
        self.device = _device(device, self.caller_module)
        self.dtype = _dtype(self.caller_module)
        self.params, self.buffers = _state_names(self.caller_module)
        self.names = self.params + self.buffers
        self.metrics, self.method, self.max_batches, self.loss_fn = tuple(metrics), method, max_batches, loss_fn
        self.batches_source = batches
        self.device_arg = device  # None: each cluster worker takes its own GPU, else its CPU

    def state_of(self, module_or_state) -> dict:
        if isinstance(module_or_state, dict):
            s = module_or_state
        else:
            s = dict(module_or_state.named_parameters()) | dict(module_or_state.named_buffers())
        return {n: s[n].detach().cpu().clone() for n in self.names}

    def evaluator(self, centre, d1, d2, points, executor, cancel):
        """A PlaneTask over ``points`` (evaluated here, or its tiles on ``executor``)."""
        torch = self.torch
        task = PlaneTask(uuid.uuid4().hex, self.factory or self.caller_module, self.names, centre, d1, d2, None,
                         self.loss_fn, None if self.device_arg is None else str(self.device_arg),
                         str(self.dtype).replace("torch.", ""), self.metrics, self.max_batches, self.method,
                         np.asarray(points, dtype=np.float64))
        if executor is None:
            module = copy.deepcopy(self.caller_module).to(self.device).eval()  # never the caller's
            batches = cache_batches(self.batches_source, self.device, self.dtype, self.max_batches)
            task.local = PlaneEvaluator(module, self.names, centre, d1, d2, batches, self.loss_fn, self.device,
                                        self.dtype, self.metrics, self.method)
        else:
            src = self.batches_source
            if callable(src) and not hasattr(src, "__iter__"):
                task.batches = src  # workers load the data themselves
            else:
                task.batches = cache_batches(src, torch.device("cpu"), self.dtype, self.max_batches)
        return task


def _run(task: PlaneTask, n_points: int, row: int, executor, progress, cancel, partial=None):
    """All points of the task in tiles of ``row``-aligned chunks; (losses, accuracies).
    ``partial(losses)``: after each tile, the losses so far (NaN where not computed yet)."""
    losses = np.full(n_points, np.nan)
    accs = None
    if executor is None:
        ev = task.local
        step = max(row, int(math.ceil(ev.chunk / row)) * row)
        tiles = [(s, min(n_points, s + step)) for s in range(0, n_points, step)]
        for s, e in tiles:
            check(cancel, "loss plane cancelled")
            l, a = ev.evaluate(task.points[s:e], cancel)
            losses[s:e] = l
            if a is not None:
                accs = np.empty(n_points) if accs is None else accs
                accs[s:e] = a
            if progress is not None:
                progress(e // row, n_points // row)
            if partial is not None:
                partial(losses.copy())
        return losses, accs, ev.method, ev.samples
    tiles = [(s, min(n_points, s + row)) for s in range(0, n_points, row)]
    results = list(executor.map(task, tiles))
    for (s, e), (l, a) in zip(tiles, results):
        losses[s:e] = l
        if a is not None:
            accs = np.empty(n_points) if accs is None else accs
            accs[s:e] = a
    return losses, accs, "executor", None


def _grid_size(grid):
    na, nb = (int(grid[0]), int(grid[1])) if np.ndim(grid) else (int(grid), int(grid))
    if not (2 <= na <= 1024 and 2 <= nb <= 1024):
        raise ValueError(f"grid must be between 2x2 and 1024x1024, got {na}x{nb}")
    return na, nb


def _span(span, default):
    if span is None:
        return default
    span = float(span)
    if not (math.isfinite(span) and span > 0):
        raise ValueError(f"span must be a finite number > 0, got {span!r}")
    return span


def _axes(span, xy, na: int, nb: int):
    """alphas, betas: [-span, span] (1 by default), or covering the checkpoints ``xy``
    (pca, points) with a quarter to spare when no span is given."""
    if span is None and xy is not None:
        return _covering(xy, na, nb)
    s = _span(span, 1.0)
    return np.linspace(-s, s, na), np.linspace(-s, s, nb)


def _covering(xy: np.ndarray, na: int, nb: int):
    lo = np.minimum(xy.min(axis=0), 0.0)
    hi = np.maximum(xy.max(axis=0), 0.0)
    pad = 0.25 * np.maximum(hi - lo, 1e-6)
    return np.linspace(lo[0] - pad[0], hi[0] + pad[0], na), np.linspace(lo[1] - pad[1], hi[1] + pad[1], nb)


def loss_plane(model, loss_fn, batches, directions="filter", grid=(51, 51), span=None, seed=0, checkpoints=None,
               max_batches=None, device=None, executor=None, metrics=METRICS, progress=None, cancel=None,
               method="auto", ignore=None, partial=None) -> LandscapePlane:
    """The loss (and accuracy, in percent as loss-landscape) of ``model`` at θ + α·d₁ + β·d₂
    on a ``grid`` = (n_alpha, n_beta).

    ``directions``: "filter", "random", "pca" (``checkpoints``: the training path; θ* is the
    model's own state), "points" (``checkpoints`` = [θ₀, θ₁, θ₂]), "hessian" (the top two
    Hessian eigenvectors, unit norm, not rescaled), your own ``[d1, d2]`` (dicts parameter
    name -> tensor) or the path of a loss-landscape direction ``.h5``. ``ignore="biasbn"``:
    biases and BatchNorm parameters (≤ 1 dimension) kept still, as loss-landscape's
    ``--ignore biasbn`` (the filter directions always do). ``span``: α and β over
    [-span, span] (default 1; "pca" and "points" cover their checkpoints with a quarter to
    spare unless a span is given). ``executor``: tiles of rows go to ``executor.map(fn,
    tiles)`` (``core.nn.DaskExecutor(client)``). ``progress(rows_done, rows)`` and ``cancel()``;
    ``partial(values)``: the (n_beta, n_alpha) values after each tile, NaN where not yet computed
    (a window draws the plane as it fills).

    ``plane.info["directions"]`` holds the two directions used (dicts name -> tensor);
    ``plane.info["trust"]`` the checks: the loss at the centre against the model's own loss
    (a plain evaluation), for "pca" the explained variance and how far the path lies from the
    plane, for "hessian" the eigenpairs' residuals.
    """
    torch = _torch()
    user = None
    if isinstance(directions, (list, tuple)):
        if len(directions) != 2:
            raise ValueError(f"directions=[d1, d2]: two directions, got {len(directions)}")
        user, directions = list(directions), "custom"
    elif isinstance(directions, str) and directions not in DIRECTIONS and directions.lower().endswith((".h5", ".hdf5")):
        user, directions = directions, "file"
    elif directions not in DIRECTIONS:
        raise ValueError(f"directions must be one of {', '.join(DIRECTIONS)}, [d1, d2] or a direction .h5 file, "
                         f"got {directions!r}")
    if ignore not in (None, "biasbn"):
        raise ValueError(f'ignore must be None or "biasbn", got {ignore!r}')
    na, nb = _grid_size(grid)
    prep = _Prepared(model, loss_fn, batches, device, max_batches, metrics, method)
    P = prep.params
    centre = prep.state_of(prep.caller_module)
    gen = torch.Generator().manual_seed(int(seed))
    zero = {n: torch.zeros_like(centre[n]) if centre[n].is_floating_point() else None for n in prep.buffers}
    xy = ratio = None
    path_label = None
    trust: dict = {}
    still = {n for n in P if centre[n].dim() <= 1} if ignore == "biasbn" else set()
    if directions in ("filter", "random"):
        make = filter_direction if directions == "filter" else random_direction
        params = {n: centre[n] for n in P}
        d1, d2 = make(params, gen), make(params, gen)
    elif directions == "hessian":
        from .curvature import hessian_spectrum

        names = [n for n in P if n not in still]
        spec = hessian_spectrum(prep.caller_module, loss_fn, batches, k=2, trace_samples=0, density=False,
                                blocks={"moving": names} if still else None, max_batches=max_batches,
                                device=device, seed=seed, executor=executor, cancel=cancel)
        if still:
            spec = spec.blocks["moving"]
        if len(spec.eigenvectors) < 2:
            raise ValueError('directions="hessian" needs a model with at least 2 parameters')
        d1, d2 = ({n: v.get(n, torch.zeros_like(centre[n])).to(centre[n].dtype) for n in P}
                  for v in spec.eigenvectors[:2])
        trust["eigenvalues"] = [float(x) for x in spec.eigenvalues[:2]]
        trust["residuals"] = [float(x) for x in spec.residuals[:2]]
    elif directions in ("custom", "file"):
        d1, d2 = _user_directions(user, centre, P, prep.caller_module)
    elif directions == "pca":
        if not checkpoints:
            raise ValueError('directions="pca" needs checkpoints=[...] (the training path: state dicts or paths)')
        states = [load_checkpoint(c, prep.caller_module) for c in checkpoints]
        moving = [n for n in P if n not in still]
        theta = _flat(centre, moving)
        path = np.stack([_flat(s, moving) for s in states])
        D, ratio = pca_directions(path, theta)
        rel = path - theta[None, :]
        xy = rel @ D.T  # project_trajectory's "cos" projection (unit directions)
        off = np.linalg.norm(rel - xy @ D, axis=1)
        d1, d2 = _unflat(D[0], centre, moving), _unflat(D[1], centre, moving)
        scale = np.linalg.norm(rel, axis=1)
        trust["explained_variance"] = [float(r) for r in ratio]
        trust["path_off_plane"] = float(off.max())
        trust["path_off_plane_relative"] = float((off / np.where(scale > 0, scale, 1.0)).max())
        path_label = "training path (projected)"
    else:
        if not checkpoints or len(checkpoints) != 3:
            raise ValueError('directions="points" needs checkpoints=[θ0, θ1, θ2]: the centre and two more points')
        states = [load_checkpoint(c, prep.caller_module) for c in checkpoints]
        centre = {n: states[0][n].detach().cpu().clone() for n in prep.names}
        d1, d2, xy = _plane_through(states, centre, P, prep.buffers)
        path_label = "θ₀, θ₁, θ₂"
    for d in (d1, d2):
        for n in P:
            if n not in d or n in still:
                d[n] = torch.zeros_like(centre[n])
        for n in prep.buffers:
            d.setdefault(n, zero[n])
    alphas, betas = _axes(span, xy, na, nb)
    A, B = np.meshgrid(alphas, betas)
    points = np.c_[A.ravel(), B.ravel()]
    extra = [xy] if xy is not None else []
    points = np.vstack([points] + extra + [np.zeros((1, 2))])   # the path, then the centre
    task = prep.evaluator(centre, d1, d2, points, executor, cancel)
    losses, accs, used, samples = _run(task, na * nb, na, executor, progress, cancel,
                                       None if partial is None else lambda v: partial(v.reshape(nb, na)))
    if executor is None:
        tail, _ = task.local.evaluate(points[na * nb:], cancel)
    else:
        tail, _ = next(iter(executor.map(task, [(na * nb, len(points))])))
    values = losses.reshape(nb, na)
    acc = accs.reshape(nb, na) if accs is not None else None
    own = _own_loss(prep, centre)
    trust.update({"centre_loss": float(tail[-1]), "model_loss": own,
                  "centre_matches": bool(abs(tail[-1] - own) <= 1e-4 * max(1.0, abs(own)))})
    info = {"directions": [d1, d2], "kind": directions, "model": type(prep.caller_module).__name__,
            "parameters": int(sum(centre[n].numel() for n in P)), "grid": [na, nb], "seed": int(seed),
            "device": str(prep.device), "dtype": str(prep.dtype).replace("torch.", ""), "method": used,
            "samples": samples, "path_label": path_label, "ignore": ignore, "accuracy_unit": "percent",
            "trust": trust}
    if ratio is not None:
        info["explained_variance"] = [float(r) for r in ratio]
    plane = LandscapePlane(alphas, betas, values, acc, xy, None, info=info)
    if xy is not None:
        plane.trajectory_losses = tail[: len(xy)]
    plane.directions = {n: (d1[n].numpy(), d2[n].numpy()) for n in prep.names if d1[n] is not None}
    return plane


def _own_loss(prep, centre) -> float:
    """The loss of the centre state by a plain evaluation (a copy of the module, the state
    loaded, the batches run): the trust report's reference for the plane's centre."""
    torch = prep.torch
    net = copy.deepcopy(prep.caller_module).to(prep.device).eval()
    with torch.no_grad():
        tensors = dict(net.named_parameters()) | dict(net.named_buffers())
        for n in prep.names:
            tensors[n].copy_(centre[n])
        total, count = 0.0, 0
        for x, y in cache_batches(prep.batches_source, prep.device, prep.dtype, prep.max_batches):
            total += float(prep.loss_fn(net(x), y)) * len(y)
            count += len(y)
    return total / count


def _user_directions(user, centre, P, module):
    """Two directions given by the user: dicts name -> tensor/array, or a loss-landscape
    direction file (``xdirection``/``ydirection`` groups of datasets "0", "1", … in
    ``parameters()`` order, or in ``state_dict()`` order when written with ``dir_type='states'``)."""
    torch = _torch()
    if isinstance(user, str):
        try:
            import h5py
        except ImportError:
            raise ImportError("direction files need h5py: pip install 'landscape-gui[torch]'") from None
        name = user
        try:
            with h5py.File(user, "r") as f:
                if "xdirection" not in f or "ydirection" not in f:
                    raise ValueError(f"{name}: no xdirection/ydirection groups: not a loss-landscape direction file")
                lists = [[f[g][str(i)][()] for i in range(len(f[g]))] for g in ("xdirection", "ydirection")]
        except OSError as exc:
            raise ValueError(f"{name}: cannot read ({exc})") from None
        keys = list(module.state_dict().keys())
        out = []
        for lst in lists:
            if len(lst) == len(P):
                order = P                       # dir_type='weights'
            elif len(lst) == len(keys):
                order = keys                    # dir_type='states': every state_dict entry
            else:
                raise ValueError(f"{name}: {len(lst)} tensors, but the model has {len(P)} parameters "
                                 f"({len(keys)} state entries)")
            out.append({n: torch.as_tensor(np.asarray(a)) for n, a in zip(order, lst) if n in centre})
        user = out
    dirs = []
    for k, d in enumerate(user):
        if not isinstance(d, dict):
            raise TypeError(f"direction {k + 1}: a dict parameter name -> tensor, got {type(d).__name__}")
        unknown = [n for n in d if n not in centre]
        if unknown:
            raise ValueError(f"direction {k + 1}: not in the model: {', '.join(map(str, unknown[:5]))}")
        dd = {}
        for n, v in d.items():
            t = torch.as_tensor(v.detach().cpu() if torch.is_tensor(v) else np.asarray(v))
            if tuple(t.shape) != tuple(centre[n].shape):
                raise ValueError(f"direction {k + 1}: {n} has shape {tuple(t.shape)}, the model's is "
                                 f"{tuple(centre[n].shape)}")
            if not centre[n].is_floating_point():
                continue
            if not torch.isfinite(t).all():
                raise ValueError(f"direction {k + 1}: {n} has NaN or infinite entries")
            dd[n] = t.to(centre[n].dtype)
        if not any(bool(t.any()) for t in dd.values()):
            raise ValueError(f"direction {k + 1} is zero everywhere")
        dirs.append(dd)
    return dirs[0], dirs[1]


def _plane_through(states, centre, P, buffers):
    """Orthonormal axes of the plane through three states; buffers follow affinely."""
    t0, t1, t2 = (_flat(s, P) for s in states)
    u, v = t1 - t0, t2 - t0
    nu = np.linalg.norm(u)
    if nu == 0:
        raise ValueError('directions="points": θ1 equals θ0')
    e1 = u / nu
    proj = float(v @ e1)
    w = v - proj * e1
    nw = np.linalg.norm(w)
    eps = float(np.finfo(np.float32 if centre[P[0]].dtype.itemsize <= 4 else np.float64).eps)
    if nw <= 100 * eps * max(np.linalg.norm(t0), np.linalg.norm(t1), np.linalg.norm(t2)):  # rounding, no plane
        raise ValueError('directions="points": the three checkpoints lie on one line (no plane through them)')
    e2 = w / nw
    d1, d2 = _unflat(e1, centre, P), _unflat(e2, centre, P)
    for n in buffers:
        b0, b1, b2 = (s[n].detach().cpu().to(centre[n].dtype) for s in states)
        if not centre[n].is_floating_point():
            d1[n] = d2[n] = None
            continue
        g1 = (b1 - b0) / nu
        d1[n] = g1
        d2[n] = ((b2 - b0) - proj * g1) / nw
    xy = np.array([[0.0, 0.0], [nu, 0.0], [proj, nw]])
    return d1, d2, xy


def loss_line(model, loss_fn, batches, checkpoints=None, points=51, extend=0.25, span=1.0, seed=0,
              max_batches=None, device=None, executor=None, metrics=METRICS, progress=None, cancel=None,
              method="auto") -> LandscapePlane:
    """1-D: along (1 − t)·a + t·b for t in [-extend, 1 + extend] with ``checkpoints=[a, b]``
    (Goodfellow et al. 2015; BatchNorm statistics interpolated too), else along one
    filter-normalised direction through ``model`` for t in [-span, span]."""
    torch = _torch()
    n = int(points)
    if not 2 <= n <= 100000:
        raise ValueError(f"points must be between 2 and 100000, got {points}")
    prep = _Prepared(model, loss_fn, batches, device, max_batches, metrics, method)
    if checkpoints is not None:
        if len(checkpoints) != 2:
            raise ValueError("loss_line: checkpoints=[a, b], two states")
        a, b = (load_checkpoint(c, prep.caller_module) for c in checkpoints)
        centre = {k: a[k].detach().cpu().clone() for k in prep.names}
        d1 = {k: (b[k].detach().cpu().to(centre[k].dtype) - centre[k]) if centre[k].is_floating_point() else None
              for k in prep.names}
        e = float(extend)
        if not (math.isfinite(e) and e >= 0):
            raise ValueError(f"extend must be a finite number >= 0, got {extend!r}")
        ts = np.linspace(-e, 1 + e, n)
        ends = np.array([[0.0], [1.0]])
        kind = "interpolation"
    else:
        centre = prep.state_of(prep.caller_module)
        gen = torch.Generator().manual_seed(int(seed))
        d1 = filter_direction({k: centre[k] for k in prep.params}, gen)
        d1.update({k: torch.zeros_like(centre[k]) if centre[k].is_floating_point() else None for k in prep.buffers})
        s = _span(span, 1.0)
        ts = np.linspace(-s, s, n)
        ends = None
        kind = "filter"
    pts = np.c_[ts, np.zeros_like(ts)]
    task = prep.evaluator(centre, d1, None, pts, executor, cancel)
    losses, accs, used, samples = _run(task, n, 1 if executor is None else max(1, n // 16), executor,
                                       progress, cancel)
    info = {"directions": [d1], "kind": kind, "model": type(prep.caller_module).__name__,
            "device": str(prep.device), "accuracy_unit": "percent", "method": used, "samples": samples, "path_label": "a (t = 0) and b (t = 1)" if ends is not None else None}
    line = LandscapePlane(ts, None, losses, accs, ends, None, info=info)
    if ends is not None:
        line.trajectory_losses = line.value_at(ends[:, 0])
    return line
