"""Review 5: ``update_stream`` keeps the stream settings ``StreamConfig`` does not model.

A stream made elsewhere (the ``nats`` CLI, another client) with settings
trouper's config lacks (``metadata``, ``allow_direct``, ``compression``...)
lost them on an update: the update sent only the modelled fields, and the
server reset the others to their defaults, silently.
"""

from __future__ import annotations

import itertools
import json

import attrs
import pytest
import trio

from trouper.nats import Client, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()


def fresh() -> str:
    """A stream name no other test uses (they share one server)."""
    return f"R5U{next(_names)}"


async def raw_config(nc: Client, name: str) -> dict[str, object]:
    """The stream's configuration as the server holds it, every field."""
    reply = await nc.request(f"$JS.API.STREAM.INFO.{name}", b"")
    config: dict[str, object] = json.loads(reply.data)["config"]
    return config


async def test_an_update_keeps_settings_stream_config_does_not_model(nats_url: str) -> None:
    """info() then update_stream() with a changed field leaves unmodelled settings as they were."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            config = {
                "name": name,
                "subjects": [f"{name}.>"],
                "storage": "memory",
                "allow_direct": True,
                "metadata": {"owner": "billing"},
            }
            reply = await nc.request(f"$JS.API.STREAM.CREATE.{name}", json.dumps(config).encode())
            assert "error" not in json.loads(reply.data), reply.data
            info = await js.stream_info(name)
            updated = await js.update_stream(attrs.evolve(info.config, max_msgs=10))
            after = await raw_config(nc, name)
            await js.delete_stream(name)
    assert updated.config.max_msgs == 10
    metadata = after["metadata"]
    assert isinstance(metadata, dict)
    kept = (after["max_msgs"], after["allow_direct"], metadata.get("owner"))
    assert kept == (10, True, "billing")


async def test_an_update_still_sets_modelled_fields_to_their_defaults(nats_url: str) -> None:
    """A modelled field the update leaves at its default is sent, not kept from the server."""
    name = fresh()
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig(name, subjects=[f"{name}.>"], description="old", max_msgs=5)
            )
            await js.update_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            after = await raw_config(nc, name)
            await js.delete_stream(name)
    assert (after.get("description"), after["max_msgs"]) == (None, -1)
