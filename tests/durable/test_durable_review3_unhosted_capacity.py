"""Review: on SQLite, tells to a mailbox whose actor is not running here skip its capacity."""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable, durable_ref


class Keeper(trouper.Actor):
    """Keeps every charge."""

    def __init__(self, got: list[Charge]) -> None:
        self.got = got

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.got.append(message)


async def test_tells_to_a_mailbox_hosted_nowhere_are_stored_beyond_its_capacity(
    tmp_path: Path,
) -> None:
    """Guarantee 17's exception: with no actor running, ``tell`` stores at once, past ``capacity``.

    The mailbox's depth is on disk only (no host counts it here), and a
    check would read it for every tell; its actor takes them all once it
    runs, after which ``capacity`` holds for tells again.
    """
    options = Durable(capacity=2)
    got: list[Charge] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = durable_ref(rt, "later", options=options)
        with trio.fail_after(5):
            for n in range(4):
                await ref.tell(Charge("c", n))  # none of them waits for room
        ref.tell_nowait(Charge("c", 4))  # nor raises MailboxFull
        await rt.store.flush()
        (stats,) = await rt.store.mailbox_statistics()
        assert (stats.name, stats.depth) == ("later", 5)
        await rt.spawn(Keeper, got, name="later", mailbox=options)
        await trio.sleep(1)
    assert got == [Charge("c", n) for n in range(5)]
