"""A tell or ask is refused for ``max_payload`` exactly when its NATS message would not fit.

The check added a 64-byte margin to the encoded message and reported the
message's own size: a message whose frame fitted was refused, with an error
saying "message of N bytes exceeds the server's max_payload of M" for an N
below M.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import trio
from remote_support import Note, Notes, nodes, wait_for

from trouper.codec import Codec
from trouper.nats import MaxPayloadExceeded
from trouper.remote import Nats
from trouper.remote.wire import ENTRY, FRAME_HEAD
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

MAX_PAYLOAD = 4096
"""The test server's max_payload."""

TOKEN = 8
"""Bytes an ask's frame ends with (its token)."""


@pytest.fixture
def small_server() -> Iterator[NatsServer]:
    """A server whose max_payload is ``MAX_PAYLOAD``."""
    with NatsServer(jetstream=False, max_payload=MAX_PAYLOAD) as server:
        yield server


def _note(frame_size: int, *, extra: int = 0) -> Note:
    """A ``Note`` whose tell frame (plus ``extra`` bytes) is ``frame_size`` bytes."""
    codec = Codec()
    fixed = FRAME_HEAD + ENTRY.size + extra
    length = frame_size - fixed
    while (size := fixed + len(codec.encode_blob(Note("x" * length)))) != frame_size:
        length += frame_size - size  # (the encoding's length field grows with the text)
    return Note("x" * length)


def _size_in(error: MaxPayloadExceeded) -> int:
    found = re.fullmatch(
        rf"message of (\d+) bytes exceeds the server's max_payload of {MAX_PAYLOAD}", str(error)
    )
    assert found, str(error)
    return int(found[1])


async def test_a_tell_whose_frame_fits_crosses(small_server: NatsServer, prefix: str) -> None:
    """A frame of exactly max_payload bytes is sent; one byte more is refused, saying its size."""
    seen: list[object] = []
    transport = Nats(small_server.url, prefix=prefix, heartbeat=30.0)
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn(Notes, seen, name="notes")
        ref = web.remote("bank", "notes")
        fits = _note(MAX_PAYLOAD)
        assert await ref.tell(fits)
        with pytest.raises(MaxPayloadExceeded) as caught:
            await ref.tell(_note(MAX_PAYLOAD + 1))
        assert _size_in(caught.value) == MAX_PAYLOAD + 1
        with trio.fail_after(10):
            await wait_for(lambda: seen == [fits.text])


async def test_an_ask_whose_frame_fits_crosses(small_server: NatsServer, prefix: str) -> None:
    """With its token, a frame of exactly max_payload bytes is asked; one byte more is refused."""
    seen: list[object] = []
    transport = Nats(small_server.url, prefix=prefix, heartbeat=30.0)
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn(Notes, seen, name="notes")
        ref = web.remote("bank", "notes")
        fits = _note(MAX_PAYLOAD, extra=TOKEN)
        with trio.fail_after(10):
            assert await ref.ask(fits) is None
        with pytest.raises(MaxPayloadExceeded) as caught:
            await ref.ask(_note(MAX_PAYLOAD + 1, extra=TOKEN))
        assert _size_in(caught.value) == MAX_PAYLOAD + 1
    assert seen == [fits.text]
