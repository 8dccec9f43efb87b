"""What a handler stages on its delivery, reviewed: refused when it is staged, never half-acked."""

from __future__ import annotations

from pathlib import Path

import pytest
from durable_support import Taker, make_store, serving

from trouper.runtime.lowlevel import MailboxEnding


async def test_a_send_to_a_mailbox_of_another_store_is_refused(tmp_path: Path) -> None:
    """``Delivery.send`` to a queue on another store raises, rather than storing it here."""
    async with (
        make_store(tmp_path / "s.db") as store,
        make_store(tmp_path / "t.db") as other,
        serving(store) as queue,
        serving(other, "sink") as sink,
    ):
        assert await queue.put("job")
        delivery = await Taker().take(queue)
        with pytest.raises(
            ValueError,
            match=r"^'sink' is on another store: a delivery's sends commit with its ack, "
            r"in its own store$",
        ):
            delivery.send(sink, "elsewhere")
        queue.settle(delivery, MailboxEnding.HANDLED, None)
        await store.flush()
        names = [m.name for m in await store.mailbox_statistics()]
    assert names == ["box"]


async def test_state_that_is_not_bytes_is_refused_when_saved(tmp_path: Path) -> None:
    """``Delivery.save_state`` refuses what is not bytes at once, in the handler."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put("job")
        taker = Taker()
        delivery = await taker.take(queue)
        delivery.send(queue, "sent")
        with pytest.raises(TypeError, match=r"^state data must be bytes, got int$"):
            delivery.save_state(12345)  # type: ignore[arg-type]
        # The handler failed on it: nothing it staged commits, the message stays.
        queue.settle(delivery, MailboxEnding.FAILED, ValueError("boom"))
        await store.flush()
        (box,) = await store.mailbox_statistics()
    assert (box.depth, box.delayed) == (1, 1)


async def test_a_state_key_that_is_not_a_string_is_refused_when_saved(tmp_path: Path) -> None:
    """``Delivery.save_state(data, key=...)`` refuses a key that is not a str, in the handler."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put("job")
        delivery = await Taker().take(queue)
        with pytest.raises(TypeError, match=r"^key must be a str or None, got \('a',\)$"):
            delivery.save_state(b"state", key=("a",))  # type: ignore[arg-type]
        queue.settle(delivery, MailboxEnding.HANDLED, None)
        await store.flush()  # the store did not fail on it
        assert await store.load_state("box") is None
