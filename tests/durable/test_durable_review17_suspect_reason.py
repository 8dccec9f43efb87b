"""Review: a suspect given up at recovery says the deliveries that count, not its Retries."""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Taker, make_store, serving

from trouper.durable import Durable, Retry, WriteBatch


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


async def test_the_queues_reason_leaves_out_the_retries(tmp_path: Path) -> None:
    """Two Retries, then crashes until max_deliveries 2: "gave up after 2 deliveries", attempts 4.

    What a durable actor's mailbox writes when it buries a suspect that used up
    its deliveries (its attempts count the Retries, its reason does not).
    """
    options = Durable(max_deliveries=2, backoff=(1.0,))
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    async with serving(store, options=options) as queue:
        assert await queue.put("poison")
        taker = Taker()
        for _ in range(2):
            await taker.fail(queue, Retry(after=1.0))
        assert (await taker.take(queue)).attempt == 3
        await store.simulate_crash()  # the first failure that counts
    store = make_store(path)
    await store.open()
    async with serving(store, options=options) as queue:
        assert (await Taker().take(queue)).attempt == 4
        await store.simulate_crash()  # the second: max_deliveries used up
    async with make_store(path) as store, serving(store, options=options):
        await store.flush()
        await trio.sleep(1)  # on virtual time: until the suspect is buried
        (dead,) = [d async for d in store.dead_letters()]
    assert (dead.attempts, dead.reason) == (
        4,
        "gave up after 2 deliveries: the process stopped while it was being handled",
    )
