"""Counting what core NATS lost: gaps in each sender's numbering, as a receiving node sees them."""

from __future__ import annotations

import pytest
import trio
from remote_support import Note, Notes, nodes, wait_for

import trouper.nats
from trouper.codec import Codec
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import NO_INCARNATION, frame

pytestmark = pytest.mark.real_clock

BLOB = Codec().encode_blob(Note("x"))


async def send_frames(url: str, subject: str, frames: list[bytes]) -> None:
    """Publish raw frames, as another node would, from a plain client."""
    async with trouper.nats.connect(url) as client:
        for data in frames:
            await client.publish(subject, data)
        await client.flush()


async def test_gaps_in_a_senders_numbering_are_counted_lost(transport: Nats) -> None:
    """Numbers 5, 6, 9 (the sender counts from 1): 4 lost before, 2 between."""
    seen: list[object] = []
    async with nodes(transport, "b") as (b,):
        await b.spawn(Notes, seen, name="notes")
        sender = b"S" * 8
        frames = [frame(sender, NO_INCARNATION, [(n, BLOB)]) for n in (5, 6)]
        frames.append(frame(sender, NO_INCARNATION, [(9, BLOB), (10, BLOB)]))
        with trio.fail_after(5):
            await send_frames(transport.servers[0], f"{transport.prefix}.actor.b.notes", frames)
            await wait_for(lambda: len(seen) == 4)
        assert cluster_of(b).statistics().lost == 6


async def test_numbers_meant_for_an_earlier_incarnation_count_nothing(transport: Nats) -> None:
    """Frames naming another incarnation of this node count no gap (nor are they delivered)."""
    seen: list[object] = []
    async with nodes(transport, "b") as (b,):
        await b.spawn(Notes, seen, name="notes")
        frames = [frame(b"S" * 8, b"E" * 8, [(n, BLOB)]) for n in (40, 41, 43)]
        with trio.fail_after(5):
            await send_frames(transport.servers[0], f"{transport.prefix}.actor.b.notes", frames)
            await wait_for(lambda: cluster_of(b).statistics().received == 3)
        assert cluster_of(b).statistics().lost == 0
        assert seen == []  # (dead letters: test_remote_review3_restarted)
