"""``Context``: what a running actor can do besides handling messages.

The interface lives here, with the user's vocabulary; the runtime implements
it. An actor reaches it as ``self.ctx``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import attrs

from trouper.actors._actor import Actor
from trouper.actors._ref import ActorRef

if TYPE_CHECKING:
    from trouper.routing import Router
    from trouper.runtime import Runtime
    from trouper.runtime.lowlevel import MailboxFactory
    from trouper.supervision import ChildInfo, ChildSpec, Restart

__all__ = ["IN_MEMORY_DELIVERY", "Context", "DeliveryInfo", "Exited", "Terminated", "Timer"]


@attrs.frozen
class Terminated:
    """Delivered to a watcher once the actor it watches has stopped for good."""

    ref: ActorRef[object]
    """The actor that stopped."""
    reason: BaseException | None
    """``None`` for a normal stop, else the error it stopped with."""


@attrs.frozen
class Exited:
    """Delivered to an actor that traps exits when an actor linked to it stops for good."""

    ref: ActorRef[object]
    """The linked actor that stopped."""
    reason: BaseException | None
    """``None`` for a normal stop, else the error it stopped with."""


class DeliveryInfo(Protocol):
    """How the message being handled was delivered (``self.ctx.delivery``)."""

    @property
    def id(self) -> object:
        """The message's id in its mailbox, or ``None`` in memory.

        A SQLite store's row id (rising, never reused), a JetStream store's
        stream sequence; the same on every redelivery (a redriven dead letter
        gets a new one).
        """
        ...

    @property
    def msg_id(self) -> str | None:
        """The sender's ``msg_id`` (``tell(msg, msg_id=...)``), if it gave one."""
        ...

    @property
    def attempt(self) -> int:
        """Which delivery of the message this is: 1, then 2 for its first redelivery, ..."""
        ...

    @property
    def redelivered(self) -> bool:
        """Whether it was delivered before (a retry, or after a restart or a crash)."""
        ...


@attrs.frozen
class _InMemoryDelivery:
    """The delivery of an in-memory message: delivered once, never again."""

    id: object = None
    """No id: an in-memory message is not stored."""
    msg_id: str | None = None
    """In memory, ``msg_id`` is not kept."""
    attempt: int = 1
    """Always the first delivery."""
    redelivered: bool = False
    """Never redelivered (at-most-once)."""


IN_MEMORY_DELIVERY: DeliveryInfo = _InMemoryDelivery()
"""What ``ctx.delivery`` is for an actor whose mailbox keeps no delivery facts (in memory)."""


class Timer(abc.ABC):
    """A scheduled delivery from ``send_later`` or ``every``; ``cancel()`` stops it."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop the timer; a message not yet delivered will not be. Idempotent."""

    @property
    @abc.abstractmethod
    def active(self) -> bool:
        """Whether the timer may still deliver a message."""


