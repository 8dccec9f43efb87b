"""Review 17: a publish refused for its reply subject fails the request or pull that waits on it.

nats-server reserves some reply subjects (``_R_.``, ``_GR_.``, ``$JS.ACK.``)
and refuses a client's publish that uses one as its reply with ``-ERR
'Permissions Violation for Publish with Reply of "_R_...."'``, dropping it. A
client whose ``inbox_prefix`` was one of those got that only as an
``AsyncError``: each request waited out its caller's deadline, each ``fetch``
returned ``[]`` after ``expires``, as if nobody had answered. (``connect`` now
refuses such a prefix, review 18; the fake server plays the refusal here.)
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import Peer, connected, fake_server

from trouper.nats import AsyncError, ClientEvent, PermissionsViolation, PullConsumer

pytestmark = pytest.mark.real_clock


async def _refuse_reply(peer: Peer, subject: str) -> str:
    """Read the PUB to ``subject`` and refuse it for its reply, as nats-server does; the reply."""
    line = await peer.read_until(f"PUB {subject} ")
    reply = line.split()[2]
    await peer.send(
        f"-ERR 'Permissions Violation for Publish with Reply of \"{reply}\"'\r\n".encode()
    )
    return reply


async def test_a_request_whose_reply_the_server_refuses_raises_the_refusal() -> None:
    """request() raises the PermissionsViolation at once (still reported), not at its deadline."""
    events: list[ClientEvent] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(lambda: _refuse_reply(peer, "r17.svc"))
            with pytest.raises(PermissionsViolation) as raised:
                await nc.request("r17.svc", b"x")
    assert str(raised.value).startswith(
        'server error: Permissions Violation for Publish with Reply of "_INBOX.'
    )
    assert [type(event) for event in events[:1]] == [AsyncError]


async def test_a_fetch_whose_reply_the_server_refuses_raises_the_refusal() -> None:
    """fetch() raises the PermissionsViolation at once, not [] after expires."""
    with trio.fail_after(3):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(lambda: _refuse_reply(peer, "$JS.API.CONSUMER.MSG.NEXT.R17R.c"))
            pull = PullConsumer(nc.jetstream(), "R17R", "c")
            with pytest.raises(PermissionsViolation, match=r"Publish with Reply of \"_INBOX\."):
                await pull.fetch(1, expires=5)
