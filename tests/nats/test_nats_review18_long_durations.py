"""Review: durations beyond the server's int64 nanoseconds are refused, not sent.

nats-server holds a duration as int64 nanoseconds (about 292 years). A NAK delay beyond it was
read by the server as no delay (the message came back at once), and a stream or consumer
duration beyond it had the whole request refused as invalid JSON.
"""

from __future__ import annotations

import itertools
import math

import pytest
import trio

from trouper.nats import ConsumerConfig, RetentionPolicy, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()
TOO_LONG = 1e12  # seconds: about 31,700 years
LONGEST = (2**63 - 1) // 1_000_000_000  # seconds the server holds


def fresh() -> str:
    """A stream name no other test uses (they share one server)."""
    return f"R18LONG{next(_names)}"


@pytest.mark.parametrize("delay", [TOO_LONG, math.inf, math.nan, -1.0])
async def test_a_nak_delay_the_server_cannot_hold_is_refused(nats_url: str, delay: float) -> None:
    """``nak`` and ``nak_nowait`` raise ValueError; the message stays unsettled and can be acked."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig(name, subjects=[f"{name}.>"], retention=RetentionPolicy.WORK_QUEUE)
            )
            await js.publish(f"{name}.x", b"job")
            consumer = await js.pull_subscribe(name, "w", ConsumerConfig(ack_wait=5))
            (msg,) = await consumer.fetch(1, expires=1)
            with pytest.raises(ValueError, match=r"^delay must be seconds >= 0 and at most "):
                await msg.nak(delay=delay)
            with pytest.raises(ValueError, match=r"^delay must be seconds >= 0 and at most "):
                msg.nak_nowait(delay=delay)
            await msg.ack()
            assert await consumer.fetch(1, expires=0.3) == []


async def test_the_longest_nak_delay_the_server_holds_is_taken(nats_url: str) -> None:
    """A delay of ``LONGEST`` seconds is sent: the message is not redelivered meanwhile."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig(name, subjects=[f"{name}.>"], retention=RetentionPolicy.WORK_QUEUE)
            )
            await js.publish(f"{name}.x", b"job")
            consumer = await js.pull_subscribe(name, "w", ConsumerConfig(ack_wait=5))
            (msg,) = await consumer.fetch(1, expires=1)
            await msg.nak(delay=float(LONGEST))
            assert await consumer.fetch(1, expires=0.5) == []


async def test_a_stream_duration_the_server_cannot_hold_is_refused(nats_url: str) -> None:
    """``add_stream`` with a ``duplicate_window`` beyond int64 nanoseconds: ValueError, not sent."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            with pytest.raises(ValueError, match=r"^a duration must be finite seconds, at most "):
                await js.add_stream(
                    StreamConfig(name, subjects=[f"{name}.>"], duplicate_window=TOO_LONG)
                )
            with pytest.raises(ValueError, match=r"^a duration must be finite seconds, at most "):
                await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"], max_age=math.inf))
            await js.add_stream(StreamConfig(name, subjects=[f"{name}.>"]))
            with pytest.raises(ValueError, match=r"^a duration must be finite seconds, at most "):
                await js.pull_subscribe(name, "w", ConsumerConfig(backoff=(1.0, TOO_LONG)))
