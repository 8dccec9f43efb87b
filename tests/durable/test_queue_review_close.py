"""A close while the serving task reads the store is still a clean stop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import trio
import trio.testing
from durable_support import Charge, GatedStore, Taker, make_store, serving, sqlite

import trouper
from trouper.durable import (
    Delivery,
    Durable,
    MailboxOpening,
    SqliteStore,
    StoredMessage,
    durable_ref,
)

OPTIONS = Durable(prefetch=2)


class HeldFetches(GatedStore):
    """A store whose fetches wait for ``gate`` once ``hold`` is set (their commit lands late)."""

    async def fetch(
        self,
        mailbox: str,
        *,
        after: int = 0,
        ids: Sequence[int] | None = None,
        limit: int,
        prepare: Callable[[list[StoredMessage]], object] | None = None,
    ) -> list[StoredMessage]:
        if self.hold:
            self.held.set()
            await self.gate.wait()
        return await self.inner.fetch(mailbox, after=after, ids=ids, limit=limit, prepare=prepare)


async def test_a_fetch_that_commits_after_the_close_leaves_no_suspects(tmp_path: Path) -> None:
    """The messages a late fetch claimed come back uncharged, as after any clean stop."""
    async with make_store(tmp_path / "s.db") as store:
        async with serving(store, options=OPTIONS) as queue:
            for n in range(5):
                queue.put_nowait(f"m{n}")
            await store.flush()
        held = HeldFetches(store)
        async with serving(held, options=OPTIONS) as queue:  # type: ignore[arg-type]
            held.hold = True
            await Taker().handle(queue)  # the window has room: the next fetch starts
            await held.held.wait()
            queue.close()
            await store.flush()
            held.hold = False
            held.gate.set()
            await trio.testing.wait_all_tasks_blocked()
            queue.reopen()
            taker = Taker()
            rest = [await taker.handle(queue) for _ in range(4)]
    assert [(d.message, d.attempt) for d in rest] == [(f"m{n}", 1) for n in range(1, 5)]


class FetchThenOpen(HeldFetches):
    """Holds fetches that continue a window; a mailbox opened meanwhile is opened after one.

    So the held fetch's claim and the opening commit in that order before the
    fetch's caller resumes, as they may in one group commit of ``SqliteStore``.
    """

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store)
        self.fetched = trio.Event()
        self.opened = trio.Event()

    async def __aenter__(self) -> FetchThenOpen:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)

    async def fetch(
        self,
        mailbox: str,
        *,
        after: int = 0,
        ids: Sequence[int] | None = None,
        limit: int,
        prepare: Callable[[list[StoredMessage]], object] | None = None,
    ) -> list[StoredMessage]:
        if not (self.hold and after > 0):
            return await self.inner.fetch(mailbox, after=after, ids=ids, limit=limit)
        self.hold = False
        self.held.set()
        await self.gate.wait()
        rows = await self.inner.fetch(mailbox, after=after, ids=ids, limit=limit)
        self.fetched.set()
        with trio.move_on_after(10):  # an opening that waits for this caller never comes
            await self.opened.wait()
        return rows

    async def open_mailbox(self, mailbox: str) -> MailboxOpening:
        if self.held.is_set():
            await self.fetched.wait()
        opening = await self.inner.open_mailbox(mailbox)
        if self.held.is_set():
            self.opened.set()
        return opening


class Log(trouper.Actor):
    """Records each charge with its attempt."""

    def __init__(self, seen: list[tuple[str, int]]) -> None:
        self.seen = seen

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.seen.append((message.order_id, delivery.attempt))


async def test_an_actor_spawned_again_while_its_last_fetch_commits_finds_no_suspects(
    tmp_path: Path,
) -> None:
    """Stopped with a fetch on its way, then spawned again: nothing is charged, nothing lost."""
    path = tmp_path / "s.db"
    async with trouper.open_runtime(store=sqlite(path)) as rt:
        for n in range(5):
            await durable_ref(rt, "log").tell(Charge(f"c{n}", n))
    store = FetchThenOpen(sqlite(path))
    seen: list[tuple[str, int]] = []
    async with trouper.open_runtime(store=store) as rt:
        store.hold = True
        ref = await rt.spawn(Log, seen, name="log", mailbox=Durable(prefetch=2))
        await store.held.wait()  # c0 handled: the next window is being fetched
        await rt.stop(ref)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(rt.spawn, Log, seen, name="log", mailbox=OPTIONS))
            await trio.testing.wait_all_tasks_blocked()
            store.gate.set()
        await trio.sleep(1)
    assert seen == [(f"c{n}", 1) for n in range(5)]
