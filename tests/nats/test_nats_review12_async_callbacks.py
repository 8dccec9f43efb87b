"""Review 12: an ``async def`` given where the client calls a plain function.

The client's reader task calls callbacks synchronously; an ``async def`` (as
nats.py takes) returned a coroutine that was never awaited, so every message
(or ack, or event) was dropped with at most a ``RuntimeWarning``. Each such
argument is refused when given, with a ``TypeError`` saying why.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import Msg, PullConsumer, connect

pytestmark = pytest.mark.real_clock

PLAIN = r"^{what} must be a plain function: the client's reader task calls it and cannot await it"


async def handle(msg: object) -> None:
    """An ``async def`` callback (what nats.py takes)."""


def refused(what: str) -> pytest.RaisesExc[TypeError]:
    return pytest.raises(TypeError, match=PLAIN.format(what=what))


async def test_subscribe_refuses_an_async_callback_and_sends_no_sub() -> None:
    """``subscribe`` and ``subscribe_nowait``: TypeError, nothing subscribed."""
    async with fake_server() as server, connected(server) as (nc, peer):
        with refused("callback"):
            await nc.subscribe("work", callback=handle)  # type: ignore[arg-type]
        with refused("callback"):
            nc.subscribe_nowait("work", callback=handle)  # type: ignore[arg-type]
        got: list[Msg] = []
        sub = await nc.subscribe("other", callback=got.append)
        with trio.fail_after(5):
            line = await peer.read_until("SUB ")
        assert line == f"SUB other {sub.sid}"


async def test_connect_refuses_an_async_on_event() -> None:
    """``connect(on_event=...)``: TypeError before any connection is tried."""
    with refused("on_event"):
        async with connect("nats://127.0.0.1:1", on_event=handle):  # type: ignore[arg-type]
            pass


async def test_jetstream_refuses_async_callbacks() -> None:
    """``publish_soon``'s ``on_ack`` and a feed's callback: TypeError, nothing sent."""
    async with fake_server() as server, connected(server) as (nc, _):
        js = nc.jetstream()
        with refused("on_ack"):
            js.publish_soon("orders.1", b"1", handle)
        with refused("callback"):
            PullConsumer(js, "ORDERS", "worker").feed(handle)
        assert nc.statistics().out_msgs == 0
