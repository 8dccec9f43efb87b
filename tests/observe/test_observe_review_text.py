"""Review: a message whose ``repr`` raises, or an error whose ``str`` raises, still shows."""

from __future__ import annotations

import logging

import pytest
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.observe import Observer


class Unprintable:
    """A message whose ``repr`` raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Mute(Exception):
    """An error whose ``str`` raises (its ``repr`` is the default one)."""

    def __str__(self) -> str:
        raise RuntimeError("no str")


class RaisesMute(Actor):
    """Fails with a ``Mute`` error."""

    @handler
    async def fail(self, message: str) -> None:
        raise Mute


async def test_a_dead_letter_whose_repr_raises_is_shown_as_its_type() -> None:
    """The feed reads, with the message shown by its type and what its ``repr`` raised."""
    async with trouper.open_runtime() as rt:
        with Observer(rt) as observer:
            gone = await rt.spawn(Actor, name="gone")
            await rt.stop(gone)
            gone.tell_nowait(Unprintable())
            await trio.testing.wait_all_tasks_blocked()
            items = observer.feed(0).items
    assert [item.message for item in items if item.kind == "dead_letter"] == [
        "Unprintable(<repr() raised RuntimeError>)"
    ]


async def test_a_failure_whose_error_str_raises_is_in_the_feed_and_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The failure is recorded, its error shown by its type, and no instrument error logged."""
    async with trouper.open_runtime() as rt:
        with Observer(rt) as observer:
            ref = await rt.spawn(RaisesMute, name="r")
            with caplog.at_level(logging.ERROR, logger="trouper"):
                with pytest.raises(trouper.HandlerError):
                    await ref.ask("go")
                await trio.testing.wait_all_tasks_blocked()
            failed = [item.reason for item in observer.feed(0).items if item.kind == "failed"]
            details = observer.actor("/r")
    assert failed == ["Mute: <str() raised RuntimeError>"]
    assert details is not None
    assert [failure.error for failure in details.failures] == failed
    assert not [r for r in caplog.records if "instrument hook" in r.getMessage()]
