"""Errors: one base, the builtin or Trio error each resembles, exact messages, and pickling."""

from __future__ import annotations

import pickle

import pytest
import trio

from trouper import Address, errors

HERE = Address("n1", "/a")

EXAMPLES: list[tuple[errors.ActorError, type[BaseException], str]] = [
    (errors.ActorStopped(HERE), trio.BrokenResourceError, "actor trouper://n1/a has stopped"),
    (
        errors.MailboxFull(HERE, 10),
        trio.WouldBlock,
        "mailbox of trouper://n1/a is full (capacity 10 messages)",
    ),
    (
        errors.UnhandledMessage(HERE, "int"),
        TypeError,
        "actor trouper://n1/a has no handler for int",
    ),
    (
        errors.CallbackAskUnsupported("BroadcastEndpoint does not take callback asks; use ask"),
        TypeError,
        "BroadcastEndpoint does not take callback asks; use ask",
    ),
    (
        errors.HandlerError(HERE, "ValueError('x')"),
        RuntimeError,
        "handler of trouper://n1/a raised ValueError('x')",
    ),
    (
        errors.HandlerError(
            HERE, "ValueError('x')", errors.RemoteError("n1", "ValueError", "x", "Traceback ...")
        ),
        RuntimeError,
        "handler of trouper://n1/a raised ValueError('x')",
    ),
    (
        errors.NodeUnreachable(HERE, "node 'n1' sent no heartbeat for 2.0 s"),
        errors.ActorStopped,
        "actor trouper://n1/a is unreachable: node 'n1' sent no heartbeat for 2.0 s",
    ),
    (
        errors.RemoteError("n1", "shop.OutOfStock", "no more", "Traceback ..."),
        RuntimeError,
        "shop.OutOfStock: no more (raised on node 'n1')",
    ),
    (errors.NodeNameTaken("n1"), ValueError, "a node named 'n1' is already in the cluster"),
    (
        errors.StartFailed(HERE, "OSError('x')"),
        RuntimeError,
        "actor trouper://n1/a failed to start: OSError('x')",
    ),
    (
        errors.RestartIntensityExceeded(HERE, 3, 5.0),
        RuntimeError,
        "trouper://n1/a failed more than 3 restarts allow within 5.0 s; its supervisor gave up",
    ),
    (
        errors.RestartIntensityExceeded(HERE, 3, 5.0, True),
        RuntimeError,
        "trouper://n1/a exited normally more than 3 restarts allow within 5.0 s; "
        "its supervisor gave up",
    ),
    (
        errors.ChildFailed(HERE, "KeyError('k')"),
        RuntimeError,
        "child trouper://n1/a failed and escalated: KeyError('k')",
    ),
    (
        errors.LinkedActorFailed(HERE, "E()"),
        RuntimeError,
        "linked actor trouper://n1/a failed: E()",
    ),
    (
        errors.UnhandledMessage(HERE, "int", "A.take takes int but is not marked @handler"),
        TypeError,
        "actor trouper://n1/a has no handler for int (A.take takes int but is not marked @handler)",
    ),
    (
        errors.AskCycle(("/a", "/b", "/a")),
        RuntimeError,
        "ask cycle /a -> /b -> /a: each waits for the next to answer, so none ever would; "
        "tell one of them instead",
    ),
    (
        errors.AskCycle(("/a", "/a")),
        RuntimeError,
        "/a asked itself from inside its own handler, which would wait forever: "
        "call the method directly or tell instead",
    ),
    (
        errors.RuntimeClosed("n1"),
        RuntimeError,
        "the runtime of node 'n1' is closed: it takes no new actors or calls",
    ),
    (errors.NameTaken("acct"), ValueError, "an actor named 'acct' already exists"),
    (
        errors.DuplicateChild(HERE, "w"),
        ValueError,
        "trouper://n1/a already has a child with id 'w'",
    ),
    (errors.ChildNotFound(HERE, "w"), LookupError, "trouper://n1/a has no child with id 'w'"),
    (
        errors.InvalidSubject("a..b", "empty token at position 2"),
        ValueError,
        "invalid subject 'a..b': empty token at position 2",
    ),
    (errors.StoreError("shop.db", "cannot open"), OSError, "store 'shop.db': cannot open"),
    (
        errors.NotAStore("notes.txt", "no SQLite header"),
        OSError,
        "'notes.txt' is not a trouper store: no SQLite header",
    ),
    (
        errors.StoreCorrupt("shop.db", "database disk image is malformed"),
        OSError,
        "store 'shop.db' is corrupt: database disk image is malformed",
    ),
    (
        errors.StoreLocked("shop.db", "shop.db-lock"),
        OSError,
        "store 'shop.db' is in use by another runtime (lock held on 'shop.db-lock')",
    ),
    (
        errors.StoreVersionTooNew("shop.db", 7, 2),
        OSError,
        "store 'shop.db' has schema version 7, newer than 2, the newest this trouper "
        "knows: upgrade trouper to open it",
    ),
    (
        errors.StoreFailed("shop.db", "database or disk is full"),
        OSError,
        "store 'shop.db' failed: database or disk is full; it accepts no more writes",
    ),
    (
        errors.StoreRefused(
            "nats://n1:4222", "a message for the durable mailbox 'jobs': too large"
        ),
        OSError,
        "store 'nats://n1:4222' refused a message for the durable mailbox 'jobs': too large; "
        "nothing of it was stored, and the store goes on",
    ),
    (
        errors.MessageTypeConflict(
            "shop.Charge", "billing.charge", "it is already registered as 'shop.charge'"
        ),
        ValueError,
        "cannot register shop.Charge as 'billing.charge': "
        "it is already registered as 'shop.charge'",
    ),
    (
        errors.UnregisteredMessageType("shop.Charge"),
        TypeError,
        "shop.Charge is not a registered message type: decorate it with @trouper.message(name) "
        "or call trouper.register(cls)",
    ),
    (
        errors.UnencodableMessage("shop.Charge", "field 'at': cannot encode a socket.socket"),
        TypeError,
        "cannot encode shop.Charge: field 'at': cannot encode a socket.socket",
    ),
    (
        errors.UndecodableMessage("shop.charge", "shop.Charge has a field the codec cannot read"),
        ValueError,
        "payload for 'shop.charge' cannot be decoded: "
        "shop.Charge has a field the codec cannot read",
    ),
    (
        errors.UnknownMessageType("shop.charge"),
        LookupError,
        "no message type is registered as 'shop.charge' in this process",
    ),
    (
        errors.MalformedPayload("shop.charge", "not valid msgpack (it ends too soon)"),
        errors.UndecodableMessage,
        "payload for 'shop.charge' is malformed: not valid msgpack (it ends too soon)",
    ),
    (
        errors.MessageMismatch(
            "shop.charge", "shop.Charge", "field 'total' expected int, got 'abc'"
        ),
        ValueError,
        "payload for 'shop.charge' does not fit shop.Charge: field 'total' expected int, got 'abc'",
    ),
    (
        errors.UnresolvableRef("shop.ask", "reply_to", HERE, "this codec has no resolver"),
        LookupError,
        "payload for 'shop.ask' holds a ref to trouper://n1/a in field 'reply_to' that cannot be "
        "resolved: this codec has no resolver",
    ),
]


