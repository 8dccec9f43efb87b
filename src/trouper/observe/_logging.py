"""Logging: the actor's path on every record, for structured log handlers.

Theory of operation
-------------------
Every actor runs as one Trio task for its whole life (handlers, ``on_start``,
``on_stop``), which the engine names ``"trouper <path>"``. So the actor a log
call comes from is the current task's, read when the record is made, and
nothing is done per message: ``current_actor`` reads the task's name, and
``ActorLogFilter`` puts it on the record as ``record.actor``, as
``extra={"actor": path}`` would. A record that already carries an ``actor``
(the runtime's own records about another actor) keeps it.
"""

from __future__ import annotations

import logging

import trio

__all__ = ["ActorLogFilter", "current_actor"]

_PREFIX = "trouper /"
"""How the engine names an actor's task: ``"trouper "`` and the actor's path."""


def current_actor() -> str | None:
    """Return the path of the actor whose task is running, or ``None`` outside any actor.

    Works in handlers and lifecycle hooks (everything an actor's task runs);
    ``None`` in plain Trio tasks, in other threads and outside Trio.
    """
    try:
        name = trio.lowlevel.current_task().name
    except RuntimeError:  # not in Trio
        return None
    if name.startswith(_PREFIX):
        return name[len(_PREFIX) - 1 :]
    return None


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
