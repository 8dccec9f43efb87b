"""A Reject kept and returned again and again: its error's traceback does not grow per ask."""

from __future__ import annotations

import traceback

import pytest

import trouper
from trouper import Actor, Reject, handler

NOT_FOUND = Reject(KeyError("no such account"))


class Accounts(Actor):
    @handler
    async def get(self, message: int) -> Reject:
        return NOT_FOUND  # a module-level constant, as one writes for a fixed refusal


def _frames(error: BaseException) -> int:
    count, tb = 0, error.__traceback__
    while tb is not None:
        count, tb = count + 1, tb.tb_next
    return count


async def test_a_reused_rejection_does_not_keep_every_earlier_askers_frames() -> None:
    """Each ask raises the same error object: its traceback must not grow with every ask."""
    async with trouper.open_runtime() as rt:
        accounts = await rt.spawn(Accounts)
        depths = []
        for _ in range(3):
            with pytest.raises(KeyError) as info:
                await accounts.ask(1)
            depths.append(_frames(info.value))
    assert depths[0] == depths[2]  # was 6, 12, 18: every asker's frames kept alive


def lookup(key: int) -> int:
    raise KeyError(key)


class Caught(Actor):
    @handler
    async def get(self, message: int) -> int | Reject:
        try:
            return lookup(message)
        except KeyError as error:
            return Reject(error)


async def test_a_caught_error_keeps_where_it_was_raised_in_the_handler() -> None:
    """The asker's traceback still shows where the handler's code raised the error."""
    async with trouper.open_runtime() as rt:
        caught = await rt.spawn(Caught)
        with pytest.raises(KeyError) as info:
            await caught.ask(7)
    assert "lookup" in [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
