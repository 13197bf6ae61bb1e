"""Time budgets for the symbolic work on a formula, enforced from outside the work.

sympy gives no way to stop a ``diff``, ``cse`` or constant evaluation that runs for
minutes, and a thread cannot be killed. What *can* stop it is an exception raised
inside that thread: CPython's ``PyThreadState_SetAsyncExc`` delivers one at the next
bytecode the thread runs. One watchdog thread keeps the deadlines of all guarded
blocks and, when one passes (or its owner cancels it: the next keystroke), raises
:class:`OverBudget` in the thread doing the work. ``OverBudget`` derives from
``BaseException`` so that sympy's own ``except Exception`` clauses cannot swallow it.

Only work that executes Python bytecode is interruptible this way; the parser folds
constants with float64 arithmetic first, so sympy never starts a big-integer or
arbitrary-precision computation that would run inside one C call.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import threading
import time

from .expression import ExpressionError

#: Symbolic work (constant folding, derivatives, CSE) plus code generation, in seconds.
SYMBOLIC_SECONDS = 1.0
#: numpy-tier evaluation of value, gradient and Hessian on a 64 x 64 grid, in seconds.
EVALUATION_SECONDS = 0.2


class OverBudget(BaseException):
    """Raised inside a guarded block whose deadline passed or which was cancelled."""


def _raise_in(thread_id: int, exc_type) -> None:
    """Deliver ``exc_type`` in that thread at its next bytecode (None: withdraw a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), None if exc_type is None else ctypes.py_object(exc_type))


class Guard:
    """One guarded block: its thread, deadline and state (all changed under ``_lock``)."""

    __slots__ = ("thread_id", "deadline", "active", "fired", "cancelled", "what", "last_fire")

    def __init__(self, seconds: float, what: str):
        self.thread_id = threading.get_ident()
        self.deadline = time.monotonic() + seconds
        self.active = True
        self.fired = False
        self.cancelled = False
        self.what = what
        self.last_fire = -1.0

    def cancel(self) -> None:
        """Stop the guarded work now (from any thread): it raises ExpressionError."""
        with _lock:
            if self.active and not self.cancelled:
                self.cancelled = True
                heapq.heappush(_heap, (0.0, next(_counter), self))
                _wake.set()


_lock = threading.Lock()
_wake = threading.Event()
_heap: list[tuple[float, int, Guard]] = []
_counter = itertools.count()
_watchdog: threading.Thread | None = None
_local = threading.local()


def _watch() -> None:
    while True:
        with _lock:
            now = time.monotonic()
            while _heap and _heap[0][0] <= now:
                _, _, g = heapq.heappop(_heap)
                if not g.active or now - g.last_fire < 0.05:
                    continue
                # under _lock: the guarded thread cannot finish (deactivate) in between
                g.fired = True
                g.last_fire = now
                _raise_in(g.thread_id, OverBudget)
                # and again later, in case the thread was inside one long C call
                heapq.heappush(_heap, (now + 0.05, next(_counter), g))
            wait = (_heap[0][0] - now) if _heap else None
            _wake.clear()
        _wake.wait(timeout=None if wait is None else max(wait, 0.001))


#: C stack of the threads that do symbolic work. sympy recurses through a formula's tree and the
#: garbage collector then walks the same depth; a 56-level tower crashed a worker thread with
#: Linux's default 8 MB (a segfault in CI, not an exception). Virtual: reserved, not used.
DEEP_STACK_BYTES = 512 * 2 ** 20


def start_deep_thread(target, args=(), name: str = "formula-work") -> threading.Thread:
    """A daemon thread with a stack deep enough for symbolic work on hostile formulas."""
    old = threading.stack_size(DEEP_STACK_BYTES)
    try:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
    finally:
        threading.stack_size(old)
    return t


def _start_watchdog() -> None:
    global _watchdog
    if _watchdog is None or not _watchdog.is_alive():
        _watchdog = threading.Thread(target=_watch, name="formula-budget", daemon=True)
        _watchdog.start()


class budget:
    """``with budget(1.0, "the derivatives"):`` — an over-long block raises ExpressionError.

    Nested blocks share the outermost deadline (an inner block never extends it).
    ``current_guard()`` inside the block gives the :class:`Guard`, whose ``cancel``
    another thread may call.
    """

    def __init__(self, seconds: float, what: str):
        self.seconds = seconds
        self.what = what
        self.guard: Guard | None = None

    def __enter__(self) -> Guard | None:
        if getattr(_local, "guard", None) is not None:
            return _local.guard  # nested: the outer deadline rules
        g = Guard(self.seconds, self.what)
        with _lock:
            _start_watchdog()
            heapq.heappush(_heap, (g.deadline, next(_counter), g))
            _wake.set()
        self.guard = _local.guard = g
        return g

    def __exit__(self, exc_type, exc, tb):
        g = self.guard
        if g is None:
            return False
        try:
            _deactivate(g)
        except OverBudget:  # delivered between the block's end and the lock
            _deactivate(g)
        _local.guard = None
        if exc_type is OverBudget or g.fired:
            if g.cancelled:
                raise ExpressionError("superseded by a newer formula", None) from None
            raise ExpressionError(
                f"this formula is too large to work with: {g.what} took longer than "
                f"{self.seconds:g} s (simplify it, or split it into smaller parts)", None) from None
        if exc_type in (RecursionError, MemoryError):
            raise ExpressionError(f"this formula is too deeply nested or too large: {g.what} "
                                  f"ran out of {'stack' if exc_type is RecursionError else 'memory'}",
                                  None) from None
        return False


def _deactivate(g: Guard) -> None:
    with _lock:
        g.active = False
        if g.fired:  # a pending, undelivered exception must not hit later code
            _raise_in(g.thread_id, None)
        _wake.set()


def current_guard() -> Guard | None:
    return getattr(_local, "guard", None)


def stage(what: str) -> None:
    """Name the work now running under the current budget (for the refusal message)."""
    g = current_guard()
    if g is not None:
        g.what = what
