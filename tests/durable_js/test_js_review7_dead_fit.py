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
from js_support import Done, bury_largest_tell, store_for

import trouper
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

NAME = "m" * 200
"""A long mailbox name: it is in the dead letter's key and in its facts."""


async def test_a_message_told_at_the_limit_is_dead_lettered_from_a_long_named_mailbox(
    js_server: NatsServer, prefix: str
) -> None:
    """The largest message a tell takes, given up with a long reason, reaches the dead letters."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        size, record = await bury_largest_tell(rt, NAME, step=8)
    assert record.message == Done(1, "y" * size)
    assert record.mailbox == NAME
    assert record.reason.startswith("gave up: rrrr")
    assert record.reason.endswith("r the end")
