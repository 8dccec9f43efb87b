"""Review 18: ``connect`` refuses an ``inbox_prefix`` whose replies the server reserves.

nats-server refuses (and drops) a client's publish whose reply subject starts
with ``_R_.``, ``_GR_.`` or ``$JS.ACK.`` (``isReservedReply`` in its
``client.go``). With such a prefix every request and pull failed with the
server's ``Permissions Violation for Publish with Reply of ...``: the client
was accepted but could never get a reply.
"""

from __future__ import annotations

import re

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import connect

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize("prefix", ["_R_", "_GR_", "$JS.ACK", "_R_.mine", "$JS.ACK.mine"])
async def test_an_inbox_prefix_the_server_reserves_is_refused(prefix: str) -> None:
    """connect() raises ValueError saying why, before it connects."""
    message = (
        "inbox_prefix must not begin with a reply prefix the server reserves "
        f"(_R_., _GR_., $JS.ACK.): it refuses such replies, got {prefix!r}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        async with connect("nats://127.0.0.1:1", inbox_prefix=prefix):
            pass  # pragma: no cover


@pytest.mark.parametrize("prefix", ["_R", "_R_x", "_GR", "$JS", "$JS.ACKS", "x._R_"])
async def test_a_prefix_near_a_reserved_one_is_accepted(prefix: str) -> None:
    """Only the reserved prefixes themselves (and subjects under them) are refused."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server, inbox_prefix=prefix) as (nc, _):
            assert nc.new_inbox().startswith(f"{prefix}.")
