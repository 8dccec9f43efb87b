"""Review 26: a subject with no UTF-8 form is refused before the client takes it in.

``check_subject`` looked only at dots and whitespace, so a subject holding a
lone surrogate (``"a\\ud800"``) passed. ``subscribe()`` then registered the
subscription and failed to encode its SUB with a ``UnicodeEncodeError``:
the subscription stayed known to the client, unsent, and every reconnect
tried to send it again and failed the same way. A publish failed with the
codec's message, not the client's. Both now raise the client's
``ValueError`` first, and the client is left as it was.
"""

from __future__ import annotations

import re

import pytest
import trio
from nats_fake import connected, fake_server

pytestmark = pytest.mark.real_clock


async def test_subscribe_and_publish_refuse_a_subject_with_no_utf8_form() -> None:
    """ValueError names the subject; the next SUB on the wire is the good one, with sid 1."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            message = "a subject must be encodable as UTF-8, got 'a.\\ud800'"
            with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
                await nc.subscribe("a.\ud800")
            with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
                await nc.publish("a.\ud800", b"x")
            reply = "a reply subject must be encodable as UTF-8, got 'a.\\ud800'"
            with pytest.raises(ValueError, match=f"^{re.escape(reply)}$"):
                await nc.publish("ok", b"x", reply="a.\ud800")
            sub = await nc.subscribe("good.é")
            assert sub.sid == 1
            assert await peer.read_line() == "SUB good.é 1"
            await nc.close()
