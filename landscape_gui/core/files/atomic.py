"""Writing files so that a crash or an error never leaves a partial or corrupt one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def default_file_mode() -> int:
    """What a plain open() would give a new file (mkstemp's 0600 is too private for a figure)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path, write) -> None:
    """``write(temporary_path)`` in the target's folder, then one rename onto ``path``.

    The previous file stays intact until the rename; on any error the temporary
    file is removed and the error propagates.
    """
    path = Path(path)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def remove_stale_temporaries(path) -> int:
    """Delete the temporaries a killed writer left beside ``path`` (``.NAME.PID.XXXX.ext``
    whose process no longer runs); returns how many. A live writer's file is kept."""
    path = Path(path)
    removed = 0
    try:
        candidates = list(path.parent.glob(f".{glob_escape(path.name)}.*"))
    except OSError:
        return 0
    for tmp in candidates:
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            tmp.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or cannot tell: keep its file
    return True


def atomic_write_text(path, text: str) -> None:
    def write(p: Path) -> None:
        with open(p, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, write)
