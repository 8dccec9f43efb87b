"""Logging: the actor's path on every record, for structured log handlers.

Theory of operation
-------------------
The engine marks every task an actor runs (its cell's task, and the tasks
it starts: timers, a handler's own nursery) with the actor's cell
(``trouper.runtime.lowlevel.current_cell``, a context variable set once per
task). So the actor a log call comes from is read when the record is made,
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

    Works in handlers, lifecycle hooks, timers and tasks a handler starts;
    ``None`` in plain Trio tasks, in other threads and outside Trio.
    """
    cell = current_cell()
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
