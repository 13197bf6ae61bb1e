"""``python -m landscape_gui.core.optimizers.compile_child KIND ...``: compile optimizer kernels
into Numba's disk cache and say ``ready KIND`` after each (see ``warmup``)."""

import sys

from .runner import shared_kernels, trajectory_kernel
from .warmup import SHARED, _stamp


def main(argv: list[str]) -> int:
    for arg in argv:
        if arg == SHARED:   # the drivers every kind runs through
            shared_kernels()
            try:
                _stamp(SHARED).touch()
            except OSError:
                pass
            print("ready", SHARED, flush=True)
            continue
        if arg.startswith("rule:"):   # a typed rule's generated module, written by the parent
            _compile_rule_module(arg[5:])
            print("ready", arg, flush=True)
            continue
        trajectory_kernel(int(arg))
        try:
            _stamp(int(arg)).touch()  # a later launch loads it in-process, without a child
        except OSError:
            pass
        print("ready", int(arg), flush=True)
    return 0


def _compile_rule_module(key: str) -> None:
    """Import the module the parent wrote (compiling it into Numba's cache beside it)."""
    import numpy as np

    from ..formula.codegen import kernel_dir, load_numba_module

    path = kernel_dir() / f"lk_{key}.py"
    module = load_numba_module(path.read_text(), key)
    module.coefficients(np.zeros(10), 1, np.zeros((1, 4)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
