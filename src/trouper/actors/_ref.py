"""Addresses and references: how one actor names and reaches another.

An ``Address`` is a plain value (node, path). An ``ActorRef`` is a handle that
pairs an address with an endpoint, the object that actually moves messages: a
local actor's cell, a pool, or (later) a remote transport. The ref knows
nothing of the engine; it only calls the endpoint's three operations.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Generic, NoReturn, Protocol, TypeVar, overload

import attrs

__all__ = ["ActorRef", "Address", "Endpoint", "Request", "Tell", "TellNowait", "Watcher"]

M = TypeVar("M", contravariant=True)
R = TypeVar("R")


@attrs.frozen(order=True)
class Address:
    """Where an actor lives: a node name and a path within that node.

    Addresses are values: they compare, hash, sort, pickle, and a cattrs
    converter turns them into ``{"node": ..., "path": ...}`` and back.
    """

    node: str
    """The name of the node (the runtime) that hosts the actor."""
    path: str
    """The actor's path in its node's tree, such as ``/bank/acct-1``."""

    def __str__(self) -> str:
        return f"trouper://{self.node}{self.path}"


class Request(Generic[R]):
    """Marks a message class as a request whose reply has type ``R``.

    ``await ref.ask(msg)`` on a ``Request[int]`` is typed as returning ``int``.
    It changes nothing at run time: any message can be asked.
    """

    __slots__ = ()


class Watcher(Protocol):
    """Whoever watches an actor: told once when it stops for good (a cell, a remote node)."""

    def terminated(self, ref: ActorRef[object], reason: BaseException | None) -> None:
        """The actor behind ``ref`` stopped for good (``reason`` is ``None`` if normally)."""


class Endpoint(Protocol[M]):
    """What an ``ActorRef`` needs from whatever delivers its messages.

    A local actor's cell, a pool's router and a remote node are endpoints;
    the ref calls nothing else. ``ActorRef.tell`` and ``tell_nowait`` are
    ``send`` and ``send_nowait`` themselves, bound once per ref, so users
    call them directly (``msg_id`` by keyword). Exported by
    ``trouper.runtime.lowlevel``.

    An endpoint whose operations must run in one runtime's Trio thread (a
    cell, a remote node's) may say which in an optional ``runtime``
    attribute: that ``Runtime``, or ``None`` for an endpoint of no runtime in
    particular (as one without the attribute is). The engine reads it to
    refuse, where a layer takes the ref, one it could only tell from another
    thread (``lowlevel.check_reachable``). It is not a member of this
    protocol, so that endpoints of no runtime need not declare it.
    """

    async def send(self, message: M, msg_id: str | None = None) -> bool:
        """Deliver ``message``, waiting while the target's mailbox is full.

        Returns ``True`` if it reached a mailbox, ``False`` if it became a dead
        letter. ``msg_id`` identifies the message for deduplication where the
        target's mailbox keeps ids (durable ones); elsewhere it changes nothing.
        """
        ...

    def send_nowait(self, message: M, msg_id: str | None = None) -> bool:
        """Deliver ``message`` now or raise ``MailboxFull``; ``False``: it became a dead letter."""
        ...

    async def ask(self, message: M) -> object:
        """Deliver ``message`` and wait for the handler's return value."""
        ...

    def watch(self, watcher: Watcher) -> None:
        """Tell ``watcher`` once when the actor stops for good (at once if it has)."""
        ...

    def unwatch(self, watcher: Watcher) -> None:
        """Stop telling ``watcher``."""
        ...


def _no_endpoint(*args: object, **kwargs: object) -> NoReturn:
    raise TypeError("this ref has no endpoint to deliver through")


class Tell(Protocol[M]):
    """``ActorRef.tell``: send a message, waiting while the mailbox is full."""

    def __call__(self, message: M, *, msg_id: str | None = None) -> Awaitable[bool]:
        """Send ``message``; ``True`` once it reached a mailbox, ``False``: a dead letter."""
        ...


class TellNowait(Protocol[M]):
    """``ActorRef.tell_nowait``: send a message now, or raise ``MailboxFull``."""

    def __call__(self, message: M, *, msg_id: str | None = None) -> bool:
        """Send ``message`` now; ``True`` if it reached a mailbox, ``False``: a dead letter."""
        ...


