"""Review 9: JetStream arguments that reached the server unchecked, and error bodies that escaped.

- An empty ``msg_id`` went out as an empty ``Nats-Msg-Id``, which the
  server ignores: two publishes "with the same id" were both stored.
- A ``Nats-Msg-Id`` (or ``Nats-Expected-Stream``, ``Nats-Expected-Last-Sequence``)
  given both in ``headers`` and as its argument went out twice.
- Sequences (``get_msg``/``delete_msg``'s ``seq``, ``expected_last_seq``)
  took bools and negatives.
- An API error whose ``code`` is not an integer escaped ``_decode`` as a
  bare ``ValueError`` (or ``TypeError``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from trouper.nats import (
    Client,
    JetStream,
    JetStreamError,
    NatsError,
    PubAck,
    StorageType,
    StreamConfig,
    connect,
)

pytestmark = pytest.mark.real_clock

_names = itertools.count()


@asynccontextmanager
async def memory_stream(nats_url: str) -> AsyncIterator[tuple[Client, JetStream, str]]:
    """A client, its JetStream and a fresh memory stream's name (on ``<name>.>``), deleted after."""
    name = f"R9P{next(_names)}"
    with trio.fail_after(10):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig(name, subjects=[f"{name}.>"], storage=StorageType.MEMORY)
            )
            try:
                yield nc, js, name
            finally:
                await js.delete_stream(name)


_EMPTY_ID = r"^msg_id must be a non-empty string \(or None for no id\), got ''$"


async def test_an_empty_msg_id_is_refused_and_nothing_is_stored(nats_url: str) -> None:
    """publish, publish_soon and a pipeline's publish refuse msg_id="" before sending."""
    async with memory_stream(nats_url) as (_, js, name):
        with pytest.raises(ValueError, match=_EMPTY_ID):
            await js.publish(f"{name}.a", b"x", msg_id="")
        acks: list[PubAck | NatsError] = []
        with pytest.raises(ValueError, match=_EMPTY_ID):
            js.publish_soon(f"{name}.a", b"x", acks.append, msg_id="")
        async with js.publish_pipeline() as pipe:
            with pytest.raises(ValueError, match=_EMPTY_ID):
                await pipe.publish(f"{name}.a", b"x", msg_id="")
        await js.publish(f"{name}.a", b"flush")  # anything sent above arrived before this
        assert acks == []
        assert (await js.stream_info(name)).state.messages == 1


@pytest.mark.parametrize(
    ("header", "argument", "value"),
    [
        ("Nats-Msg-Id", "msg_id", "b"),
        ("Nats-Expected-Stream", "expected_stream", "other"),
        ("Nats-Expected-Last-Sequence", "expected_last_seq", 0),
    ],
)
async def test_a_header_given_both_ways_is_refused(
    nats_url: str, header: str, argument: str, value: object
) -> None:
    """headers carrying Nats-Msg-Id plus msg_id= (and the like) raise ValueError naming both."""
    message = (
        rf"^{argument}= sets the {header} header, which headers already holds: "
        "give it one way only$"
    )
    async with memory_stream(nats_url) as (_, js, name):
        headers = {header: "a"}
        with pytest.raises(ValueError, match=message):
            await js.publish(f"{name}.a", b"x", headers=headers, **{argument: value})  # type: ignore[arg-type]
        async with js.publish_pipeline() as pipe:
            with pytest.raises(ValueError, match=message):
                await pipe.publish(f"{name}.a", b"x", headers=headers, **{argument: value})  # type: ignore[arg-type]
        if argument == "msg_id":
            acks: list[PubAck | NatsError] = []
            with pytest.raises(ValueError, match=message):
                js.publish_soon(f"{name}.a", b"x", acks.append, headers=headers, msg_id="b")
        assert (await js.stream_info(name)).state.messages == 0


@pytest.mark.parametrize("seq", [True, False, -1, 0, 1.0, "1"])
async def test_get_msg_and_delete_msg_refuse_a_seq_that_is_not_a_sequence(
    nats_url: str, seq: object
) -> None:
    """seq must be an int >= 1: a bool, a negative, zero, a float or a str raise ValueError."""
    message = rf"^seq must be an int >= 1, got {seq!r}$".replace("(", r"\(").replace(")", r"\)")
    async with memory_stream(nats_url) as (_, js, name):
        await js.publish(f"{name}.a", b"x")
        with pytest.raises(ValueError, match=message):
            await js.get_msg(name, seq=seq)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=message):
            await js.get_msg(name, seq=seq, next_by_subject=f"{name}.>")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=message):
            await js.delete_msg(name, seq)  # type: ignore[arg-type]
        assert (await js.stream_info(name)).state.messages == 1


@pytest.mark.parametrize("seq", [True, False, -1, 1.0, "1"])
async def test_expected_last_seq_refuses_what_is_not_a_sequence(nats_url: str, seq: object) -> None:
    """expected_last_seq must be an int >= 0 (0: the stream is empty); nothing is sent otherwise."""
    message = rf"^expected_last_seq must be an int >= 0, got {seq!r}$"
    async with memory_stream(nats_url) as (_, js, name):
        with pytest.raises(ValueError, match=message):
            await js.publish(f"{name}.a", b"x", expected_last_seq=seq)  # type: ignore[arg-type]
        async with js.publish_pipeline() as pipe:
            with pytest.raises(ValueError, match=message):
                await pipe.publish(f"{name}.a", b"x", expected_last_seq=seq)  # type: ignore[arg-type]
        ack = await js.publish(f"{name}.a", b"x", expected_last_seq=0)
        assert ack.seq == 1


@pytest.mark.parametrize(
    ("error", "wrong"),
    [
        ({"code": "bad", "err_code": 10059, "description": "d"}, "code"),
        ({"code": None, "err_code": 10059, "description": "d"}, "code"),
        ({"code": 404.5, "err_code": 10059, "description": "d"}, "code"),
        ({"code": True, "err_code": 10059, "description": "d"}, "code"),
        ({"code": 404, "err_code": "x", "description": "d"}, "err_code"),
    ],
)
async def test_an_api_error_with_a_code_that_is_not_an_integer_is_a_jetstream_error(
    nats_url: str, error: dict[str, object], wrong: str
) -> None:
    """The answer's error is reported as a JetStreamError saying which field was wrong."""
    prefix = f"$JS.R9E{next(_names)}.API"
    with trio.fail_after(10):
        async with connect(nats_url) as nc, trio.open_nursery() as nursery:
            sub = await nc.subscribe(f"{prefix}.>")

            async def answer() -> None:
                async for msg in sub:
                    await msg.respond(json.dumps({"error": error}).encode())

            nursery.start_soon(answer)
            with pytest.raises(JetStreamError) as caught:
                await nc.jetstream(prefix=prefix).account_info()
            assert (caught.value.code, caught.value.err_code) == (0, 0)
            assert caught.value.description.startswith(
                f"the server's error has a {wrong} that is not an integer: "
            )
            assert repr(error[wrong]) in caught.value.description
            nursery.cancel_scope.cancel()
