"""Every error trouper raises, under one base.

Each error is also a subclass of the Trio or builtin error it resembles, so code
that already catches ``trio.WouldBlock`` or ``ValueError`` keeps working::

    ActorError (Exception)
    ├── ActorStopped (trio.BrokenResourceError)
    │   └── NodeUnreachable
    ├── MailboxFull (trio.WouldBlock)
    ├── UnhandledMessage (TypeError)
    ├── CallbackAskUnsupported (TypeError)
    ├── HandlerError (RuntimeError)
    ├── StartFailed (RuntimeError)
    ├── RestartIntensityExceeded (RuntimeError)
    ├── ChildFailed (RuntimeError)
    ├── LinkedActorFailed (RuntimeError)
    ├── AskCycle (RuntimeError)
    ├── RuntimeClosed (RuntimeError)
    ├── RemoteError (RuntimeError)
    ├── NameTaken (ValueError)
    ├── NodeNameTaken (ValueError)
    ├── DuplicateChild (ValueError)
    ├── ChildNotFound (LookupError)
    ├── InvalidSubject (ValueError)
    ├── MessageTypeConflict (ValueError)
    ├── UnregisteredMessageType (TypeError)
    ├── UnencodableMessage (TypeError)
    ├── StoreError (OSError)
    │   ├── NotAStore
    │   ├── StoreCorrupt
    │   ├── StoreLocked
    │   ├── StoreVersionTooNew
    │   └── StoreFailed
    │       └── StoreRefused
    └── UndecodableMessage (ValueError)
        ├── UnknownMessageType (LookupError)
        ├── MalformedPayload
        ├── MessageMismatch
        └── UnresolvableRef (LookupError)

Errors carry addresses (plain values), never live references, so they pickle
and can cross a process boundary. An error raised on another node arrives as
itself when trouper or Python's builtins define it, else as ``RemoteError``:
its type's name, message and traceback, as text (nothing received is ever
unpickled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from trouper._text import cut

if TYPE_CHECKING:
    from trouper.actors import Address

__all__ = [
    "ActorError",
    "ActorStopped",
    "AskCycle",
    "CallbackAskUnsupported",
    "ChildFailed",
    "ChildNotFound",
    "DuplicateChild",
    "HandlerError",
    "InvalidSubject",
    "LinkedActorFailed",
    "MailboxFull",
    "MalformedPayload",
    "MessageMismatch",
    "MessageTypeConflict",
    "NameTaken",
    "NodeNameTaken",
    "NodeUnreachable",
    "NotAStore",
    "RemoteError",
    "RestartIntensityExceeded",
    "RuntimeClosed",
    "StartFailed",
    "StoreCorrupt",
    "StoreError",
    "StoreFailed",
    "StoreLocked",
    "StoreRefused",
    "StoreVersionTooNew",
    "UndecodableMessage",
    "UnencodableMessage",
    "UnhandledMessage",
    "UnknownMessageType",
    "UnregisteredMessageType",
    "UnresolvableRef",
]


class ActorError(Exception):
    """Base class of every error trouper raises on purpose.

    Subclasses keep the arguments they were built with in ``args``, so they
    pickle and compare like builtin exceptions.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)

    def __str__(self) -> str:
        return self._message()

    def _message(self) -> str:
        return super().__str__()


class ActorStopped(ActorError, trio.BrokenResourceError):
    """The target actor has stopped for good.

    Raised by ``ask`` when the target has stopped (at once) or stops before it
    answers (its queued asks are failed with this error when it stops).
    An actor stopping for good (running ``on_stop``, or finishing its
    handler first) takes no new mail: an ``ask`` to it raises this at once.
    ``tell`` to a stopped actor never raises: the message becomes a dead letter.
    Also raised by ``watch``, ``link``, ``spawn``, ``spawn_pool``,
    ``start_child``, ``send_later`` and ``every`` on the context of an actor
    that has stopped for good (a context a task kept after the stop), with
    that actor's address; and by ``spawn`` when a stop of the new actor (by
    a name, say) cut its first ``on_start`` off (an ``on_start`` that
    completes within the stop's grace returns the ref of a stopping actor).
    """

    def __init__(self, address: Address) -> None:
        super().__init__(address)

    @property
    def address(self) -> Address:
        """The address of the actor that stopped."""
        return self.args[0]  # type: ignore[no-any-return]

    def _message(self) -> str:
        return f"actor {self.address} has stopped"


