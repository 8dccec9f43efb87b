"""A fetched window is the stored messages, field for field, however it is read."""

from __future__ import annotations

from pathlib import Path

from durable_support import make_store

from trouper.durable import WriteBatch, set_wall_clock

# Bytes a text conversion would mangle: NUL, invalid UTF-8, a lone continuation byte.
AWKWARD = [b"\x00", b"\xff\xfe\x00\xc3(", b"", b"\x80" * 3, bytes(range(256))]
MSG_IDS = [None, 'quote " and \\ back', "line\nbreak\r", "\u00e9\u4e2d\U0001f600", ""]


async def test_a_window_keeps_every_field_of_every_message_exactly(tmp_path: Path) -> None:
    """Payloads byte for byte, msg ids, counts, and times to the last bit of the float."""
    epoch = 1_764_590_000.123_456_7  # more digits than a 15-digit rendering keeps
    set_wall_clock(epoch)
    async with make_store(tmp_path / "s.db") as store:
        batch = WriteBatch()
        for index, payload in enumerate(AWKWARD):
            batch.append("box", f"type.{index}\u00e9", payload, msg_id=MSG_IDS[index])
        await store.submit(batch)
        first = await store.fetch("box", limit=10)
        # Redelivered: the times of its deliveries come back as they were written.
        retry = WriteBatch()
        delivered = epoch + 1 / 3
        retry.nack(
            first[1].id,
            deliveries=2,
            retries=1,
            available_at=0.0,
            delivered_at=delivered,
            first_delivered_at=delivered - 1 / 7,
        )
        await store.submit(retry)
        again = await store.fetch("box", ids=[first[1].id], limit=1)
    assert [m.payload for m in first] == AWKWARD
    assert [m.msg_id for m in first] == MSG_IDS
    assert [m.type_name for m in first] == [f"type.{i}\u00e9" for i in range(len(AWKWARD))]
    assert [m.mailbox for m in first] == ["box"] * len(AWKWARD)
    assert [m.deliveries for m in first] == [0] * len(AWKWARD)
    ids = [m.id for m in first]
    assert ids == sorted(ids)
    assert {m.enqueued_at for m in first} == {first[0].enqueued_at}
    assert first[0].enqueued_at == epoch  # virtual time stood still: not rounded away
    assert again[0].deliveries == 2
    assert again[0].retries == 1
    assert again[0].last_delivered_at == delivered
    assert again[0].first_delivered_at == delivered - 1 / 7


async def test_large_payloads_in_a_window_come_back_whole_and_in_order(tmp_path: Path) -> None:
    """Payloads above the size read with the others are read by themselves, in place."""
    sizes = [10, 70_000, 3, 65_536, 65_537, 5, 200_000, 0]
    payloads = [bytes([index + 1]) * size for index, size in enumerate(sizes)]
    async with make_store(tmp_path / "s.db") as store:
        batch = WriteBatch()
        for payload in payloads:
            batch.append("box", "t", payload)
        await store.submit(batch)
        window = await store.fetch("box", limit=10)
    assert [m.payload for m in window] == payloads
