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
from typing import Generic, TypeVar

import attrs

from trouper._text import describe
from trouper.actors import Address

__all__ = [
    "ActorEvent",
    "DeadLetter",
    "DeadLetterOffice",
    "EventKind",
    "EventLog",
    "Listener",
]

log = logging.getLogger("trouper")

T = TypeVar("T")


@attrs.frozen
class DeadLetter:
    """A message that could not be delivered or handled, and why."""

    message: object
    """The message itself."""
    recipient: Address
    """Where it was going."""
    reason: str
    """Why it is dead: ``"actor stopped"``, ``"unhandled message"``, ``"handler failed"``, ..."""
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
    """Where dead letters go: counted, the latest kept, listeners told at once."""

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


_LEVELS = {
    EventKind.STARTED: logging.DEBUG,
    EventKind.STOPPED: logging.DEBUG,
    EventKind.FAILED: logging.ERROR,
    EventKind.RESTARTED: logging.WARNING,
    EventKind.GAVE_UP: logging.WARNING,
}


@attrs.define(eq=False)
class EventLog(_Listeners[ActorEvent]):
    """Where lifecycle events go: logged at their level, listeners told at once."""

    _kinds: dict[Listener, frozenset[EventKind]] = attrs.field(factory=dict, init=False)
    _wanted: frozenset[EventKind] = attrs.field(default=frozenset(), init=False)

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

    def emit(self, event: ActorEvent) -> None:
        """Report an event: log it (failures at ERROR, restarts and give-ups at WARNING)."""
        level = _LEVELS[event.kind]
        if log.isEnabledFor(level):
            exc_info = event.reason if event.kind is EventKind.FAILED else None
            log.log(level, "%s", event, exc_info=exc_info)
        if self._listeners:
            self._notify(event)
