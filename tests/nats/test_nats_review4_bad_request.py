"""Review: a pull the server refuses as a bad request (status 400) ends at once with its reason.

The server answers a pull it cannot read (here an ``expires`` beyond its
nanosecond range) with ``400 Bad Request - ...`` and forgets it: ``fetch``
waited for that pull's expiry (for ever, here), and a message stream pulled
again and again without telling its reader.
"""

from __future__ import annotations

import itertools

import pytest
import trio

from trouper.nats import JetStreamError, PullFeed, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()
_CENTURIES = 1e11
"""Seconds whose nanoseconds overflow the server's int64 durations."""


def fresh() -> str:
    """A stream name no other test uses (they share one server)."""
    return f"R4B{next(_names)}"


async def test_fetch_refused_as_a_bad_request_raises(nats_url: str) -> None:
    """fetch() raises JetStreamError 400 with the server's text instead of waiting."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            consumer = await js.pull_subscribe(name, "c")
            with pytest.raises(JetStreamError, match=r"^JetStream error 400 \(0\): Bad Request"):
                await consumer.fetch(1, expires=_CENTURIES)
            await js.delete_stream(name)


async def test_consume_refused_as_a_bad_request_raises(nats_url: str) -> None:
    """A consume() whose pulls the server refuses as bad requests raises from next_msg()."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            consumer = await js.pull_subscribe(name, "c")
            async with consumer.consume(batch=2, expires=_CENTURIES) as messages:
                with pytest.raises(JetStreamError, match=r"^JetStream error 400 \(0\): Bad"):
                    await messages.next_msg()
            await js.delete_stream(name)


async def test_feed_refused_as_a_bad_request_raises(nats_url: str) -> None:
    """A PullFeed whose pull the server refuses as a bad request raises from wait()."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            consumer = await js.pull_subscribe(name, "c")
            feed = consumer.feed(lambda msg: None, expires=_CENTURIES, heartbeat=0.5)
            feed.pull(1)
            with pytest.raises(JetStreamError, match=r"^JetStream error 400 \(0\): Bad"):
                await wait_until_it_raises(feed)
            feed.close()
            await js.delete_stream(name)


async def wait_until_it_raises(feed: PullFeed) -> None:
    """Call ``feed.wait()`` until it raises, as a feed's owner does between its pulls."""
    while True:
        await feed.wait()
