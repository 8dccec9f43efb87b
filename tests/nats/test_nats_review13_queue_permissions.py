"""A refused queue subscription ends that subscription only, not others to its subject.

nats-server names the queue group in the refusal (``Permissions Violation for
Subscription to "jobs" using queue "workers"``); a plain subscription to the
same subject, which the server accepted, keeps receiving.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, msg_frame

from trouper.nats import AsyncError, ClientEvent, PermissionsViolation, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

_CONFIG = """
authorization {
  users: [{user: u, password: p,
           permissions: {subscribe: {allow: ["jobs"], deny: ["jobs workers"]}}}]
}
"""


async def test_refused_queue_subscription_leaves_the_plain_one_receiving() -> None:
    """The plain subscription the server accepted still gets messages after the refusal."""
    events: list[ClientEvent] = []
    with NatsServer(config=_CONFIG, jetstream=False) as server, trio.fail_after(10):
        async with connect(f"nats://u:p@127.0.0.1:{server.port}", on_event=events.append) as nc:
            plain = await nc.subscribe("jobs")
            queued = await nc.subscribe("jobs", queue="workers")
            await nc.flush()
            await nc.flush()  # the refusal came before this PONG
            with pytest.raises(PermissionsViolation):
                await queued.next_msg()
            await nc.publish("jobs", b"for the plain one")
            msg = await plain.next_msg()
    assert msg.data == b"for the plain one"
    assert plain.statistics().delivered == 1
    refusals = [e for e in events if isinstance(e, AsyncError)]
    assert len(refusals) == 1


async def test_refused_plain_subscription_leaves_the_queue_one_receiving() -> None:
    """A refusal that names no queue ends the plain subscription, not an accepted queue one."""
    config = _CONFIG.replace('allow: ["jobs"], deny: ["jobs workers"]', 'allow: ["jobs workers"]')
    with NatsServer(config=config, jetstream=False) as server, trio.fail_after(10):
        async with connect(f"nats://u:p@127.0.0.1:{server.port}") as nc:
            queued = await nc.subscribe("jobs", queue="workers")
            plain = await nc.subscribe("jobs")
            await nc.flush()
            with pytest.raises(PermissionsViolation):
                await plain.next_msg()
            await nc.publish("jobs", b"for the queue")
            msg = await queued.next_msg()
    assert msg.data == b"for the queue"


async def test_refusal_naming_a_sid_ends_that_subscription_only() -> None:
    """At a reload the server names the sid it removed: other subscriptions to it stay."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            kept = await nc.subscribe("a")
            removed = await nc.subscribe("a")
            await peer.read_until(f"SUB a {removed.sid}")
            await peer.send(
                b'-ERR \'Permissions Violation for Subscription to "a" '
                b'(sid "%d")\'\r\n' % removed.sid
            )
            with pytest.raises(PermissionsViolation):
                await removed.next_msg()
            await peer.send(msg_frame("a", kept.sid, b"still"))
            msg = await kept.next_msg()
    assert msg.data == b"still"
