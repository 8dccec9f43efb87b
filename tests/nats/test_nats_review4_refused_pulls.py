"""Review: a pull the server refuses for good ends the feed or stream with the server's reason.

A 409 such as ``Exceeded MaxRequestBatch of 2`` or ``Consumer is push based``
refuses every pull asked the same way again, so ``consume()`` and
``PullFeed`` raise it as ``JetStreamError`` instead of pulling again for ever.
"""

from __future__ import annotations

import itertools
import json

import pytest
import trio

from trouper.nats import Client, JetStreamError, PullFeed, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()


def fresh() -> str:
    """A stream name no other test uses (they share one server)."""
    return f"R4P{next(_names)}"


async def raw_consumer(nc: Client, stream: str, name: str, **config: object) -> None:
    """Create a consumer with fields ``ConsumerConfig`` does not model, straight through the API."""
    body = {"stream_name": stream, "config": {"durable_name": name, "ack_policy": "explicit"}}
    body["config"].update(config)  # type: ignore[attr-defined]
    reply = await nc.request(f"$JS.API.CONSUMER.CREATE.{stream}.{name}", json.dumps(body).encode())
    assert "error" not in json.loads(reply.data), reply.data


async def wait_until_it_raises(feed: PullFeed) -> None:
    """Call ``feed.wait()`` until it raises, as a feed's owner does between its pulls."""
    while True:
        await feed.wait()


async def test_consume_raises_when_its_batch_exceeds_max_request_batch(nats_url: str) -> None:
    """consume() with a batch over the consumer's max_batch raises the server's 409."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            await raw_consumer(nc, name, "small", max_batch=2)
            consumer = await js.pull_subscribe(name, "small")
            async with consumer.consume(batch=5, expires=1) as messages:
                with pytest.raises(
                    JetStreamError,
                    match=(r"^JetStream error 409 \(0\): Exceeded MaxRequestBatch of 2$"),
                ):
                    await messages.next_msg()
            await js.delete_stream(name)


async def test_feed_raises_when_its_pull_exceeds_max_request_batch(nats_url: str) -> None:
    """A PullFeed whose pull is over the consumer's max_batch raises the 409 from wait()."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            await raw_consumer(nc, name, "small", max_batch=2)
            consumer = await js.pull_subscribe(name, "small")
            feed = consumer.feed(lambda msg: None, expires=1, heartbeat=0.5)
            feed.pull(5)
            with pytest.raises(JetStreamError, match=r"Exceeded MaxRequestBatch of 2$"):
                await wait_until_it_raises(feed)
            feed.close()
            await js.delete_stream(name)


async def test_feed_raises_on_a_push_consumer(nats_url: str) -> None:
    """A PullFeed bound to a push consumer raises ``Consumer is push based`` from wait()."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            await raw_consumer(nc, name, "pushed", deliver_subject=f"deliver.{name}")
            consumer = await js.pull_subscribe(name, "pushed")
            feed = consumer.feed(lambda msg: None, expires=1, heartbeat=0.5)
            feed.pull(1)
            with pytest.raises(JetStreamError) as caught:
                await wait_until_it_raises(feed)
            assert (caught.value.code, caught.value.description) == (409, "Consumer is push based")
            feed.close()
            await js.delete_stream(name)
