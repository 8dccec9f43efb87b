"""Review: a suspect given up at recovery says the deliveries that count, not its Retries."""

from __future__ import annotations

from pathlib import Path

from durable_support import make_store

from trouper.durable import WriteBatch


async def test_the_stores_reason_leaves_out_the_retries(tmp_path: Path) -> None:
    """Two Retries then a crash, max_deliveries 1: "gave up after 1 deliveries", attempts 3.

    The N of the reason is what max_deliveries counts (failures and crashes, not
    ``Retry``), as JetStream's reason says; the dead letter's ``attempts`` keeps
    every delivery.
    """
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    batch = WriteBatch()
    batch.append("box", "str", b"poison")
    await store.submit(batch)
    (message,) = await store.fetch("box", limit=10)
    retried = WriteBatch()  # two deliveries, both ended by a Retry
    retried.nack(
        message.id,
        deliveries=2,
        retries=2,
        available_at=0.0,
        delivered_at=0.0,
        first_delivered_at=0.0,
    )
    await store.submit(retried)
    (message,) = await store.fetch("box", limit=10)
    await store.simulate_crash()  # while its third delivery runs
    async with make_store(path) as store:
        await store.open_mailbox("box")
        assert await store.next_suspect("box", after=None, max_deliveries=1) is None
        (dead,) = [d async for d in store.dead_letters()]
    assert (dead.attempts, dead.reason) == (
        3,
        "gave up after 1 deliveries: the process stopped while it was being handled",
    )
