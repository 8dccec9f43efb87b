"""Review: requests never wait for a reply that cannot come (scripted server)."""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, wait_for

from trouper.nats import ConnectionLost, PermissionsViolation, PullConsumer, Status

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


async def test_a_pipeline_publish_written_before_a_drop_fails_instead_of_waiting() -> None:
    """An ack lost with the connection fails the pipeline, as it fails ``js.publish``."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.01, reconnect_jitter=0.0) as (nc, peer),
        ):
            js = nc.jetstream()

            async def publish_then_drop() -> None:
                async with js.publish_pipeline() as pipe:
                    await pipe.publish("orders.1", b"x")
                    assert (await peer.read_until("PUB")).startswith("PUB orders.1 ")
                    await peer.close()
                    second = await server.accept()
                    await second.handshake()

            with pytest.raises(ConnectionLost):
                await publish_then_drop()


async def test_a_pull_made_while_reconnecting_is_not_taken_for_lost() -> None:
    """A feed's pull sent from the outage buffer is live on the new connection."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.01, reconnect_jitter=0.0) as (nc, peer),
        ):
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(
                lambda msg: None, expires=30.0, heartbeat=5.0
            )
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            feed.pull(3)
            second = await server.accept()
            await second.handshake()
            await second.read_until("PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker")
            with trio.move_on_after(0.2):
                await feed.wait()
            assert feed.requested == 3
            feed.close()
