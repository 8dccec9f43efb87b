"""A durable handler's sends and state commit with its ack; in-memory sends wait for the commit."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from durable_support import Charge, Ledger, Place, sqlite

import trouper
from trouper.durable import Delivery, Durable, SqliteStore, durable_ref


class Sink(trouper.Actor):
    """Records what it gets, with the store's commit count at that moment."""

    def __init__(self, got: list[tuple[object, int]], store: SqliteStore) -> None:
        self.got = got
        self.store = store

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.got.append((message, self.store.statistics().commits))


class Forward(trouper.Actor):
    """Sends a Charge for each Place, keeps a count in its state, then fails if told to."""

    state: Ledger

    def __init__(self, target: trouper.ActorRef[object], gate: trio.Event | None = None) -> None:
        self.target = target
        self.gate = gate

    @trouper.handler
    async def place(self, message: Place) -> None:
        await self.target.tell(Charge(message.order_id, message.total))
        self.state.charged[message.order_id] = message.total
        if self.gate is not None:
            await self.gate.wait()
        if message.total < 0:
            raise ValueError("negative")


async def test_sends_state_and_ack_commit_in_one_transaction(tmp_path: Path) -> None:
    """Until the handler returns nothing of it is stored; then the ack, send and state at once."""
    gate = trio.Event()
    store = sqlite(tmp_path / "s.db")
    async with trouper.open_runtime(store=store) as rt:
        sink = await rt.spawn(Gatekeeper, name="sink", mailbox=Durable())
        forward = await rt.spawn(Forward, sink, gate, name="forward", mailbox=Durable())
        await forward.tell(Place("o-1", 5))
        await trio.sleep(0.5)  # on virtual time: once the store and every task are idle
        await store.flush()
        before = {b.name: b.depth for b in await store.mailbox_statistics()}
        batches = store.statistics().batches
        gate.set()
        await trio.sleep(0.5)  # on virtual time: once the store and every task are idle
        await store.flush()
        after = {b.name: b.depth for b in await store.mailbox_statistics()}
        assert store.statistics().batches == batches + 1  # one batch: the ack, send and state
    assert before == {"forward": 1, "sink": 0}
    assert after == {"forward": 0, "sink": 1}


async def test_a_send_to_a_mailbox_no_actor_hosts_commits_with_the_ack(tmp_path: Path) -> None:
    """Told through ``durable_ref`` from a handler, the message is stored with the handler's ack."""
    gate = trio.Event()
    store = sqlite(tmp_path / "s.db")
    async with trouper.open_runtime(store=store) as rt:
        elsewhere = durable_ref(rt, "elsewhere")
        forward = await rt.spawn(Forward, elsewhere, gate, name="forward", mailbox=Durable())
        await forward.tell(Place("o-1", 5))
        await trio.sleep(0.5)  # on virtual time: once the store and every task are idle
        await store.flush()
        before = {b.name: b.depth for b in await store.mailbox_statistics()}
        gate.set()
        await trio.sleep(0.5)
        await store.flush()
        after = {b.name: b.depth for b in await store.mailbox_statistics()}
    assert before.get("elsewhere", 0) == 0
    assert before["forward"] == 1
    assert after == {"forward": 0, "elsewhere": 1}


class Gatekeeper(trouper.Actor):
    """A durable sink that never finishes a handler, so what it is sent stays stored."""

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await trio.sleep_forever()


async def test_a_failed_handler_commits_neither_its_sends_nor_its_state(tmp_path: Path) -> None:
    """A handler that raises after sending: the send is dropped with the nack."""
    got: list[tuple[object, int]] = []
    starts: list[Ledger] = []
    store = sqlite(tmp_path / "s.db")

    class Watched(Forward):
        async def on_start(self) -> None:
            starts.append(Ledger(dict(self.state.charged)))

    async with trouper.open_runtime(store=store) as rt:
        sink = await rt.spawn(Sink, got, store, name="sink", mailbox=Durable())
        forward = await rt.spawn(
            Watched, sink, name="forward", mailbox=Durable(max_deliveries=2, backoff=(1,))
        )
        await forward.tell(Place("bad", -1))
        await trio.sleep(5)
        dead = [d.message async for d in rt.store.dead_letters()]
    assert (got, dead) == ([], [Place("bad", -1)])
    assert starts == [Ledger(), Ledger(), Ledger()]


async def test_in_memory_sends_are_released_after_the_commit(tmp_path: Path) -> None:
    """A durable handler's tell to an in-memory actor arrives only once its ack committed."""
    got: list[tuple[object, int]] = []
    store = sqlite(tmp_path / "s.db")
    async with trouper.open_runtime(store=store) as rt:
        sink = await rt.spawn(Sink, got, store)
        forward = await rt.spawn(Forward, sink, name="forward", mailbox=Durable())
        await forward.tell(Place("o-1", 5))
        await rt.store.flush()
        await forward.tell(Place("o-2", 6))
        told = store.statistics().commits  # o-2 is stored; its handler has not acked yet
        await trio.sleep(0.5)  # on virtual time: once the store and every task are idle
        await rt.store.flush()
    message, commits_seen = got[1]
    assert message == Charge("o-2", 6)
    assert commits_seen > told  # released after the commit that holds o-2's ack


async def test_ask_inside_a_handler_goes_out_at_once(tmp_path: Path) -> None:
    """Unlike a tell, an ask from a durable handler is delivered before the handler returns."""
    replies: list[int] = []

    class Doubler(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> int:
            return message.total * 2

    class Asker(trouper.Actor):
        def __init__(self, target: trouper.ActorRef[object]) -> None:
            self.target = target

        @trouper.handler
        async def place(self, message: Place) -> None:
            reply = await self.target.ask(Charge(message.order_id, message.total))
            assert isinstance(reply, int)
            replies.append(reply)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        doubler = await rt.spawn(Doubler)
        asker = await rt.spawn(Asker, doubler, name="asker", mailbox=Durable())
        await asker.tell(Place("o", 21))
        await trio.sleep(1)
    assert replies == [42]


async def test_sends_from_a_durable_handler_to_a_durable_actor_keep_their_msg_id(
    tmp_path: Path,
) -> None:
    """A staged send with a msg_id is deduplicated at the target like any other."""
    ids: list[str | None] = []

    class Ids(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            delivery = self.ctx.delivery
            assert isinstance(delivery, Delivery)
            ids.append(delivery.msg_id)

    class Twice(trouper.Actor):
        def __init__(self, target: trouper.ActorRef[object]) -> None:
            self.target = target

        @trouper.handler
        async def place(self, message: Place) -> None:
            for _ in range(2):
                await self.target.tell(Charge(message.order_id, 1), msg_id=message.order_id)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        target = await rt.spawn(Ids, name="ids", mailbox=Durable())
        twice = await rt.spawn(Twice, target, name="twice", mailbox=Durable())
        await twice.tell(Place("k-1", 1))
        await trio.sleep(1)
    assert ids == ["k-1"]
