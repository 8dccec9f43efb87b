"""Review: a JetStream store that failed or lost its connection for good, and its durable actors."""

from __future__ import annotations

import pytest
import trio
from js_support import Job, Sink, eventually

import trouper
from trouper.durable import Durable, GiveUp, JetStreamStore, Retry
from trouper.errors import StoreFailed
from trouper.nats import Status, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def client_store(client: trouper.nats.Client, prefix: str) -> JetStreamStore:
    """A store on the caller's ``client``, with test-sized timings."""
    return JetStreamStore(
        client=client, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
    )


async def test_a_runtime_whose_client_closed_under_its_store_ends_cleanly(
    own_js_server: NatsServer, prefix: str
) -> None:
    """The server gone and the caller's client closed: leaving the runtime closes the store.

    The store's last flush found the connection closed and raised out of
    ``aclose`` before its nursery was left: Trio's nursery stack was corrupted.
    """
    async with (
        connect(own_js_server.url, allow_reconnect=False) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        await rt.spawn(Sink, [], name="sink", mailbox=Durable())
        await own_js_server.astop()
        await eventually(lambda: client.status is Status.CLOSED)


class DecidesOnceClosed(trouper.Actor):
    """Counts its starts; a job waits until ``closed`` is set, then raises ``decision``."""

    def __init__(
        self, entered: trio.Event, closed: trio.Event, starts: list[int], decision: Exception
    ) -> None:
        self.entered = entered
        self.closed = closed
        self.starts = starts
        self.decision = decision

    async def on_start(self) -> None:
        self.starts.append(len(self.starts) + 1)

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.entered.set()
        await self.closed.wait()
        raise self.decision


@pytest.mark.parametrize("decision", [Retry(after=1.0), GiveUp("no")], ids=["retry", "give-up"])
async def test_a_decision_once_the_connection_closed_is_no_failure_and_its_ask_is_answered(
    own_js_server: NatsServer, prefix: str, decision: Exception
) -> None:
    """Nothing can be recorded, yet ``Retry`` and ``GiveUp`` are not failures of the actor.

    They were charged to the actor: its supervisor restarted it against a
    store that takes nothing more. An ask waiting for the message gets the
    store's failure (no redelivery will answer it).
    """
    entered, closed = trio.Event(), trio.Event()
    starts: list[int] = []
    failures: list[trouper.ActorEvent] = []
    replies: list[BaseException] = []
    async with (
        connect(own_js_server.url, allow_reconnect=False) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
        trio.open_nursery() as nursery,
    ):
        rt.events.listen(failures.append, kinds=[trouper.EventKind.FAILED])
        ref = await rt.spawn(
            DecidesOnceClosed, entered, closed, starts, decision, name="r", mailbox=Durable()
        )

        async def ask() -> None:
            try:
                await ref.ask(Job(1))
            except Exception as error:
                replies.append(error)

        nursery.start_soon(ask)
        await entered.wait()
        await own_js_server.astop()
        await eventually(lambda: client.status is Status.CLOSED)
        closed.set()
        await eventually(lambda: replies, seconds=5.0)
    assert starts == [1]
    assert failures == []
    (reply,) = replies
    assert isinstance(reply, (StoreFailed, trio.ClosedResourceError)), reply
