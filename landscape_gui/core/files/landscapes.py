"""Loss-landscape files: planes and lines as tomgoldstein/loss-landscape writes them (HDF5),
and as NumPy ``.npz``. No torch here: opening a file needs only numpy (and h5py for .h5).

loss-landscape's 2-D layout (``plot_surface.py``): ``xcoordinates`` (nx), ``ycoordinates``
(ny), and per metric (``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``) an array
it creates with shape (nx, ny) but fills through ``meshgrid(x, y).ravel()`` indices, so
flat index ``j * nx + i`` holds the point (x_i, y_j). Reading the flat data as (ny, nx)
gives ``values[j, i]`` = L(x_i, y_j) for square and non-square grids alike (transposing
the (nx, ny) array instead would be wrong for both). It writes -1 where a point has not
been computed (a crashed or partial run) and NaN where the loss was not finite; both are
holes here. 1-D files (``plot_1D``) have ``xcoordinates`` and 1-D metrics. A projected
path (``project_trajectory``) is ``proj_xcoord``/``proj_ycoord``, kept by this app in the
surface file itself (loss-landscape writes it beside, as ``<dir>_proj_cos.h5``; that file
is read too when it sits next to the surface).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: metrics in the order offered as surfaces, with the names shown to a person
METRICS = {"train_loss": "train loss", "train_acc": "train accuracy", "test_loss": "test loss",
           "test_acc": "test accuracy"}
SUFFIXES = (".h5", ".hdf5", ".npz")
MAX_SIDE = 2048                 # points per axis the views draw (loss-landscape grids are ~51-401)
MAX_POINTS = MAX_SIDE * MAX_SIDE


class LandscapeFileError(ValueError):
    """A file that is not a landscape this app can show; the message names the file."""


@dataclass
class LandscapePlane:
    """A loss plane (or line) with its coordinates: what ``loss_plane`` computes and what a
    file holds. ``values[j, i]`` is the loss at ``alphas[i]``, ``betas[j]``; a line has
    ``betas`` None and 1-D ``values``. ``surfaces`` keeps every metric of the file."""

    alphas: np.ndarray
    betas: np.ndarray | None
    values: np.ndarray
    accuracy: np.ndarray | None = None
    trajectory_xy: np.ndarray | None = None       # (n, 2) projected checkpoints (a line: (n, 1))
    trajectory_losses: np.ndarray | None = None   # the loss at those points, as drawn
    surfaces: dict = field(default_factory=dict)  # metric name -> array (values and accuracy among them)
    info: dict = field(default_factory=dict)      # how it was made (directions, model, data)
    path: str | None = None
    test_values: np.ndarray | None = None         # what the network views read as "test loss"
    directions: dict | None = None                # loss_plane: parameter name -> (d1, d2) arrays

    def __post_init__(self):
        self.alphas = np.asarray(self.alphas, dtype=np.float64)
        if self.betas is not None:
            self.betas = np.asarray(self.betas, dtype=np.float64)
        self.values = np.asarray(self.values, dtype=np.float64)
        if not self.surfaces:
            self.surfaces = {"train_loss": self.values}
            if self.accuracy is not None:
                self.surfaces["train_acc"] = np.asarray(self.accuracy, dtype=np.float64)
        if self.test_values is None and "test_loss" in self.surfaces:
            self.test_values = self.surfaces["test_loss"]

    @property
    def is_line(self) -> bool:
        return self.betas is None

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else self.info.get("name", "loss plane")

    @property
    def xrange(self) -> tuple[float, float]:
        return float(self.alphas[0]), float(self.alphas[-1])

    @property
    def yrange(self) -> tuple[float, float]:
        if self.betas is None:
            return (0.0, 1.0)
        return float(self.betas[0]), float(self.betas[-1])

    def surface(self, metric: str) -> np.ndarray:
        """One metric's grid (``train_loss``, ``train_acc``, …)."""
        if metric not in self.surfaces:
            raise KeyError(f"{self.name} has no {metric} (it has {', '.join(self.surfaces)})")
        return self.surfaces[metric]

    def value_at(self, a, b=None, metric: str = "train_loss"):
        """Bilinear (a line: linear) interpolation at plane coordinates; NaN outside."""
        v = self.surfaces.get(metric, self.values)
        a = np.asarray(a, dtype=float)
        if self.betas is None:
            out = np.interp(a, self.alphas, v)
            return np.where((a >= self.alphas[0]) & (a <= self.alphas[-1]), out, np.nan)
        b = np.asarray(b, dtype=float)
        fa = np.interp(a, self.alphas, np.arange(self.alphas.size))
        fb = np.interp(b, self.betas, np.arange(self.betas.size))
        i0 = np.clip(np.floor(fa).astype(int), 0, self.alphas.size - 2)
        j0 = np.clip(np.floor(fb).astype(int), 0, self.betas.size - 2)
        u, w = fa - i0, fb - j0
        out = ((1 - u) * (1 - w) * v[j0, i0] + u * (1 - w) * v[j0, i0 + 1]
               + (1 - u) * w * v[j0 + 1, i0] + u * w * v[j0 + 1, i0 + 1])
        inside = (a >= self.alphas[0]) & (a <= self.alphas[-1]) & (b >= self.betas[0]) & (b <= self.betas[-1])
        return np.where(inside, out, np.nan)

    def save(self, path) -> Path:
        """Write loss-landscape's layout (.h5) or the same names in a .npz; atomically."""
        return save_landscape(self, path)


