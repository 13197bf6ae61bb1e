"""Optimizer kernels compiled before they are needed, off the caller's thread.

``prepare(["SGD", "Adam"])`` queues kinds, most needed first. A worker thread has
child processes compile them (``compile_child``): Numba's compiler is mostly
Python, and in this process it would hold the GIL for seconds and stall the
window. A child writes Numba's on-disk cache and names each kind as it finishes;
this process then loads that kind from the cache (milliseconds). A later launch
finds a stamp file per kind and loads without a child. If a child cannot run, the
worker compiles here instead. A failure is recorded once (``kernel_progress``),
never raised in a loop: the numpy reference keeps serving meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from . import kinds as K

_lock = threading.Lock()
_wanted: list[int] = []          # every kind asked for, in order
_pending: list[int] = []         # asked for, not yet handled by the worker
_worker: threading.Thread | None = None
_error: str | None = None

#: Compile in a child process (the default); False compiles in a thread of this process.
USE_CHILD_PROCESS = os.environ.get("LANDSCAPE_GUI_COMPILE_IN_PROCESS", "") == ""


def _kind_of(item) -> int:
    if isinstance(item, str):
        from . import SPECS, _canonical

        return SPECS[_canonical(item)][0]
    return int(item)


def prepare(items, *, background: bool = True) -> None:
    """Make sure the kernels of these optimizers (names or kind ids) get compiled, in this order."""
    global _worker
    kinds = [_kind_of(i) for i in items]
    if not background:
        from .runner import shared_kernels, trajectory_kernel

        shared_kernels()
        for k in kinds:
            trajectory_kernel(k)
        return
    with _lock:
        for k in kinds:
            if k not in _wanted:
                _wanted.append(k)
                if not _is_ready(k):
                    _pending.append(k)
        if _pending and (_worker is None or not _worker.is_alive()):
            _worker = threading.Thread(target=_work, name="optimizer-kernels", daemon=True)
            _worker.start()


def _is_ready(kind: int) -> bool:
    # never imports the runner (that would compile it here); it may be half-imported by the worker
    ready = getattr(sys.modules.get(__package__ + ".runner"), "ready", None)
    return ready is not None and ready(kind)


def runner_ready(kind, wait: bool = True) -> bool:
    """True when kind's kernel can run now; ``wait`` compiles (or waits for) it first."""
    kind = _kind_of(kind)
    if _is_ready(kind):
        return True
    if wait:
        from .runner import shared_kernels, trajectory_kernel

        trajectory_kernel(kind)
        shared_kernels()
        return True
    prepare([kind])
    return False


def kernel_progress() -> tuple[int, int, str | None]:
    """(kinds ready, kinds asked for, the first error or None) for a status line."""
    with _lock:
        wanted = list(_wanted)
    return sum(_is_ready(k) for k in wanted), len(wanted), _error


#: A child's argument (and ``ready`` line) for the drivers every kind runs through
#: (``runner.shared_kernels``).
SHARED = "shared"


def _stamp(kind):
    """A file saying "kind's kernel is in Numba's disk cache for this code": then loading it here
    takes milliseconds and no child process is needed (a later launch). ``kind`` may be
    ``SHARED``, the drivers' stamp."""
    import hashlib

    import numba

    from ..kernel_files import kernel_dir

    here = os.path.dirname(__file__)
    h = hashlib.sha1(numba.__version__.encode() + sys.version.encode())
    for name in ("kinds.py", "rules.py", "runner.py", "lbfgs.py"):
        st = os.stat(os.path.join(here, name))
        h.update(f"{name}:{st.st_mtime_ns}:{st.st_size}".encode())
    if kind == SHARED:
        return kernel_dir() / f"runner-drivers-{h.hexdigest()[:12]}.ready"
    return kernel_dir() / f"optimizer-{K.KIND_NAMES[kind]}-{h.hexdigest()[:12]}.ready"


