"""A msg_id that is not a string, reviewed: refused by the tell, never a failure of the store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable, JetStreamStore, durable_ref
from trouper.testing import NatsServer


class Recorder(trouper.Actor):
    """Records each order id it handles."""

    def __init__(self, got: list[str]) -> None:
        self.got = got

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.got.append(message.order_id)


@pytest.mark.parametrize("msg_id", [("a",), 5, b"x"])
async def test_a_tell_with_a_msg_id_that_is_not_a_string_is_refused(
    tmp_path: Path, msg_id: object
) -> None:
    """``tell`` and ``tell_nowait`` refuse it with TypeError; the store and runtime go on."""
    got: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Recorder, got, name="box", mailbox=Durable())
        with pytest.raises(TypeError, match=re.escape(f"msg_id must be a str, got {msg_id!r}")):
            await ref.tell(Charge("refused", 1), msg_id=msg_id)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=re.escape(f"msg_id must be a str, got {msg_id!r}")):
            ref.tell_nowait(Charge("refused", 1), msg_id=msg_id)  # type: ignore[arg-type]
        await ref.tell(Charge("after", 2), msg_id="5")
        await trio.sleep(1)
        (box,) = await rt.store.mailbox_statistics()
    assert (got, box.depth) == (["after"], 0)


class Forwarder(trouper.Actor):
    """Forwards each charge to ``target`` with a msg_id that is not a string."""

    def __init__(self, target: trouper.ActorRef[object]) -> None:
        self.target = target

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.target.tell(message, msg_id=7)  # type: ignore[arg-type]


async def test_a_handlers_send_with_a_bad_msg_id_fails_the_handler_not_the_store(
    tmp_path: Path,
) -> None:
    """Staged from a durable handler, the bad msg_id fails that handler: the message is dead."""
    got: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        sink = await rt.spawn(Recorder, got, name="sink", mailbox=Durable())
        forwarder = await rt.spawn(Forwarder, sink, name="fwd", mailbox=Durable(max_deliveries=1))
        await forwarder.tell(Charge("o-1", 1))
        await trio.sleep(1)
        (dead,) = [d async for d in rt.store.dead_letters("fwd")]
    assert got == []
    assert dead.reason == "TypeError: msg_id must be a str, got 7 (max_deliveries 1 reached)"


class Held(trouper.Actor):
    """Handles nothing until ``gate`` is set."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.gate.wait()


async def test_a_bad_msg_id_is_refused_at_once_by_a_full_mailbox(tmp_path: Path) -> None:
    """A tell to a full mailbox refuses a bad msg_id at once, not after waiting for room."""
    gate = trio.Event()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Held, gate, name="held", mailbox=Durable(capacity=1))
        await ref.tell(Charge("first", 1))
        with trio.fail_after(5), pytest.raises(TypeError, match=r"^msg_id must be a str"):
            await ref.tell(Charge("refused", 2), msg_id=5)  # type: ignore[arg-type]
        gate.set()


@pytest.mark.real_clock
async def test_a_bad_msg_id_is_refused_on_jetstream_too(tmp_path: Path) -> None:
    """On a JetStreamStore the same tell is refused the same way, storing nothing."""
    config = f'jetstream {{ store_dir: "{tmp_path / "js"}" }}'
    with NatsServer(jetstream=False, config=config) as server:
        store = JetStreamStore(server.url, prefix="review2")
        async with trouper.open_runtime(store=store) as rt:
            ref = durable_ref(rt, "box")
            with trio.fail_after(10):
                with pytest.raises(TypeError, match=r"^msg_id must be a str, got 5$"):
                    await ref.tell(Charge("refused", 1), msg_id=5)  # type: ignore[arg-type]
                await ref.tell(Charge("kept", 1), msg_id="5")
                await rt.store.flush()
                (box,) = await rt.store.mailbox_statistics()
    assert box.depth == 1
