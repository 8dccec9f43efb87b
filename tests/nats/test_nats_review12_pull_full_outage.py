"""Review 12: a ``consume()`` reader during an outage whose buffer is full.

While the client reconnects, a message stream's pulls wait in the outage
buffer. When that buffer is full (the application's publishes filled it),
the reader's pull cannot be buffered; the outage is passing, so the reader
waits for the reconnect and pulls then, instead of ending with
``OutboundBufferFull``, which the consume loop took for a failure of its own.
"""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
from nats_fake import connected, fake_server, msg_frame, wait_for

from trouper.nats import Client, OutboundBufferFull, PullConsumer, Status

pytestmark = pytest.mark.real_clock

_NEXT = "PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker"
_ACK = "$JS.ACK.ORDERS.worker.1.1.1.1700000000000000000.0"


async def publish_until_refused(nc: Client, payload: bytes) -> None:
    """Publish ``payload`` until the client refuses one (the outage buffer is full)."""
    while True:
        await nc.publish("results", payload)


async def test_a_reader_waits_out_a_full_outage_buffer_and_pulls_after_the_reconnect() -> None:
    """No OutboundBufferFull from next_msg: the pull goes out once reconnected."""
    options = {"reconnect_wait": 0.2, "reconnect_jitter": 0.0, "reconnect_buffer_size": 512}
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(server, **options) as (nc, peer),
        ):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with consumer.consume(batch=2, expires=5) as messages:
                got: list[bytes] = []

                async def read_one() -> None:
                    got.append((await messages.next_msg()).data)

                await peer.close()
                await wait_for(lambda: nc.status is Status.RECONNECTING)
                for size in (100, 0):  # the application's publishes fill the outage buffer
                    with pytest.raises(OutboundBufferFull):
                        await publish_until_refused(nc, b"r" * size)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(read_one)  # its first pull finds no room
                    await trio.testing.wait_all_tasks_blocked()
                    second = await server.accept()
                    await second.handshake()
                    sid = 0
                    while True:
                        line, payload = await second.read_command()
                        if line.startswith("SUB _INBOX."):
                            sid = int(line.split()[-1])
                        elif line.startswith(_NEXT):
                            assert payload is not None
                            assert json.loads(payload)["batch"] == 2
                            break
                    await second.send(msg_frame("ORDERS.new", sid, b"job", reply=_ACK))
                    await wait_for(lambda: bool(got))
    assert got == [b"job"]
