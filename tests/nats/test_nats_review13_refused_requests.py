"""A request whose publish the server refuses fails with that refusal, not at its deadline.

nats-server answers a publish this user may not make with ``-ERR 'Permissions
Violation for Publish to "x"'`` and drops it: no reply can come. A request
waited until the caller's deadline (a ``TooSlowError`` that hid the cause)
and ``publish_soon``'s ``on_ack`` heard ``ReplyTimeout`` ("it may or may not
be stored") for a message the server had refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from trouper.nats import NatsError, PermissionsViolation, PubAck, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

_CONFIG = """
authorization {
  users: [{user: u, password: p, permissions: {publish: {deny: ["secret.>"]}}}]
}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(config=_CONFIG) as server:
        yield server


async def test_refused_request_raises_the_permissions_violation(server: NatsServer) -> None:
    """request() to a subject this user may not publish to raises PermissionsViolation."""
    with trio.fail_after(2):
        async with connect(f"nats://u:p@127.0.0.1:{server.port}") as nc:
            with pytest.raises(PermissionsViolation) as caught:
                await nc.request("secret.plans", b"?")
            assert nc.status.value == "connected"
            # Nothing of it is left waiting: other requests work.
            sub = await nc.subscribe("open")
            async with trio.open_nursery() as nursery:

                async def answer() -> None:
                    msg = await sub.next_msg()
                    await msg.respond(b"yes")

                nursery.start_soon(answer)
                reply = await nc.request("open", b"?")
    assert (caught.value.operation, caught.value.subject) == ("publish", "secret.plans")
    assert reply.data == b"yes"


async def test_refused_request_leaves_requests_to_other_subjects(server: NatsServer) -> None:
    """Only requests to the refused subject fail; one in flight elsewhere gets its reply."""
    with trio.fail_after(2):
        async with connect(f"nats://u:p@127.0.0.1:{server.port}") as nc:
            sub = await nc.subscribe("open")
            await nc.flush()
            results: dict[str, object] = {}
            async with trio.open_nursery() as nursery:

                async def ask(subject: str) -> None:
                    try:
                        results[subject] = (await nc.request(subject, b"?")).data
                    except PermissionsViolation as error:
                        results[subject] = error

                nursery.start_soon(ask, "open")
                nursery.start_soon(ask, "secret.a")
                msg = await sub.next_msg()
                await msg.respond(b"yes")
    assert results["open"] == b"yes"
    assert isinstance(results["secret.a"], PermissionsViolation)


async def test_refused_acknowledged_publish_hears_the_permissions_violation(
    server: NatsServer,
) -> None:
    """publish_soon's on_ack hears PermissionsViolation (not ReplyTimeout) when refused."""
    heard: list[PubAck | NatsError] = []
    done = trio.Event()

    def on_ack(outcome: PubAck | NatsError) -> None:
        heard.append(outcome)
        done.set()

    with trio.fail_after(2):
        async with connect(f"nats://u:p@127.0.0.1:{server.port}", reply_timeout=30) as nc:
            nc.jetstream().publish_soon("secret.orders", b"x", on_ack)
            await done.wait()
    assert len(heard) == 1
    assert isinstance(heard[0], PermissionsViolation)