class NodeUnreachable(ActorStopped):
    """The node of a remote actor cannot be reached: as far as this node can tell, it stopped.

    Raised by a remote ``ask`` when the actor's node has gone silent (no
    heartbeat for two intervals), left, restarted, or is not in the cluster,
    or when this node's own connection to the cluster is down (asks then fail
    at once, or as the connection drops, rather than wait). A watcher of a
    remote actor receives ``Terminated`` with this error as the reason when
    the actor's node is gone. It is an ``ActorStopped``, so code that handles
    a stopped actor handles it too.
    """

    def __init__(self, address: Address, problem: str) -> None:
        ActorError.__init__(self, address, problem)

    @property
    def problem(self) -> str:
        """Why the node cannot be reached."""
        return self.args[1]  # type: ignore[no-any-return]

    def _message(self) -> str:
        return f"actor {self.args[0]} is unreachable: {self.args[1]}"


class MailboxFull(ActorError, trio.WouldBlock):
    """``tell_nowait`` found the target's mailbox full; the message was not sent."""

    def __init__(self, address: Address, capacity: float) -> None:
        super().__init__(address, capacity)

    @property
    def address(self) -> Address:
        """The address of the actor whose mailbox is full."""
        return self.args[0]  # type: ignore[no-any-return]

    def _message(self) -> str:
        # The capacity, not the depth: a durable mailbox whose capacity was lowered
        # between runs may hold more.
        return f"mailbox of {self.address} is full (capacity {self.args[1]} messages)"


class UnhandledMessage(ActorError, TypeError):
    """No handler of the target takes the message's type, and it has no ``receive``.

    Raised by ``ask`` at once; a ``tell`` of such a message becomes a dead letter.
    When a method of the actor's class would take the message but is not marked
    ``@handler``, the message names it.
    """

    def __init__(self, address: Address, message_type: str, hint: str = "") -> None:
        super().__init__(address, message_type, hint)

    def _message(self) -> str:
        hint = f" ({self.args[2]})" if self.args[2] else ""
        return f"actor {self.args[0]} has no handler for {self.args[1]}{hint}"


