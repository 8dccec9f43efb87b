"""Dead letters and system events: what the runtime reports, and who listens.

Both go to listeners (plain callables, called synchronously and in order, so
that simulations see them deterministically) and to ``logging`` under the
``trouper`` logger. A listener must not block; an error it raises is logged
and never reaches the code that caused the report.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from trouper._text import class_label, describe
from trouper.actors import Address
from trouper.runtime._instrument import Instrument

if TYPE_CHECKING:
    from trouper.runtime._cell import Cell
    from trouper.runtime._instrument import Instruments

__all__ = [
    "ActorEvent",
    "DeadLetter",
    "DeadLetterOffice",
    "DeadLetterReason",
    "EventKind",
    "EventLog",
    "Listener",
]

log = logging.getLogger("trouper")

T = TypeVar("T")


class DeadLetterReason(enum.StrEnum):
    """Why the engine made a message a dead letter (layers above add reasons of their own)."""

    ACTOR_STOPPED = "actor stopped"
    """The recipient has stopped for good, or is stopping for good (its mailbox closed
    when the stop began), or stopped before taking it."""
    UNHANDLED = "unhandled message"
    """No handler of the recipient takes its type, and it has no ``receive``."""
    HANDLER_FAILED = "handler failed"
    """Its handler raised (the error is attached)."""
    REJECTED = "rejected"
    """Its handler returned ``Reject`` to a tell, which has no asker to answer."""
    MAILBOX_FULL = "mailbox full"
    """A copy delivered by an interception (a simulated duplicate) found no room."""
    SLOW_SUBSCRIBER = "slow subscriber"
    """A publish to a subscriber with ``Overflow.DROP`` found its mailbox full."""
    NO_MEMBERS = "pool has no members"
    """A pool that has no members left was told or asked."""
    ROUTING_FAILED = "routing failed"
    """A pool's router raised while choosing a member (the error is attached)."""
    DELIVERY_FAILED = "delivery failed"
    """Handing a message on raised where nobody can be told (the error is attached): a
    topic subscriber's endpoint refused it (a pool whose router rejects it), for a
    ``publish`` as for a runtime report to a system-topic subscriber (that subscriber
    loses it, the others still get it), or a local endpoint refused a tell from
    another node (``trouper.remote``)."""


@attrs.frozen
class DeadLetter:
    """A message that could not be delivered or handled, and why."""

    message: object
    """The message itself."""
    recipient: Address
    """Where it was going."""
    reason: str
    """Why it is dead: a ``DeadLetterReason`` for the engine's reasons, else the layer's text."""
    error: BaseException | None = None
    """The error involved, if any (the handler's error for ``"handler failed"``)."""

    def __str__(self) -> str:
        error = "" if self.error is None else f" ({describe(self.error)})"
        return f"dead letter to {self.recipient}: {self.reason}{error}: {self.message!r}"


class EventKind(enum.Enum):
    """What happened to an actor."""

    STARTED = "started"
    """An instance completed ``on_start`` (first start or restart)."""
    STOPPED = "stopped"
    """The actor stopped for good."""
    FAILED = "failed"
    """A handler or lifecycle hook raised."""
    RESTARTED = "restarted"
    """The supervisor replaced the failed instance with a fresh one."""
    GAVE_UP = "gave_up"
    """A supervisor exceeded its restart intensity (or escalated) and gave up."""

    # Members are singletons: identity hashing is correct, and faster than Enum's.
    __hash__ = object.__hash__


@attrs.frozen
class ActorEvent:
    """A lifecycle event of one actor, as listeners (and the system topics) see it."""

    kind: EventKind
    """What happened."""
    address: Address
    """Which actor it happened to (for ``GAVE_UP``: the supervisor)."""
    actor_class: str
    """The actor's class name."""
    reason: BaseException | None = None
    """The error behind a failure, restart, give-up or failed stop; else ``None``."""
    time: float = 0.0
    """Trio's clock when it happened."""

    def __str__(self) -> str:
        reason = "" if self.reason is None else f": {describe(self.reason)}"
        return f"{self.address.path} ({self.actor_class}) {self.kind.value}{reason}"


@attrs.define(eq=False)
class Listener:
    """A registered listener; ``cancel()`` (or leaving its ``with`` block) removes it."""

    _owner: _Listeners[object] | None
    _fn: Callable[[object], None]

    def cancel(self) -> None:
        """Stop calling the listener. Idempotent."""
        if self._owner is not None:
            self._owner._remove(self)
            self._owner = None

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


