"""Review 26: a ``Retry`` or ``GiveUp`` raised from a nursery is still the handler's decision.

Trio wraps what a nursery's tasks (and its body) raise in an exception group,
so a handler doing its work in a nursery raised ``Retry`` as
``ExceptionGroup([Retry(...)])``: read as an ordinary error, the message
counted a failure (backoff, ``max_deliveries``, then dead-lettered), the actor
was restarted and an asker got ``HandlerError``, instead of the redelivery
asked for. A group holding one such decision (however nested) is that decision;
a group of several exceptions stays a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Delivery, Durable, GiveUp, Retry
from trouper.errors import HandlerError
from trouper.runtime import EventKind


async def _raise(error: BaseException) -> None:
    raise error


class InNursery(trouper.Actor):
    """Works in a nursery: a task of it raises ``Retry`` on the first delivery, or ``GiveUp``."""

    def __init__(self, attempts: list[tuple[int, float]]) -> None:
        self.attempts = attempts

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.attempts.append((delivery.attempt, trio.current_time()))
        async with trio.open_nursery() as nursery:
            if message.total < 0:
                nursery.start_soon(_raise, GiveUp("negative total"))
            elif delivery.attempt == 1:
                nursery.start_soon(_raise, Retry(after=5))
            elif message.order_id == "two" and delivery.attempt == 2:
                nursery.start_soon(_raise, Retry(after=5))
                nursery.start_soon(_raise, ValueError("and an error"))
        return delivery.attempt


async def test_a_retry_raised_in_a_nursery_redelivers_and_is_no_failure(tmp_path: Path) -> None:
    """Redelivered after exactly its delay, to the asker waiting; the actor is not restarted."""
    attempts: list[tuple[int, float]] = []
    failures: list[object] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.events.listen(failures.append, kinds=[EventKind.FAILED, EventKind.RESTARTED])
        ref = await rt.spawn(InNursery, attempts, name="n", mailbox=Durable(max_deliveries=1))
        assert await ref.ask(Charge("a", 1)) == 2
        dead = [d async for d in rt.store.dead_letters()]
    assert (attempts, failures, dead) == ([(1, 0.0), (2, 5.0)], [], [])


async def test_a_give_up_raised_in_a_nursery_dead_letters_at_once(tmp_path: Path) -> None:
    """Dead with its reason on the first delivery; the asker gets ``HandlerError``; no failure."""
    failures: list[object] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.events.listen(failures.append, kinds=[EventKind.FAILED, EventKind.RESTARTED])
        ref = await rt.spawn(InNursery, [], name="n", mailbox=Durable())
        with pytest.raises(HandlerError, match=r"gave up: negative total"):
            await ref.ask(Charge("a", -1))
        await rt.store.flush()  # the burial commits after the asker's answer
        (dead,) = [d async for d in rt.store.dead_letters()]
    assert (dead.reason, dead.attempts, failures) == ("gave up: negative total", 1, [])


async def test_a_group_of_a_retry_and_an_error_is_a_failure(tmp_path: Path) -> None:
    """With an error beside it, the ``Retry`` is not the whole outcome: the delivery failed."""
    attempts: list[tuple[int, float]] = []
    failures: list[object] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.events.listen(failures.append, kinds=[EventKind.FAILED])
        options = Durable(max_deliveries=1)
        ref = await rt.spawn(InNursery, attempts, name="n", mailbox=options)
        with pytest.raises(HandlerError):
            await ref.ask(Charge("two", 1))
        await rt.store.flush()  # the burial commits after the asker's answer
        (dead,) = [d async for d in rt.store.dead_letters()]
    assert (attempts, len(failures)) == ([(1, 0.0), (2, 5.0)], 1)
    assert dead.reason.endswith("(max_deliveries 1 reached)")