class CallbackAskUnsupported(ActorError, TypeError):
    """Raised by an endpoint's ``ask_soon`` that cannot answer by callback: use ``ask``.

    A broadcast pool's endpoint raises it (its reply gathers every member's),
    before anything is sent. Callers that try ``ask_soon`` first and fall back
    to an awaited ``ask`` catch this and nothing else: any other error raised
    by ``ask_soon`` (a ``TypeError`` of a hash pool's key, an instrument's) is
    the ask's answer, and asking again would make the ask twice. Also importable
    from ``trouper.runtime.lowlevel``, where the endpoints it concerns are.
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)


class HandlerError(ActorError, RuntimeError):
    """The handler that took an ``ask`` raised; the original error is ``__cause__``.

    For an actor on another node the original error stays there: ``remote``
    is a ``RemoteError`` carrying its type's name, message and traceback as
    text, and it is also the ``__cause__``. For a local actor ``remote`` is
    ``None``.
    """

    def __init__(
        self, address: Address, description: str, remote: RemoteError | None = None
    ) -> None:
        if remote is None:
            super().__init__(address, description)
        else:
            super().__init__(address, description, remote)
            self.__cause__ = remote

    @property
    def remote(self) -> RemoteError | None:
        """What the handler raised, as text, when it ran on another node (else ``None``)."""
        return self.args[2] if len(self.args) > 2 else None

    def _message(self) -> str:
        return f"handler of {self.args[0]} raised {self.args[1]}"


class StartFailed(ActorError, RuntimeError):
    """An actor could not start: its first ``on_start`` raised.

    Raised by ``spawn`` (and by ``start_child``) once nothing of the actor
    runs any more; the original error is ``__cause__``. (An error of the
    factory itself, like calling a class with wrong arguments, is raised by
    ``spawn`` as it is.)
    """

    def __init__(self, address: Address, description: str) -> None:
        super().__init__(address, description)

    def _message(self) -> str:
        return f"actor {self.args[0]} failed to start: {self.args[1]}"


class RestartIntensityExceeded(ActorError, RuntimeError):
    """A supervisor saw more restarts than its strategy allows and gave up.

    The supervisor then fails with this error (its parent decides what happens
    to it); at the runtime's root it leaves ``open_runtime()`` when the runtime
    was opened with ``on_root_give_up="escalate"``. ``address`` is the child
    whose exit was one restart too many; ``__cause__`` is its error, or ``None``
    when that exit was a normal one (a ``PERMANENT`` child that stopped itself:
    ``exited_normally``), and the message says which.
    """

    def __init__(
        self, address: Address, max_restarts: int, within: float, exited_normally: bool = False
    ) -> None:
        super().__init__(address, max_restarts, within, exited_normally)

    @property
    def exited_normally(self) -> bool:
        """Whether the exit that exceeded the intensity was a normal exit, not a failure."""
        return bool(self.args[3])

    def _message(self) -> str:
        what = "exited normally" if self.exited_normally else "failed"
        return (
            f"{self.args[0]} {what} more than {self.args[1]} restarts "
            f"allow within {self.args[2]} s; its supervisor gave up"
        )


class ChildFailed(ActorError, RuntimeError):
    """A child failed and its supervisor's strategy chose ``Directive.ESCALATE``.

    The supervisor fails with this error; ``__cause__`` is the child's error.
    """

    def __init__(self, address: Address, description: str) -> None:
        super().__init__(address, description)

    def _message(self) -> str:
        return f"child {self.args[0]} failed and escalated: {self.args[1]}"


class LinkedActorFailed(ActorError, RuntimeError):
    """An actor linked to this one failed, and this one does not trap exits.

    The linked actor fails with this error (its supervisor decides what
    happens next); ``__cause__`` is the error the other actor stopped with.
    """

    def __init__(self, address: Address, description: str) -> None:
        super().__init__(address, description)

    def _message(self) -> str:
        return f"linked actor {self.args[0]} failed: {self.args[1]}"


class AskCycle(ActorError, RuntimeError):
    """An ask would close a cycle of asks, so no actor in it could ever answer.

    Raised at once by ``ask`` when the target's handler is itself waiting, directly
    or through a chain of actors, on an ask to the asker (an actor asking itself
    is the shortest cycle). ``cycle`` names the actors in order, the asker first
    and last. Nothing was queued.

    A handler (or hook) waiting for another actor's start, stop or restart
    (``spawn`` waiting for its ``on_start``, ``rt.stop``, ``rt.restart``,
    ``stop_child``) counts as asking that actor while it waits: an ask back to
    the waiting actor from the other's ``on_start`` or ``on_stop``, directly or
    through others, raises this too (from a first ``on_start``, the ``spawn``
    then raises ``StartFailed`` with it as ``__cause__``).
    ``rt.stop`` and ``rt.restart`` of the calling actor or of one of its
    ancestors do not wait: they return at once and take effect when the
    running handler returns.
    """

    def __init__(self, cycle: tuple[str, ...]) -> None:
        super().__init__(cycle)

    @property
    def cycle(self) -> tuple[str, ...]:
        """The paths of the actors in the cycle, the asker first and last."""
        return self.args[0]  # type: ignore[no-any-return]

    def _message(self) -> str:
        if len(self.cycle) == 2:
            return (
                f"{self.cycle[0]} asked itself from inside its own handler, which would wait "
                "forever: call the method directly or tell instead"
            )
        return (
            "ask cycle " + " -> ".join(self.cycle) + ": each waits for the next to answer, "
            "so none ever would; tell one of them instead"
        )


class RuntimeClosed(ActorError, RuntimeError):
    """The runtime has stopped (or is stopping for good): it takes no new actors or calls.

    Raised by ``spawn`` (also through the portal) after ``aclose()``, after the
    runtime's block has been left or cancelled, and by the portal (and the
    asyncio bridge's ``run``) once the runtime's thread no longer runs it, or
    when its run ends during the call. ``spawn`` raises it too when the
    runtime's close stopped the actor it was starting.
    """

    def __init__(self, node: str) -> None:
        super().__init__(node)

    def _message(self) -> str:
        return f"the runtime of node {self.args[0]!r} is closed: it takes no new actors or calls"


class RemoteError(ActorError, RuntimeError):
    """An error raised on another node, carried as text: its type's name, message and traceback.

    What a remote handler raised (``HandlerError.remote``), what a remote
    actor stopped with (``Terminated.reason``), or the error of a remote
    ``Reject``, when neither trouper nor Python's builtins define its type:
    the type cannot be rebuilt here (nothing received is ever unpickled or
    imported). The remote traceback is added to the error's notes, so it is
    printed with it. Unlike other errors it compares by value (its four
    fields), as the text it is.
    """

    def __init__(self, node: str, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(node, type_name, message, traceback)
        if traceback:
            self.add_note(f"traceback on node {node!r}:\n{traceback.rstrip()}")

    @property
    def node(self) -> str:
        """The node where it was raised."""
        return self.args[0]  # type: ignore[no-any-return]

    @property
    def type_name(self) -> str:
        """The qualified name of its type there (``ValueError``, ``shop.errors.OutOfStock``)."""
        return self.args[1]  # type: ignore[no-any-return]

    @property
    def message(self) -> str:
        """``str()`` of the error there."""
        return self.args[2]  # type: ignore[no-any-return]

    @property
    def traceback(self) -> str:
        """Its traceback there, formatted (``""`` when none was sent)."""
        return self.args[3]  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RemoteError):
            return self.args == other.args
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.args)

    def _message(self) -> str:
        text = f"{self.args[1]}: {self.args[2]}" if self.args[2] else self.args[1]
        return f"{text} (raised on node {self.args[0]!r})"


class NameTaken(ActorError, ValueError):
    """``spawn`` was given a name that a living actor already has."""

    def __init__(self, name: str) -> None:
        super().__init__(name)

    def _message(self) -> str:
        return f"an actor named {self.args[0]!r} already exists"


class NodeNameTaken(ActorError, ValueError):
    """A runtime tried to join a cluster under a node name that a running node already has.

    Raised by ``open_runtime(node=..., transport=...)`` as it joins: two
    nodes of one name would share each other's messages. Choose another name,
    or stop the other node first.
    """

    def __init__(self, node: str) -> None:
        super().__init__(node)

    def _message(self) -> str:
        return f"a node named {self.args[0]!r} is already in the cluster"


class DuplicateChild(ActorError, ValueError):
    """A supervisor was given a child id it already has."""

    def __init__(self, supervisor: Address, child_id: str) -> None:
        super().__init__(supervisor, child_id)

    def _message(self) -> str:
        return f"{self.args[0]} already has a child with id {self.args[1]!r}"


class ChildNotFound(ActorError, LookupError):
    """A supervisor was asked about a child id it does not have."""

    def __init__(self, supervisor: Address, child_id: str) -> None:
        super().__init__(supervisor, child_id)

    def _message(self) -> str:
        return f"{self.args[0]} has no child with id {self.args[1]!r}"


class InvalidSubject(ActorError, ValueError):
    """A topic subject or subscription pattern does not follow the grammar.

    The message says which subject and what is wrong with it.
    """

    def __init__(self, subject: str, problem: str) -> None:
        super().__init__(subject, problem)

    def _message(self) -> str:
        return f"invalid subject {self.args[0]!r}: {self.args[1]}"


class MessageTypeConflict(ActorError, ValueError):
    """A registry was asked to give a name or a class a second meaning.

    Raised by ``register`` and ``@message`` when the name already names another
    class, or the class is already registered under another name. Registering
    a class again under the name it has changes nothing and raises nothing.
    """

    def __init__(self, message_type: str, name: str, problem: str) -> None:
        super().__init__(message_type, name, problem)

    def _message(self) -> str:
        return f"cannot register {self.args[0]} as {self.args[1]!r}: {self.args[2]}"


class UnregisteredMessageType(ActorError, TypeError):
    """A message's class is not registered, so it has no name to be stored or sent under.

    Raised by ``Codec.encode`` (and ``name_of``); a codec never registers a
    class on its own.
    """

    def __init__(self, message_type: str) -> None:
        super().__init__(message_type)

    def _message(self) -> str:
        return (
            f"{self.args[0]} is not a registered message type: "
            "decorate it with @trouper.message(name) or call trouper.register(cls)"
        )


class UnencodableMessage(ActorError, TypeError):
    """A registered message holds a value its codec cannot turn into bytes.

    Raised by ``Codec.encode``; the message says which field and why.
    """

    def __init__(self, message_type: str, problem: str) -> None:
        super().__init__(message_type, problem)

    def _message(self) -> str:
        return f"cannot encode {self.args[0]}: {self.args[1]}"


class UndecodableMessage(ActorError, ValueError):
    """A payload could not be turned back into a message; the base of every decoding error.

    Raised by ``Codec.decode``; the subclasses say why. The layers that store
    or receive messages turn it into a dead letter whose reason is its text,
    so decoding never crashes anything.
    """

    def __init__(self, type_name: str | None, problem: str) -> None:
        super().__init__(type_name, problem)

    @property
    def type_name(self) -> str | None:
        """The message type name the payload came with (``None`` if not even that was read)."""
        return self.args[0]  # type: ignore[no-any-return]

    def _message(self) -> str:
        return f"payload for {self.args[0]!r} cannot be decoded: {self.args[1]}"


class UnknownMessageType(UndecodableMessage, LookupError):
    """A payload names a message type that is not registered in this process.

    Decoding never imports a module named by the data: the type must have
    been registered (imported) beforehand.
    """

    def __init__(self, type_name: str) -> None:
        ActorError.__init__(self, type_name)

    def _message(self) -> str:
        return f"no message type is registered as {self.args[0]!r} in this process"


class MalformedPayload(UndecodableMessage):
    """A payload is not well-formed data: not msgpack, or not shaped as trouper writes it."""

    def __init__(self, type_name: str | None, problem: str) -> None:
        super().__init__(type_name, problem)

    def _message(self) -> str:
        if self.args[0] is None:
            return f"message blob is malformed: {self.args[1]}"
        return f"payload for {self.args[0]!r} is malformed: {self.args[1]}"


class MessageMismatch(UndecodableMessage):
    """A payload is well-formed but does not fit its class (now).

    A field is missing (or was renamed), unexpected, or of another type, or
    the class refused the values; the message names every such field.
    """

    def __init__(self, type_name: str, message_type: str, problem: str) -> None:
        ActorError.__init__(self, type_name, message_type, problem)

    def _message(self) -> str:
        return f"payload for {self.args[0]!r} does not fit {self.args[1]}: {self.args[2]}"


_SHOWN = 120
"""Characters of a text read from a payload that an error's message shows."""


