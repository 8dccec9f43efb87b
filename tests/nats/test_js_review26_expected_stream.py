"""Review 26: ``expected_stream=""`` was sent as an empty header, which the server ignores.

``publish(subject, expected_stream="")`` (say, from an unset setting) went out
as an empty ``Nats-Expected-Stream``; the server skips an empty expectation, so
the message was stored whatever stream took it: the check the caller asked
for silently did not happen. A name no stream can have (a dot, a space...)
could only fail on the server. Both are now a ``ValueError`` and nothing is
sent, as for an empty ``msg_id``.
"""

from __future__ import annotations

import re

import pytest
import trio

from trouper.nats import StorageType, StreamConfig, connect

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize("name", ["", "R26ES.a", "a b", "*", ">", 5])
async def test_expected_stream_that_is_no_stream_name_is_refused(
    nats_url: str, name: object
) -> None:
    """publish and a pipeline's publish refuse such an expected_stream; nothing is stored."""
    message = (
        r"^expected_stream must be a stream name \(non-empty, without '\.', '\*', '>' or "
        rf"spaces\), got {re.escape(repr(name))}$"
    )
    with trio.fail_after(10):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig("R26ES", subjects=["R26ES.>"], storage=StorageType.MEMORY)
            )
            try:
                with pytest.raises(ValueError, match=message):
                    await js.publish("R26ES.a", b"x", expected_stream=name)  # type: ignore[arg-type]
                async with js.publish_pipeline() as pipe:
                    with pytest.raises(ValueError, match=message):
                        await pipe.publish("R26ES.a", b"x", expected_stream=name)  # type: ignore[arg-type]
                ack = await js.publish("R26ES.a", b"y", expected_stream="R26ES")
                assert (ack.seq, (await js.stream_info("R26ES")).state.messages) == (1, 1)
            finally:
                await js.delete_stream("R26ES")
