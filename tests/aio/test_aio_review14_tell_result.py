"""``await aio_ref.tell(msg)`` says whether its message reached the mailbox, as ActorRef.tell."""

from __future__ import annotations

import asyncio

import pytest
from aio_actors import Account, Deposit, Gates, Hold, Holder, Note, run

from trouper.aio import open_runtime
from trouper.runtime.lowlevel import Cell, Instrument, SendKind

pytestmark = pytest.mark.real_clock


class WatchSends(Instrument):
    """Watches sends, so that sends from asyncio cross as jobs instead of directly."""

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        return None


@pytest.mark.parametrize("watched", [False, True], ids=["direct", "job"])
def test_tell_returns_true_when_delivered_and_false_for_a_dead_letter(watched: bool) -> None:
    """``True`` once the message is in the mailbox; ``False`` when it became a dead letter."""

    async def main() -> tuple[object, object]:
        async with open_runtime() as rt:
            if watched:
                await rt.run_sync(rt.runtime.instruments.add, WatchSends())
            account = await rt.spawn(Account, 0)
            delivered = await account.tell(Deposit(1))
            await rt.stop(account)
            return delivered, await account.tell(Deposit(1))

    assert run(main) == (True, False)


def test_a_tell_waiting_for_room_returns_false_when_its_actor_stops() -> None:
    """A tell that waited in its lane behind a full mailbox says so when it became a dead letter."""

    async def main() -> tuple[object, object]:
        async with open_runtime(mailbox_size=1) as rt:
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, [], shutdown=0.01)
            gates.held = asyncio.create_task(holder.ask(Hold()))
            await gates.wait_started(rt)
            filled = await holder.tell(Note("fill"))
            waiting = asyncio.create_task(holder.tell(Note("waits")))
            await asyncio.sleep(0)
            await rt.run_sync(len, [])  # a job after it: it waits in the lane now
            await rt.stop(holder)
            with pytest.raises(Exception, match=r"has stopped"):
                await gates.held
            return filled, await waiting

    assert run(main) == (True, False)
