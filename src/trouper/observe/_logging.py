"""Logging: the actor's path on every record, for structured log handlers.

Theory of operation
-------------------
The engine knows which actor each of its tasks acts for (the actor's own
task, and its timers'): ``trouper.runtime.lowlevel.current_cell``. So the
actor a log call comes from is read when the record is made,
and nothing is done per message: ``ActorLogFilter`` puts its path on the
record as ``record.actor``, as ``extra={"actor": path}`` would. A record
that already carries an ``actor`` keeps it.
"""

from __future__ import annotations

import logging

from trouper.runtime.lowlevel import current_cell

__all__ = ["ActorLogFilter", "current_actor"]


def current_actor() -> str | None:
    """Return the path of the actor whose task is running, or ``None`` outside any actor.

    Works in handlers, lifecycle hooks and timers; ``None`` in other tasks
    (including tasks a handler starts itself), in other threads and outside Trio.
    """
    try:
        cell = current_cell()
    except RuntimeError:  # no Trio run in this thread
        return None
    return None if cell is None else cell.address.path


class ActorLogFilter(logging.Filter):
    """Adds ``record.actor``: the path of the actor that logged, or ``None``.

    Attach it to a handler (``handler.addFilter(ActorLogFilter())``) so that
    records of every logger get it, then use ``%(actor)s`` in a format or
    read ``record.actor`` in a structured handler. It never drops a record.
    A record logged with ``extra={"actor": ...}`` keeps its own value.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set ``record.actor`` unless the record has one; always keep the record."""
        if not hasattr(record, "actor"):
            record.actor = current_actor()
        return True
