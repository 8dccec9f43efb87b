"""Review 24: an INFO nested too deep to decode is a ProtocolError, as any INFO that is not JSON.

``json.loads`` raises ``RecursionError`` (no ``ValueError``) on an array or
object nested some thousand levels deep, which a control line of up to
``max_control_line`` bytes can hold. The parser let it out as it was: the
client's reader did not expect it, so the client crashed out of ``connect()``'s
block instead of replacing the connection.
"""

from __future__ import annotations

import pytest
from nats_fake import api_call_outcome, next_msg_after_replacement

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
    outcome, status = await api_call_outcome(
        lambda js: js.account_info(), "PUB $JS.API.INFO ", b"[" * DEEP
    )
    assert status is Status.CONNECTED
    (error,) = outcome
    assert isinstance(error, JetStreamError)
    assert str(error).startswith("JetStream error 0 (0): the server's answer is not JSON: ")
