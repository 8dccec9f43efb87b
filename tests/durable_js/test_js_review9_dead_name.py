"""Review: a message at the size limit is dead-lettered whatever its mailbox's name (a pin).

A tell keeps 1 KiB of the server's ``max_payload`` for its dead letter. The
mailbox's name is never cut: it is in the facts (JSON-escaped: 6 bytes for
an ``é`` or a control character, 12 for an emoji) and in the dead letter's
key (escaped into a token: 3 bytes per byte of UTF-8). It was feared to
overflow that room. It cannot: the name is also in the mailbox's stream
name, which the server keeps to 255 bytes, so the token is at most about
240 bytes and the escaped name twice that (control characters), which the
room holds beside the other facts once the reason is cut. These are the
worst names the server takes (a reserve of 700 bytes fails the last one).
"""

from __future__ import annotations

import pytest
from js_support import Done, bury_largest_tell, store_for

import trouper
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize(
    "name", ["é" * 40, "\U0001f600" * 20, "\x01" * 80], ids=["latin", "emoji", "control"]
)
async def test_a_message_told_at_the_limit_is_dead_lettered_from_a_non_ascii_named_mailbox(
    js_server: NatsServer, prefix: str, name: str
) -> None:
    """The largest message a tell takes, given up on, reaches the dead letters under its name.

    Each name is as long as the stream name it makes allows.
    """
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        size, record = await bury_largest_tell(rt, name, step=64)
    assert record.message == Done(1, "y" * size)
    assert record.mailbox == name
    assert record.reason.startswith("gave up: rrrr")
