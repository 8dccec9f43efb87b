"""A pull the server refuses to take (publish permissions) fails, instead of looking empty.

nats-server drops a ``CONSUMER.MSG.NEXT`` publish this user may not make and
says ``-ERR 'Permissions Violation for Publish to "$JS.API.CONSUMER.MSG.NEXT..."'``.
``fetch`` returned ``[]`` two seconds after ``expires`` (as if the stream were
empty), ``consume()`` re-pulled at each expiry for ever and a ``PullFeed``
after every two silent heartbeats, each refusal only an ``AsyncError`` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import trio

from trouper.nats import (
    Client,
    PermissionsViolation,
    PullConsumer,
    StorageType,
    StreamConfig,
    connect,
)
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

_NEXT = "$JS.API.CONSUMER.MSG.NEXT.R13P.c"
_CONFIG = f"""
authorization {{
  users: [{{user: u, password: p, permissions: {{publish: {{deny: ["{_NEXT}"]}}}}}}]
}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(config=_CONFIG) as server:
        yield server


@pytest.fixture
async def consumer(server: NatsServer) -> AsyncIterator[tuple[Client, PullConsumer]]:
    async with connect(f"nats://u:p@127.0.0.1:{server.port}") as nc:
        js = nc.jetstream()
        await js.add_stream(StreamConfig("R13P", subjects=["r13p"], storage=StorageType.MEMORY))
        try:
            await js.publish("r13p", b"waiting")
            yield nc, await js.pull_subscribe("R13P", "c")
        finally:
            await js.delete_stream("R13P")


async def test_refused_fetch_raises_the_permissions_violation(
    consumer: tuple[Client, PullConsumer],
) -> None:
    """fetch() raises PermissionsViolation at once, not [] after expires."""
    _, pull = consumer
    with trio.fail_after(1), pytest.raises(PermissionsViolation) as caught:
        await pull.fetch(1, expires=5)
    assert caught.value.subject == _NEXT


async def test_refused_consume_ends_with_the_permissions_violation(
    consumer: tuple[Client, PullConsumer],
) -> None:
    """A consume() reader gets PermissionsViolation instead of waiting for ever."""
    _, pull = consumer
    with trio.fail_after(1), pytest.raises(PermissionsViolation):
        async with pull.consume(batch=10, expires=5) as messages:
            await messages.next_msg()


async def test_refused_feed_ends_with_the_permissions_violation(
    consumer: tuple[Client, PullConsumer],
) -> None:
    """A PullFeed's wait() raises PermissionsViolation after its pull was refused."""
    _, pull = consumer
    feed = pull.feed(lambda msg: None, expires=5, heartbeat=1)
    try:
        feed.pull(10)
        with trio.fail_after(1), pytest.raises(PermissionsViolation):
            await feed.wait()
    finally:
        feed.close()
