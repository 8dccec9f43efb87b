"""An ask whose message is stored only after its actor stopped is answered ``ActorStopped``."""

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
    """Answers each charge with its total."""

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        return message.total


@pytest.mark.parametrize("pool", [False, True], ids=["actor", "balancing-pool"])
async def test_an_ask_stored_after_its_actor_stopped_gets_actor_stopped(
    tmp_path: Path, pool: bool
) -> None:
    """The stop does not see the ask (its append is on its way); its commit answers it."""
    store = HeldWrites(sqlite(tmp_path / "s.db"))
    answers: list[object] = []

    async def ask(ref: trouper.ActorRef[object]) -> None:
        with trio.move_on_after(60):  # on virtual time: never answered, it gives up
            try:
                answers.append(await ref.ask(Charge("a", 1)))
            except ActorStopped as error:
                answers.append(error)

    async with trouper.open_runtime(store=store) as rt:
        if pool:
            ref = await rt.spawn_pool(
                Charges, 2, router=Balancing(), name="charges", mailbox=Durable()
            )
        else:
            ref = await rt.spawn(Charges, name="charges", mailbox=Durable())
        async with trio.open_nursery() as nursery:
            store.hold = True
            nursery.start_soon(ask, ref)
            await trio.testing.wait_all_tasks_blocked()  # staged, not committed
            await rt.stop(ref)
            store.release()
            await rt.store.flush()
    assert [type(answer) for answer in answers] == [ActorStopped]