_TELL_DOC = """Send ``message`` without waiting for it to be handled: ``await ref.tell(msg)``.

Waits while the target's mailbox is full (backpressure). Messages from one
sender to one receiver arrive in the order they were told. If the target
has stopped, the message becomes a dead letter and this returns ``False``;
otherwise ``True``. A checkpoint: if cancelled, the message was not sent
(staged by a durable handler, to be delivered with its ack, it is a
cancellation point, and a schedule point once in 16 such sends).

To an actor with a durable mailbox, returns once the message is stored;
``msg_id=`` then deduplicates: a second message with the same id for the
same mailbox within its window is dropped. In memory, delivery is at most
once and ``msg_id`` changes nothing.
"""

_TELL_NOWAIT_DOC = """Send ``message`` now, without waiting: ``ref.tell_nowait(msg)``.

Returns ``True`` if it reached a mailbox, ``False`` if the target has
stopped (it became a dead letter). To an actor with a durable mailbox, the
message is staged for the store's next commit (``await
runtime.store.flush()`` is the barrier).

Raises:
    MailboxFull: the target's mailbox is full; the message was not sent.
"""


class ActorRef(Generic[M]):
    """A handle to an actor: send it messages, ask it questions.

    Refs are equal and hashed by their ``address``. A ref stays valid while
    its actor restarts; once the actor has stopped for good, ``tell`` turns
    messages into dead letters and ``ask`` raises ``ActorStopped``.

    Refs are cheap to copy and safe to share between tasks; they are not
    thread-safe (use the runtime's ``Portal`` from other threads).
    """

    # ``tell`` and ``tell_nowait`` are the endpoint's own ``send`` and
    # ``send_nowait``, bound once per ref: no frame of the ref's own stands
    # between a sender and the mailbox, the hot path of every message. The
    # slots' texts are their docstrings (``help(ActorRef.tell)``).
    __slots__ = {
        "_address": "The actor's address.",
        "_endpoint": "What delivers this ref's messages.",
        "tell": _TELL_DOC,
        "tell_nowait": _TELL_NOWAIT_DOC,
    }

    tell: Tell[M]
    tell_nowait: TellNowait[M]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("tell", "tell_nowait"):
            if name in vars(cls):
                raise TypeError(
                    f"{cls.__name__} overrides ActorRef.{name}, which is its endpoint's own "
                    f"send: give the ref an endpoint (runtime.lowlevel.Endpoint) instead"
                )

    def __init__(self, address: Address, endpoint: Endpoint[M]) -> None:
        self._address = address
        self._endpoint = endpoint
        # (A stand-in endpoint without them, as some tests build, fails only when told.)
        self.tell = getattr(endpoint, "send", _no_endpoint)
        self.tell_nowait = getattr(endpoint, "send_nowait", _no_endpoint)

    @property
    def address(self) -> Address:
        """The actor's address: a value that names it on its node."""
        return self._address

    @property
    def endpoint(self) -> Endpoint[M]:
        """What delivers this ref's messages (a runtime's cell, a pool, a transport)."""
        return self._endpoint

    @overload
    async def ask(self, message: Request[R]) -> R: ...

    @overload
    async def ask(self, message: M) -> object: ...

    async def ask(self, message: object) -> object:
        """Send ``message`` and wait for the reply: the return value of its handler.

        The deadline comes from the caller's cancel scope (``with
        trio.fail_after(1): await ref.ask(msg)``). If the ask is cancelled
        before the actor takes the message, the message is withdrawn; if the
        handler is already running, its reply is discarded. Either way nothing
        is left waiting.

        Raises:
            ActorStopped: the actor has stopped, or stops before it replies.
            UnhandledMessage: the actor has no handler for this message's type.
            HandlerError: the handler raised; the original error is ``__cause__``.
        """
        return await self._endpoint.ask(message)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ActorRef):
            return self._address == other._address
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._address)

    def __repr__(self) -> str:
        return f"<ActorRef {self._address}>"
