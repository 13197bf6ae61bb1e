"""``with signals_blocked(a, b): ...`` — set widgets from data without their change signals
firing (which would write the same values back as edits). Exception-safe, and it restores
each widget's previous state, so nested uses compose."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def signals_blocked(*widgets):
    flat = []
    for w in widgets:
        flat.extend(w if isinstance(w, (list, tuple)) else [w])
    was = [w.blockSignals(True) for w in flat]
    try:
        yield
    finally:
        for w, before in zip(flat, was):
            w.blockSignals(before)
