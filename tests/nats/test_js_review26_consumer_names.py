"""Review 26: a consumer name the server would drop unsaid is refused before anything is made.

``add_consumer(stream, ConsumerConfig(durable_name="x", name="y"))`` made a
consumer ``x``: the server took the durable name and dropped ``name``
without a word. ``pull_subscribe(stream, "a", ConsumerConfig(durable_name="b"))``
(or ``name="b"``) made or updated ``a``, the config's name silently replaced.
``ConsumerConfig(durable_name="")`` made an ephemeral consumer with a
made-up name. Each is now a ``ValueError`` and no consumer is made.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from trouper.nats import ConsumerConfig, JetStream, StorageType, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()


@asynccontextmanager
async def memory_stream(nats_url: str) -> AsyncIterator[tuple[JetStream, str]]:
    """A JetStream and a fresh memory stream's name, deleted after."""
    name = f"R26CN{next(_names)}"
    with trio.fail_after(10):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig(name, subjects=[f"{name}.>"], storage=StorageType.MEMORY)
            )
            try:
                yield js, name
            finally:
                await js.delete_stream(name)


async def test_add_consumer_refuses_a_durable_name_and_a_name_that_differ(nats_url: str) -> None:
    """durable_name="x" with name="y" raises ValueError naming both; no consumer is made."""
    message = (
        r"^ConsumerConfig has durable_name 'x' and name 'y': a consumer has one name "
        r"\(set one of them, or both the same\)$"
    )
    async with memory_stream(nats_url) as (js, stream):
        with pytest.raises(ValueError, match=message):
            await js.add_consumer(stream, ConsumerConfig(durable_name="x", name="y"))
        assert (await js.stream_info(stream)).state.consumer_count == 0
        info = await js.add_consumer(stream, ConsumerConfig(durable_name="x", name="x"))
        assert info.name == "x"


@pytest.mark.parametrize(("field", "value"), [("durable_name", ""), ("name", ""), ("name", "a.b")])
async def test_add_consumer_refuses_a_config_name_that_is_no_name(
    nats_url: str, field: str, value: str
) -> None:
    """An empty (or dotted) durable_name or name raises ValueError; no consumer is made."""
    message = (
        rf"^ConsumerConfig\.{field} must be a consumer name \(non-empty, without '\.', "
        rf"'\*', '>' or spaces\) or None, got {re.escape(repr(value))}$"
    )
    if field == "durable_name":
        config = ConsumerConfig(durable_name=value)
    else:
        config = ConsumerConfig(name=value)
    async with memory_stream(nats_url) as (js, stream):
        with pytest.raises(ValueError, match=message):
            await js.add_consumer(stream, config)
        assert (await js.stream_info(stream)).state.consumer_count == 0


@pytest.mark.parametrize("config", [ConsumerConfig(durable_name="b"), ConsumerConfig(name="b")])
async def test_pull_subscribe_refuses_a_config_that_names_another_consumer(
    nats_url: str, config: ConsumerConfig
) -> None:
    """pull_subscribe(stream, "a", config naming "b") raises ValueError; nothing is made."""
    message = (
        r"^pull_subscribe's durable 'a' names the consumer, but its config names it 'b' "
        r"\(leave the config's durable_name and name unset, or the same\)$"
    )
    async with memory_stream(nats_url) as (js, stream):
        with pytest.raises(ValueError, match=message):
            await js.pull_subscribe(stream, "a", config)
        assert (await js.stream_info(stream)).state.consumer_count == 0
        consumer = await js.pull_subscribe(stream, "a", ConsumerConfig(name="a"))
        assert (await consumer.info()).name == "a"
