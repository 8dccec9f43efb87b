"""An ask whose message is stored only after its actor stopped is answered ``ActorStopped``.

Also when the actor was spawned again under the same name before that
message's commit: the new mailbox heard the commit, stored the message as
any other, and the ask, which no mailbox knew any more, waited for ever.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from durable_support import Charge, HeldWrites, sqlite

import trouper
from trouper.durable import Durable
from trouper.errors import ActorStopped
from trouper.routing import Balancing


class Charges(trouper.Actor):
    """Answers each charge with its total; sets ``handled``, if given, once it handled one."""

    def __init__(self, handled: trio.Event | None = None) -> None:
        self.handled = handled

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        if self.handled is not None:
            self.handled.set()
        return message.total


async def spawn_charges(
    rt: trouper.Runtime, pool: bool, handled: trio.Event | None = None
) -> trouper.ActorRef[object]:
    """``Charges`` named "charges" with a durable mailbox: one actor, or a balancing pool of two."""
    if pool:
        return await rt.spawn_pool(
            Charges, 2, handled, router=Balancing(), name="charges", mailbox=Durable()
        )
    return await rt.spawn(Charges, handled, name="charges", mailbox=Durable())


async def ask_recording(ref: trouper.ActorRef[object], answers: list[object]) -> None:
    """Ask ``ref`` a charge; record its reply or ``ActorStopped`` (nothing if never answered)."""
    with trio.move_on_after(60):  # on virtual time: never answered, it gives up
        try:
            answers.append(await ref.ask(Charge("a", 1)))
        except ActorStopped as error:
            answers.append(error)


@pytest.mark.parametrize("pool", [False, True], ids=["actor", "balancing-pool"])
async def test_an_ask_stored_after_its_actor_stopped_gets_actor_stopped(
    tmp_path: Path, pool: bool
) -> None:
    """The stop does not see the ask (its append is on its way); its commit answers it."""
    store = HeldWrites(sqlite(tmp_path / "s.db"))
    answers: list[object] = []
    async with trouper.open_runtime(store=store) as rt:
        ref = await spawn_charges(rt, pool)
        async with trio.open_nursery() as nursery:
            store.hold = True
            nursery.start_soon(ask_recording, ref, answers)
            await trio.testing.wait_all_tasks_blocked()  # staged, not committed
            await rt.stop(ref)
            store.release()
            await rt.store.flush()
    assert [type(answer) for answer in answers] == [ActorStopped]


@pytest.mark.parametrize("pool", [False, True], ids=["actor", "balancing-pool"])
async def test_an_ask_stored_after_its_actor_was_spawned_again_gets_actor_stopped(
    tmp_path: Path, pool: bool
) -> None:
    """The ask is answered ``ActorStopped`` when its append commits; its message is handled."""
    store = HeldWrites(sqlite(tmp_path / "s.db"))
    answers: list[object] = []
    async with trouper.open_runtime(store=store) as rt:
        ref = await spawn_charges(rt, pool)
        async with trio.open_nursery() as nursery:
            store.hold = True
            nursery.start_soon(ask_recording, ref, answers)
            await trio.testing.wait_all_tasks_blocked()  # staged, not committed
            await rt.stop(ref)
            store.hold = False
            handled = trio.Event()
            await spawn_charges(rt, pool, handled)  # the new mailbox hears the commit
            store.release()
            with trio.fail_after(10):
                await handled.wait()  # by the new incarnation, replying to no one
    assert [type(answer) for answer in answers] == [ActorStopped]
