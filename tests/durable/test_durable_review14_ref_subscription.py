"""Review: a topic subscription through a durable_ref outlives a stop of its actor.

A ``durable_ref`` delivers to the stored mailbox whether or not its actor runs,
but it has the actor's address, and the topic registry forgot every
subscription owned by an address when the actor of that address stopped: a
publish while the actor was stopped reached nobody (publish returned 0),
though the ref would have stored it.
"""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Charge, OrderIds, sqlite

import trouper
from trouper.durable import Durable, durable_ref


async def test_a_durable_ref_subscription_outlives_a_stop_of_its_actor(tmp_path: Path) -> None:
    """Published while the actor is stopped: stored, handled at its next start."""
    got: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        actor = await rt.spawn(OrderIds, got, name="sub", mailbox=Durable())
        rt.topics.subscribe(durable_ref(rt, "sub"), "c.>")
        assert await rt.topics.publish("c.x", Charge("a", 1)) == 1
        await trio.sleep(1)
        await rt.stop(actor)
        assert await rt.topics.publish("c.x", Charge("b", 1)) == 1
        await rt.spawn(OrderIds, got, name="sub", mailbox=Durable())
        await trio.sleep(1)
    assert got == ["a", "b"]
