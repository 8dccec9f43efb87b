"""The client's errors: one base, the builtin or Trio error each resembles, messages, pickling."""

from __future__ import annotations

import pickle

import pytest
import trio

from trouper import nats
from trouper.nats.protocol import is_fatal, server_error

EXAMPLES: list[tuple[nats.NatsError, type[BaseException], str]] = [
    (nats.ConnectError("no server"), ConnectionError, "no server"),
    (nats.ConnectionClosed(), trio.ClosedResourceError, "the connection is closed"),
    (nats.ConnectionLost("gone"), trio.BrokenResourceError, "gone"),
    (nats.SubscriptionClosed("a.b", 3), trio.EndOfChannel, "subscription 3 ('a.b') has ended"),
    (nats.ProtocolError("bad frame"), ValueError, "bad frame"),
    (nats.ServerError("Odd"), RuntimeError, "server error: Odd"),
    (
        nats.AuthorizationError("Authorization Violation"),
        PermissionError,
        "server error: Authorization Violation",
    ),
    (
        nats.PermissionsViolation('Permissions Violation for Publish to "x"'),
        PermissionError,
        'server error: Permissions Violation for Publish to "x"',
    ),
    (nats.StaleConnection("Stale Connection"), ConnectionError, "server error: Stale Connection"),
    (nats.ProtocolViolation("Parser Error"), ValueError, "server error: Parser Error"),
    (
        nats.MaxPayloadExceeded(10, 5),
        ValueError,
        "message of 10 bytes exceeds the server's max_payload of 5",
    ),
    (
        nats.OutboundBufferFull(7, 100),
        trio.WouldBlock,
        "outbound buffer full: 7 bytes more would exceed its bound of 100 bytes; "
        "the message was not sent",
    ),
    (nats.NoResponders("svc"), LookupError, "no responders on subject 'svc'"),
    (
        nats.ReplyTimeout("svc", 2.5),
        TimeoutError,
        "no reply to a request on 'svc' within 2.5 s",
    ),
    (
        nats.SlowConsumer("s", 2, 9),
        BufferError,
        "slow consumer on subscription 2 ('s'): 9 messages dropped so far",
    ),
    (
        nats.AlreadyAcknowledged("s", "ack"),
        RuntimeError,
        "message on 's' was already acknowledged (ack)",
    ),
    (
        nats.JetStreamError(404, 10059, "stream not found"),
        RuntimeError,
        "JetStream error 404 (10059): stream not found",
    ),
]


@pytest.mark.parametrize(("error", "family", "text"), EXAMPLES)
def test_error_family_message_and_pickling(
    error: nats.NatsError, family: type[BaseException], text: str
) -> None:
    """Each error is a NatsError and its look-alike, says what happened, and pickles."""
    assert isinstance(error, nats.NatsError)
    assert isinstance(error, family)
    assert str(error) == text
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.args == error.args
    assert str(copy) == text


def test_every_public_error_has_an_example() -> None:
    """The examples cover every error the package exports."""
    exported = {
        getattr(nats, name)
        for name in nats.__all__
        if isinstance(getattr(nats, name), type) and issubclass(getattr(nats, name), Exception)
    }
    assert exported - {nats.NatsError} == {type(error) for error, _, _ in EXAMPLES}


@pytest.mark.parametrize(
    ("text", "kind", "fatal"),
    [
        ("Authorization Violation", nats.AuthorizationError, True),
        ("User Authentication Expired", nats.AuthorizationError, True),
        ('Permissions Violation for Subscription to "a.>"', nats.PermissionsViolation, False),
        ("Stale Connection", nats.StaleConnection, True),
        ("Maximum Payload Violation", nats.ProtocolViolation, True),
        ("Unknown Protocol Operation", nats.ProtocolViolation, True),
        ("Parser Error", nats.ProtocolViolation, True),
        ("Invalid Subject", nats.ProtocolViolation, False),
        ("Maximum Connections Exceeded", nats.ServerError, True),
        ("Something New", nats.ServerError, False),
    ],
)
def test_err_texts_map_to_typed_errors(text: str, kind: type, fatal: bool) -> None:
    """Each known ``-ERR`` text gives its type, and whether the server closes after it."""
    error = server_error(text)
    assert type(error) is kind
    assert error.text == text
    assert is_fatal(text) is fatal


def test_permissions_violation_names_operation_and_subject() -> None:
    """The operation and subject are read from the server's text."""
    error = nats.PermissionsViolation('Permissions Violation for Publish to "orders.new"')
    assert (error.operation, error.subject) == ("publish", "orders.new")


def test_jetstream_error_exposes_its_codes() -> None:
    """code, err_code and description are properties of the pickled args."""
    error = nats.JetStreamError(400, 10071, "wrong last sequence: 1")
    assert (error.code, error.err_code, error.description) == (400, 10071, "wrong last sequence: 1")
