"""Review 7: a callback that raises while the client closes does not stop the close half way.

``close()`` tells every pending request's callback (``publish_soon``'s
``on_ack``...) that the client closed; one that raised there left the rest of
the close undone: subscriptions not ended, waiting tasks never woken.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from nats_fake import connected, fake_server

from trouper.nats import NatsError, PubAck, Subscription, SubscriptionClosed

pytestmark = pytest.mark.real_clock


def broken_on_ack(outcome: PubAck | NatsError) -> None:
    """An ``on_ack`` with a bug."""
    raise RuntimeError("on_ack broke")


async def read_to_the_end(sub: Subscription, ended: list[str]) -> None:
    """Wait for the subscription's next message; record that it ended instead."""
    try:
        await sub.next_msg()
    except SubscriptionClosed:
        ended.append("ended")


async def test_a_raising_callback_leaves_no_reader_waiting_for_ever() -> None:
    """The callback's error leaves close(); the subscription's reader is still told it ended."""
    ended: list[str] = []
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, _peer):
            sub = await nc.subscribe("s")
            nc.jetstream().publish_soon("orders", b"x", broken_on_ack)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_to_the_end, sub, ended)
                await trio.testing.wait_all_tasks_blocked()
                with pytest.raises(RuntimeError, match=r"^on_ack broke$"):
                    await nc.close()
    assert ended == ["ended"]
