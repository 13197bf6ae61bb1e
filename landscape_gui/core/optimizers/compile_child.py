"""``python -m landscape_gui.core.optimizers.compile_child KIND ...``: compile optimizer kernels
into Numba's disk cache and say ``ready KIND`` after each (see ``warmup``)."""

import sys

from .runner import trajectory_kernel
from .warmup import _stamp


def main(argv: list[str]) -> int:
    for arg in argv:
        trajectory_kernel(int(arg))
        try:
            _stamp(int(arg)).touch()  # a later launch loads it in-process, without a child
        except OSError:
            pass
        print("ready", int(arg), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