# --- writing -------------------------------------------------------------------------------------


def _ll_array(values: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """(ny, nx) values in loss-landscape's (nx, ny) array, flat index j*nx + i (see module doc)."""
    return np.ascontiguousarray(values, dtype=np.float64).reshape(nx, ny)


def _arrays_to_write(plane: LandscapePlane) -> dict:
    out = {"xcoordinates": plane.alphas}
    if plane.betas is not None:
        out["ycoordinates"] = plane.betas
    percent = plane.info.get("accuracy_unit") == "percent"
    for name, grid in plane.surfaces.items():
        g = np.where(np.isfinite(grid), grid, np.nan)
        if name.endswith("_acc") and not percent:   # loss-landscape writes accuracy in percent
            g = 100.0 * g
        out[name] = g if plane.betas is None else _ll_array(g, plane.alphas.size, plane.betas.size)
    if plane.trajectory_xy is not None:
        out["proj_xcoord"] = plane.trajectory_xy[:, 0]
        if plane.trajectory_xy.shape[1] > 1:
            out["proj_ycoord"] = plane.trajectory_xy[:, 1]
    return out


def save_landscape(plane: LandscapePlane, path) -> Path:
    from .atomic import atomic_write

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise LandscapeFileError(f"{path.name}: save a landscape as .h5 (loss-landscape's layout) or .npz")
    arrays = _arrays_to_write(plane)
    info = json.dumps(_json_info(plane.info), default=str)
    if suffix == ".npz":
        atomic_write(path, lambda p: _write_npz(p, arrays, info))
    else:
        h5py = _h5py(path)
        atomic_write(path, lambda p: _write_h5(h5py, p, arrays, info))
    plane.path = str(path)
    return path


def _json_info(info: dict) -> dict:
    """What of ``info`` a file keeps: the directions themselves (tensors, loss_plane's
    ``info["directions"]``) are not written, their kind is."""
    out = {k: v for k, v in info.items() if k != "directions" or isinstance(v, str)}
    out["accuracy_unit"] = "percent"
    if "directions" in info and "directions" not in out and "kind" in info:
        out["directions"] = info["kind"]
    return out


def _write_npz(p, arrays, info) -> None:
    with open(p, "wb") as fh:
        np.savez_compressed(fh, info=np.array(info), **arrays)


def _write_h5(h5py, p, arrays, info) -> None:
    with h5py.File(p, "w") as f:
        for k, v in arrays.items():
            f[k] = v
        f.attrs["landscape_gui"] = info


def _h5py(path):
    try:
        import h5py
    except ImportError:
        raise LandscapeFileError(f"{Path(path).name}: reading and writing .h5 files needs h5py: "
                                 "pip install h5py (or pip install 'landscape-gui[torch]'); "
                                 ".npz landscapes need nothing more") from None
    return h5py


# --- reading -------------------------------------------------------------------------------------


def load_landscape(path) -> LandscapePlane:
    """A plane or line from a loss-landscape ``.h5`` (2-D or 1-D) or a ``.npz`` (this app's
    plane export, its formula-grid export, or the same names as the .h5)."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise LandscapeFileError(f"{name}: no such file ({path})")
    if path.is_dir():
        raise LandscapeFileError(f"{name}: is a folder, not a landscape file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz" or (suffix not in (".h5", ".hdf5") and _is_zip(path)):
            arrays, info = _read_npz(path)
        else:
            arrays, info = _read_h5(path)
            if "proj_xcoord" not in arrays:
                arrays.update(_sibling_projection(path))
    except LandscapeFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        kind = "HDF5" if suffix != ".npz" else "NumPy .npz"
        raise LandscapeFileError(f"{name}: not a readable {kind} file ({exc or type(exc).__name__})") from None
    plane = _plane_from_arrays(arrays, name)
    if info and info.get("accuracy_unit") != "percent":
        # written by this app before December 2026: accuracy in fractions; shown in percent
        # as loss-landscape's own files (and everything written since) hold it
        for key in [k for k in plane.surfaces if k.endswith("_acc")]:
            old = plane.surfaces[key]
            plane.surfaces[key] = 100.0 * old
            if plane.accuracy is old:
                plane.accuracy = plane.surfaces[key]
    info["accuracy_unit"] = "percent"
    plane.info = info
    plane.path = str(path)
    return plane


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _read_npz(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    info = {}
    if "info" in arrays:
        try:
            info = json.loads(str(arrays.pop("info")))
        except ValueError:
            info = {}
    # this app's formula-grid export: x, y, f (values[j, i] = f(x_i, y_j))
    if "xcoordinates" not in arrays and {"x", "y", "f"} <= set(arrays):
        arrays = {"xcoordinates": arrays["x"], "ycoordinates": arrays["y"], "train_loss": arrays["f"]}
        arrays["_natural"] = np.array(True)
        info.setdefault("name", "formula grid")
    return arrays, info


def _read_h5(path):
    h5py = _h5py(path)
    arrays, too_big = {}, {}
    with h5py.File(path, "r") as f:
        for k in f.keys():
            obj = f[k]
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiub":
                if obj.size <= MAX_POINTS:
                    arrays[k] = obj[()]
                else:  # not read: a 10^9-point dataset must not fill the memory first
                    too_big[k] = obj.shape
        raw = f.attrs.get("landscape_gui")
    if too_big:
        arrays["_too_big"] = too_big
    info = {}
    if raw is not None:
        try:
            info = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
        except (ValueError, UnicodeDecodeError):
            info = {}
    return arrays, info


def _sibling_projection(path: Path) -> dict:
    """loss-landscape's ``project_trajectory`` writes ``<dir file>_proj_cos.h5``: take a
    single one in the same folder (read, never required)."""
    try:
        h5py = _h5py(path)
        found = sorted(path.parent.glob("*_proj_cos.h5"))
        if len(found) != 1 or found[0] == path:
            return {}
        with h5py.File(found[0], "r") as f:
            if "proj_xcoord" in f and "proj_ycoord" in f:
                return {"proj_xcoord": f["proj_xcoord"][()], "proj_ycoord": f["proj_ycoord"][()]}
    except (OSError, LandscapeFileError, ValueError):
        pass
    return {}


def _axis(arrays, key, name) -> np.ndarray:
    a = np.asarray(arrays[key], dtype=np.float64).ravel()
    if a.size > MAX_SIDE:
        raise LandscapeFileError(f"{name}: {key} has {a.size} points; this app draws at most {MAX_SIDE} "
                                 "per axis (compute the plane on a coarser grid)")
    if a.size < 2:
        raise LandscapeFileError(f"{name}: {key} has {a.size} value(s); a landscape needs at least 2")
    if not np.isfinite(a).all():
        raise LandscapeFileError(f"{name}: {key} contains NaN or infinite coordinates")
    if not (np.all(np.diff(a) > 0) or np.all(np.diff(a) < 0)):
        raise LandscapeFileError(f"{name}: {key} is not increasing (coordinates must be sorted)")
    return a


def _clean(grid: np.ndarray) -> np.ndarray:
    """loss-landscape's "not computed" marker (-1) and non-finite values become NaN (holes)."""
    g = np.asarray(grid, dtype=np.float64).copy()
    g[~np.isfinite(g) | (g == -1.0)] = np.nan
    return g


def _plane_from_arrays(arrays: dict, name: str) -> LandscapePlane:
    too_big = arrays.pop("_too_big", {})
    for key, shape in too_big.items():
        if key in ("xcoordinates", "ycoordinates") or key in METRICS:
            raise LandscapeFileError(f"{name}: {key} has shape {shape}: more than the {MAX_SIDE}x{MAX_SIDE} "
                                     "points this app draws (compute the plane on a coarser grid)")
    if "xcoordinates" not in arrays:
        found = ", ".join(sorted(k for k in arrays if not k.startswith("_"))) or "nothing"
        raise LandscapeFileError(f"{name}: no xcoordinates: not a loss-landscape surface file "
                                 f"(it holds {found})")
    x = _axis(arrays, "xcoordinates", name)
    two_d = "ycoordinates" in arrays
    y = _axis(arrays, "ycoordinates", name) if two_d else None
    natural = bool(arrays.get("_natural", False))
    surfaces = {}
    for key in list(METRICS) + [k for k in arrays if k.endswith(("_loss", "_acc")) and k not in METRICS]:
        if key not in arrays:
            continue
        a = np.asarray(arrays[key])
        if two_d:
            if a.size != x.size * y.size:
                raise LandscapeFileError(
                    f"{name}: {key} has shape {a.shape} but the coordinates make a "
                    f"{x.size}x{y.size} grid (xcoordinates {x.size}, ycoordinates {y.size})")
            if natural and a.shape != (y.size, x.size):
                raise LandscapeFileError(f"{name}: {key} has shape {a.shape}, expected {(y.size, x.size)}")
            g = _clean(a.reshape(y.size, x.size))
        else:
            if a.size != x.size:
                raise LandscapeFileError(f"{name}: {key} has {a.size} values but xcoordinates has {x.size}")
            g = _clean(a.ravel())
        surfaces[key] = g
    loss_keys = [k for k in surfaces if k.endswith("_loss")]
    if not loss_keys:
        raise LandscapeFileError(f"{name}: no loss values (expected train_loss or test_loss beside the "
                                 "coordinates)")
    main = "train_loss" if "train_loss" in surfaces else loss_keys[0]
    if not np.isfinite(surfaces[main]).any():
        raise LandscapeFileError(f"{name}: every {main} value is NaN, infinite or -1 (loss-landscape's "
                                 "'not computed'): the run that wrote it computed no point")
    # descending coordinates (a plot made from +1 to -1): flip to ascending, values with them
    if x[0] > x[-1]:
        x = x[::-1].copy()
        surfaces = {k: v[..., ::-1].copy() for k, v in surfaces.items()}
    if two_d and y[0] > y[-1]:
        y = y[::-1].copy()
        surfaces = {k: v[::-1].copy() for k, v in surfaces.items()}
    traj = None
    if "proj_xcoord" in arrays:
        px = np.asarray(arrays["proj_xcoord"], dtype=np.float64).ravel()
        cols = [px]
        if two_d:
            py = np.asarray(arrays.get("proj_ycoord", np.zeros_like(px)), dtype=np.float64).ravel()
            if py.size != px.size:
                raise LandscapeFileError(f"{name}: proj_xcoord has {px.size} points but proj_ycoord {py.size}")
            cols.append(py)
        traj = np.stack(cols, axis=1)
        traj = traj[np.isfinite(traj).all(axis=1)]
        if len(traj) == 0:
            traj = None
    acc_key = main.replace("_loss", "_acc")
    plane = LandscapePlane(x, y, surfaces[main], surfaces.get(acc_key), traj, None, surfaces)
    if traj is not None:
        plane.trajectory_losses = plane.value_at(traj[:, 0], None if y is None else traj[:, 1], main)
    return plane


def describe(plane: LandscapePlane) -> str:
    """One line for a status bar: what the file holds."""
    if plane.is_line:
        shape = f"line of {plane.alphas.size} points"
    else:
        shape = f"{plane.alphas.size}×{plane.betas.size} plane"
    finite = plane.values[np.isfinite(plane.values)]
    holes = plane.values.size - finite.size
    lo = f"min loss {finite.min():.4g}" if finite.size else "no finite loss"
    hole = f", {holes} missing point{'s' * (holes != 1)}" if holes else ""
    path = f", path of {len(plane.trajectory_xy)} checkpoints" if plane.trajectory_xy is not None else ""
    metrics = ", ".join(METRICS.get(k, k) for k in plane.surfaces)
    return f"{plane.name}: {shape} ({metrics}); {lo}{hole}{path}"

