"""Review: an ask its asker gave up is still an ask: replying to it answers nobody else."""

from __future__ import annotations

import trio

import trouper
from trouper.testing import TestProbe


async def test_a_reply_to_an_ask_given_up_before_it_was_taken_goes_nowhere(
    runtime: trouper.Runtime,
) -> None:
    """The asker's deadline passed first: the test can still take the ask and reply to it."""
    p = TestProbe(runtime)
    with trio.move_on_after(1):
        await p.ask("late")
    received = p.history[0]
    assert received.is_ask
    assert str(received) == "t=0.0000 ask 'late'"
    assert await p.expect("late") == "late"
    p.reply("too late")  # nobody waits for it any more: it goes nowhere


async def test_a_reply_after_taking_an_abandoned_ask_does_not_answer_an_earlier_one(
    runtime: trouper.Runtime,
) -> None:
    """The reply goes to the last ask taken, the abandoned one, not to the one before it."""
    p = TestProbe(runtime)
    answers: list[object] = []

    async def ask_first() -> None:
        answers.append(await p.ask("first"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask_first)
        assert await p.expect("first") == "first"
        with trio.move_on_after(1):
            await p.ask("second")
        assert await p.expect("second") == "second"
        p.reply("for the second")
        await trio.sleep(1)
        assert answers == []
        await p.expect_no_message()
        nursery.cancel_scope.cancel()
