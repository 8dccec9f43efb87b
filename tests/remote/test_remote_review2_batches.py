"""A batch of tells (and the ask that ends it) never grows past the server's ``max_payload``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio
from remote_support import Account, Balance, Seen, nodes, wait_for
from test_remote_review_full_buffer import Chunk

import trouper.remote
from trouper.codec import Codec
from trouper.nats import MaxPayloadExceeded
from trouper.remote import Nats
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

MAX_PAYLOAD = 4096
"""The server's ``max_payload``: under a batch's 64 KiB, so it is what bounds a batch."""

FRAME_HEAD, ENTRY_HEAD = 16, 12
"""Bytes of a frame's head (two incarnations) and of each entry's head (number, length)."""


@pytest.fixture
def small_server() -> Iterator[NatsServer]:
    """A server that takes messages of at most ``MAX_PAYLOAD`` bytes."""
    with NatsServer(jetstream=False, max_payload=MAX_PAYLOAD) as server:
        yield server


def chunk_of(size: int) -> Chunk:
    """A ``Chunk`` whose encoding is ``size`` bytes long."""
    codec = Codec()
    n = size - len(codec.encode_blob(Chunk(b"")))
    while len(codec.encode_blob(Chunk(bytes(n)))) > size:
        n -= 1
    chunk = Chunk(bytes(n))
    assert len(codec.encode_blob(chunk)) == size
    return chunk


async def test_a_burst_of_tells_that_just_fits_without_its_entry_heads_still_arrives(
    small_server: NatsServer, prefix: str
) -> None:
    """The second tell's entry head would take the batch past max_payload: it starts a new one."""
    transport = Nats(small_server.url, prefix=prefix, heartbeat=30.0)
    first = chunk_of(2000)
    second = chunk_of(MAX_PAYLOAD - FRAME_HEAD - ENTRY_HEAD - 2000)
    seen: list[object] = []
    letters: list[DeadLetter] = []
    async with nodes(transport, "web", "bank") as (web, bank):
        web.dead_letters.listen(letters.append)
        await bank.spawn(Seen, seen, name="sink")
        sink = web.remote("bank", "sink")
        await sink.tell(first)  # one burst: one batch, were it not too big
        await sink.tell(second)
        with trio.fail_after(10):
            await wait_for(lambda: len(seen) + len(letters) >= 2)
    assert letters == []
    assert seen == [first, second]


async def test_an_ask_that_just_fits_after_a_tell_without_its_heads_is_answered(
    small_server: NatsServer, prefix: str
) -> None:
    """The ask's entry head and token would take the tell's batch past max_payload."""
    transport = Nats(small_server.url, prefix=prefix, heartbeat=30.0)
    codec = Codec()
    ask_size = len(codec.encode_blob(Balance()))
    first = chunk_of(2000)
    second = chunk_of(MAX_PAYLOAD - FRAME_HEAD - 2 * ENTRY_HEAD - 2000 - ask_size)
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn(Account, 7, name="acct")
        acct = web.remote("bank", "acct")
        await acct.tell(first)  # (unhandled there: dead letters on bank)
        await acct.tell(second)
        with trio.fail_after(10):
            assert await acct.ask(Balance()) == 7


async def test_a_tell_that_fits_only_without_its_headers_raises_max_payload_exceeded(
    small_server: NatsServer, prefix: str
) -> None:
    """The headers count too: the sender hears at once, no dead letter says the link is down."""
    transport = Nats(small_server.url, prefix=prefix, heartbeat=30.0)
    letters: list[DeadLetter] = []
    async with nodes(transport, "web", "bank") as (web, bank):
        web.dead_letters.listen(letters.append)
        await bank.spawn(Seen, [], name="sink")
        sink = web.remote("bank", "sink")
        with pytest.raises(
            MaxPayloadExceeded,
            match=rf"^message of \d+ bytes exceeds the server's max_payload of {MAX_PAYLOAD}$",
        ):
            await sink.tell(chunk_of(MAX_PAYLOAD - 64), msg_id="x" * 100)
        await trouper.remote.cluster_of(web).flush()
    assert letters == []
