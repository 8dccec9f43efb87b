"""Review 2: a bad argument raises at the call and leaves the connection's bytes whole."""

from __future__ import annotations

from array import array

import pytest
import trio
from nats_fake import connected, fake_server

pytestmark = pytest.mark.real_clock


async def test_a_text_payload_raises_and_the_next_publish_arrives_whole() -> None:
    """``publish("s", "text")`` raises ``TypeError`` without writing half a message."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            with pytest.raises(TypeError, match=r"^a payload must be bytes, got str$"):
                await nc.publish("a", "text")  # type: ignore[arg-type]
            with pytest.raises(TypeError, match=r"^a payload must be bytes, got str$"):
                nc.publish_nowait("a", "text")  # type: ignore[arg-type]
            await nc.publish("b", b"whole")
            assert await peer.read_command() == ("PUB b 5", b"whole")
            assert nc.statistics().out_msgs == 1


async def test_a_memoryview_payload_is_sent_as_its_bytes() -> None:
    """A buffer of wider items is sent as all of its bytes, its size counted in bytes."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            numbers = array("i", [1, 2, 3])
            await nc.publish("c", memoryview(numbers))
            await nc.publish("c", bytearray(b"xy"))
            assert await peer.read_command() == (f"PUB c {3 * numbers.itemsize}", numbers.tobytes())
            assert await peer.read_command() == ("PUB c 2", b"xy")


@pytest.mark.parametrize("bad", [1.5, "2", 0])
async def test_max_msgs_that_is_not_a_whole_count_is_refused(bad: object) -> None:
    """``max_msgs`` must be an int >= 1: ``UNSUB 1 1.5`` would break the connection."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, _peer):
            with pytest.raises(ValueError, match=r"^max_msgs must be an int >= 1 or None, got "):
                await nc.subscribe("a", max_msgs=bad)  # type: ignore[arg-type]
