"""Review 25: a crash while a message waits out its backoff does not charge it a delivery.

Recovery charges each claimed message one delivery, the one it may have been
running when the process stopped. A message waiting for its redelivery (after
a ``Retry`` or a failure) was running nothing: were the restart to come after
its backoff ended, charging it would count a failure that never happened, and
with ``max_deliveries=1`` dead-letter a message whose handler never failed.
One handed out again after its backoff is still charged if the process stops
while it runs (a message that kills the process is dead-lettered in the end).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import trio
from durable_support import make_store

import trouper
from trouper import ActorRef
from trouper.durable import Durable, Retry, SqliteStore

CALLS: list[tuple[str, int]] = []


@trouper.message("test.durable.review25.job")
@attrs.frozen
class Job:
    """A job; ``retry`` makes its first delivery ask for a redelivery in 5 s."""

    name: str
    retry: bool = False


class Worker(trouper.Actor):
    """Records each delivery; a ``retry`` job's first one raises ``Retry(5)``."""

    @trouper.handler
    async def job(self, message: Job) -> None:
        CALLS.append((message.name, self.ctx.delivery.attempt))
        if message.retry and self.ctx.delivery.attempt == 1:
            raise Retry(5)
        if message.name == "hang":
            await trio.sleep_forever()


async def _spawn_worker(rt: trouper.Runtime) -> ActorRef[Any]:
    """The ``Worker`` of mailbox "work", which gives a message one delivery."""
    return await rt.spawn(Worker, name="work", mailbox=Durable(max_deliveries=1))


async def _recover(store: SqliteStore) -> list[tuple[str, str]]:
    """Run the worker on ``store`` for 30 s; return the dead letters then (type name, reason)."""
    async with trouper.open_runtime(store=store) as rt:
        await _spawn_worker(rt)
        await trio.sleep(30)
        return [(d.type_name, d.reason) async for d in rt.store.dead_letters()]


async def _crash_during_backoff(path: Path, *, restart_after: float) -> list[tuple[str, str]]:
    """Run a ``Retry`` job, stop uncleanly while it waits, restart later; return dead letters."""
    store = make_store(path)
    async with trouper.open_runtime(store=store) as rt:
        ref = await _spawn_worker(rt)
        await ref.tell(Job("j", retry=True))
        await trio.sleep(1)  # it waits out its 5 s now
        await store.simulate_crash()
    await trio.sleep(restart_after)
    return await _recover(make_store(path))


async def test_a_message_waiting_out_a_retry_at_a_crash_is_not_charged(tmp_path: Path) -> None:
    """Restarted after its backoff ended, it runs again; it is not dead-lettered."""
    CALLS.clear()
    dead = await _crash_during_backoff(tmp_path / "s.db", restart_after=10)
    assert dead == []
    assert CALLS == [("j", 1), ("j", 2)]


async def test_a_message_waiting_out_a_retry_restarted_early_runs_once_more(
    tmp_path: Path,
) -> None:
    """Restarted before its backoff ended, it waits the rest of it and runs once more."""
    CALLS.clear()
    dead = await _crash_during_backoff(tmp_path / "s.db", restart_after=1)
    assert dead == []
    assert CALLS == [("j", 1), ("j", 2)]


async def test_a_redelivery_running_at_a_crash_is_charged(tmp_path: Path) -> None:
    """Handed out again after its backoff, it is charged for a crash while it runs."""
    CALLS.clear()
    path = tmp_path / "s.db"
    store = make_store(path)
    async with trouper.open_runtime(store=store) as rt:
        ref = await _spawn_worker(rt)
        await ref.tell(Job("hang", retry=True))
        await trio.sleep(10)  # redelivered at 5 s: it hangs in its handler
        assert CALLS == [("hang", 1), ("hang", 2)]
        await store.simulate_crash()
    reasons = [reason for _, reason in await _recover(make_store(path))]
    assert CALLS == [("hang", 1), ("hang", 2)]
    assert reasons == ["gave up after 1 deliveries: the process stopped while it was being handled"]


async def test_a_redelivery_read_back_after_a_restart_is_charged_if_it_runs_at_a_crash(
    tmp_path: Path,
) -> None:
    """Waiting out its backoff across a restart, then handed out: charged for a crash then."""
    CALLS.clear()
    path = tmp_path / "s.db"
    for wait in (2, 5):
        store = make_store(path)
        async with trouper.open_runtime(store=store) as rt:
            ref = await _spawn_worker(rt)
            if not CALLS:
                await ref.tell(Job("hang", retry=True))
            await trio.sleep(wait)  # first run: it waits out its 5 s; second: it hangs (at 5 s)
            await store.simulate_crash()
    reasons = [reason for _, reason in await _recover(make_store(path))]
    assert CALLS == [("hang", 1), ("hang", 2)]
    assert reasons == ["gave up after 1 deliveries: the process stopped while it was being handled"]


async def test_a_redelivery_due_by_a_clean_restart_is_charged_if_it_runs_at_a_crash(
    tmp_path: Path,
) -> None:
    """Its backoff ended while no runtime ran: read back with the others, still charged."""
    CALLS.clear()
    path = tmp_path / "s.db"
    async with trouper.open_runtime(store=make_store(path)) as rt:
        ref = await _spawn_worker(rt)
        await ref.tell(Job("hang", retry=True))
        await trio.sleep(1)  # it waits out its 5 s: a clean stop now
    await trio.sleep(10)
    store = make_store(path)
    async with trouper.open_runtime(store=store) as rt:
        await _spawn_worker(rt)
        await trio.sleep(1)  # handed out at once: it hangs
        await store.simulate_crash()
    reasons = [reason for _, reason in await _recover(make_store(path))]
    assert CALLS == [("hang", 1), ("hang", 2)]
    assert reasons == ["gave up after 1 deliveries: the process stopped while it was being handled"]
