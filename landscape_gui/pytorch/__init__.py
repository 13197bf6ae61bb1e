"""Every geometry tool of the network mode for your own PyTorch model: loss planes and lines,
Hessian spectra (per layer too), connected valleys, the edge of stability; and
loss-landscape ``.h5`` files.

>>> from landscape_gui.pytorch import hessian_spectrum, loss_plane, connect, SharpnessTracker
>>> spec = hessian_spectrum(model, loss_fn, batches, k=5, blocks="layer")
>>> plane = loss_plane(model, loss_fn, batches, directions="hessian")
>>> curve = connect(model_a, model_b, loss_fn, batches, method="bezier", epochs=100)
>>> plane = loss_plane(model, torch.nn.CrossEntropyLoss(), loader, directions="filter", grid=(51, 51))
>>> plane.save("surface.h5")          # loss-landscape's layout: opens in this app and in its plot_2D.py
>>> land = load_landscape("surface.h5")

torch is an optional extra (``pip install 'landscape-gui[torch]'``); importing this package
and ``load_landscape`` need only numpy (h5py for .h5), so files open in the base app.
"""

from __future__ import annotations

from ..core.files.landscapes import LandscapeFileError, LandscapePlane, load_landscape

__all__ = [
    "DIRECTIONS",
    "LandscapeFileError",
    "LandscapePlane",
    "SharpnessTracker",
    "connect",
    "hessian_spectrum",
    "load_landscape",
    "loss_line",
    "loss_plane",
]

DIRECTIONS = ("filter", "random", "pca", "points", "hessian")


def hessian_spectrum(model, loss_fn, batches, k=5, trace_samples=100, density=True, blocks=None, max_batches=None,
                     device=None, seed=0, executor=None, progress=None, cancel=None):
    """Top-k eigenpairs, trace and density of the Hessian; see ``curvature.hessian_spectrum``."""
    from .curvature import hessian_spectrum as _hs

    return _hs(model, loss_fn, batches, k=k, trace_samples=trace_samples, density=density, blocks=blocks,
               max_batches=max_batches, device=device, seed=seed, executor=executor, progress=progress,
               cancel=cancel)


def connect(model_a, model_b, loss_fn, batches, method="bezier", epochs=100, seed=0, **kw):
    """A trained low-loss path between two models; see ``connectivity.connect``."""
    from .connectivity import connect as _connect

    return _connect(model_a, model_b, loss_fn, batches, method=method, epochs=epochs, seed=seed, **kw)


def __getattr__(name):
    if name == "SharpnessTracker":
        from .curvature import SharpnessTracker

        return SharpnessTracker
    raise AttributeError(name)


def loss_plane(model, loss_fn, batches, directions="filter", grid=(51, 51), span: float | None = None,
               seed: int = 0, checkpoints=None, max_batches: int | None = None, device=None, executor=None,
               metrics=("loss", "accuracy"), progress=None, cancel=None, method: str = "auto",
               ignore=None, partial=None) -> LandscapePlane:
    """L(θ + α·d₁ + β·d₂) of ``model`` on ``batches`` over a grid of (α, β); see ``planes.loss_plane``."""
    from .planes import loss_plane as _loss_plane

    return _loss_plane(model, loss_fn, batches, directions=directions, grid=grid, span=span, seed=seed,
                       checkpoints=checkpoints, max_batches=max_batches, device=device, executor=executor,
                       metrics=metrics, progress=progress, cancel=cancel, method=method, ignore=ignore,
                       partial=partial)


def loss_line(model, loss_fn, batches, checkpoints=None, points: int = 51, extend: float = 0.25,
              span: float = 1.0, seed: int = 0, max_batches: int | None = None, device=None, executor=None,
              metrics=("loss", "accuracy"), progress=None, cancel=None, method: str = "auto") -> LandscapePlane:
    """The loss along (1 − t)·a + t·b (``checkpoints=[a, b]``) or along one filter-normalised
    random direction through ``model``; see ``planes.loss_line``."""
    from .planes import loss_line as _loss_line

    return _loss_line(model, loss_fn, batches, checkpoints=checkpoints, points=points, extend=extend, span=span,
                      seed=seed, max_batches=max_batches, device=device, executor=executor, metrics=metrics,
                      progress=progress, cancel=cancel, method=method)
