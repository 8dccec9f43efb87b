"""The mailbox's counters stay true across a close, a reopen and a recovery."""

from __future__ import annotations

from pathlib import Path

from durable_support import Taker, make_store, serving

from trouper.durable import Durable


async def test_a_claimed_append_committed_after_a_close_does_not_widen_the_window(
    tmp_path: Path,
) -> None:
    """After a reopen, no more than ``prefetch`` messages are held, whatever was staged at close."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, options=Durable(prefetch=2)) as queue,
    ):
        assert queue.put_nowait("before the close")  # live: its commit hands it over
        queue.close()
        await store.flush()
        queue.reopen()
        await store.flush()
        for n in range(6):
            assert await queue.put(f"m{n}")
        held = len(queue.items)
        seen = [str((await Taker().handle(queue)).message) for _ in range(7)]
    assert held == 2
    assert seen == ["before the close", *(f"m{n}" for n in range(6))]


async def test_a_suspect_dead_lettered_at_recovery_makes_room_and_is_reported(
    tmp_path: Path,
) -> None:
    """A suspect out of deliveries is buried: its room is free, ``on_dead_letter`` hears of it."""
    options = Durable(max_deliveries=1, capacity=1)
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    async with serving(store, options=options) as queue:
        assert await queue.put("poison")
        await Taker().take(queue)
        await store.simulate_crash()
    reported: list[tuple[object, str]] = []
    async with (
        make_store(path) as store,
        serving(
            store,
            options=options,
            on_dead_letter=lambda delivery, reason, _: reported.append((delivery.message, reason)),
        ) as queue,
    ):
        await store.flush()
        assert (queue.depth, queue.put_nowait("next")) == (0, True)
        await store.flush()
        (dead,) = [d async for d in store.dead_letters()]
        assert (await Taker().handle(queue)).message == "next"
    reason = "gave up after 1 deliveries: the process stopped while it was being handled"
    assert (dead.payload, dead.attempts, dead.reason) == (b"poison", 1, reason)
    assert reported == [("poison", reason)]
