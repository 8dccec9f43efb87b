"""Messages appended while the window hands others over at commit are all delivered, in order."""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Taker, make_store, serving

from trouper.durable import Durable
from trouper.runtime.lowlevel import MailboxEnding


async def test_a_message_stored_below_one_handed_over_at_commit_is_still_fetched(
    tmp_path: Path,
) -> None:
    """A handler's send lands above a later tell in the same commit: both come, in id order."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, "orders") as orders,
        serving(store, "billing", Durable(prefetch=2)) as billing,
    ):
        assert await orders.put("place")
        placed = await Taker().take(orders)
        assert billing.put_nowait("x0")  # opens billing's batch, staged first
        placed.send(billing, "m1")
        orders.settle(placed, MailboxEnding.HANDLED, None)  # m1 in the ack's batch, after it
        assert billing.put_nowait("x1")  # billing's batch again: stored below m1
        taker = Taker()
        with trio.fail_after(60):
            seen = [(await taker.handle(billing)).message for _ in range(3)]
    assert seen == ["x0", "x1", "m1"]  # the order they were stored in
