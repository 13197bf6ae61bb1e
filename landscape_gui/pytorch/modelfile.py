"""A model file: your own PyTorch model, its loss and its data, for the window and ``export``.

``FILE.py`` defines::

    def model():            # the trained torch.nn.Module
    loss_fn = torch.nn.CrossEntropyLoss()
    def batches():          # any iterable of (inputs, targets): a DataLoader, a list
    checkpoints = [...]     # optional: state dicts or paths (the training path for PCA, A/B for Connect)
    lr = 0.1                # optional: the training rate (the Sharpness tab draws 2/lr)

It is the user's own code, run (as ``python FILE.py`` would run it) because they asked to
open it. Whatever fails — the file does not import, a name is missing, ``model()`` raises or
returns the wrong type, ``batches()`` yields something else, the loss is not a number — is
refused with a ``ModelFileError`` naming the file, the line and the reason.
"""

from __future__ import annotations

import runpy
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = ("model", "loss_fn", "batches")
MAX_BATCHES = 64      # what the window keeps of a long loader (the plane of 64 batches is the plane)


class ModelFileError(ValueError):
    """A model file that cannot be used; the message names the file and, where known, the line."""


@dataclass
class ModelFile:
    path: str
    model: object                 # torch.nn.Module, in eval mode
    loss_fn: object
    batches: list                 # (inputs, targets) pairs, cached
    checkpoints: list = field(default_factory=list)
    lr: float | None = None
    loss: float = float("nan")    # the model's loss on the batches (checked when loading)

    @property
    def name(self) -> str:
        return Path(self.path).name

    def describe(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        samples = sum(len(y) for _, y in self.batches)
        text = (f"{type(self.model).__name__}, {n:,} parameters; {len(self.batches)} batches, {samples:,} "
                f"samples; loss {self.loss:.4g}")
        if self.checkpoints:
            text += f"; {len(self.checkpoints)} checkpoints"
        return text


def _where(exc: BaseException, path: Path) -> str:
    """', line N' of the deepest frame of the traceback inside the model file."""
    line = None
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == path:
        line = exc.lineno
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            if Path(frame.filename).resolve() == path:
                line = frame.lineno
        except (OSError, ValueError):
            continue
    return f", line {line}" if line else ""


def _line_of(obj) -> str:
    code = getattr(obj, "__code__", None)
    return f", line {code.co_firstlineno}" if code is not None else ""


def load_model_file(path, max_batches: int | None = MAX_BATCHES) -> ModelFile:
    """Run ``path`` and check what it defines; a ``ModelFileError`` says what is wrong and where."""
    try:
        import torch  # noqa: F401 - a clear message when torch is missing
    except ImportError:
        raise ModelFileError("your own model needs torch: pip install torch --index-url "
                             "https://download.pytorch.org/whl/cpu (the CPU build)") from None
    path = Path(path).expanduser()
    name = path.name
    if not path.exists():
        raise ModelFileError(f"{name}: no such file ({path})")
    if path.is_dir() or path.suffix != ".py":
        raise ModelFileError(f"{name}: a model file is a Python file (.py) defining model(), loss_fn and batches()")
    path = path.resolve()
    folder = str(path.parent)
    sys.path.insert(0, folder)   # its own imports beside it, as `python FILE.py` would find them
    try:
        try:
            ns = runpy.run_path(str(path), run_name="landscape_gui_model")
        except SystemExit as exc:
            raise ModelFileError(f"{name}{_where(exc, path)}: the file called exit ({exc.code})") from None
        except SyntaxError as exc:
            raise ModelFileError(f"{name}{_where(exc, path)}: syntax error: {exc.msg}") from None
        except Exception as exc:  # noqa: BLE001 - the user's code: any failure is reported, never raised on
            raise ModelFileError(f"{name}{_where(exc, path)}: importing it raised {type(exc).__name__}: {exc}") \
                from None
        return _checked(ns, name, path, max_batches)
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass


def from_objects(model, loss_fn, batches, checkpoints=None, lr=None, name="your model",
                 max_batches: int | None = MAX_BATCHES) -> ModelFile:
    """The same checks for objects handed over from a script (``landscape_gui.show``)."""
    ns = {"model": model, "loss_fn": loss_fn, "batches": batches, "checkpoints": checkpoints or [], "lr": lr}
    return _checked(ns, name, Path.cwd() / name, max_batches)


def _checked(ns: dict, name: str, path: Path, max_batches) -> ModelFile:
    """What a model file (or a script) defines, checked; a ``ModelFileError`` says what is wrong."""
    import torch

    missing = [n for n in REQUIRED if n not in ns]
    if missing:
        raise ModelFileError(f"{name}: defines no {', '.join(missing)} (a model file defines model() returning "
                             "the trained torch.nn.Module, loss_fn, and batches() yielding (inputs, targets))")

    def call(fn, what):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001
            raise ModelFileError(f"{name}{_where(exc, path) or _line_of(fn)}: {what} raised "
                                 f"{type(exc).__name__}: {exc}") from None

    m = ns["model"]
    module = m if isinstance(m, torch.nn.Module) else (call(m, "model()") if callable(m) else m)
    if not isinstance(module, torch.nn.Module):
        raise ModelFileError(f"{name}{_line_of(m)}: model() returned {type(module).__name__}, not a "
                             "torch.nn.Module")
    loss_fn = ns["loss_fn"]
    if not callable(loss_fn):
        raise ModelFileError(f"{name}: loss_fn is {type(loss_fn).__name__}, not a function of (outputs, targets)")
    src = ns["batches"]
    it = call(src, "batches()") if callable(src) and not hasattr(src, "__iter__") else src
    batches = []
    try:
        for k, item in enumerate(it):
            if max_batches is not None and k >= max_batches:
                break
            if not (isinstance(item, (tuple, list)) and len(item) >= 2):
                raise ModelFileError(f"{name}{_line_of(src)}: batches() yielded {type(item).__name__}, not "
                                     "(inputs, targets)")
            x, y = item[0], item[1]
            if not (torch.is_tensor(x) and torch.is_tensor(y)):
                raise ModelFileError(f"{name}{_line_of(src)}: batches() yielded ({type(x).__name__}, "
                                     f"{type(y).__name__}), not two tensors")
            batches.append((x, y))
    except ModelFileError:
        raise
    except TypeError as exc:
        raise ModelFileError(f"{name}{_line_of(src)}: batches is not iterable ({exc})") from None
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"{name}{_where(exc, path) or _line_of(src)}: batches() raised "
                             f"{type(exc).__name__}: {exc}") from None
    if not batches:
        raise ModelFileError(f"{name}{_line_of(src)}: batches() yielded no data")
    module.eval()
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), torch.float32)
    batches = [(x.to(dtype) if x.is_floating_point() else x, y) for x, y in batches]
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for x, y in batches:
                value = loss_fn(module(x), y)
                if not (torch.is_tensor(value) and value.numel() == 1):
                    raise ModelFileError(f"{name}{_line_of(loss_fn)}: loss_fn returned "
                                         f"{type(value).__name__}, not a single number (a 0-d tensor)")
                total += float(value) * len(y)
                count += len(y)
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"{name}{_where(exc, path)}: the model on the first batch raised "
                             f"{type(exc).__name__}: {exc}") from None
    loss = total / max(count, 1)
    cps = ns.get("checkpoints") or []
    if callable(cps):
        cps = call(cps, "checkpoints()")
    if not isinstance(cps, (list, tuple)):
        raise ModelFileError(f"{name}: checkpoints is {type(cps).__name__}, not a list of state dicts or paths")
    from .planes import load_checkpoint

    checked = []
    for k, c in enumerate(cps):
        if isinstance(c, (str, Path)) and not Path(c).is_absolute():
            c = str(path.parent / c)   # relative to the model file
        try:
            checked.append(load_checkpoint(c, module))
        except ValueError as exc:
            raise ModelFileError(f"{name}: checkpoints[{k}]: {exc}") from None
    lr = ns.get("lr")
    try:
        lr = float(lr) if lr is not None else None
    except (TypeError, ValueError):
        raise ModelFileError(f"{name}: lr is {lr!r}, not a number") from None
    return ModelFile(str(path), module, loss_fn, batches, checked, lr, loss)