@attrs.define(eq=False)
class _Listeners(Generic[T]):
    _listeners: list[Listener] = attrs.field(factory=list, init=False)

    def listen(self, fn: Callable[[T], None]) -> Listener:
        """Call ``fn(item)`` for every item reported from now on, until cancelled."""
        listener = Listener(self, fn)  # type: ignore[arg-type]
        self._listeners.append(listener)
        return listener

    def _remove(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _notify(self, item: T) -> None:
        for listener in tuple(self._listeners):
            try:
                listener._fn(item)
            except Exception:
                log.exception("a trouper listener raised while handling %s", item)


@attrs.define(eq=False)
class DeadLetterOffice(_Listeners[DeadLetter]):
    """Where dead letters go: counted, the latest kept, listeners and instruments told at once."""

    _instruments: Instruments | None = None
    keep: int = 100
    count: int = attrs.field(default=0, init=False)
    """How many dead letters there have been."""
    _recent: deque[DeadLetter] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._recent = deque(maxlen=self.keep)

    @property
    def recent(self) -> tuple[DeadLetter, ...]:
        """The latest dead letters, oldest first (at most ``keep``)."""
        return tuple(self._recent)

    def post(self, letter: DeadLetter) -> None:
        """Record a dead letter: count it, keep it, log it, tell the listeners."""
        self.count += 1
        self._recent.append(letter)
        if log.isEnabledFor(logging.INFO):
            log.info("%s", letter)
        if self._listeners:
            self._notify(letter)
        instruments = self._instruments
        if instruments is not None and instruments.dead_letter:
            instruments.dead(letter)


_LEVELS = {
    EventKind.STARTED: logging.DEBUG,
    EventKind.STOPPED: logging.DEBUG,
    EventKind.FAILED: logging.ERROR,
    EventKind.RESTARTED: logging.WARNING,
    EventKind.GAVE_UP: logging.WARNING,
}


def _event(kind: EventKind, actor: Cell, reason: BaseException | None) -> ActorEvent:
    """The event of ``kind`` that ``actor`` has now."""
    return ActorEvent(
        kind, actor.address, class_label(actor.actor_class), reason, actor.runtime.now()
    )


@attrs.define(eq=False)
class EventLog(_Listeners[ActorEvent], Instrument):
    """Where lifecycle events go: logged at their level, listeners told at once.

    The runtime installs it as its first instrument: the engine reports starts,
    failures, restarts and stops through the instrument hooks, and the log turns
    them into ``ActorEvent`` values for whoever wants them.
    """

    _kinds: dict[Listener, frozenset[EventKind]] = attrs.field(factory=dict, init=False)
    _wanted: frozenset[EventKind] = attrs.field(default=frozenset(), init=False)
    # Whether a listener wants starts / stops: read per spawn and stop, so kept as plain
    # flags (an enum member hashes slowly).
    _want_started: bool = attrs.field(default=False, init=False)
    _want_stopped: bool = attrs.field(default=False, init=False)

    def wants(self, kind: EventKind) -> bool:
        """Whether an event of this kind would reach a listener or the log (else skip it)."""
        return kind in self._wanted or log.isEnabledFor(_LEVELS[kind])

    def listen(
        self, fn: Callable[[ActorEvent], None], *, kinds: Iterable[EventKind] | None = None
    ) -> Listener:
        """Call ``fn(event)`` for every event (of ``kinds``, if given) from now on."""
        wanted = frozenset(EventKind) if kinds is None else frozenset(kinds)
        if wanted == frozenset(EventKind):
            listener = super().listen(fn)
        else:
            listener = super().listen(lambda event: fn(event) if event.kind in wanted else None)
        self._kinds[listener] = wanted
        self._recount()
        return listener

    def _remove(self, listener: Listener) -> None:
        super()._remove(listener)
        self._kinds.pop(listener, None)
        self._recount()

    def _recount(self) -> None:
        self._wanted = frozenset().union(*self._kinds.values())
        self._want_started = EventKind.STARTED in self._wanted
        self._want_stopped = EventKind.STOPPED in self._wanted

    def actor_started(self, actor: Cell) -> None:
        """Report ``STARTED``."""
        if self._want_started or log.isEnabledFor(logging.DEBUG):
            self._report(EventKind.STARTED, actor, None)

    def actor_failed(self, actor: Cell, error: BaseException) -> None:
        """Report ``FAILED``."""
        self._report(EventKind.FAILED, actor, error)

    def actor_failed_unlogged(self, actor: Cell, error: BaseException) -> None:
        """Report ``FAILED`` to the listeners only: the engine has logged that failure itself.

        For an ``on_stop`` that raised, whose one log record the cell writes (an
        error is one record, not two with the same traceback).
        """
        if self._listeners:
            self._notify(_event(EventKind.FAILED, actor, error))

    def actor_restarted(self, actor: Cell, error: BaseException | None) -> None:
        """Report ``RESTARTED``."""
        self._report(EventKind.RESTARTED, actor, error)

    def actor_stopped(self, actor: Cell, reason: BaseException | None) -> None:
        """Report ``STOPPED``."""
        if self._want_stopped or log.isEnabledFor(logging.DEBUG):
            self._report(EventKind.STOPPED, actor, reason)

    def _report(self, kind: EventKind, actor: Cell, reason: BaseException | None) -> None:
        if kind in self._wanted or log.isEnabledFor(_LEVELS[kind]):
            self.emit(_event(kind, actor, reason))

    def emit(self, event: ActorEvent) -> None:
        """Report an event: log it (failures at ERROR, restarts and give-ups at WARNING)."""
        level = _LEVELS[event.kind]
        if log.isEnabledFor(level):
            exc_info = event.reason if event.kind is EventKind.FAILED else None
            log.log(level, "%s", event, exc_info=exc_info, extra={"actor": event.address.path})
        if self._listeners:
            self._notify(event)
