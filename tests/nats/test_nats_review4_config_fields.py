"""Review: consumer configurations the server reports are read back whole.

A consumer made elsewhere (the ``nats`` CLI, another client) with
``deliver_policy`` ``by_start_time`` could not be bound nor inspected: reading
its info raised a cattrs error group instead of returning it.
"""

from __future__ import annotations

import itertools
import json

import pytest
import trio

from trouper.nats import ConsumerConfig, DeliverPolicy, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()


def fresh() -> str:
    """A stream name no other test uses (they share one server)."""
    return f"R4C{next(_names)}"


async def test_a_consumer_starting_at_a_time_made_elsewhere_can_be_bound(nats_url: str) -> None:
    """pull_subscribe binds a consumer made with deliver_policy by_start_time; info() reads it."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            config = {
                "durable_name": "timed",
                "ack_policy": "explicit",
                "deliver_policy": "by_start_time",
                "opt_start_time": "2020-01-01T00:00:00Z",
            }
            body = json.dumps({"stream_name": name, "config": config}).encode()
            await nc.request(f"$JS.API.CONSUMER.CREATE.{name}.timed", body)
            consumer = await js.pull_subscribe(name, "timed")
            info = await consumer.info()
            await js.delete_stream(name)
    assert (info.config.deliver_policy.value, info.config.opt_start_time) == (
        "by_start_time",
        "2020-01-01T00:00:00Z",
    )


async def test_a_consumer_starting_at_a_time_is_made_as_configured(nats_url: str) -> None:
    """add_consumer sends deliver_policy BY_START_TIME with its opt_start_time."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            config = ConsumerConfig(
                durable_name="later",
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time="2024-05-01T12:00:00Z",
            )
            info = await js.add_consumer(name, config)
            await js.delete_stream(name)
    assert (info.config.deliver_policy, info.config.opt_start_time) == (
        DeliverPolicy.BY_START_TIME,
        "2024-05-01T12:00:00Z",
    )
