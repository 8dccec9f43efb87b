"""Asks in flight: the envelope an ask travels in, and how its reply finds the asker.

Theory of operation
-------------------
``ask`` puts an ``Ask`` in the target's mailbox and parks the asking task on
it. The cell that takes it runs the handler and ``settle``s the envelope with
the handler's outcome: the asker is rescheduled with it (or, for an ask made
with ``on_reply``, the callback is called with it, synchronously, in the
runtime's thread: a bridge or a remote node needs no task per ask).

A reply callback that raises is logged and the reply is lost: the cell
calling it (while serving, or finalizing) goes on.

Cancellation: an asker cancelled before the reply is *abandoned*; a cell that
meets an abandoned ask in its mailbox skips it (the ask is withdrawn), and a
reply to an abandoned ask that was already taken is discarded. Nothing is
left waiting either way.

Ask cycles: an actor whose handler awaits an ask cannot take another message
until the reply comes, so a chain of asks that comes back to an actor already
waiting in it can never finish. Each cell records the cell its handler is
asking (``asking``, set only while the handler's own task waits; a
broadcast ask waits on several cells at once, the others in ``asking_also``),
and ``check_cycle`` follows those chains from the target before a new ask is queued:
if it reaches the asker, the ask fails at once with ``AskCycle`` naming the
actors in order, instead of hanging both. A handler waiting for the
start, stop or restart of another actor (``spawn``, ``rt.stop``) is,
likewise, ``asking`` that actor meanwhile (``Cell.waited_on``): an ask back
to it from that actor's hooks is a cycle too. A wait that closes a cycle is
not marked (the chain stays acyclic); the first of the two actors whose stop
or restart comes while its handler is in the cycle is cut off instead (its
asker gets ``ActorStopped``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import outcome
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from trouper.errors import AskCycle

if TYPE_CHECKING:
    from trouper.runtime._cell import Cell

__all__ = ["Ask", "ReplyCallback", "ask_chain", "check_cycle"]

log = logging.getLogger("trouper")

ReplyCallback = Callable[["outcome.Outcome[object]"], None]
"""What an ask made without a task (``ask_soon``) calls with its reply, once."""


class Ask:
    """An ask in flight: the message, and how its reply reaches the asker."""

    __slots__ = ("abandoned", "asker", "contexts", "message", "on_reply", "result", "task")

    def __init__(self, message: object, on_reply: ReplyCallback | None = None) -> None:
        self.message = message
        # The message asked; never changes.
        self.task: Task | None = None
        # The asker's task while it waits for the reply, else None.
        self.result: outcome.Outcome[object] | None = None
        # The reply, if it came before the asker parked (else None).
        self.abandoned = False
        # The asker gave up (cancelled, or withdrew the callback): skip it, drop its reply.
        self.on_reply = on_reply
        # Called with the reply instead of waking a task (asks made without a task).
        self.contexts: dict[object, object] | None = None
        # What instruments carry with the ask (``Instrument.message_sent``), by instrument.
        self.asker: Cell | None = None
        # The actor whose handler waits on this ask (its ``asking`` names the cell the
        # ask was put to: a layer that moves the ask to another cell moves that too).

    def settle(self, result: outcome.Outcome[object]) -> None:
        """Deliver the reply (or error) to the asker, now or when it parks. Idempotent."""
        if self.abandoned:
            return
        self.asker = None  # answered: nobody waits on it any more
        on_reply = self.on_reply
        if on_reply is not None:
            self.abandoned = True  # one reply only
            try:
                on_reply(result)
            except Exception:
                # Called by the cell that answers (in its serving loop, or while it
                # finalizes): its receiver's error must not take the actor down.
                log.exception(
                    "a reply callback raised (the reply to a %s is lost)",
                    type(self.message).__name__,
                )
            return
        task = self.task
        if task is not None:
            self.task = None
            self.abandoned = True
            reschedule(task, result)
        elif self.result is None:
            self.result = result

    def abandon(self) -> None:
        """Withdraw the ask: a cell that meets it skips it, a late reply is dropped."""
        self.abandoned = True
        self.task = None
        self.asker = None

    def _abort(self, _: object) -> Abort:
        self.abandon()
        return Abort.SUCCEEDED

    async def wait(self) -> object:
        """Wait for the reply; if cancelled first, the ask is abandoned."""
        result = self.result
        if result is None:
            self.task = current_task()
            return await wait_task_rescheduled(self._abort)
        self.abandoned = True
        return result.unwrap()


def ask_chain(start: Cell, end: Cell) -> list[Cell] | None:
    """The chain of asks from ``start`` to ``end`` (both included), or ``None`` if there is none.

    The chain followed is ``start``, a cell ``start``'s handler is asking
    (``asking``, or one of ``asking_also`` while it waits on several at once,
    as a broadcast ask does), and so on: the first such chain, trying
    ``asking`` before ``asking_also``. The graph never loops
    (``check_cycle`` keeps it so); a cell seen twice is followed once.
    """
    if start.asking is None:  # the common case: no walk
        return [start] if start is end else None
    chain: list[Cell] = []
    # Depth-first: each entry is a cell on the chain and the cells it still may lead to.
    stack: list[tuple[Cell, list[Cell]]] = []
    seen: set[int] = set()
    cell = start
    while True:
        if id(cell) not in seen:
            seen.add(id(cell))
            chain.append(cell)
            if cell is end:
                return chain
            nexts = [] if cell.asking is None else [cell.asking, *cell.asking_also]
            nexts.reverse()
            stack.append((cell, nexts))
        while stack and not stack[-1][1]:
            stack.pop()
            chain.pop()
        if not stack:
            return None
        cell = stack[-1][1].pop()


def check_cycle(asker: Cell, target: Cell) -> None:
    """Raise ``AskCycle`` if ``asker`` asking ``target`` would close a cycle of asks.

    ``asker`` is the cell whose handler makes the ask; the chain followed is
    ``target``, the cell ``target``'s handler is asking, and so on.
    """
    chain = ask_chain(target, asker)
    if chain is not None:
        raise AskCycle(tuple(c.address.path for c in (asker, *chain)))
