"""Review 17: a publish refused for its reply subject fails the request or pull that waits on it.

nats-server reserves some reply subjects (``_R_.``, ``_GR_.``, ``$JS.ACK.``)
and refuses a client's publish that uses one as its reply with ``-ERR
'Permissions Violation for Publish with Reply of "_R_...."'``, dropping it. A
client whose ``inbox_prefix`` is one of those got that only as an
``AsyncError``: each request waited out its caller's deadline, each ``fetch``
returned ``[]`` after ``expires``, as if nobody had answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from trouper.nats import (
    AsyncError,
    ClientEvent,
    PermissionsViolation,
    PullConsumer,
    StorageType,
    StreamConfig,
    connect,
)

pytestmark = pytest.mark.real_clock

_REFUSAL = r'^server error: Permissions Violation for Publish with Reply of "_R_\.\w+(\.1)?"$'


@pytest.fixture
async def stream(nats_url: str) -> AsyncIterator[str]:
    """A stream R17R holding one message, with a pull consumer "c"."""
    async with connect(nats_url) as nc:
        js = nc.jetstream()
        await js.add_stream(StreamConfig("R17R", subjects=["r17r"], storage=StorageType.MEMORY))
        try:
            await js.publish("r17r", b"waiting")
            await js.pull_subscribe("R17R", "c")
            yield "R17R"
        finally:
            await js.delete_stream("R17R")


async def test_a_request_whose_reply_the_server_refuses_raises_the_refusal(nats_url: str) -> None:
    """request() raises the PermissionsViolation at once (still reported), not at its deadline."""
    events: list[ClientEvent] = []
    with trio.fail_after(5):
        async with (
            connect(nats_url) as service,
            connect(nats_url, inbox_prefix="_R_", on_event=events.append) as nc,
        ):
            await service.subscribe("r17.svc", callback=lambda m: m.respond_nowait(b"ok"))
            await service.flush()
            with pytest.raises(PermissionsViolation, match=_REFUSAL):
                await nc.request("r17.svc", b"x")
            await nc.flush()
    assert [type(event) for event in events[:1]] == [AsyncError]


async def test_a_fetch_whose_reply_the_server_refuses_raises_the_refusal(
    nats_url: str, stream: str
) -> None:
    """fetch() raises the PermissionsViolation at once, not [] after expires."""
    with trio.fail_after(3):
        async with connect(nats_url, inbox_prefix="_R_") as nc:
            pull = PullConsumer(nc.jetstream(), stream, "c")
            with pytest.raises(PermissionsViolation, match=_REFUSAL):
                await pull.fetch(1, expires=5)
