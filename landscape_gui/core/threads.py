"""The few threads that kernels share: optimizer runs, grids, basin maps.

Work is dealt from a shared counter in small ranges (``run_shared``), not split
once into equal halves: on a machine where another program keeps a core busy, the
thread on that core just takes fewer ranges, where an OpenMP-style static split
(Numba's ``prange``) would make everyone wait for it.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

#: How long a thread running Python (a formula's symbolic work or Numba compile in the
#: background) keeps the GIL while another thread waits for it. CPython's default is 5 ms: the
#: window's thread, or a new formula's first picture, then waited up to 5 ms after every numpy
#: call for a compile it had just started (measured: the new formula's first picture 15-20%
#: slower). Half a millisecond hands it back sooner; a switch costs microseconds.
SWITCH_INTERVAL_S = 0.0005
if sys.getswitchinterval() > SWITCH_INTERVAL_S:
    sys.setswitchinterval(SWITCH_INTERVAL_S)

#: Threads a batch is split over (this machine class has 2 cores).
THREADS = max(1, min(os.cpu_count() or 1, 8))
pool = ThreadPoolExecutor(max_workers=THREADS - 1, thread_name_prefix="optimizer-run") if THREADS > 1 else None


def _lower_priority() -> None:
    """Nice this thread (Linux: per thread) so the window's thread always gets a core first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


#: Background work (a basin map while the user drags) runs on these niced threads only.
background_pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="optimizer-background",
                                  initializer=_lower_priority)


def run_shared(fn, n: int, task: int, background: bool = False, threads: int | None = None) -> None:
    """Call ``fn(i0, i1)`` over ``0 <= i < n`` in ranges of ``task``, dealt from a shared counter.

    ``fn`` must release the GIL (a ``nogil`` kernel). Each thread takes the next range
    when it finishes one, so a thread slowed by another program (a busy core) does
    less of the work instead of holding everyone up, as a static split would.
    ``background``: on the low-priority threads only (the caller waits).
    """
    threads = THREADS if threads is None else max(1, int(threads))
    tasks = -(-n // task) if n > 0 else 0
    parts = min(threads, tasks)
    if parts <= 1 and not background:
        if n > 0:
            fn(0, n)
        return
    counter = itertools.count()

    def work():
        while True:
            k = next(counter)   # atomic under the GIL
            if k >= tasks:
                return
            fn(k * task, min(n, (k + 1) * task))

    if background:
        for fut in [background_pool.submit(work) for _ in range(max(parts, 1))]:
            fut.result()
        return
    futures = [pool.submit(work) for _ in range(parts - 1)]
    try:
        work()
    finally:
        for fut in futures:
            fut.result()
