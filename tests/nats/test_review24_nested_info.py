"""Review 24: an INFO nested too deep to decode is a ProtocolError, as any INFO that is not JSON.

``json.loads`` raises ``RecursionError`` (no ``ValueError``) on an array or
object nested some thousand levels deep, which a control line of up to
``max_control_line`` bytes can hold. The parser let it out as it was: the
client's reader did not expect it, so the client crashed out of ``connect()``'s
block instead of replacing the connection.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, next_msg_after_replacement

from trouper.nats import (
    Disconnected,
    JetStreamError,
    ProtocolError,
    Reconnected,
    Status,
)
from trouper.nats.protocol import Parser

pytestmark = pytest.mark.real_clock

DEEP = 100_000


@pytest.mark.parametrize(
    "line",
    [b"INFO " + b"[" * DEEP, b'INFO {"a":' + b"[" * DEEP],
    ids=["array", "in-object"],
)
def test_an_info_nested_too_deep_is_a_protocol_error(line: bytes) -> None:
    """The parser raises ProtocolError saying INFO is not JSON."""
    parser = Parser()
    parser.feed(line + b"\r\n")
    with pytest.raises(ProtocolError, match=r"^INFO is not JSON: "):
        parser.next_event()


async def test_the_client_replaces_a_connection_that_sends_such_an_info() -> None:
    """The client reports the ProtocolError and reconnects; its subscription works again."""
    msg, events = await next_msg_after_replacement(lambda _: b"INFO " + b"[" * DEEP + b"\r\n")
    assert msg.data == b"after"
    disconnected = [event for event in events if isinstance(event, Disconnected)]
    assert len(disconnected) == 1
    assert isinstance(disconnected[0].reason, ProtocolError)
    assert str(disconnected[0].reason).startswith("INFO is not JSON: ")
    assert any(isinstance(event, Reconnected) for event in events)


async def test_a_jetstream_answer_nested_too_deep_is_a_jetstream_error() -> None:
    """An API answer json cannot decode for its depth raises JetStreamError, not RecursionError."""
    with trio.fail_after(10):
        async with fake_server() as server, connected(server) as (nc, peer):
            async with trio.open_nursery() as nursery:
                outcome: list[BaseException] = []

                async def ask() -> None:
                    try:
                        await nc.jetstream().account_info()
                    except Exception as error:
                        outcome.append(error)

                nursery.start_soon(ask)
                inbox_sid = (await peer.read_until("SUB _INBOX.")).split()[-1]
                request = await peer.read_until("PUB $JS.API.INFO ")
                reply = request.split()[2]
                answer = b"[" * DEEP
                await peer.send(
                    f"MSG {reply} {inbox_sid} {len(answer)}\r\n".encode() + answer + b"\r\n"
                )
            assert nc.status is Status.CONNECTED
    (error,) = outcome
    assert isinstance(error, JetStreamError)
    assert str(error).startswith("JetStream error 0 (0): the server's answer is not JSON: ")
