"""What crosses between nodes, without Trio or a server: subjects, frames, errors, options."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trouper
from trouper import Address
from trouper.errors import (
    ActorStopped,
    AskCycle,
    HandlerError,
    InvalidSubject,
    MailboxFull,
    NodeUnreachable,
    RemoteError,
    UnhandledMessage,
)
from trouper.remote import Nats
from trouper.remote.wire import (
    NO_INCARNATION,
    WireError,
    actor_subject,
    check_token,
    error_from_wire,
    error_to_wire,
    frame,
    pack,
    path_of_token,
    read_entries,
    unpack,
)

HERE = Address("bank", "/acct-1")

segments = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="/*>"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip(".") and not any(c.isspace() for c in s))


@given(st.lists(segments, min_size=1, max_size=4))
def test_an_actor_path_is_one_subject_token_and_comes_back(parts: list[str]) -> None:
    """Any path of valid names maps to one token (dots and percents escaped) and back."""
    path = "/" + "/".join(parts)
    subject = actor_subject("trouper", "bank", path)
    prefix = "trouper.actor.bank."
    assert subject.startswith(prefix)
    token = subject[len(prefix) :]
    assert "." not in token
    assert path_of_token(token) == path


def test_escaping_is_readable_for_ordinary_names() -> None:
    """Plain names stay as they are; a dot in a name becomes %2E."""
    assert actor_subject("p", "n", "/acct-1") == "p.actor.n.acct-1"
    assert actor_subject("p", "n", "/pool/member-1") == "p.actor.n.pool/member-1"
    assert actor_subject("p", "n", "/v1.2") == "p.actor.n.v1%2E2"


@pytest.mark.parametrize("name", ["", "a.b", "a b", "*", ">", 7])
def test_a_node_name_must_be_one_token(name: object) -> None:
    """Names that cannot be one subject token are refused, saying why."""
    with pytest.raises(ValueError, match=r"^a node name must be one subject token"):
        check_token(name, "a node name")


def test_a_frame_holds_its_entries_in_order() -> None:
    """``read_entries`` gives back what ``frame`` wrote, after the two incarnations."""
    data = frame(b"A" * 8, NO_INCARNATION, [(1, b"one"), (2, b""), (7, b"seven")])
    assert data[:16] == b"A" * 8 + bytes(8)
    assert read_entries(data) == [(1, b"one"), (2, b""), (7, b"seven")]


@pytest.mark.parametrize("cut", [17, 20, 30])
def test_a_frame_cut_short_is_refused(cut: int) -> None:
    """A truncated frame (or one with no entry) raises WireError."""
    data = frame(b"A" * 8, NO_INCARNATION, [(1, b"0123456789")])
    with pytest.raises(WireError):
        read_entries(data[:cut])
    with pytest.raises(WireError, match="no entry"):
        read_entries(data[:16])


def test_control_messages_are_plain_msgpack_and_nothing_else_is_read() -> None:
    """``unpack`` reads what ``pack`` wrote and refuses garbage and extension types."""
    assert unpack(pack(["watch", "web", "/acct-1"])) == ["watch", "web", "/acct-1"]
    with pytest.raises(WireError):
        unpack(b"\xc1")
    with pytest.raises(WireError):
        unpack(b"\xd4\x01\x00")  # a msgpack extension


def roundtrip(error: BaseException) -> BaseException:
    """An error as the other node rebuilds it (through bytes)."""
    return error_from_wire(unpack(pack(error_to_wire(error, "bank"))), "bank")


@pytest.mark.parametrize(
    "error",
    [
        ActorStopped(HERE),
        MailboxFull(HERE, math.inf),
        UnhandledMessage(HERE, "int", "A.take takes int but is not marked @handler"),
        NodeUnreachable(HERE, "node 'bank' left the cluster"),
        AskCycle(("/a", "/b", "/a")),
        InvalidSubject("a..b", "empty token at position 2"),
        RemoteError("far", "shop.OutOfStock", "no more", "Traceback ..."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_trouper_errors_cross_as_themselves(error: BaseException) -> None:
    """A trouper error is rebuilt with the same type, arguments and message."""
    rebuilt = roundtrip(error)
    assert type(rebuilt) is type(error)
    assert rebuilt.args == error.args
    assert str(rebuilt) == str(error)


@pytest.mark.parametrize("error", [KeyError("k"), ValueError("v", 2), OSError(2, "gone")], ids=repr)
def test_builtin_errors_with_plain_arguments_cross_as_themselves(error: Exception) -> None:
    """A builtin exception is rebuilt from its arguments."""
    rebuilt = roundtrip(error)
    assert type(rebuilt) is type(error)
    assert rebuilt.args == error.args


class Custom(Exception):
    """Known only to the sender."""


def test_other_errors_arrive_as_remote_error_with_their_traceback() -> None:
    """A type the receiver cannot rebuild: RemoteError with its name, message, traceback."""
    try:
        raise Custom("out of stock")
    except Custom as caught:
        rebuilt = roundtrip(caught)
    assert isinstance(rebuilt, RemoteError)
    assert (rebuilt.node, rebuilt.type_name, rebuilt.message) == (
        "bank",
        "test_remote_wire.Custom",
        "out of stock",
    )
    assert "raise Custom" in rebuilt.traceback


def test_a_builtin_with_arguments_that_cannot_cross_is_a_remote_error() -> None:
    """Arguments that are no plain values make even a builtin a RemoteError."""
    rebuilt = roundtrip(ValueError(object()))
    assert isinstance(rebuilt, RemoteError)
    assert rebuilt.type_name == "ValueError"


def test_a_handler_error_carries_its_cause_as_text() -> None:
    """HandlerError keeps its address and description; the cause becomes ``remote``."""
    error = HandlerError(HERE, "ValueError('boom')")
    error.__cause__ = ValueError("boom")
    rebuilt = roundtrip(error)
    assert isinstance(rebuilt, HandlerError)
    assert str(rebuilt) == "handler of trouper://bank/acct-1 raised ValueError('boom')"
    assert rebuilt.remote is not None
    assert (rebuilt.remote.type_name, rebuilt.remote.message) == ("ValueError", "boom")
    assert pickle.loads(pickle.dumps(rebuilt)).remote == rebuilt.remote


@pytest.mark.parametrize(
    "data",
    [
        "not a map",
        {"kind": "mystery"},
        {"kind": "handler", "address": ["bank"], "description": "x"},
        {"kind": "remote", "remote": ["only", "three", "strings"]},
        {"kind": "trouper", "type": "ActorStopped", "args": {"$address": [1, 2]}},
    ],
    ids=repr,
)
def test_error_data_that_does_not_fit_is_refused(data: object) -> None:
    """Malformed error data raises WireError (the caller turns it into an undecodable reply)."""
    with pytest.raises(WireError):
        error_from_wire(data, "bank")


def test_an_unknown_trouper_error_name_becomes_a_remote_error() -> None:
    """A name trouper.errors does not have (a newer sender) is kept as text."""
    rebuilt = error_from_wire(
        {"kind": "trouper", "type": "FutureError", "args": {"$tuple": ["x"]}}, "bank"
    )
    assert rebuilt == RemoteError("bank", "trouper.errors.FutureError", "x")


def test_nats_options_are_checked() -> None:
    """Bad options raise at once, naming the option."""
    with pytest.raises(ValueError, match=r"^heartbeat must be seconds > 0, got 0$"):
        Nats(heartbeat=0)
    with pytest.raises(ValueError, match=r"^backlog must be an int >= 0, got -1$"):
        Nats(backlog=-1)
    with pytest.raises(InvalidSubject):
        Nats(prefix="a..b")
    with pytest.raises(InvalidSubject):
        Nats(topics=("news.*x",))
    with pytest.raises(ValueError, match=r"^topics must be a sequence of subject patterns"):
        Nats(topics="news.>")
    assert Nats("nats://a:4222,nats://b:4222").servers == ("nats://a:4222", "nats://b:4222")


def test_the_remote_extension_needs_a_transport() -> None:
    """``cluster_of`` on a runtime without a transport says how to give it one."""
    with pytest.raises(RuntimeError, match=r"transport=trouper\.remote\.Nats\(url\)"):
        trouper.remote.cluster_of(trouper.Runtime())
