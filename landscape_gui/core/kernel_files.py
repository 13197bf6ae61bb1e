"""Where the app keeps generated kernel modules and the stamps of compiled ones (no sympy, no
Qt: the child processes that compile optimizer kernels import only this and the kernels)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def kernel_dir() -> Path:
    """Where generated kernel modules live; Numba caches their machine code beside them."""
    env = os.environ.get("LANDSCAPE_GUI_KERNEL_DIR")
    if env:
        d = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = Path(base) / "landscape_gui" / "kernels"
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError:
        d = Path(tempfile.gettempdir()) / f"landscape_gui_kernels_{os.getuid() if hasattr(os, 'getuid') else 0}"
        d.mkdir(parents=True, exist_ok=True)
    return d
