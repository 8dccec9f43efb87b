"""A delivery given back unhandled (its actor restarted mid-handler) carries nothing of that run."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from durable_support import CODEC, Charge, Taker, make_store, serving, sqlite

import trouper
from trouper.durable import Durable, DurableQueue
from trouper.runtime.lowlevel import MailboxEnding
from trouper.supervision import OneForAll


async def test_a_returned_delivery_drops_the_sends_of_its_interrupted_run(tmp_path: Path) -> None:
    """Sends staged before a delivery was returned are not committed by its next run's ack."""
    async with make_store(tmp_path / "s.db") as store:
        sink = DurableQueue(store, "sink", CODEC)
        async with serving(store) as queue, trio.open_nursery() as nursery:
            await nursery.start(sink.serve)
            assert await queue.put("job")
            taker = Taker()
            first = await taker.take(queue)
            first.send(sink, "from the interrupted run")
            queue.settle(first, MailboxEnding.RETURNED, None)
            again = await taker.take(queue)
            again.send(sink, "from the run that returned")
            queue.settle(again, MailboxEnding.HANDLED, None)
            await store.flush()
            sink.close()
            await sink.aclose()
        (box,) = [m for m in await store.mailbox_statistics() if m.name == "sink"]
    assert box.depth == 1


class Sink(trouper.Actor):
    """Records what it is told."""

    def __init__(self, got: list[str]) -> None:
        self.got = got

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.got.append(message.order_id)


class Forwarder(trouper.Actor):
    """Tells the sink, then waits for ``gate`` (a restart may interrupt it there)."""

    def __init__(self, sink: trouper.ActorRef[object], gate: trio.Event) -> None:
        self.sink = sink
        self.gate = gate

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.sink.tell(message)
        await self.gate.wait()


class Bomb(trouper.Actor):
    """Fails on every message (its OneForAll supervisor restarts its siblings too)."""

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        raise ValueError("boom")


async def test_a_send_of_a_handler_interrupted_by_a_restart_is_committed_once(
    tmp_path: Path,
) -> None:
    """A handler restarted mid-run and run again sends its message once, not once per run."""
    got: list[str] = []
    gate = trio.Event()
    async with trouper.open_runtime(
        store=sqlite(tmp_path / "s.db"), root_strategy=OneForAll()
    ) as rt:
        sink = await rt.spawn(Sink, got, name="sink", mailbox=Durable())
        forwarder = await rt.spawn(Forwarder, sink, gate, name="forwarder", mailbox=Durable())
        bomb = await rt.spawn(Bomb, name="bomb")
        await forwarder.tell(Charge("o-1", 1))
        await trio.testing.wait_all_tasks_blocked()
        await bomb.tell(Charge("x", 0))  # OneForAll: the forwarder restarts...
        await trio.sleep(100)  # ...cancelled mid-handler once its stop deadline passed
        gate.set()
        await trio.sleep(1)
    assert got == ["o-1"]
