"""Review 7: a close during an outage says how many buffered publishes it did not send."""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, wait_for

from trouper.nats import Client, ConnectionLost, Status

pytestmark = pytest.mark.real_clock

SLOW_RECONNECT: dict[str, object] = {"reconnect_wait": 30.0, "reconnect_jitter": 0.0}
"""The next attempt is far off: the client is still reconnecting when the test closes it."""


async def close_outcome(nc: Client) -> object:
    """Close ``nc``; return what ``close()`` raised, or "closed"."""
    try:
        await nc.close()
    except Exception as error:
        return error
    return "closed"


async def test_close_while_reconnecting_raises_for_the_outage_buffer() -> None:
    """Publishes buffered during the outage and dropped by ``close()`` raise ConnectionLost."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server, **SLOW_RECONNECT) as (nc, peer):
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("lost", b"one")
            await nc.publish("lost", b"two", headers={"K": "v"})
            outcome = await close_outcome(nc)
            assert nc.status is Status.CLOSED
    assert isinstance(outcome, ConnectionLost)
    assert str(outcome) == (
        "the client closed while reconnecting: 2 buffered publishes were not sent"
    )


async def test_close_while_reconnecting_without_publishes_returns() -> None:
    """An outage buffer holding no publish (a subscription made meanwhile) closes quietly."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server, **SLOW_RECONNECT) as (nc, peer):
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.subscribe("made.in.the.outage")
            assert nc.statistics().buffered_bytes > 0
            assert await close_outcome(nc) == "closed"


async def test_an_error_leaving_the_block_is_not_hidden_by_the_close_s() -> None:
    """The block's own error and close()'s ConnectionLost both leave connect(), as a group."""
    with (
        trio.fail_after(5),
        pytest.RaisesGroup(
            pytest.RaisesExc(KeyError, match=r"^'the block'$"),
            pytest.RaisesExc(ConnectionLost, match=r"^the client closed while reconnecting: "),
            flatten_subgroups=True,
        ),
    ):
        async with fake_server() as server, connected(server, **SLOW_RECONNECT) as (nc, peer):
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("lost", b"one")
            raise KeyError("the block")