class Context(abc.ABC):
    """A running actor's window on the runtime (``self.ctx``).

    Everything here acts on behalf of the actor: children it spawns are
    supervised by it, timers it starts end when it stops or restarts, and the
    actors it watches report to it. Methods are not thread-safe; call them from
    the actor's own handlers and hooks.
    """

    @property
    @abc.abstractmethod
    def self_ref(self) -> ActorRef[object]:
        """This actor's own ref (stable across restarts)."""

    @property
    @abc.abstractmethod
    def runtime(self) -> Runtime:
        """The runtime this actor runs in."""

    @property
    @abc.abstractmethod
    def parent(self) -> ActorRef[object] | None:
        """The supervising actor's ref, or ``None`` for a top-level actor."""

    @property
    @abc.abstractmethod
    def delivery(self) -> DeliveryInfo:
        """How the message being handled was delivered: its id, attempt, whether redelivered.

        A durable mailbox's delivery (``trouper.durable.Delivery``) says the
        message's stored id, its ``msg_id``, its attempt number and whether it
        is a redelivery. In memory (and outside a handler) it is
        ``IN_MEMORY_DELIVERY``: attempt 1, never redelivered.
        """

    @abc.abstractmethod
    async def spawn(
        self,
        factory: Callable[..., Actor],
        *args: object,
        name: str | None = None,
        mailbox_size: float | None = None,
        throughput: int | None = None,
        restart: Restart | None = None,
        shutdown: float | None = None,
        mailbox: MailboxFactory | None = None,
        **kwargs: object,
    ) -> ActorRef[object]:
        """Start a child of this actor and return its ref once its ``on_start`` has run.

        The child is supervised by this actor's ``supervisor_strategy``. Its
        restart kind defaults to ``Restart.TRANSIENT`` (restarted after a
        failure, not after a normal stop). Arguments are passed to ``factory``;
        options are keyword-only and those of ``Runtime.spawn`` (``mailbox`` takes
        a mailbox factory such as ``trouper.durable.Durable()``); a factory
        argument with an option's name needs ``functools.partial``.

        Raises:
            NameTaken: ``name`` belongs to a living actor.
            StartFailed: the first ``on_start`` raised (a factory's own error is
                raised as it is).
        """

    @abc.abstractmethod
    async def spawn_pool(
        self,
        factory: Callable[..., Actor],
        size: int,
        *args: object,
        router: Router | None = None,
        name: str | None = None,
        mailbox_size: float | None = None,
        throughput: int | None = None,
        restart: Restart | None = None,
        shutdown: float | None = None,
        **kwargs: object,
    ) -> ActorRef[object]:
        """Start a pool of ``size`` actors behind one ref, as a child of this actor.

        Takes ``spawn``'s options (``name``, ``restart`` and ``shutdown`` for the
        pool, ``mailbox_size`` and ``throughput`` for each member). See
        ``Runtime.spawn_pool`` and ``trouper.routing``.
        """

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop this actor once the running handler returns (a normal exit).

        The supervisor treats it by the actor's restart kind: final for
        ``TRANSIENT`` (the default of ``spawn``) and ``TEMPORARY`` actors, a
        restart for ``PERMANENT`` ones. ``runtime.stop(ref)`` is always final.
        """

    @abc.abstractmethod
    def send_later(self, delay: float, target: ActorRef[object], message: object) -> Timer:
        """Tell ``message`` to ``target`` after ``delay`` seconds, unless cancelled first.

        If that tell raises (a consistent-hash pool's ``key``), this actor fails
        with the error, as if a handler had raised it. A ``target`` of a runtime
        in another thread, which no tell from this one reaches, raises
        ``ValueError`` here and schedules nothing.
        """

    @abc.abstractmethod
    def every(self, interval: float, target: ActorRef[object], message: object) -> Timer:
        """Tell ``message`` to ``target`` every ``interval`` seconds until cancelled.

        Ticks are at fixed times (start + k * interval) and do not drift; a
        tick waits while the target's mailbox is full. A tick whose tell
        raises ends the timer and fails this actor with the error. A ``target``
        of a runtime in another thread raises ``ValueError``, as ``send_later``'s.
        """

    @abc.abstractmethod
    def watch(self, ref: ActorRef[object]) -> None:
        """Receive ``Terminated(ref, reason)`` once ``ref`` has stopped for good.

        Watching an actor that is already dead delivers ``Terminated`` at once;
        watching twice still delivers one ``Terminated``.

        Raises:
            TypeError: ``ref`` is not a ref, or its endpoint cannot be watched
                (it has no ``watch`` and ``unwatch``); nothing is recorded.
            ValueError: ``ref`` is an actor of another runtime.
        """

    @abc.abstractmethod
    def unwatch(self, ref: ActorRef[object]) -> None:
        """Stop watching ``ref``; a ``Terminated`` not yet delivered will not be.

        Raises:
            ValueError: ``ref`` is an actor of another runtime.
        """

    @abc.abstractmethod
    def link(self, ref: ActorRef[object]) -> None:
        """Tie this actor's fate to ``ref``'s, both ways (Erlang links).

        When either stops for good after a failure, the other fails with
        ``LinkedActorFailed``, unless it traps exits; an actor that traps exits
        receives ``Exited(ref, reason)`` for every stop of a linked actor.

        Raises:
            ValueError: ``ref`` is an actor of another runtime.
        """

    @abc.abstractmethod
    def unlink(self, ref: ActorRef[object]) -> None:
        """Remove the link with ``ref``, both ways.

        Raises:
            ValueError: ``ref`` is an actor of another runtime.
        """

    @abc.abstractmethod
    async def start_child(self, spec: ChildSpec) -> ActorRef[object]:
        """Start a child from a spec, after the existing children.

        Raises:
            DuplicateChild: a child with this id exists.
            StartFailed: the child could not start (nothing of it keeps running,
                and it is not listed: its id is free for another try, as after
                OTP's ``start_child`` returned ``{error, Reason}``).
        """

    @abc.abstractmethod
    async def stop_child(self, child_id: str) -> None:
        """Stop a child for good (its spec is kept, except a temporary child's).

        Raises:
            ChildNotFound: there is no child with this id.
        """

    @abc.abstractmethod
    async def restart_child(self, child_id: str) -> ActorRef[object]:
        """Start a stopped child again from its spec, or stop and start a running one.

        Raises:
            ChildNotFound: there is no child with this id.
            StartFailed: the child could not start.
        """

    @abc.abstractmethod
    async def delete_child(self, child_id: str) -> None:
        """Stop a child if it runs and forget its spec.

        Raises:
            ChildNotFound: there is no child with this id.
        """

    @abc.abstractmethod
    def children(self) -> list[ChildInfo]:
        """This actor's children, in start order: id, ref, state and restart count."""
