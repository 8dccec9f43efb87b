"""Review: a JetStream delivery taken before its mailbox closed settles its message, nothing else.

A delivery of an older generation (taken before ``close``, settled after the
``reopen``) must not touch what the current generation holds in memory: the
actor's state and the state last saved, which the current generation's
failures roll back to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import outcome
import pytest
import trio
from js_support import Job, Taker, store_for

import trouper
from trouper.actors import Address
from trouper.codec import Codec
from trouper.durable import Delivery, Durable, GiveUp, JetStreamStore, Retry, ServedQueue
from trouper.errors import ActorStopped, HandlerError
from trouper.runtime.lowlevel import Ask, MailboxEnding
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


@asynccontextmanager
async def serving(store: JetStreamStore, name: str = "box") -> AsyncIterator[ServedQueue]:
    """A queue on ``store``, served until the block ends, then closed."""
    queue = ServedQueue(store, name, Codec(), Durable())
    async with trio.open_nursery() as nursery:
        await nursery.start(queue.serve)
        try:
            yield queue
        finally:
            queue.close()
            await queue.aclose()


async def test_a_stale_delivery_that_saved_the_mailbox_state_is_handled_again(
    js_server: NatsServer, prefix: str
) -> None:
    """The mailbox's state is the current generation's: a stale save of it is not stored.

    It was stored, and became the state the queue answers ``load_state``
    with, and the message was acked: as on SQLite, the message is handed to
    the current generation instead (uncharged), to run against its state.
    """
    async with store_for(js_server.url, prefix) as store, serving(store) as queue:
        assert queue.put_nowait(Job(1))
        await store.flush()
        stale = await Taker().take(queue)
        stale.save_state(b"stale")
        queue.close()
        queue.reopen()
        queue.settle(stale, MailboxEnding.HANDLED, None)
        await store.flush()
        assert await store.load_state("box") is None
        assert await queue.load_state() is None
        again = await Taker().take(queue)
        assert (again.id, again.attempt, again.message) == (stale.id, 1, Job(1))
        queue.settle(again, MailboxEnding.HANDLED, None)
        await store.flush()


@attrs.define
class Tally:
    """A durable actor's state."""

    total: int = 0


class Counter(trouper.Actor):
    """Adds each job's ``n`` to its durable state."""

    state: Tally

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.state.total += message.n


@attrs.define(eq=False)
class StandInCell:
    """What a durable actor's mailbox needs of the cell that consumes it."""

    address: Address
    instance: Counter | None
    owns_mailbox: bool = True
    stopped: bool = False


@pytest.mark.parametrize(
    ("ending", "error"),
    [
        (MailboxEnding.HANDLED, None),
        (MailboxEnding.FAILED, ValueError("boom")),
        (MailboxEnding.FAILED, Retry(after=0.0)),
        (MailboxEnding.FAILED, GiveUp("no")),
        (MailboxEnding.RETURNED, None),
    ],
    ids=["handled", "error", "retry", "give-up", "returned"],
)
async def test_a_stale_delivery_leaves_the_current_actor_state_alone(
    js_server: NatsServer, prefix: str, ending: MailboxEnding, error: BaseException | None
) -> None:
    """Settled while the next instance's handler has changed its state: that change stays.

    A failed one rolled the current instance's state back to the last saved
    one; a handled one saved the current instance's half-done state.
    """
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        mailbox = Durable().open_mailbox(rt, "counter", 0)
        assert isinstance(mailbox, ServedQueue)
        first = Counter()
        cell = StandInCell(Address("local", "/counter"), first)
        mailbox.attach(cell)  # type: ignore[arg-type]
        await mailbox.prepare(first)
        assert mailbox.put_nowait(Job(1))
        await rt.store.flush()
        stale = await Taker().take(mailbox)
        first.state.total += 1  # its handler ran
        mailbox.close()
        mailbox.reopen()
        second = Counter()
        cell.instance = second
        await mailbox.prepare(second)
        second.state.total = 5  # the current generation's handler, halfway
        mailbox.settle(stale, ending, error)
        await rt.store.flush()
        assert second.state == Tally(5)
        assert await rt.store.load_state("counter") is None
        cell.stopped = True
        mailbox.close()
    assert isinstance(stale, Delivery)


@pytest.mark.parametrize(
    ("ending", "error", "answer"),
    [
        (MailboxEnding.HANDLED, None, None),
        (MailboxEnding.FAILED, Retry(after=0.0), ActorStopped),
        (MailboxEnding.FAILED, GiveUp("no"), HandlerError),
    ],
    ids=["handled", "retry", "give-up"],
)
async def test_an_ask_whose_message_is_being_handled_is_left_to_its_handler_at_close(
    js_server: NatsServer,
    prefix: str,
    ending: MailboxEnding,
    error: BaseException | None,
    answer: type[BaseException] | None,
) -> None:
    """As on SQLite, the close fails only asks whose message no handler holds.

    It failed every ask waiting in this process with ``ActorStopped``, that
    of the message being handled too, whose handler may yet succeed and
    answer. A stale ``Retry`` answers it ``ActorStopped`` (its redelivery
    goes to the reopened queue, which does not know the ask).
    """
    replies: list[outcome.Outcome[object]] = []
    async with store_for(js_server.url, prefix) as store, serving(store) as queue:
        queue.attach(StandInCell(Address("local", "/box"), None))  # type: ignore[arg-type]
        assert queue.put_nowait(Ask(Job(1), replies.append))
        await store.flush()
        taken = await Taker().take(queue)
        queue.close()
        assert replies == []
        queue.reopen()
        queue.settle(taken, ending, error)
        if answer is None:
            assert replies == []  # the cell answers it with the handler's result
        else:
            (reply,) = replies
            with pytest.raises(answer):
                reply.unwrap()
