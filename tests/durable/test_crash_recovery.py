"""After an unclean stop: suspects one at a time, each delivery recorded before it runs."""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Taker, drain, make_store, serving

from trouper.durable import Delivery, Durable, SqliteStore, WriteBatch
from trouper.runtime.lowlevel import MailboxEnding

OPTIONS = Durable(max_deliveries=3, backoff=(1.0,))


async def crash(store: SqliteStore) -> None:
    """Stop as a killed process would, then let the queue's task notice."""
    await store.simulate_crash()


async def test_clean_close_leaves_no_suspects(tmp_path: Path) -> None:
    """Messages taken but not handled before a clean stop come back together, uncounted."""
    path = tmp_path / "s.db"
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        for text in ("a", "b", "c"):
            assert await queue.put(text)
        await Taker().take(queue)
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        await store.flush()
        ready = list(queue.items)
    assert [(d.message, d.attempt) for d in ready] == [("a", 1), ("b", 1), ("c", 1)]  # type: ignore[attr-defined]


async def test_a_run_that_never_opens_a_mailbox_keeps_its_crash_on_record(tmp_path: Path) -> None:
    """A clean stop releases only the mailboxes its run opened: another's suspects stay suspects.

    A run after a crash that does not serve every durable mailbox (an actor not
    spawned this time) must not erase what the crash left in the others: their
    claimed messages are still charged the delivery the crash may have cut short.
    """
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    async with serving(store, options=OPTIONS) as queue:
        assert await queue.put("a")
        await Taker().take(queue)
        await crash(store)
    async with make_store(path) as store, serving(store, "other", options=OPTIONS) as queue:
        assert await queue.put("x")
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        delivery = await Taker().take(queue)
    assert (delivery.message, delivery.attempt) == ("a", 2)


async def test_suspects_are_handed_out_one_at_a_time(tmp_path: Path) -> None:
    """After a crash with messages claimed, only one suspect is ready at any time."""
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    async with serving(store, options=OPTIONS) as queue:
        for text in ("a", "b", "c"):
            assert await queue.put(text)
        await Taker().take(queue)
        await crash(store)
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        taker = Taker()
        seen = []
        for _ in range(3):
            delivery = await taker.take(queue)
            await trio.sleep(1)  # on virtual time: until the store and every task are idle
            assert not queue.items
            queue.settle(delivery, MailboxEnding.HANDLED, None)
            seen.append(delivery)
    assert [(d.message, d.attempt) for d in seen] == [("a", 2), ("b", 2), ("c", 2)]


async def test_new_messages_wait_until_the_suspects_are_settled(tmp_path: Path) -> None:
    """A message put during recovery is handed over only after the last suspect."""
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    async with serving(store, options=OPTIONS) as queue:
        assert await queue.put("old")
        await crash(store)
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        assert await queue.put("new")
        taker = Taker()
        assert [(await taker.handle(queue)).message for _ in range(2)] == ["old", "new"]


async def test_message_that_kills_the_process_dies_after_max_deliveries_runs(
    tmp_path: Path,
) -> None:
    """A poison message is run max_deliveries times across crashes, then dead-lettered.

    Its neighbour, claimed in the same window, is run once alone afterwards and
    charged only for the crash it was caught in.
    """
    path = tmp_path / "s.db"
    runs: list[Delivery] = []
    store = make_store(path)
    await store.open()
    async with serving(store, options=OPTIONS) as queue:
        for text in ("poison", "neighbour"):
            assert await queue.put(text)
        runs.append(await Taker().take(queue))
        await crash(store)
    for _ in range(OPTIONS.max_deliveries - 1):
        store = make_store(path)
        await store.open()
        async with serving(store, options=OPTIONS) as queue:
            delivery = await Taker().take(queue)
            assert delivery.message == "poison"
            runs.append(delivery)
            await crash(store)
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        neighbour = await Taker().handle(queue)
        await store.flush()
        (dead,) = [d async for d in store.dead_letters()]
        assert await drain(queue, store) == []
    assert [d.attempt for d in runs] == [1, 2, 3]
    assert (neighbour.message, neighbour.attempt) == ("neighbour", 2)
    assert (dead.payload, dead.attempts) == (b"poison", 3)
    assert dead.reason == (
        "gave up after 3 deliveries: the process stopped while it was being handled"
    )


async def test_suspect_delivery_is_recorded_before_it_is_handed_over(tmp_path: Path) -> None:
    """The store counts a suspect in flight as soon as it is ready, before any handler runs."""
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    async with serving(store, options=OPTIONS) as queue:
        assert await queue.put("a")
        await crash(store)
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        assert len(queue.items) == 1
        (box,) = await store.mailbox_statistics()
    assert (box.in_flight, box.ready) == (1, 0)


async def test_crash_with_nothing_claimed_needs_no_recovery(tmp_path: Path) -> None:
    """Messages that were only stored (never claimed) come back as first deliveries."""
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    for n in range(3):
        batch = WriteBatch()
        batch.append("box", "str", f"m{n}".encode())
        await store.submit(batch)
    await crash(store)
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        ready = list(queue.items)
    assert [(d.message, d.attempt) for d in ready] == [("m0", 1), ("m1", 1), ("m2", 1)]  # type: ignore[attr-defined]
