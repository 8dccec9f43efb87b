"""Death watch and links: who learns of an actor's stop for good, and how.

Theory of operation
-------------------
Bonds belong to the cell, not to the instance: they survive restarts on
either side and fire only when an actor stops for good. A cell makes its
``Bonds`` on first use (most actors have none).

- *Watching* goes through the watched ref's endpoint (``Endpoint.watch``), so
  that a local cell, a pool and a remote node are watched the same way. The
  watched side keeps its watchers; the watcher keeps the refs it watches (to
  withdraw itself when it stops first). When the watched actor stops, each
  watcher is told once, with ``Watcher.terminated(ref, reason)``.
- *Links* tie two local cells both ways. When one stops for good, the other
  gets ``Exited`` if it traps exits, else, if the stop was a failure, fails
  with ``LinkedActorFailed`` (a ``LINK_FAILED`` command, which the lifecycle
  table may defer to the next instance). Links across nodes are refused.

Everything here is synchronous and runs in the runtime's thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from trouper.actors import ActorRef, Watcher

if TYPE_CHECKING:
    from trouper.runtime._cell import Cell

__all__ = ["Bonds"]

log = logging.getLogger("trouper")


class Bonds:
    """The watchers of one actor, the refs it watches, and the cells it is linked to."""

    __slots__ = ("links", "watchers", "watching")

    def __init__(self) -> None:
        self.watchers: dict[Watcher, None] = {}
        # Who is told when this actor stops for good; each once (insertion order).
        self.watching: dict[ActorRef[object], None] = {}
        # The refs this actor watches; unwatched through their endpoints when it stops.
        self.links: dict[Cell, None] = {}
        # Local cells linked to this one; the link is recorded on both sides.

    def release(self, cell: Cell, reason: BaseException | None) -> None:
        """``cell`` stopped for good: tell its watchers and links, withdraw its own watches.

        A watched ref's endpoint or a watcher (a layer's: a remote node's) that
        raises is logged and passed over: the others are still told, and the
        stop, which is finalizing, goes on.
        """
        for ref in self.watching:
            try:
                ref.endpoint.unwatch(cell)
            except Exception:
                log.exception("%s: unwatching %r raised (ignored)", cell.address.path, ref)
        for watcher in self.watchers:
            try:
                watcher.terminated(cell.ref, reason)
            except Exception:
                log.exception(
                    "%s: telling watcher %r of the stop raised (ignored)",
                    cell.address.path,
                    watcher,
                )
        for linked in self.links:
            linked.bonds.links.pop(cell, None)
            linked.linked_stopped(cell, reason)
        self.watchers.clear()
        self.watching.clear()
        self.links.clear()
