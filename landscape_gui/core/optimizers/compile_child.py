"""``python -m landscape_gui.core.optimizers.compile_child KIND ...``: compile optimizer kernels
into Numba's disk cache and say ``ready KIND`` after each (see ``warmup``)."""

import sys

from .runner import shared_kernels, trajectory_kernel
from .warmup import SHARED, _stamp


def main(argv: list[str]) -> int:
    for arg in argv:
        if arg.startswith("rule:"):   # a typed rule's generated module, written by the parent
            _compile_rule_module(arg[5:])
            print("ready", arg, flush=True)
            continue
        target = SHARED if arg == SHARED else int(arg)   # the drivers every kind runs through, or a kind
        if target == SHARED:
            shared_kernels()
        else:
            trajectory_kernel(target)
        try:
            _stamp(target).touch()  # a later launch loads it in-process, without a child
        except OSError:
            pass
        print("ready", target, flush=True)
    return 0


def _compile_rule_module(key: str) -> None:
    """Import the module the parent wrote (compiling it into Numba's cache beside it)."""
    from ..formula.codegen import kernel_dir, load_numba_module
    from .custom_codegen import warm_module

    path = kernel_dir() / f"lk_{key}.py"
    warm_module(load_numba_module(path.read_text(), key))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
