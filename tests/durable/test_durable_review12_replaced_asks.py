"""Review: an ask whose message is stored only after its actor was stopped and spawned again.

The stop answers an ask whose append is on its way once that append commits
(the closed mailbox hears it). But once the actor was spawned again under
the same name, the new mailbox heard the commit instead: it stored the
message as any other, and the ask, which no mailbox knew any more, waited
for ever.
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
    """Answers each charge with its total; sets ``handled`` once it handled one."""

    def __init__(self, handled: trio.Event) -> None:
        self.handled = handled

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.handled.set()
        return message.total


@pytest.mark.parametrize("pool", [False, True], ids=["actor", "balancing-pool"])
async def test_an_ask_stored_after_its_actor_was_spawned_again_gets_actor_stopped(
    tmp_path: Path, pool: bool
) -> None:
    """The ask is answered ``ActorStopped`` when its append commits; its message is handled."""
    store = HeldWrites(sqlite(tmp_path / "s.db"))
    answers: list[object] = []

    async def ask(ref: trouper.ActorRef[object]) -> None:
        with trio.move_on_after(60):  # on virtual time: never answered, it gives up
            try:
                answers.append(await ref.ask(Charge("a", 1)))
            except ActorStopped as error:
                answers.append(error)

    async def spawn(rt: trouper.Runtime, handled: trio.Event) -> trouper.ActorRef[object]:
        if pool:
            return await rt.spawn_pool(
                Charges, 2, handled, router=Balancing(), name="charges", mailbox=Durable()
            )
        return await rt.spawn(Charges, handled, name="charges", mailbox=Durable())

    async with trouper.open_runtime(store=store) as rt:
        ref = await spawn(rt, trio.Event())
        async with trio.open_nursery() as nursery:
            store.hold = True
            nursery.start_soon(ask, ref)
            await trio.testing.wait_all_tasks_blocked()  # staged, not committed
            await rt.stop(ref)
            store.hold = False
            handled = trio.Event()
            await spawn(rt, handled)  # the new mailbox is the one that hears the commit
            store.release()
            with trio.fail_after(10):
                await handled.wait()  # by the new incarnation, replying to no one
    assert [type(answer) for answer in answers] == [ActorStopped]
