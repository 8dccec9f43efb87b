"""A delivery's sends, reviewed: one its codec cannot store fails the handler, not the ack."""

from __future__ import annotations

from pathlib import Path

from durable_support import CODEC, Encoded, Taker, make_store, serving

from trouper.durable import DurableQueue
from trouper.runtime.lowlevel import MailboxEnding


class LooseCodec:
    """The text codec, but ``"loose"`` is encoded as a bytearray (a codec's bug)."""

    def encode(self, message: object) -> Encoded:
        if message == "loose":
            return Encoded("str", bytearray(b"loose"))  # type: ignore[arg-type]
        return CODEC.encode(message)

    def decode(self, type_name: str, payload: bytes) -> object:
        return CODEC.decode(type_name, payload)


async def test_a_send_whose_payload_is_not_bytes_fails_the_handler_and_nothing_commits(
    tmp_path: Path,
) -> None:
    """The bad send raises in the handler; the ack and the sends before it do not commit."""
    async with make_store(tmp_path / "s.db", threads=False) as store, serving(store) as queue:
        target = DurableQueue(store, "target", LooseCodec())
        queue.put_nowait("order")
        await store.flush()
        delivery = await Taker().take(queue)
        error: BaseException | None = None
        try:
            delivery.send(target, "fine")
            delivery.send(target, "loose")
        except TypeError as raised:
            error = raised
        else:
            try:
                queue.settle(delivery, MailboxEnding.HANDLED, None)
            except TypeError as raised:
                error = raised
        assert str(error) == "payload must be bytes, got bytearray"
        queue.settle(delivery, MailboxEnding.FAILED, error)
        await store.flush()
        depths = {box.name: box.depth for box in await store.mailbox_statistics()}
        assert depths.get("target", 0) == 0
        assert depths["box"] == 1
        assert len(queue) == 1
