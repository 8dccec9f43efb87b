"""Review 26c: a publish dropped over a lowered ``max_payload`` is reported with what it held.

A plain publish still in the write buffer (or the outage buffer) when the
server's ``max_payload`` drops below its size is dropped unsent and reported
as ``AsyncError(MaxPayloadExceeded)``. That event said only the sizes, so
its publisher could not tell which message was lost: one that waits for an
answer on the publish's reply subject (trouper's remote asks) waited until
its deadline, forever without one. The event now carries the publish's
subject, reply subject, payload and headers.
"""

from __future__ import annotations

import json

import pytest
import trio
from nats_fake import connected, fake_server, wait_for

from trouper.nats import (
    AsyncError,
    Client,
    ClientEvent,
    Headers,
    MaxPayloadExceeded,
    Status,
)

pytestmark = pytest.mark.real_clock


async def _fill(nc: Client) -> None:
    """Publish 2000-byte messages on ``filler`` until the socket takes no more.

    The writer is then stuck on a send: what the write buffer holds stays
    there (it still has room for more).
    """
    while True:
        for _ in range(16):
            nc.publish_nowait("filler", b"x" * 2000)
        await trio.sleep(0.01)
        if nc.statistics().buffered_bytes:
            await trio.sleep(0.05)  # (the writer, had it not been stuck, took them by now)
            if nc.statistics().buffered_bytes:
                return


async def test_a_dropped_publish_is_reported_with_its_subject_reply_payload_and_headers() -> None:
    """Each dropped publish's event names it; an event for another error carries nothing."""
    events: list[ClientEvent] = []
    with trio.fail_after(20):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append, write_buffer_size=256 * 1024) as (nc, peer),
        ):
            # The peer reads nothing: once the socket is full, what is published stays buffered.
            await _fill(nc)
            before = len(events)
            nc.publish_nowait("asked.here", b"q" * 1500, reply="answers.7")
            nc.publish_nowait("told.here", b"t" * 1500, headers={"Nats-Msg-Id": "m1"})
            nc.publish_nowait("small", b"s", reply="answers.8")
            info = {"server_id": "FAKE", "max_payload": 1024}
            await peer.send(b"INFO " + json.dumps(info).encode() + b"\r\n")
            await wait_for(lambda: nc.max_payload == 1024)
            received: list[str] = []
            while not received or received[-1] != "small":
                line, _ = await peer.read_command()
                received.append(line.split()[1])
            await nc.close()
    assert set(received) == {"filler", "small"}
    dropped = [
        event
        for event in events[before:]
        if isinstance(event, AsyncError) and event.subject != "filler"
    ]
    assert [(e.subject, e.reply, e.payload, e.headers) for e in dropped] == [
        ("asked.here", "answers.7", b"q" * 1500, None),
        ("told.here", None, b"t" * 1500, Headers({"Nats-Msg-Id": "m1"})),
    ]
    assert [type(e.error) for e in dropped] == [MaxPayloadExceeded] * 2
    assert dropped[0].error.args == (1500, 1024)
    assert dropped[1].error.args[1] == 1024
    assert dropped[1].error.args[0] > 1500  # (headers and payload)
    fillers = [e for e in events if isinstance(e, AsyncError) and e.subject == "filler"]
    assert all(e.reply is None and e.payload == b"x" * 2000 for e in fillers)
    assert AsyncError(MaxPayloadExceeded(1, 0)).subject is None


async def test_a_publish_dropped_at_a_reconnect_is_reported_with_what_it_held() -> None:
    """The outage buffer's publish over the new server's max_payload names itself too."""
    events: list[ClientEvent] = []
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(
                server, on_event=events.append, reconnect_wait=0.01, reconnect_jitter=0.0
            ) as (nc, peer),
        ):
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("asked.there", b"q" * 2000, reply="answers.9")
            await nc.publish("small", b"s")
            peer = await server.accept()
            await peer.handshake(max_payload=1024)
            assert (await peer.read_command()) == ("PUB small 1", b"s")
            await nc.close()
    (dropped,) = [event for event in events if isinstance(event, AsyncError)]
    assert (dropped.subject, dropped.reply, dropped.payload, dropped.headers) == (
        "asked.there",
        "answers.9",
        b"q" * 2000,
        None,
    )
    assert isinstance(dropped.error, MaxPayloadExceeded)
    assert dropped.error.args == (2000, 1024)
