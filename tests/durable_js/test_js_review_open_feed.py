"""Review: a mailbox whose consumer cannot be made fails the runtime with ``StoreFailed``."""

from __future__ import annotations

import pytest
import trio
from js_support import Job, Sink, eventually, store_for

import trouper
from trouper.durable import Durable, JetStreamStore, durable_ref
from trouper.errors import StartFailed, StoreFailed
from trouper.nats import ConsumerConfig
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

UNOPENED = r"^store '.+' failed: the durable mailbox 'jobs' could not be opened: .+"


async def squat(store: JetStreamStore) -> None:
    """Make another unfiltered consumer on the mailbox's work-queue stream: it allows one."""
    await store.client.jetstream().add_consumer(
        store.stream_name("jobs"), ConsumerConfig(durable_name="squatter")
    )


class Stops(trouper.Actor):
    """Records its ``on_stop``: the runtime stopped it in order."""

    def __init__(self, stopped: list[str]) -> None:
        self.stopped = stopped

    async def on_stop(self) -> None:
        self.stopped.append("stopped")


async def test_a_consumer_that_cannot_be_made_at_spawn_fails_the_runtime(
    js_server: NatsServer, prefix: str
) -> None:
    """The server refuses the mailbox's consumer: the runtime fails with ``StoreFailed``.

    Guarantee 4: a store failure fails the runtime (a work-queue stream takes
    one unfiltered consumer, and another has taken it).

    Its spawn fails with the store's failure as its cause, or is cancelled
    by the failing runtime. The server's error left the serving task raw:
    the spawn failed with it, and the runtime ran on.
    """
    store = store_for(js_server.url, prefix)
    causes: list[BaseException | None] = []

    async def run() -> None:
        async with trouper.open_runtime(store=store) as rt:
            await durable_ref(rt, "jobs").tell(Job(1))  # makes the stream
            await squat(store)
            try:
                await rt.spawn(Sink, [], name="jobs", mailbox=Durable())
            except StartFailed as error:  # unless the failing runtime cancelled the spawn
                causes.append(error.__cause__)
            await trio.sleep(10)  # the runtime failed, which ends the block

    with pytest.raises(StoreFailed, match=UNOPENED):
        await run()
    assert all(type(cause) is StoreFailed for cause in causes)


async def test_a_consumer_that_cannot_be_made_again_fails_the_runtime_in_order(
    js_server: NatsServer, prefix: str
) -> None:
    """The consumer was deleted, another took its place: reopening the feed fails the runtime.

    It fails as by any store failure: its actors are stopped, their
    ``on_stop`` run. The server's error left the serving task raw into the
    runtime's nursery, which cancelled every actor without its ``on_stop``.
    """
    store = store_for(js_server.url, prefix)
    stopped: list[str] = []

    async def run() -> None:
        async with trouper.open_runtime(store=store) as rt:
            await rt.spawn(Stops, stopped, name="bystander")
            await rt.spawn(Sink, [], name="jobs", mailbox=Durable())
            js = store.client.jetstream()
            stream = store.stream_name("jobs")

            async def polling() -> bool:
                return (await js.consumer_info(stream, "trouper")).num_waiting > 0

            await eventually(polling)  # its deletion ends a poll, which ends the feed
            await js.delete_consumer(stream, "trouper")
            await squat(store)  # before the feed is opened again (1 s later)
            await trio.sleep(10)  # the runtime fails meanwhile, which ends the block

    with pytest.raises(StoreFailed, match=UNOPENED):
        await run()
    assert stopped == ["stopped"]
