"""Review: a duplicated awaited tell to a full mailbox waits for room, as any awaited tell does.

Both copies were put without waiting: with the mailbox full, the message
itself became a dead letter and the sender never waited, so a duplicate
fault lost the message it was meant to repeat.
"""

from __future__ import annotations

import pytest
import trio

from trouper import Actor, handler
from trouper.routing import Balancing, spawn_pool
from trouper.testing import Duplicate, FaultPlan, Simulation, run_simulation


class SlowLog(Actor):
    """Notes each string it handles, one second each."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    @handler
    async def note(self, message: str) -> None:
        await trio.sleep(1)
        self.seen.append(message)


@pytest.mark.parametrize("pooled", [False, True])
def test_a_duplicated_tell_to_a_full_mailbox_waits_for_room_and_arrives(pooled: bool) -> None:
    """Each message told to a full mailbox (an actor's, or a balancing pool's) still arrives."""

    async def system(sim: Simulation) -> list[str]:
        seen: list[str] = []
        if pooled:  # a balancing pool's shared mailbox, full
            log = await spawn_pool(
                sim.runtime.root, SlowLog, 1, seen, router=Balancing(), name="log", mailbox_size=1
            )
        else:
            log = await sim.runtime.spawn(SlowLog, seen, name="log", mailbox_size=1)
        for message in ("m1", "m2", "m3"):
            await log.tell(message)
        await trio.sleep(20)
        return seen

    result = run_simulation(system, seed=1, faults=FaultPlan(Duplicate(("<main>", "/log"), 1.0)))
    assert result.error is None
    seen = result.value
    assert seen is not None
    # Every message arrives, in order; a copy that found no room may be a dead letter.
    assert [message for index, message in enumerate(seen) if message not in seen[:index]] == [
        "m1",
        "m2",
        "m3",
    ]
