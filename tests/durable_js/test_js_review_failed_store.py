"""Review: a JetStream store that failed or lost its connection for good, and its durable actors."""

from __future__ import annotations

import pytest
import trio
from js_support import Job, Sink, eventually

import trouper
from trouper.durable import Durable, GiveUp, JetStreamStore, Retry, durable_ref
from trouper.errors import StoreFailed
from trouper.nats import Status, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

CLOSED = r"the connection closed: the client is closed"


def client_store(client: trouper.nats.Client, prefix: str, ack_wait: float = 2.0) -> JetStreamStore:
    """A store on the caller's ``client``, with test-sized timings."""
    return JetStreamStore(
        client=client, prefix=prefix, ack_wait=ack_wait, poll_expires=2.0, heartbeat=0.5
    )


def store_failed() -> pytest.RaisesGroup[StoreFailed]:
    """The runtime's ``StoreFailed`` for a closed client, through the nurseries around it."""
    return pytest.RaisesGroup(pytest.RaisesExc(StoreFailed, match=CLOSED), flatten_subgroups=True)


async def test_a_runtime_whose_client_closed_under_its_store_ends_cleanly(
    own_js_server: NatsServer, prefix: str
) -> None:
    """The caller's client closed, seen by nothing yet: leaving the runtime closes the store.

    The store's last flush found the connection closed and raised out of
    ``aclose`` before its nursery was left: Trio's nursery stack was corrupted.
    (No durable actor is hosted, and the store looks at its client only every
    ``ack_wait / 4``: nothing fails the runtime before it is left.)
    """
    async with (
        connect(own_js_server.url, allow_reconnect=False) as client,
        trouper.open_runtime(store=client_store(client, prefix, ack_wait=60.0)) as rt,
    ):
        await durable_ref(rt, "jobs").tell(Job(1))
        await own_js_server.astop()
        await eventually(lambda: client.status is Status.CLOSED)


async def test_a_store_whose_client_closed_for_good_fails_the_runtime(
    own_js_server: NatsServer, prefix: str
) -> None:
    """No write can be made any more: the runtime fails with ``StoreFailed`` (guarantee 4).

    Unless a publish was on its way when the client closed, nothing said so:
    the runtime ran on with its durable mailboxes served by nothing.
    """
    with store_failed():
        async with (
            connect(own_js_server.url, allow_reconnect=False) as client,
            trouper.open_runtime(store=client_store(client, prefix)) as rt,
        ):
            await rt.spawn(Sink, [], name="sink", mailbox=Durable())
            await own_js_server.astop()
            await trio.sleep(10)  # the runtime fails meanwhile, which ends the block


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
async def test_a_decision_once_the_store_failed_is_no_failure_and_its_ask_gets_the_failure(
    own_js_server: NatsServer, prefix: str, decision: Exception
) -> None:
    """Nothing can be recorded, yet ``Retry`` and ``GiveUp`` are not failures of the actor.

    They were charged to the actor: its supervisor restarted it against a
    store that takes nothing more (its asker got ``HandlerError``). An ask
    waiting for the message gets the store's failure: no redelivery will
    answer it.
    """
    entered, closed = trio.Event(), trio.Event()
    starts: list[int] = []
    failures: list[trouper.ActorEvent] = []
    replies: list[BaseException] = []

    async def ask(ref: trouper.ActorRef[object]) -> None:
        try:
            await ref.ask(Job(1))
        except Exception as error:
            replies.append(error)

    with store_failed():
        async with (
            trio.open_nursery() as outside,  # the asker outlives the runtime's block
            connect(own_js_server.url, allow_reconnect=False) as client,
            trouper.open_runtime(store=client_store(client, prefix)) as rt,
        ):
            rt.events.listen(failures.append, kinds=[trouper.EventKind.FAILED])
            ref = await rt.spawn(
                DecidesOnceClosed,
                entered,
                closed,
                starts,
                decision,
                name="r",
                mailbox=Durable(),
            )
            outside.start_soon(ask, ref)
            await entered.wait()
            try:
                await own_js_server.astop()
                await trio.sleep(10)  # the runtime fails meanwhile, which ends the block
            finally:
                closed.set()  # the handler decides while the runtime stops
    assert starts == [1]
    assert failures == []
    (reply,) = replies
    with pytest.raises(StoreFailed, match=CLOSED):
        raise reply
