"""Review 7: a message told nowait from asyncio whose delivery raises in Trio is a dead letter.

The loop's caller was told the message was accepted; when it crosses, the
endpoint refuses it (a consistent-hash pool whose ``key`` raises). In Trio the
sender would get the error; from asyncio nobody can, so it becomes a dead
letter with reason ``"delivery failed"`` and the error, as a refused topic
message or a refused tell from another node does.
"""

from __future__ import annotations

import asyncio
import functools

import pytest
import trio
from aio_actors import Account, Balance, Deposit, Note, run, until
from test_aio_review_crossing import Waiter, WaitFor

from trouper.aio import open_runtime
from trouper.routing import ConsistentHash
from trouper.runtime import DeadLetter, DeadLetterReason

pytestmark = pytest.mark.real_clock


def _no_key_for_bad(message: object) -> object:
    if message == "bad":
        raise LookupError("no key for 'bad'")
    return "one"


def _summary(letters: list[DeadLetter]) -> list[tuple[object, str, str]]:
    return [(letter.message, letter.reason, repr(letter.error)) for letter in letters]


def test_a_tell_nowait_refused_as_it_crosses_is_a_delivery_failed_dead_letter() -> None:
    """The key raises for the second message: a dead letter; the ones around it are delivered."""

    async def main() -> tuple[list[DeadLetter], int]:
        letters: list[DeadLetter] = []
        async with open_runtime() as rt:
            await rt.run_sync(rt.runtime.dead_letters.listen, letters.append)
            spawn = functools.partial(
                rt.runtime.spawn_pool, router=ConsistentHash(key=_no_key_for_bad)
            )
            pool = rt.ref(await rt.run(spawn, Account, 1, 0))
            pool.tell_nowait(Deposit(1))
            pool.tell_nowait("bad")
            pool.tell_nowait(Deposit(2))
            balance = await pool.ask(Balance())  # after the three, in the loop's order
        return letters, balance

    letters, balance = run(main)
    assert _summary(letters) == [
        ("bad", DeadLetterReason.DELIVERY_FAILED, "LookupError(\"no key for 'bad'\")")
    ]
    assert balance == 3


def test_a_tell_nowait_refused_in_its_lane_is_a_delivery_failed_dead_letter() -> None:
    """Behind a full mailbox, in the lane, the refused message is a dead letter too."""
    journal: list[str] = []

    async def main() -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        async with open_runtime() as rt:
            await rt.run_sync(rt.runtime.dead_letters.listen, letters.append)
            gate = await rt.run_sync(trio.Event)
            spawn = functools.partial(
                rt.runtime.spawn_pool, router=ConsistentHash(key=_no_key_for_bad), mailbox_size=1
            )
            pool = rt.ref(await rt.run(spawn, Waiter, 1, journal))
            held = asyncio.create_task(pool.ask(WaitFor("a", gate)))
            await until(lambda: journal == ["wait a"])
            await pool.tell(Note("1"))  # the member's mailbox is full
            pool.tell_nowait(Note("2"))  # finds no room as it crosses: starts the lane
            pool.tell_nowait("bad")  # behind it, in the lane
            await asyncio.sleep(0)
            await rt.run_sync(gate.set)
            await held
            await pool.ask(Note("3"))  # after the lane, in the loop's order
        return letters

    letters = run(main)
    assert _summary(letters) == [
        ("bad", DeadLetterReason.DELIVERY_FAILED, "LookupError(\"no key for 'bad'\")")
    ]
    assert journal == ["wait a", "1", "2", "3"]
