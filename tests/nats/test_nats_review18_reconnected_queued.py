"""Review 18: ``Reconnected`` comes when the re-made subscriptions are queued, not yet written.

docs/nats.md said the event came with "the outage buffer sent". The client
reports it as soon as the new connection is up, with the subscriptions and
the outage buffer queued in front of its write buffer: the writer sends them
next, ahead of anything published from then on (from ``on_event`` too).
"""

from __future__ import annotations

import contextlib

import pytest
import trio
from nats_fake import FakeServer, connected, fake_server, wait_for

from trouper.nats import ClientEvent, Reconnected, Status

pytestmark = pytest.mark.real_clock


class Refused(Exception):
    """What the user's on_event raises."""


async def _serve_reconnect(server: FakeServer, lines: list[str], done: trio.Event) -> None:
    """Accept the reconnect and record each command line until the client closes its end."""
    peer = await server.accept()
    await peer.handshake()
    with contextlib.suppress(EOFError, trio.BrokenResourceError):
        while True:
            lines.append(await peer.read_line())
    done.set()


async def test_nothing_is_written_when_reconnected_is_reported() -> None:
    """An on_event that raises on Reconnected closes the connection: the SUB never left."""
    lines: list[str] = []
    done = trio.Event()

    def on_event(event: ClientEvent) -> None:
        if isinstance(event, Reconnected):
            raise Refused("stop here")

    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:
            with pytest.RaisesGroup(pytest.RaisesExc(Refused), flatten_subgroups=True):
                async with connected(
                    server, on_event=on_event, reconnect_wait=0.01, reconnect_jitter=0.0
                ) as (nc, peer):
                    await nc.subscribe("kept")
                    await peer.read_until("SUB kept")
                    nursery.start_soon(_serve_reconnect, server, lines, done)
                    await peer.close()
                    await trio.sleep_forever()
            await done.wait()
    assert lines == []


async def test_a_publish_from_on_event_follows_the_queued_subscriptions_and_outage() -> None:
    """What on_event publishes on Reconnected is written after the SUB and the outage's PUB."""
    lines: list[str] = []
    done = trio.Event()

    def on_event(event: ClientEvent) -> None:
        if isinstance(event, Reconnected):
            nc.publish_nowait("after", b"a")

    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:
            async with connected(
                server, on_event=on_event, reconnect_wait=0.2, reconnect_jitter=0.0
            ) as (nc, peer):
                await nc.subscribe("kept")
                await peer.read_until("SUB kept")
                nursery.start_soon(_serve_reconnect, server, lines, done)
                await peer.close()
                await wait_for(lambda: nc.status is Status.RECONNECTING)
                await nc.publish("outage", b"o")
                await wait_for(lambda: any(line.startswith("PUB after") for line in lines))
            await done.wait()
    commands = [line.split()[:2] for line in lines if line.split()[0] in ("SUB", "PUB")]
    assert commands == [["SUB", "kept"], ["PUB", "outage"], ["PUB", "after"]]
