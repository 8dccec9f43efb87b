"""``set_wall_clock``, reviewed: the times a store records start at the epoch it is given."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable, GiveUp, set_wall_clock

EPOCH = 1_000_000_000.0


class Refusing(trouper.Actor):
    """Gives every charge up (dead-lettered at once)."""

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        raise GiveUp("refused")


async def test_the_store_records_times_from_the_epoch_set(tmp_path: Path) -> None:
    """Set before the runtime opens, the epoch is the wall clock; it follows Trio's clock."""
    set_wall_clock(EPOCH)
    await trio.sleep(10)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db", threads=False)) as rt:
        ref = await rt.spawn(Refusing, name="billing", mailbox=Durable())
        await ref.tell(Charge("o-1", 1))
        await rt.store.flush()
        (letter,) = [letter async for letter in rt.store.dead_letters()]
    assert (letter.enqueued_at, letter.dead_at) == (EPOCH + 10, EPOCH + 10)


async def test_setting_the_wall_clock_once_it_was_read_raises(tmp_path: Path) -> None:
    """Times already written would not follow a clock moved after them: refused."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db", threads=False)) as rt:
        ref = await rt.spawn(Refusing, name="billing", mailbox=Durable())
        await ref.tell(Charge("o-1", 1))
        with pytest.raises(RuntimeError, match=r"^the wall clock of this Trio run was read"):
            set_wall_clock(EPOCH)


@pytest.mark.parametrize(
    ("epoch", "error", "match"),
    [
        ("0", TypeError, r"^epoch must be a number of seconds, got '0'$"),
        (True, TypeError, r"^epoch must be a number of seconds, got True$"),
        (float("nan"), ValueError, r"^epoch must be a finite number of seconds, got nan$"),
    ],
)
async def test_a_bad_epoch_is_refused(epoch: object, error: type[Exception], match: str) -> None:
    """An epoch that is not a finite number raises, saying what it got."""
    with pytest.raises(error, match=match):
        set_wall_clock(epoch)  # type: ignore[arg-type]


def test_setting_the_wall_clock_outside_a_trio_run_raises() -> None:
    """Each Trio run has its wall clock: outside one there is none to set."""
    with pytest.raises(RuntimeError, match=r"^set_wall_clock must be called in a Trio run$"):
        set_wall_clock(EPOCH)
