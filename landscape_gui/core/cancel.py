"""One way to stop a long computation: callers pass ``cancel() -> bool``; the work calls
``check(cancel)`` between chunks and unwinds with :class:`Cancelled`."""


class Cancelled(Exception):
    """Raised inside a computation whose ``cancel()`` callback returned True."""


def check(cancel, what: str = "cancelled") -> None:
    if cancel is not None and cancel():
        raise Cancelled(what)
