"""Through actors: a bounded durable mailbox, and store faults at open_runtime and on commit."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
import trio
import trio.testing
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable
from trouper.errors import MailboxFull, NotAStore, StoreFailed, StoreLocked


class Held(trouper.Actor):
    """Handles each message once ``gate`` is set."""

    def __init__(self, gate: trio.Event, got: list[Charge]) -> None:
        self.gate = gate
        self.got = got

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.gate.wait()
        self.got.append(message)


async def test_tell_waits_while_the_durable_mailbox_is_full(tmp_path: Path) -> None:
    """At capacity a tell waits until an ack makes room, as in memory; nothing is lost."""
    gate, got = trio.Event(), list[Charge]()
    told: list[int] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Held, gate, got, name="held", mailbox=Durable(capacity=2))

        async def sender() -> None:
            for n in range(4):
                await ref.tell(Charge(f"c{n}", n))
                told.append(n)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.sleep(0.5)  # on virtual time: once the store and every task are idle
            assert told == [0, 1]
            gate.set()
    assert [c.order_id for c in got] == ["c0", "c1", "c2", "c3"]


async def test_tell_nowait_to_a_full_durable_mailbox_raises(tmp_path: Path) -> None:
    """A full durable mailbox refuses tell_nowait with MailboxFull."""
    gate, got = trio.Event(), list[Charge]()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Held, gate, got, name="held", mailbox=Durable(capacity=1))
        await ref.tell(Charge("a", 1))
        with pytest.raises(MailboxFull):
            ref.tell_nowait(Charge("b", 2))
        gate.set()


async def test_open_runtime_refuses_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    """The store opens before the first actor: a bad file fails open_runtime itself."""
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(NotAStore):
        async with trouper.open_runtime(store=sqlite(path)):
            pass  # pragma: no cover
    assert path.read_text() == "hello"


@pytest.mark.real_clock
async def test_open_runtime_refuses_a_store_another_runtime_holds(tmp_path: Path) -> None:
    """One runtime per store file: the lock held by another process refuses the second."""
    path = tmp_path / "s.db"
    fd = os.open(str(path) + "-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with trio.fail_after(10), pytest.raises(StoreLocked):
            async with trouper.open_runtime(store=sqlite(path)):
                pass  # pragma: no cover
    finally:
        os.close(fd)


async def test_a_full_disk_fails_the_tell_and_the_runtime(tmp_path: Path) -> None:
    """A commit that cannot be written fails its tell and stops the runtime with StoreFailed."""
    gate, got = trio.Event(), list[Charge]()
    told: list[BaseException] = []

    async def body() -> None:
        async with trouper.open_runtime(store=sqlite(tmp_path / "s.db", max_size=65536)) as rt:
            ref = await rt.spawn(Held, gate, got, name="held", mailbox=Durable())
            try:
                await ref.tell(Charge("x" * 200_000, 1))
            except StoreFailed as error:
                told.append(error)
            await trio.sleep_forever()

    with pytest.raises(StoreFailed, match=r"database or disk is full"):
        await body()
    assert [type(error) for error in told] == [StoreFailed]