class UnresolvableRef(UndecodableMessage, LookupError):
    """A payload holds an actor ref that its codec could not turn back into a ref.

    The codec has no resolver, or its resolver raised (then ``__cause__``).
    """

    def __init__(self, type_name: str, field: str, address: Address, problem: str) -> None:
        ActorError.__init__(self, type_name, field, address, problem)

    def _message(self) -> str:
        address, problem = cut(str(self.args[2]), _SHOWN), cut(str(self.args[3]), _SHOWN)
        return (
            f"payload for {self.args[0]!r} holds a ref to {address} in field "
            f"{self.args[1]!r} that cannot be resolved: {problem}"
        )


class StoreError(ActorError, OSError):
    """The durable store could not be used; the message names the file and the reason.

    The base of the store's errors (raised when a store is opened, or by a write
    that cannot be made durable). It is an ``OSError`` because every one of them is
    a problem with a file, so code that already handles ``OSError`` for files
    keeps working.
    """

    def __init__(self, path: str, problem: object, *more: object) -> None:
        # BaseException's own __init__: OSError's would read the first two
        # arguments as errno and strerror and drop a third from ``args``.
        BaseException.__init__(self, path, problem, *more)

    @property
    def path(self) -> str:
        """The store file concerned."""
        return self.args[0]  # type: ignore[no-any-return]

    def _message(self) -> str:
        return f"store {self.args[0]!r}: {self.args[1]}"


