"""Review 12: updating a consumer keeps the settings ``ConsumerConfig`` does not model.

``add_consumer`` updates a consumer that exists. A consumer made elsewhere
(the ``nats`` CLI, another client) with settings trouper's config lacks
(``max_batch``, ``max_expires``, ``metadata``, ``sample_freq``...) lost them
on such an update: only the modelled fields were sent, and the server reset
the others, silently (as ``update_stream`` did before review 5).
"""

from __future__ import annotations

import itertools
import json

import attrs
import pytest
import trio

from trouper.nats import Client, ConsumerConfig, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()

_UNMODELLED = {
    "max_batch": 10,
    "max_expires": 10_000_000_000,
    "max_bytes": 1000,
    "sample_freq": "50%",
    "metadata": {"owner": "billing"},
}


def fresh() -> str:
    """A stream name no other test uses (they share one server)."""
    return f"R12C{next(_names)}"


async def raw_config(nc: Client, stream: str, name: str) -> dict[str, object]:
    """The consumer's configuration as the server holds it, every field."""
    reply = await nc.request(f"$JS.API.CONSUMER.INFO.{stream}.{name}", b"")
    config: dict[str, object] = json.loads(reply.data)["config"]
    return config


def unmodelled(config: dict[str, object]) -> dict[str, object]:
    """The settings of ``_UNMODELLED`` as ``config`` has them (server metadata left out)."""
    found = {key: config.get(key) for key in _UNMODELLED}
    metadata = found["metadata"]
    if isinstance(metadata, dict):
        found["metadata"] = {k: v for k, v in metadata.items() if not k.startswith("_nats")}
    return found


async def made_elsewhere(nc: Client, stream: str, name: str) -> None:
    """A stream, and a pull consumer with settings ``ConsumerConfig`` lacks, made as by the CLI."""
    await nc.jetstream().add_stream(StreamConfig(stream, subjects=[f"{stream}.>"]))
    config = {"durable_name": name, "ack_policy": "explicit", **_UNMODELLED}
    body = json.dumps({"stream_name": stream, "config": config}).encode()
    reply = await nc.request(f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}", body)
    assert "error" not in json.loads(reply.data), reply.data


async def test_an_update_keeps_settings_consumer_config_does_not_model(nats_url: str) -> None:
    """consumer_info() then add_consumer() with a changed field keeps the others."""
    stream = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await made_elsewhere(nc, stream, "worker")
            info = await js.consumer_info(stream, "worker")
            updated = await js.add_consumer(stream, attrs.evolve(info.config, ack_wait=60.0))
            after = await raw_config(nc, stream, "worker")
            await js.delete_stream(stream)
    assert updated.config.ack_wait == 60.0
    assert unmodelled(after) == _UNMODELLED


async def test_pull_subscribe_with_a_config_keeps_them_too(nats_url: str) -> None:
    """pull_subscribe(config=...) of an existing consumer updates the modelled fields only."""
    stream = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await made_elsewhere(nc, stream, "worker")
            await js.pull_subscribe(stream, "worker", ConsumerConfig(max_deliver=5))
            after = await raw_config(nc, stream, "worker")
            await js.delete_stream(stream)
    assert after["max_deliver"] == 5
    assert unmodelled(after) == _UNMODELLED


async def test_a_new_consumer_is_made_as_given(nats_url: str) -> None:
    """Nothing to keep: a consumer that does not exist is created with the config alone."""
    stream = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(stream, subjects=[f"{stream}.>"]))
            info = await js.add_consumer(stream, ConsumerConfig(durable_name="new", max_deliver=3))
            after = await raw_config(nc, stream, "new")
            await js.delete_stream(stream)
    assert info.config.max_deliver == 3
    assert after.get("max_batch") is None
