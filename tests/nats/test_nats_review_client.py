"""Review: requests never wait for a reply that cannot come (scripted server)."""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import PermissionsViolation

pytestmark = pytest.mark.real_clock


async def test_a_refused_reply_subscription_fails_its_requests() -> None:
    """If the server refuses the inbox subscription, the request fails instead of hanging."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            async with trio.open_nursery() as nursery:
                failed: list[BaseException] = []

                async def ask() -> None:
                    with pytest.raises(PermissionsViolation) as caught:
                        await nc.request("svc", b"q")
                    failed.append(caught.value)

                nursery.start_soon(ask)
                line = await peer.read_until("SUB")
                inbox = line.split()[1]
                await peer.send(
                    f"-ERR 'Permissions Violation for Subscription to \"{inbox}\"'\r\n".encode()
                )
            assert failed[0].subject == inbox  # type: ignore[attr-defined]
            # A later request subscribes again (and is refused again), not waiting for ever.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask)
                line = await peer.read_until("SUB")
                assert line.split()[1] == inbox
                await peer.send(
                    f"-ERR 'Permissions Violation for Subscription to \"{inbox}\"'\r\n".encode()
                )
            assert len(failed) == 2