class NotAStore(StoreError):
    """Opening a file that is not a trouper store (another SQLite database, or not SQLite)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)

    def _message(self) -> str:
        return f"{self.args[0]!r} is not a trouper store: {self.args[1]}"


class StoreCorrupt(StoreError):
    """Opening a trouper store whose file is damaged (SQLite's integrity check failed)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)

    def _message(self) -> str:
        return f"store {self.args[0]!r} is corrupt: {self.args[1]}"


class StoreLocked(StoreError):
    """Opening a store that another runtime (in this process or another one) has open.

    One store file serves one runtime at a time; the lock is an exclusive
    ``flock`` on the file named in the message, released when that runtime
    closes its store or its process ends. Also raised when a program outside
    trouper holds SQLite's own lock on the file for longer than the two-second
    busy timeout (the second argument is then the store's own path).
    """

    def __init__(self, path: str, lock_path: str) -> None:
        super().__init__(path, lock_path)

    def _message(self) -> str:
        if self.args[1] == self.args[0]:
            return (
                f"store {self.args[0]!r} is locked by another program "
                "(an SQLite connection outside trouper holds its lock)"
            )
        return (
            f"store {self.args[0]!r} is in use by another runtime (lock held on {self.args[1]!r})"
        )


class StoreVersionTooNew(StoreError):
    """Opening a store written by a newer trouper, whose schema this one does not know."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(path, found, supported)

    def _message(self) -> str:
        return (
            f"store {self.args[0]!r} has schema version {self.args[1]}, newer than "
            f"{self.args[2]}, the newest this trouper knows: upgrade trouper to open it"
        )


class StoreFailed(StoreError):
    """A commit failed (a full disk, an I/O error): nothing in it was stored.

    Raised to every writer waiting on that commit and on any write after it:
    the store stops accepting writes (as PostgreSQL stops after a failed
    ``fsync``), so nothing is acknowledged that is not on disk. Close it and
    open it again once the cause is fixed; the messages it held are redelivered.
    ``__cause__`` is SQLite's error.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)

    def _message(self) -> str:
        return f"store {self.args[0]!r} failed: {self.args[1]}; it accepts no more writes"


class StoreRefused(StoreFailed):
    """The store refused one write for good: nothing of it was stored, and the store goes on.

    Raised by ``JetStreamStore`` for a write its server (or its client) will
    not take however long it waits: a message too large for the server's
    ``max_payload`` (by a ``tell``, ``ask`` or ``tell_nowait`` to a mailbox
    hosted here at once, for that message alone) or for its stream's
    ``max_msg_size``, a dead letter or a state its stream's limits refuse.
    Unlike its base, it leaves the store working: later writes are made as
    usual. It is a ``StoreFailed``, so code that handles a failed write
    handles it too. ``__cause__`` is the refusal: the server's error, or the
    client's (a ``ValueError`` saying the size limit).
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)

    def _message(self) -> str:
        return (
            f"store {self.args[0]!r} refused {self.args[1]}; nothing of it was stored, "
            "and the store goes on"
        )
