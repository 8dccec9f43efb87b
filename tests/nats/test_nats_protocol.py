"""The sans-IO protocol: parsing frames however they are split, and encoding commands."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trouper.nats import Headers, ProtocolError
from trouper.nats.protocol import (
    ErrEvent,
    Event,
    InfoEvent,
    MsgEvent,
    OkEvent,
    Parser,
    PingEvent,
    PongEvent,
    check_subject,
    connect_command,
    encode_headers,
    pub_command,
    sub_command,
    unsub_command,
)


def parse(*chunks: bytes) -> list[Event]:
    """Feed the chunks in order and collect every event."""
    parser = Parser()
    events: list[Event] = []
    for chunk in chunks:
        parser.feed(chunk)
        while (event := parser.next_event()) is not None:
            events.append(event)
    return events


def test_control_frames_parse_to_their_events() -> None:
    """INFO, PING, PONG, +OK and -ERR each give their event."""
    stream = b'INFO {"server_id":"x","max_payload":10}\r\nPING\r\nPONG\r\n+OK\r\n-ERR \'Oops\'\r\n'
    assert parse(stream) == [
        InfoEvent({"server_id": "x", "max_payload": 10}),
        PingEvent(),
        PongEvent(),
        OkEvent(),
        ErrEvent("Oops"),
    ]


def test_msg_with_and_without_reply() -> None:
    """MSG gives subject, sid, reply and the exact payload (CRLF inside included)."""
    events = parse(b"MSG a.b 7 5\r\nhello\r\nMSG c 8 r.1 4\r\na\r\nb\r\n")
    assert events == [
        MsgEvent(7, "a.b", None, b"hello", None, None, ""),
        MsgEvent(8, "c", "r.1", b"a\r\nb", None, None, ""),
    ]


def test_hmsg_headers_keep_order_and_repeats() -> None:
    """HMSG headers keep every value of a repeated name, in order."""
    block = b"NATS/1.0\r\nA: 1\r\nB:2\r\nA:  3 \r\n\r\n"
    frame = f"HMSG s 1 {len(block)} {len(block) + 2}\r\n".encode() + block + b"ok\r\n"
    (event,) = parse(frame)
    assert isinstance(event, MsgEvent)
    assert event.payload == b"ok"
    assert event.headers == Headers([("A", "1"), ("B", "2"), ("A", "3")])
    assert event.headers["A"] == "1"
    assert event.headers.get_all("A") == ["1", "3"]
    assert event.status is None


def test_hmsg_status_line_gives_code_and_description() -> None:
    """``NATS/1.0 503`` and ``NATS/1.0 408 Request Timeout`` become status and text."""
    no_responders = b"NATS/1.0 503\r\n\r\n"
    timeout = b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n"
    frames = b"".join(
        f"HMSG s 1 {len(block)} {len(block)}\r\n".encode() + block + b"\r\n"
        for block in (no_responders, timeout)
    )
    first, second = parse(frames)
    assert isinstance(first, MsgEvent)
    assert isinstance(second, MsgEvent)
    assert (first.status, first.description, first.headers) == (503, "", Headers())
    assert (second.status, second.description) == (408, "Request Timeout")
    assert second.headers == Headers({"Nats-Pending-Messages": "1"})


def test_lowercase_operations_are_accepted() -> None:
    """Operation names are case-insensitive, as the protocol says."""
    assert parse(b"ping\r\nmsg x 1 2\r\nhi\r\n") == [
        PingEvent(),
        MsgEvent(1, "x", None, b"hi", None, None, ""),
    ]


def test_partial_frame_waits_for_the_rest() -> None:
    """No event comes out until the payload and its CRLF are complete."""
    parser = Parser()
    parser.feed(b"MSG x 1 5\r\nhel")
    assert parser.next_event() is None
    parser.feed(b"lo\r")
    assert parser.next_event() is None
    parser.feed(b"\n")
    assert parser.next_event() == MsgEvent(1, "x", None, b"hello", None, None, "")
    assert parser.buffered() == 0


def test_large_payload_is_copied_whole() -> None:
    """A payload far larger than a read arrives byte for byte."""
    payload = bytes(range(256)) * 1024
    frame = f"MSG big 1 {len(payload)}\r\n".encode() + payload + b"\r\n"
    chunks = [frame[i : i + 65536] for i in range(0, len(frame), 65536)]
    (event,) = parse(*chunks)
    assert isinstance(event, MsgEvent)
    assert event.payload == payload


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (b"MSG x 1 abc\r\nhi\r\n", "malformed message line"),
        (b"MSG x 1 -2\r\n\r\n", "malformed message line"),
        (b"MSG x\r\n", "malformed message line"),
        (b"HMSG x 1 9 4\r\n", "malformed message line"),
        (b"MSG x 1 2\r\nhiXX", "not followed by CRLF"),
        (b"WHAT\r\n", "unknown protocol operation"),
        (b"INFO {nope\r\n", "INFO is not JSON"),
        (b"INFO [1]\r\n", "INFO is not a JSON object"),
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes, problem: str) -> None:
    """Bytes that are not the protocol raise ProtocolError saying what is wrong."""
    with pytest.raises(ProtocolError, match=problem):
        parse(frame)


def test_control_line_without_end_is_refused_past_the_limit() -> None:
    """A control line that never ends is refused once it passes max_control_line."""
    parser = Parser(max_control_line=16)
    parser.feed(b"MSG x 1 2")
    assert parser.next_event() is None
    parser.feed(b" " * 16)
    with pytest.raises(ProtocolError, match="control line longer than 16 bytes"):
        parser.next_event()


def test_header_content_never_breaks_the_connection() -> None:
    """A header line without a colon and a block without NATS/1.0 parse leniently."""
    block = b"HTTP/1.1 200\r\nno colon here\r\nK: v\r\n\r\n"
    frame = f"HMSG s 1 {len(block)} {len(block)}\r\n".encode() + block + b"\r\n"
    (event,) = parse(frame)
    assert isinstance(event, MsgEvent)
    assert (event.status, event.headers) == (None, Headers({"K": "v"}))


_SUBJECTS = st.text(alphabet="abcxyz.>*_-0123456789", min_size=1, max_size=12).filter(
    lambda s: "" not in s.split(".")
)
_HEADER_NAMES = st.text(alphabet="ABCabc-_", min_size=1, max_size=8)
_HEADER_VALUES = st.text(alphabet="abc 123:/", max_size=10).map(str.strip)


@st.composite
def frames(draw: st.DrawFn) -> tuple[bytes, Event]:
    """One valid server frame and the event it must parse to."""
    kind = draw(st.sampled_from(["msg", "hmsg", "ping", "pong", "ok", "err", "info"]))
    if kind == "ping":
        return b"PING\r\n", PingEvent()
    if kind == "pong":
        return b"PONG\r\n", PongEvent()
    if kind == "ok":
        return b"+OK\r\n", OkEvent()
    if kind == "err":
        text = draw(st.text(alphabet="abc XYZ", min_size=1, max_size=20).map(str.strip))
        return f"-ERR '{text}'\r\n".encode(), ErrEvent(text)
    if kind == "info":
        info = {"server_id": draw(st.text(alphabet="ABC", max_size=5)), "n": draw(st.integers())}
        return b"INFO " + json.dumps(info).encode() + b"\r\n", InfoEvent(info)
    subject = draw(_SUBJECTS)
    sid = draw(st.integers(min_value=1, max_value=10**6))
    reply = draw(st.none() | _SUBJECTS)
    payload = draw(st.binary(max_size=64))
    head = f"{subject} {sid} {reply + ' ' if reply else ''}"
    if kind == "msg":
        frame = f"MSG {head}{len(payload)}\r\n".encode() + payload + b"\r\n"
        return frame, MsgEvent(sid, subject, reply, payload, None, None, "")
    pairs = draw(st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=4))
    status = draw(st.none() | st.sampled_from([100, 404, 408, 409, 503]))
    first = "NATS/1.0" if status is None else f"NATS/1.0 {status}"
    block = (
        "\r\n".join([first, *(f"{name}: {value}" for name, value in pairs)]) + "\r\n\r\n"
    ).encode()
    sizes = f"{len(block)} {len(block) + len(payload)}"
    frame = f"HMSG {head}{sizes}\r\n".encode() + block + payload + b"\r\n"
    return frame, MsgEvent(sid, subject, reply, payload, Headers(pairs), status, "")


@given(st.lists(frames(), max_size=8), st.data())
def test_any_split_of_a_valid_stream_parses_to_the_same_events(
    stream: list[tuple[bytes, Event]], data: st.DataObject
) -> None:
    """However a valid byte stream is cut into reads, the events are the same."""
    whole = b"".join(frame for frame, _ in stream)
    expected = [event for _, event in stream]
    cuts = sorted(data.draw(st.sets(st.integers(0, len(whole)), max_size=12)))
    chunks = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
    assert parse(*chunks) == expected
    assert parse(whole) == expected


def test_pub_command_with_and_without_headers() -> None:
    """PUB carries the payload size; HPUB the header size and the total."""
    assert pub_command("a", None, b"hi") == b"PUB a 2\r\nhi\r\n"
    assert pub_command("a", "r", b"hi") == b"PUB a r 2\r\nhi\r\n"
    block = encode_headers({"K": ["1", "2"]})
    assert block == b"NATS/1.0\r\nK: 1\r\nK: 2\r\n\r\n"
    assert pub_command("a", None, b"hi", block) == (
        f"HPUB a {len(block)} {len(block) + 2}\r\n".encode() + block + b"hi\r\n"
    )


def test_sub_and_unsub_commands() -> None:
    """SUB with and without queue group; UNSUB with and without a message count."""
    assert sub_command("a.*", None, 3) == b"SUB a.* 3\r\n"
    assert sub_command("a.*", "workers", 3) == b"SUB a.* workers 3\r\n"
    assert unsub_command(3) == b"UNSUB 3\r\n"
    assert unsub_command(3, 10) == b"UNSUB 3 10\r\n"


def test_connect_command_is_compact_json() -> None:
    """CONNECT is one line of JSON."""
    assert connect_command({"verbose": False}) == b'CONNECT {"verbose":false}\r\n'


@pytest.mark.parametrize("name", ["", "a:b", "a b", "a\r\n"])
def test_bad_header_names_are_refused(name: str) -> None:
    """A header name that would break the block raises ValueError."""
    with pytest.raises(ValueError, match="header name must be"):
        Headers({name: "v"})


def test_header_values_with_line_breaks_are_refused() -> None:
    """A value holding CR or LF raises ValueError."""
    with pytest.raises(ValueError, match="header value must be"):
        Headers({"K": "a\r\nInjected: 1"})


@pytest.mark.parametrize("subject", ["", "a b", "a..b", ".a", "a.", "a\tb"])
def test_bad_subjects_are_refused(subject: str) -> None:
    """Empty subjects or tokens and whitespace raise ValueError."""
    with pytest.raises(ValueError, match="subject must be non-empty dot-separated tokens"):
        check_subject(subject)
