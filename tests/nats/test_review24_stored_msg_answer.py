"""Review 24: a get_msg answer whose "message" is not an object is a JetStreamError.

``get_msg`` turns an answer it cannot read into ``JetStreamError("not a
stored message ...")``; a "message" that was a list or a string raised
``AttributeError`` (``.get`` of a list) past that, out of the call.
"""

from __future__ import annotations

import json

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import JetStreamError, Status

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize("message", [[], "text", 7], ids=["list", "string", "number"])
async def test_a_stored_message_that_is_not_an_object_is_a_jetstream_error(
    message: object,
) -> None:
    """The call raises JetStreamError naming the answer; the connection stays up."""
    outcome: list[BaseException] = []
    with trio.fail_after(10):
        async with fake_server() as server, connected(server) as (nc, peer):
            async with trio.open_nursery() as nursery:

                async def get() -> None:
                    try:
                        await nc.jetstream().get_msg("S", seq=1)
                    except Exception as error:
                        outcome.append(error)

                nursery.start_soon(get)
                inbox_sid = (await peer.read_until("SUB _INBOX.")).split()[-1]
                reply = (await peer.read_until("PUB $JS.API.STREAM.MSG.GET.S ")).split()[2]
                answer = json.dumps(
                    {"type": "io.nats.jetstream.api.v1.stream_msg_get_response", "message": message}
                ).encode()
                await peer.send(
                    f"MSG {reply} {inbox_sid} {len(answer)}\r\n".encode() + answer + b"\r\n"
                )
            assert nc.status is Status.CONNECTED
    (error,) = outcome
    assert isinstance(error, JetStreamError)
    assert "not a stored message: " in str(error)