def _work() -> None:
    global _error
    while True:
        with _lock:
            batch = [k for k in _pending if not _is_ready(k)]
            _pending.clear()
        if not batch:
            return
        try:
            # built-ins compile in a child unless a stamp says Numba's cache already has them;
            # a typed rule's module is written here and compiled by a child too
            rules = [k for k in batch if k >= K.CUSTOM_BASE]
            cached = [k for k in batch if k < K.CUSTOM_BASE and _stamp(k).exists()]
            todo = [k for k in batch if k not in cached and k not in rules]
            if USE_CHILD_PROCESS and rules:
                todo += _rule_modules(rules)
            if USE_CHILD_PROCESS and not _shared_loaded() and not _stamp(SHARED).exists():
                # the drivers fourth: the second child compiles them after its first kind, while
                # the first compiles the third kind, so both finish the default session's three
                # kinds at about the same time (both children compiling the drivers first, as an
                # import did, held every kind back by their few seconds: 16.8-16.9 s -> 12.2-16.3 s measured)
                todo.insert(min(len(todo), CHILDREN + 1), SHARED)
            if USE_CHILD_PROCESS and todo:
                _compile_in_child(todo)
            from .runner import shared_kernels, trajectory_kernel

            shared_kernels()   # loads from the cache a child wrote, or compiles here
            for k in batch:
                trajectory_kernel(k)
        except Exception as exc:  # noqa: BLE001  (reported once; the numpy tier keeps working)
            if _error is None:
                _error = f"optimizer kernels failed to compile: {type(exc).__name__}: {exc}"
                print(f"landscape-gui: {_error}", file=sys.stderr)
            return


def _rule_modules(kinds: list[int]) -> list[str]:
    """Write the typed rules' kernel modules (not importing them: that compiles) -> child arguments."""
    from ..formula.codegen import kernel_dir
    from ..files import atomic_write_text
    from .custom import rule_for_kind
    from .custom_codegen import kernel_module

    args = []
    for k in kinds:
        source, key = kernel_module(rule_for_kind(k))
        path = kernel_dir() / f"lk_{key}.py"
        if not path.exists() or path.read_text() != source:
            atomic_write_text(path, source)
        if not any((path.parent / "__pycache__").glob(f"lk_{key}.trajectory-*.nbi")):
            args.append(f"rule:{key}")
    return args


#: Child processes compiling at once (this machine class has 2 cores; the window needs one too).
CHILDREN = 2


def _compile_in_child(batch: list[int]) -> None:
    """Compile ``batch`` in child processes; load each kind here as soon as its child reports it.

    Kinds are dealt out in turn (first to child 0, second to child 1, ...), so
    the kinds asked for first are ready first.
    """
    shares = [batch[i::CHILDREN] for i in range(min(CHILDREN, len(batch)))]
    children = []
    for share in shares:
        try:
            children.append(subprocess.Popen([sys.executable, "-m", __package__ + ".compile_child", *map(str, share)],
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        except OSError:
            break  # the caller compiles what is missing in this process
    readers = [threading.Thread(target=_follow, args=(c,), daemon=True) for c in children]
    for r in readers:
        r.start()
    for r in readers:
        r.join()


def _shared_loaded() -> bool:
    return getattr(sys.modules.get(__package__ + ".runner"), "_shared", None) is not None


def _follow(child: subprocess.Popen) -> None:
    from .runner import shared_kernels, trajectory_kernel

    for line in child.stdout:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "ready" and parts[1] == SHARED:
            shared_kernels()   # from the cache the child just wrote
        elif len(parts) == 2 and parts[0] == "ready" and parts[1].lstrip("-").isdigit():
            kind = int(parts[1])
            trajectory_kernel(kind)  # from the cache the child just wrote
    err = child.stderr.read()
    if child.wait() != 0:
        # not fatal: the worker compiles what is missing in this process
        tail = err.strip().splitlines()[-1:] or ["no message"]
        print(f"landscape-gui: compiling optimizer kernels in a child process failed ({tail[0]}); "
              "compiling in the app instead", file=sys.stderr)
