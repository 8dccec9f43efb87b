"""Review 25: publishes buffered in an outage that the next server's max_payload refuses.

A publish made while reconnecting is checked against the old server's
``max_payload``. Sent as it was to a server that takes less, it drew the
fatal ``-ERR 'Maximum Payload Violation'``: the connection dropped, and what
its socket had taken after the publish was lost. The client now drops each
such publish before the outage buffer goes out: a request fails with
``MaxPayloadExceeded``, a plain publish is reported as an
``AsyncError(MaxPayloadExceeded)``, and the rest goes out on a connection
that stays up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from nats_fake import connected, fake_server, msg_frame, wait_for

from trouper.nats import (
    AsyncError,
    Client,
    ClientEvent,
    MaxPayloadExceeded,
    Msg,
    Reconnected,
    Status,
)

pytestmark = pytest.mark.real_clock


async def _buffered(
    nursery: trio.Nursery, nc: Client, ask: Callable[[str, str, bytes], Awaitable[None]], *args: Any
) -> None:
    """Start ``ask(*args)`` (a request) and wait until it is in the outage buffer."""
    before = nc.statistics().buffered_bytes
    nursery.start_soon(ask, *args)
    await wait_for(lambda: nc.statistics().buffered_bytes > before)


async def test_buffered_publishes_over_the_new_max_payload_are_dropped_and_reported() -> None:
    """The big ones never reach the new server; the others do, and the connection stays up."""
    events: list[ClientEvent] = []
    outcomes: dict[str, object] = {}

    async def ask(name: str, subject: str, payload: bytes) -> None:
        try:
            outcomes[name] = await nc.request(subject, payload)
        except Exception as error:
            outcomes[name] = error

    with trio.fail_after(10):
        async with (
            fake_server() as server,
            trio.open_nursery() as nursery,
            connected(
                server, on_event=events.append, reconnect_wait=0.01, reconnect_jitter=0.0
            ) as (nc, peer),
        ):
            await nc.subscribe("kept")
            await peer.read_until("SUB kept")
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("big", b"x" * 2000)
            await _buffered(nursery, nc, ask, "big request", "big.req", b"y" * 2000)
            await nc.publish("small", b"s", headers={"H": "v" * 1500})  # (headers count)
            await nc.publish("small", b"s")
            await _buffered(nursery, nc, ask, "small request", "small.req", b"r")
            later = await nc.subscribe("later")

            peer = await server.accept()
            await peer.handshake(max_payload=1024)
            lines: list[str] = []
            inbox_sid = request_reply = ""
            while not lines or not lines[-1].startswith("SUB later"):
                line, _ = await peer.read_command()
                lines.append(line)
                if line.startswith("SUB _INBOX."):
                    inbox_sid = line.split()[-1]
                if line.startswith("PUB small.req "):
                    request_reply = line.split()[2]
            await peer.send(msg_frame(request_reply, int(inbox_sid), b"answer"))
            await peer.send(msg_frame("later", later.sid, b"hello"))
            assert (await later.next_msg()).data == b"hello"
            await wait_for(lambda: "small request" in outcomes)
            assert nc.status is Status.CONNECTED
            # What stays in the buffer after a dropped publish is known as sent once
            # written: the next connection gets every subscription again, "later" too.
            first_events = list(events)
            await peer.close()
            peer = await server.accept()
            await peer.handshake(max_payload=1024)
            again = sorted([(await peer.read_line()).split()[:2] for _ in range(3)])
            await nc.close()
    assert [line.split()[:2] for line in lines if not line.startswith("SUB _INBOX.")] == [
        ["SUB", "kept"],
        ["PUB", "small"],
        ["PUB", "small.req"],
        ["SUB", "later"],
    ]
    assert [words[0] for words in again] == ["SUB", "SUB", "SUB"]
    assert [words[1] for words in again][1:] == ["kept", "later"]
    big_request = outcomes["big request"]
    assert isinstance(big_request, MaxPayloadExceeded)
    assert big_request.args[1] == 1024
    small_request = outcomes["small request"]
    assert isinstance(small_request, Msg)
    assert small_request.data == b"answer"
    reported = [event for event in first_events if isinstance(event, AsyncError | Reconnected)]
    assert [type(event) for event in reported] == [Reconnected, AsyncError, AsyncError]
    lost = [event.error for event in reported if isinstance(event, AsyncError)]
    assert all(isinstance(error, MaxPayloadExceeded) for error in lost)
    assert [error.args for error in lost] == [(2000, 1024), (lost[1].args[0], 1024)]
    assert lost[1].args[0] > 1500
