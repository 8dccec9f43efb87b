"""Review: senders waiting for room in a durable mailbox whose actor stops.

A tell parked for room when the stop closed the mailbox was woken with "not
put": the cell made its message an in-memory dead letter ("actor stopped")
and the tell returned False, though a durable mailbox stores what is told
while its actor stops for the next incarnation, and a ``durable_ref`` tell
returns once the message is durable whether or not an actor consumes the
mailbox. An ask let in (room made by the handler that ended the stop) but
not yet stored when the mailbox closed was stored without its ask, which
then waited for ever.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable, durable_ref
from trouper.errors import ActorStopped

OPTIONS = Durable(capacity=2, prefetch=1)


class Gate(trouper.Actor):
    """Holds each message until ``release`` is set, then records it (``all_seen`` at three)."""

    def __init__(
        self, release: trio.Event, seen: list[str], all_seen: trio.Event | None = None
    ) -> None:
        self.release = release
        self.seen = seen
        self.all_seen = all_seen

    @trouper.handler
    async def charge(self, message: Charge) -> str:
        await self.release.wait()
        self.seen.append(message.order_id)
        if self.all_seen is not None and len(self.seen) == 3:
            self.all_seen.set()
        return message.order_id


async def _depth(rt: trouper.Runtime) -> int:
    await rt.store.flush()
    (box,) = [m for m in await rt.store.mailbox_statistics() if m.name == "gate"]
    return box.depth


@pytest.mark.parametrize("through", ["ref", "durable_ref"])
async def test_a_tell_waiting_for_room_when_the_stop_closes_the_mailbox_is_stored(
    tmp_path: Path, through: str
) -> None:
    """The waiting tell returns True once stored; the next incarnation handles it."""
    release = trio.Event()
    seen: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Gate, release, seen, name="gate", mailbox=OPTIONS, shutdown=1.0)
        await ref.tell(Charge("a", 1))  # being handled, held at the gate
        await ref.tell(Charge("b", 1))  # the mailbox is full
        target = ref if through == "ref" else durable_ref(rt, "gate")
        told: list[bool] = []

        async def tell_c() -> None:
            told.append(await target.tell(Charge("c", 1)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(tell_c)
            await trio.testing.wait_all_tasks_blocked()
            assert told == []  # waiting for room
            await rt.stop(ref)  # cuts "a" off after 1 s: no room is made
        assert (told, seen) == ([True], [])
        assert await _depth(rt) == 3
        release.set()
        all_seen = trio.Event()
        await rt.spawn(Gate, release, seen, all_seen, name="gate", mailbox=OPTIONS)
        with trio.fail_after(10):
            await all_seen.wait()
    assert seen == ["a", "b", "c"]


async def test_an_ask_let_in_as_the_stop_closes_the_mailbox_gets_actor_stopped(
    tmp_path: Path,
) -> None:
    """The handler that ends the stop makes room for the ask; the close then refuses it."""
    release = trio.Event()
    seen: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Gate, release, seen, name="gate", mailbox=OPTIONS)
        await ref.tell(Charge("a", 1))
        await ref.tell(Charge("b", 1))
        raised: list[BaseException] = []

        async def ask_c() -> None:
            with pytest.raises(ActorStopped) as refused:
                await ref.ask(Charge("c", 1))
            raised.append(refused.value)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask_c)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(rt.stop, ref)
                await trio.testing.wait_all_tasks_blocked()
                release.set()  # "a" is handled: room for "c", then the stop closes
        assert len(raised) == 1
        assert seen == ["a"]
        assert await _depth(rt) == 1  # "b"; the refused ask's message is not stored
