"""Review 13: a ``durable_ref`` says which mailbox its tells go into, as an actor's ref does.

Topics refuse to subscribe a durable mailbox for what it cannot store, and the
asyncio bridge waits for a durable mailbox's commit on an awaited tell; both
asked only a cell or a pool for its mailbox, so a ``durable_ref`` got neither.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import attrs
import pytest
import trio
from durable_support import Charge, ChargeSink, sqlite

import trouper
from trouper.aio import open_runtime as open_aio_runtime
from trouper.durable import Durable, SqliteStore, durable_ref
from trouper.errors import StoreFailed


@pytest.mark.parametrize("hosted", [False, True])
async def test_a_durable_ref_subscribed_with_subject_is_refused_at_subscribe(
    tmp_path: Path, hosted: bool
) -> None:
    """Each publish would be a dead letter (a Published cannot be stored): subscribe refuses."""
    letters: list[trouper.DeadLetter] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.dead_letters.listen(letters.append)
        if hosted:
            await rt.spawn(ChargeSink, [], name="sub", mailbox=Durable())
        ref = durable_ref(rt, "sub")
        message = (
            "trouper://local/sub has a durable mailbox, which stores only registered "
            "message types: subscribe it without with_subject=True (Published carries "
            "any message and cannot be stored)"
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            rt.topics.subscribe(ref, "charges.>", with_subject=True)
        with pytest.raises(ValueError, match=r"^trouper://local/sub has a durable mailbox"):
            rt.topics.subscribe(ref, "trouper.system.>")
        assert len(rt.topics) == 0
        rt.topics.subscribe(ref, "charges.>")
        assert await rt.topics.publish("charges.eu", Charge("a", 1)) == 1
        await trio.sleep(1)
    assert letters == []


@trouper.message("test.durable.review13.big")
@attrs.frozen
class Big:
    """A message as large as asked."""

    text: str


@pytest.mark.real_clock
def test_an_awaited_tell_from_asyncio_through_a_durable_ref_waits_for_its_commit(
    tmp_path: Path,
) -> None:
    """The store cannot hold it: ``await tell`` fails with the store, not returns as if stored."""
    returned: list[str] = []

    async def main() -> None:
        store = SqliteStore(tmp_path / "s.db", synchronous="normal", max_size=65536)
        async with open_aio_runtime(store=store) as rt:
            ref = rt.ref(durable_ref(rt.runtime, "jobs"))
            await ref.tell(Big("x" * 200_000))
            returned.append("tell")

    async def bounded() -> None:
        async with asyncio.timeout(30):
            await main()

    with pytest.raises(StoreFailed, match=r"database or disk is full"):
        asyncio.run(bounded())
    assert returned == []


@pytest.mark.real_clock
def test_an_awaited_tell_from_asyncio_through_a_durable_ref_is_stored_when_it_returns(
    tmp_path: Path,
) -> None:
    """With room, each awaited tell is in the store when it returns; the actor takes them later."""
    counts: list[int] = []
    got: list[object] = []

    async def main() -> None:
        async with open_aio_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
            ref = rt.ref(durable_ref(rt.runtime, "sub"))
            for order in ("a", "b"):
                await ref.tell(Charge(order, 1))
                stats = await rt.run(rt.runtime.store.mailbox_statistics)
                counts.append(stats[0].depth)

    asyncio.run(main())

    async def consume() -> None:
        async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
            await rt.spawn(ChargeSink, got, name="sub", mailbox=Durable())
            await trio.sleep(1)

    trio.run(consume, clock=trio.testing.MockClock(autojump_threshold=0))
    assert counts == [1, 2]
    assert got == [Charge("a", 1), Charge("b", 1)]
