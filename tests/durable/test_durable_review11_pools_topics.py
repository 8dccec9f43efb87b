"""What a durable subscriber can be subscribed for: only messages its mailbox can store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable
from trouper.topics import Published


class Subscriber(trouper.Actor):
    def __init__(self, got: list[object]) -> None:
        self.got = got

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.got.append(message)

    @trouper.handler
    async def published(self, message: Published) -> None:
        self.got.append(message)

    @trouper.handler
    async def report(self, message: trouper.DeadLetter) -> None:
        self.got.append(message)


async def test_a_durable_subscriber_with_subject_is_refused_at_subscribe(tmp_path: Path) -> None:
    """A Published cannot be stored: subscribe refuses, instead of each publish dead-lettering."""
    got: list[object] = []
    letters: list[trouper.DeadLetter] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.dead_letters.listen(letters.append)
        ref = await rt.spawn(Subscriber, got, name="sub", mailbox=Durable())
        message = (
            "trouper://local/sub has a durable mailbox, which stores only registered "
            "message types: subscribe it without with_subject=True (Published carries "
            "any message and cannot be stored)"
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            rt.topics.subscribe(ref, "charges.>", with_subject=True)
        assert len(rt.topics) == 0
        rt.topics.subscribe(ref, "charges.>")
        assert await rt.topics.publish("charges.eu", Charge("a", 1)) == 1
        await trio.sleep(1)
    assert got == [Charge("a", 1)]
    assert letters == []


async def test_a_durable_subscriber_to_system_topics_is_refused_at_subscribe(
    tmp_path: Path,
) -> None:
    """The runtime's reports cannot be stored either: subscribe refuses a durable actor for them."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Subscriber, [], name="sub", mailbox=Durable())
        message = (
            "trouper://local/sub has a durable mailbox, which stores only registered "
            "message types: the runtime's reports on 'trouper.system.>' cannot be stored; "
            "subscribe an actor with an in-memory mailbox to them"
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            rt.topics.subscribe(ref, "trouper.system.>")
        assert len(rt.topics) == 0