@pytest.mark.parametrize(
    ("error", "resembles", "message"), EXAMPLES, ids=lambda v: type(v).__name__
)
def test_error_family_message_and_pickling(
    error: errors.ActorError, resembles: type[BaseException], message: str
) -> None:
    """Each error is an ActorError and its look-alike, says what happened, and pickles."""
    assert isinstance(error, errors.ActorError)
    assert isinstance(error, resembles)
    assert str(error) == message
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.args == error.args
    assert str(copy) == message


def test_every_public_error_is_covered() -> None:
    """A new error gets an example above."""
    covered = {type(error).__name__ for error, _, _ in EXAMPLES}
    assert covered == set(errors.__all__) - {"ActorError"}


@pytest.mark.parametrize("name", sorted(set(errors.__all__)))
def test_every_error_says_when_it_is_raised(name: str) -> None:
    """Each error's docstring says when it is raised."""
    assert (getattr(errors, name).__doc__ or "").strip()


def test_a_remote_handler_error_carries_the_remote_error_as_text() -> None:
    """``remote`` (also the cause) holds the type name, message and traceback; it pickles."""
    remote = errors.RemoteError("bank", "shop.OutOfStock", "no more", "Traceback (most...)\n")
    error = errors.HandlerError(HERE, "OutOfStock('no more')", remote)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.remote is not None
    assert (copy.remote.node, copy.remote.type_name, copy.remote.message) == (
        "bank",
        "shop.OutOfStock",
        "no more",
    )
    assert copy.remote.traceback == "Traceback (most...)\n"
    assert copy.__cause__ is copy.remote
    assert errors.HandlerError(HERE, "ValueError('x')").remote is None


def test_a_remote_error_prints_its_remote_traceback() -> None:
    """The remote traceback is a note, so Python prints it with the error."""
    error = errors.RemoteError("bank", "KeyError", "'k'", "Traceback:\n  line 1\n")
    assert error.__notes__ == ["traceback on node 'bank':\nTraceback:\n  line 1"]
    assert not hasattr(errors.RemoteError("bank", "KeyError", "'k'"), "__notes__")


def test_an_unreachable_node_reads_as_a_stopped_actor() -> None:
    """``NodeUnreachable`` is an ``ActorStopped`` with the actor's address and the problem."""
    error = errors.NodeUnreachable(HERE, "node 'n1' left the cluster")
    assert isinstance(error, errors.ActorStopped)
    assert (error.address, error.problem) == (HERE, "node 'n1' left the cluster")


def test_an_unresolvable_ref_cuts_the_address_and_the_reason_it_read_from_a_payload() -> None:
    """A 10 KB path, and a resolver's words repeating it, make a message of a few hundred chars."""
    far = Address("n1", "/" + "a" * 10_000)
    error = errors.UnresolvableRef("shop.order", "customer", far, f"no actor at {far}")
    text = str(error)
    assert len(text) < 400
    assert text.startswith("payload for 'shop.order' holds a ref to trouper://n1/aaa")
    assert "in field 'customer' that cannot be resolved: no actor at trouper://n1/aaa" in text
    assert error.args[2] == far  # the whole address is kept
