"""Review 8: ``consume()`` or a ``PullFeed`` of a consumer that is gone ends with an error.

A pull to a consumer that no longer exists has no responder: the server
answers it with a 503 status, not with the 409 ``Consumer Deleted`` that
pulls waiting at the deletion get. The stream ignored the 503, took the
pull for outstanding until its expiry (30 s by default), pulled again, and
so on for ever: its reader waited without end and never learnt why (while
``fetch`` raised ``NoResponders`` at once). A ``PullFeed`` (a durable
mailbox's) likewise pulled again after each two silent heartbeats, for ever.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from trouper.nats import (
    JetStreamError,
    PullConsumer,
    PullFeed,
    StorageType,
    StreamConfig,
    connect,
)

pytestmark = pytest.mark.real_clock

_names = itertools.count()


@asynccontextmanager
async def consumer_whose(nats_url: str, gone: str) -> AsyncIterator[PullConsumer]:
    """A pull consumer, then its consumer (``gone="consumer"``) or its stream deleted."""
    name = f"R8C{next(_names)}"
    async with connect(nats_url) as nc:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"], storage=StorageType.MEMORY))
        consumer = await js.pull_subscribe(name, "gone")
        if gone == "consumer":
            await js.delete_consumer(name, "gone")
        else:
            await js.delete_stream(name)
        try:
            yield consumer
        finally:
            if gone == "consumer":
                await js.delete_stream(name)


@pytest.mark.parametrize(("gone", "err_code"), [("consumer", 10014), ("stream", 10059)])
async def test_consume_of_a_missing_consumer_raises_not_found(
    nats_url: str, gone: str, err_code: int
) -> None:
    """With its consumer (or stream) deleted before any pull, consume()'s reader gets a 404."""
    with trio.fail_after(5):
        async with consumer_whose(nats_url, gone) as consumer:
            async with consumer.consume(batch=4) as messages:
                with pytest.raises(JetStreamError) as raised:
                    await messages.next_msg()
            assert (raised.value.code, raised.value.err_code) == (404, err_code)


async def own(feed: PullFeed) -> None:
    """Run a feed as its owner does: pull again whenever nothing is asked for."""
    while True:
        await feed.wait()
        if feed.requested == 0:
            feed.pull(4)


@pytest.mark.parametrize(("gone", "err_code"), [("consumer", 10014), ("stream", 10059)])
async def test_a_feed_of_a_missing_consumer_raises_not_found(
    nats_url: str, gone: str, err_code: int
) -> None:
    """With its consumer (or stream) deleted before a pull, a PullFeed's wait() gets a 404."""
    with trio.fail_after(5):
        async with consumer_whose(nats_url, gone) as consumer:
            feed = consumer.feed(print, expires=30)
            try:
                feed.pull(4)
                with pytest.raises(JetStreamError) as raised:
                    await own(feed)
                assert (raised.value.code, raised.value.err_code) == (404, err_code)
            finally:
                feed.close()
