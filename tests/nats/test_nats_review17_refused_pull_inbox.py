"""Review 17: a pull whose own inbox subscription the server refuses fails with that refusal.

``fetch``, ``consume()`` and a ``PullFeed`` subscribe to an inbox of their own
(pulled messages keep their stream subjects). A user who may not subscribe
there gets ``-ERR 'Permissions Violation for Subscription to "_INBOX...."'``:
no pulled message can ever come. That subscription ended and the refusal was
only an ``AsyncError`` event: ``fetch`` returned ``[]`` two seconds after
``expires`` as if the stream were empty, ``consume()`` and a feed pulled on
and waited out each expiry, for ever.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import Peer, connected, fake_server

from trouper.nats import PermissionsViolation, PullConsumer

pytestmark = pytest.mark.real_clock

_REFUSAL = r'^server error: Permissions Violation for Subscription to "_INBOX\.\w+"$'


async def refuse_pull_inboxes(peer: Peer) -> None:
    """Refuse every SUB to a plain inbox (not the requests' wildcard one), as the server would."""
    while True:
        line, _ = await peer.read_command()
        if line.startswith("SUB _INBOX.") and not line.split()[1].endswith(".*"):
            inbox = line.split()[1]
            await peer.send(
                f"-ERR 'Permissions Violation for Subscription to \"{inbox}\"'\r\n".encode()
            )


async def test_fetch_raises_the_refusal_of_its_inbox() -> None:
    """fetch(expires=30) raises PermissionsViolation at once, instead of [] 32 s later."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(refuse_pull_inboxes, peer)
                with pytest.raises(PermissionsViolation, match=_REFUSAL):
                    await consumer.fetch(10, expires=30)
                nursery.cancel_scope.cancel()


async def test_consume_raises_the_refusal_of_its_inbox() -> None:
    """consume()'s reader gets PermissionsViolation, instead of waiting on pulls for ever."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(refuse_pull_inboxes, peer)
                with pytest.raises(PermissionsViolation, match=_REFUSAL):
                    async with consumer.consume(batch=10, expires=30) as messages:
                        await messages.next_msg()
                nursery.cancel_scope.cancel()


async def test_a_feed_raises_the_refusal_of_its_inbox() -> None:
    """A PullFeed's wait() raises PermissionsViolation, instead of waiting out its pulls."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(print, expires=30)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(refuse_pull_inboxes, peer)
                feed.pull(10)
                with pytest.raises(PermissionsViolation, match=_REFUSAL):
                    await feed.wait()
                nursery.cancel_scope.cancel()
            feed.close()
