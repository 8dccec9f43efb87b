"""Servers a cluster announces are reached with the credentials of the URL that announced them."""

from __future__ import annotations

import pytest
import trio
from nats_fake import fake_server

from trouper.nats import connect

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize(
    ("userinfo", "expected"),
    [
        ("alice:s3cret@", {"user": "alice", "pass": "s3cret"}),
        ("t0ken@", {"auth_token": "t0ken"}),
    ],
)
async def test_failover_to_an_announced_server_keeps_the_url_credentials(
    userinfo: str, expected: dict[str, str]
) -> None:
    """After the first server goes, CONNECT to the server it announced has the URL's credentials."""
    with trio.fail_after(5):
        async with (
            fake_server() as first,
            fake_server() as second,
            trio.open_nursery() as nursery,
        ):

            async def serve_first() -> None:
                peer = await first.accept()
                await peer.handshake(connect_urls=[f"127.0.0.1:{second.port}"])
                await first.close()
                await peer.close()

            nursery.start_soon(serve_first)
            url = f"nats://{userinfo}127.0.0.1:{first.port}"
            async with connect(url, reconnect_wait=0.01, reconnect_jitter=0.0):
                options = await (await second.accept()).handshake()
    assert {key: options.get(key) for key in expected} == expected
