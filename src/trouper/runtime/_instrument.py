"""Instruments: hooks on what the engine does, for the layers that watch it.

Theory of operation
-------------------
An ``Instrument`` (after ``trio.abc.Instrument``) is an object with some of
the hook methods below; ``Runtime.instruments.add(instrument)`` installs it.
The engine calls a hook only on instruments whose class overrides it: for
each hook, ``Instruments`` keeps the tuple of bound methods that implement
it, rebuilt when an instrument is added or removed. An empty tuple is falsy,
so a hook that no instrument implements costs the hot path one attribute
load and a truth test, and the cell's serving loop picks its instrumented
variant only while some instrument watches handlers.

Hooks run synchronously in the runtime's thread, in the order the
instruments were added; they must not block. An exception raised by an
observing hook is logged and dropped (the engine goes on), except where a
hook is documented to intervene:

- ``intercept_send`` may return an ``Interception`` (drop, delay or
  duplicate a message): the simulation's network faults;
- ``handler_started`` may raise (the handler then fails with that error, as
  an injected crash) or return an awaitable that the cell awaits before the
  handler runs (a simulated pause);
- ``message_sent`` may return a context object: the engine carries it with
  the message and hands it back to ``handler_started`` and
  ``handler_finished`` (trace context, enqueue time for mailbox-wait
  metrics).

Every hook receives the actor's ``Cell`` (``trouper.runtime.lowlevel``):
its ``address``, ``actor_class``, ``mailbox`` and ``state`` are there to
read; instruments never change it.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from trouper.actors import ActorRef
    from trouper.runtime._cell import Cell
    from trouper.runtime._observe import DeadLetter

__all__ = ["HandlerOutcome", "Instrument", "Interception", "SendKind"]


class SendKind(enum.Enum):
    """How a message was sent."""

    TELL = "tell"
    """``await ref.tell(message)``."""
    TELL_NOWAIT = "tell_nowait"
    """``ref.tell_nowait(message)``."""
    ASK = "ask"
    """``await ref.ask(message)``."""


@attrs.frozen
class Interception:
    """What ``intercept_send`` does to one message instead of delivering it once, now."""

    drop: bool = False
    """Lose the message (a tell returns normally; an ask waits as for a lost reply)."""
    delay: float = 0.0
    """Deliver it this many seconds later (a tell returns at once)."""
    duplicate: bool = False
    """Deliver it twice."""


@attrs.frozen
class HandlerOutcome:
    """How a handler ended, as ``handler_finished`` sees it."""

    error: BaseException | None
    """The exception it raised, or ``None`` if it returned."""
    value: object = None
    """What it returned (the reply to an ask), when it returned."""

    @property
    def ok(self) -> bool:
        """Whether the handler returned without raising."""
        return self.error is None


class Instrument:
    """Base class of instruments: override the hooks you need, leave the rest.

    A subclass that overrides no hook is valid and costs nothing. Hooks are
    called in the runtime's Trio thread, synchronously, in installation order.
    """

    __slots__ = ()

    # --- lifecycle ----------------------------------------------------------

    def actor_started(self, actor: Cell) -> None:
        """An instance of ``actor`` completed ``on_start`` (first start or restart)."""

    def actor_failed(self, actor: Cell, error: BaseException) -> None:
        """A handler or lifecycle hook of ``actor`` raised ``error``."""

    def actor_restarted(self, actor: Cell, error: BaseException | None) -> None:
        """The supervisor of ``actor`` decided to restart it after ``error``."""

    def actor_stopped(self, actor: Cell, reason: BaseException | None) -> None:
        """``actor`` stopped for good (``reason`` is ``None`` for a normal stop)."""

    # --- messages -------------------------------------------------------------

    def intercept_send(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        """Decide the fate of a message sent to ``actor``; ``None`` delivers it normally.

        The first instrument that returns an ``Interception`` decides. For
        simulations; observing instruments do not implement it.
        """
        return None

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        """A message is being sent to ``actor``; return a context to carry with it, or ``None``."""
        return None

    def message_delivered(self, actor: Cell, message: object) -> None:
        """A message entered ``actor``'s mailbox."""

    def handler_started(
        self, actor: Cell, message: object, context: object
    ) -> Awaitable[None] | None:
        """``actor`` is about to handle ``message``.

        May raise: the handler then fails with that error without running.
        May return an awaitable: the cell awaits it before the handler runs.
        """
        return None

    def handler_finished(
        self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
    ) -> None:
        """``actor``'s handler for ``message`` returned or raised."""

    def timer_fired(self, actor: Cell, target: ActorRef[object], message: object) -> None:
        """A timer of ``actor`` is about to tell ``message`` to ``target``."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """A message became a dead letter."""
