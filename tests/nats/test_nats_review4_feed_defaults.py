"""Review: ``PullConsumer.feed`` takes a short ``expires`` without a ``heartbeat``.

The default heartbeat was 5 s, more than half of any ``expires`` under 10 s,
so ``consumer.feed(callback, expires=4)`` raised a ValueError about a
heartbeat the caller never gave. The default is now 5 s or half of
``expires``, whichever is shorter.
"""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

from trouper.nats import JsMsg, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()


def fresh() -> str:
    """A stream name no other test uses (they share one server)."""
    return f"R4F{next(_names)}"


async def test_feed_with_a_short_expiry_and_no_heartbeat_delivers(nats_url: str) -> None:
    """feed(callback, expires=2) is accepted and delivers what is published."""
    name = fresh()
    got: list[JsMsg] = []
    with trio.fail_after(3):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            consumer = await js.pull_subscribe(name, "c")
            feed = consumer.feed(got.append, expires=2)
            feed.pull(1)
            await js.publish(f"{name}.x", b"one")
            while not got:
                await feed.wait()
            feed.close()
            await js.delete_stream(name)
    assert [m.data for m in got] == [b"one"]


async def test_wait_returns_once_every_message_pulled_has_come(nats_url: str) -> None:
    """A task already in ``wait()`` wakes when its pull is answered in full (``requested`` 0).

    It used to wake only for statuses (a pull's end, a refusal), so an owner
    waiting to pull again after its last message waited for ever.
    """
    name = fresh()
    got: list[JsMsg] = []
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            consumer = await js.pull_subscribe(name, "c")
            feed = consumer.feed(got.append, expires=30)
            feed.pull(2)
            async with trio.open_nursery() as nursery:

                async def publish_two() -> None:
                    await trio.testing.wait_all_tasks_blocked()  # the owner is in wait()
                    await js.publish(f"{name}.x", b"one")
                    await js.publish(f"{name}.x", b"two")

                nursery.start_soon(publish_two)
                while len(got) < 2:
                    await feed.wait()
            assert feed.requested == 0
            feed.close()
            await js.delete_stream(name)
    assert [m.data for m in got] == [b"one", b"two"]
