"""Review: a message at the size limit is dead-lettered whatever its mailbox's name and reason.

A tell keeps 1 KiB of the server's ``max_payload`` for its dead letter's
facts, which carry the mailbox's name (as does the dead letter's key) and
the reason, cut to its first and last 250 characters. With a long mailbox
name, a message told at the limit and a long reason, the facts did not fit:
the server refused the dead letter each time, and the message came back for
ever, neither run nor dead-lettered. The reason is now cut further to fit.
"""

from __future__ import annotations

import pytest
from js_support import Done, dead_letters, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp, durable_ref
from trouper.errors import StoreRefused
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

NAME = "m" * 200
"""A long mailbox name: it is in the dead letter's key and in its facts."""


class Refuser(trouper.Actor):
    """Gives up on every ``Done`` with a long reason."""

    @trouper.handler
    async def done(self, message: Done) -> None:
        raise GiveUp("r" * 3000 + " the end")


async def test_a_message_told_at_the_limit_is_dead_lettered_from_a_long_named_mailbox(
    js_server: NatsServer, prefix: str
) -> None:
    """The largest message a tell takes, given up with a long reason, reaches the dead letters."""
    options = Durable(backoff=(0.05,), max_deliveries=3)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Refuser, name=NAME, mailbox=options)
        ref = durable_ref(rt, NAME)
        size = 1024 * 1024 - 1024
        while True:  # the largest text the tell takes (refused ones are not staged)
            try:
                await ref.tell(Done(1, "y" * size))
                break
            except StoreRefused:
                size -= 8

        async def buried() -> bool:
            return bool(await dead_letters(rt, NAME))

        await eventually(buried, seconds=5.0)
        (record,) = await dead_letters(rt, NAME)
    assert record.message == Done(1, "y" * size)
    assert record.mailbox == NAME
    assert record.reason.startswith("gave up: rrrr")
    assert record.reason.endswith("r the end")
