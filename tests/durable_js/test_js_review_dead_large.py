"""Review: a message near the server's max_payload is dead-lettered whole, or refused when told."""

from __future__ import annotations

import base64
import json

import pytest
from js_support import Done, dead_letters, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp, durable_ref
from trouper.errors import StoreFailed
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

BIG = 900 * 1024
"""Characters of a message's text: over three quarters of the server's max_payload (1 MiB)."""


class Refuser(trouper.Actor):
    """Gives up on every ``Done`` (raising ``ValueError`` for one that says ``fail``)."""

    @trouper.handler
    async def done(self, message: Done) -> None:
        if message.by == "fail long":
            raise ValueError("x" * 100_000 + " the handler failed")
        if message.by.startswith("fail"):
            raise ValueError("x" * 4000 + " the handler failed")
        raise GiveUp("too big to handle")


async def test_a_message_near_max_payload_is_dead_lettered_with_its_payload(
    js_server: NatsServer, prefix: str
) -> None:
    """A 900 KiB message given up on is in the dead-letter queue, whole, and redrives.

    The dead letter used to wrap it in a JSON record (base64), a third larger
    than the message: the server refused it and the message stayed held,
    never dead-lettered.
    """
    big = Done(1, "y" * BIG)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Refuser, name="big", mailbox=Durable())
        await durable_ref(rt, "big").tell(big)

        async def buried() -> bool:
            return bool(await dead_letters(rt, "big"))

        await eventually(buried)
        (record,) = await dead_letters(rt, "big")
        assert record.message == big
        assert record.reason == "gave up: too big to handle"
        assert record.mailbox == "big"
        assert record.attempts == 1
        (stats,) = await rt.store.mailbox_statistics()
        assert (stats.depth, stats.dead) == (0, 1)
        assert await rt.store.redrive("big") == 1
        await eventually(buried)  # handled again, given up on again
        (again,) = await dead_letters(rt, "big")
        assert (again.message, again.attempts) == (big, 1)


async def test_a_failed_message_near_max_payload_keeps_the_end_of_a_long_traceback(
    js_server: NatsServer, prefix: str
) -> None:
    """The traceback is cut from its start when the message leaves little room for it."""
    big = Done(2, "fail" + "y" * (1024 * 1024 - 2000))
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Refuser, name="big", mailbox=Durable(max_deliveries=1))
        await durable_ref(rt, "big").tell(big)

        async def buried() -> bool:
            return bool(await dead_letters(rt, "big"))

        await eventually(buried)
        (record,) = await dead_letters(rt, "big")
    assert record.message == big
    assert record.traceback is not None
    assert record.traceback.endswith(" the handler failed\n")
    assert record.reason.endswith("(max_deliveries 1 reached)")


async def test_a_traceback_longer_than_jetstreams_headers_keeps_its_end(
    js_server: NatsServer, prefix: str
) -> None:
    """A small message whose handler raised a 100 KiB error is dead-lettered, the error's end kept.

    The facts travel in a header, and JetStream refuses more than 64 KiB of them.
    """
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Refuser, name="small", mailbox=Durable(max_deliveries=1))
        await durable_ref(rt, "small").tell(Done(5, "fail long"))

        async def buried() -> bool:
            return bool(await dead_letters(rt, "small"))

        await eventually(buried)
        (record,) = await dead_letters(rt, "small")
    assert record.message == Done(5, "fail long")
    assert record.traceback is not None
    assert record.traceback.endswith(" the handler failed\n")
    assert 32 * 1024 < len(record.traceback) < 64 * 1024


async def test_a_dead_letter_stored_as_a_json_record_is_still_listed(
    js_server: NatsServer, prefix: str
) -> None:
    """A dead letter in the earlier form (the record as JSON, the payload in base64) is read."""
    record: dict[str, object] = {
        "mailbox": "old",
        "seq": 7,
        "type_name": "js-test.done",
        "payload": "",
        "msg_id": "m-5",
        "attempts": 3,
        "reason": "boom",
        "traceback": None,
        "enqueued_at": 1.0,
        "first_delivered_at": 2.0,
        "last_delivered_at": 3.0,
        "dead_at": 4.0,
    }
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        record["payload"] = base64.b64encode(store.codec.encode(Done(5, "old")).payload).decode()
        js = store.client.jetstream()
        await js.publish(f"{prefix}.dead.old", json.dumps(record).encode())
        (found,) = await dead_letters(rt, "old")
    assert (found.mailbox, found.message, found.msg_id, found.attempts, found.reason) == (
        "old",
        Done(5, "old"),
        "m-5",
        3,
        "boom",
    )


async def test_a_message_too_large_to_dead_letter_is_refused_when_told(
    js_server: NatsServer, prefix: str
) -> None:
    """A message within 1 KiB of max_payload is refused by its tell, which says the limit."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "big")
        with pytest.raises(
            StoreFailed,
            match=r"too large for a durable mailbox: at most 1047552 bytes with its headers "
            r"\(the server's max_payload of 1048576 less 1024 kept for its dead letter\)",
        ):
            await ref.tell(Done(3, "z" * (1024 * 1024 - 600)))
        await ref.tell(Done(4, "small"))
        (stats,) = await rt.store.mailbox_statistics()
        assert stats.depth == 1
