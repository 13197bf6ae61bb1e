"""One worker thread for a panel's long computations (basins, sweeps, training).

A new run of a job cancels the running one of the same name; results of cancelled or
superseded runs are dropped; exceptions come back as results, never raised into Qt.
The work function gets a ``threading.Event`` to poll (``cancel.is_set`` fits the core's
``cancel()`` callbacks) and may raise ``core.cancel.Cancelled`` to stop quietly.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from PySide6 import QtCore

from landscape_gui.core.cancel import Cancelled

_collector = None


def collect_garbage_in_gui_thread() -> None:
    """Cyclic garbage collection only in the GUI thread, on a timer (pyqtgraph's GarbageCollector).

    Python's collector runs in whichever thread happens to allocate when a threshold is passed.
    When that was a worker thread (the formula's symbolic work allocates a great deal) and the
    garbage held a Qt object (a closed dialog, a removed card), PySide deleted it from that
    thread: the window deadlocked on a Qt mutex (seen as a hang), or crashed in the collector.
    Called once; later calls do nothing."""
    global _collector
    if _collector is None and QtCore.QCoreApplication.instance() is not None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=0.5)


class BackgroundJobs(QtCore.QObject):
    finished = QtCore.Signal(str, object, float)   # job, result (or the exception), milliseconds
    busyChanged = QtCore.Signal(str, bool)         # job, running
    _done = QtCore.Signal(object)                  # worker thread -> UI thread

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        collect_garbage_in_gui_thread()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._generation: dict[str, int] = {}
        self._cancel: dict[str, threading.Event] = {}
        self.running: set[str] = set()
        self._done.connect(self._deliver)

    def submit(self, job: str, fn) -> None:
        """Run ``fn(cancel_event)`` in the worker; ``finished`` carries its result."""
        self._stop(job)
        cancel = self._cancel[job] = threading.Event()
        gen = self._generation[job]
        self.running.add(job)
        self.busyChanged.emit(job, True)

        def work():
            t0 = time.perf_counter()
            try:
                result = fn(cancel)
            except Cancelled:
                return
            except Exception as exc:
                result = exc
            self._done.emit((job, gen, result, (time.perf_counter() - t0) * 1e3))

        self._executor.submit(work)

    def cancel(self, job: str) -> bool:
        """Stop ``job``; True if it was running (its result will be dropped)."""
        self._stop(job)
        if job in self.running:
            self.running.discard(job)
            self.busyChanged.emit(job, False)
            return True
        return False

    def _stop(self, job: str) -> None:
        if job in self._cancel:
            self._cancel[job].set()   # the running computation stops at its next check
        self._generation[job] = self._generation.get(job, 0) + 1

    def _deliver(self, payload) -> None:
        job, gen, result, ms = payload
        if gen != self._generation.get(job):
            return  # cancelled or superseded
        self.running.discard(job)
        self.busyChanged.emit(job, False)
        self.finished.emit(job, result, ms)

    def shutdown(self) -> None:
        for ev in self._cancel.values():
            ev.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
