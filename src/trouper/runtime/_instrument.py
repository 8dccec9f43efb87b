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

The send hooks (``intercept_send``, ``message_sent``, ``message_delivered``)
see only sends that happen: one the engine refuses at once (``MailboxFull``
from ``tell_nowait``, an ask with no handler or to a stopped actor) reaches
none of them (a ``tell`` cancelled while it waits for room was reported as
it began to wait, without ``message_delivered``). Their ``SendKind`` is what
the caller did, also when a layer carries the send out later (``Cell.send_as``).

Across processes a context travels as text headers: a layer that sends a
message to another node calls ``inject_headers`` in the sender's task and
puts what they add in the message's headers; the receiving node calls
``extract_headers`` around the local delivery (``Instruments.received``),
so that ``message_sent`` there sees the sender's context as the current one.

Every hook receives the actor's ``Cell`` (``trouper.runtime.lowlevel``):
its ``address``, ``actor_class``, ``mailbox`` and ``state`` are there to
read; instruments never change it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar, TypeAlias, cast

import attrs

if TYPE_CHECKING:
    from trouper.actors import ActorRef
    from trouper.runtime._cell import Cell
    from trouper.runtime._lifecycle import Command
    from trouper.runtime._observe import DeadLetter

__all__ = ["HandlerOutcome", "Instrument", "Instruments", "Interception", "SendKind"]

log = logging.getLogger("trouper")

Contexts: TypeAlias = dict[object, object] | None
"""The contexts one message carries, by the instrument that returned each (or None)."""


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
    delay: float = attrs.field(default=0.0)
    """Deliver it this many seconds later (a tell returns at once); >= 0, never NaN."""
    duplicate: bool = False
    """Deliver it twice."""

    @delay.validator
    def _check_delay(self, _attribute: object, value: float) -> None:
        # Checked where it is given: NaN and negatives would otherwise mean "deliver now".
        if not value >= 0:
            raise ValueError(f"delay must be >= 0 seconds, got {value!r}")


class HandlerOutcome:
    """How a handler ended, as ``handler_finished`` sees it (a value; made per message).

    A handler cut off before it finished (its actor restarted or stopped while
    it ran, and the restart's or stop's deadline passed, or the runtime was
    cancelled) ends with ``error`` the ``ActorStopped`` its asker gets, and
    ``cut_by`` the command that cut it: ``Command.TERMINATE`` (a restart) or
    ``Command.STOP`` (a stop for good).
    """

    __slots__ = ("cut_by", "error", "value")

    def __init__(
        self, error: BaseException | None, value: object = None, *, cut_by: Command | None = None
    ) -> None:
        self.error = error
        # The exception the handler raised, or None if it returned.
        self.value = value
        # What it returned (the reply to an ask), when it returned.
        self.cut_by = cut_by
        # What cut the handler off (TERMINATE, STOP), or None if it returned or raised.

    @property
    def ok(self) -> bool:
        """Whether the handler returned without raising."""
        return self.error is None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HandlerOutcome):
            return (self.error, self.value, self.cut_by) == (other.error, other.value, other.cut_by)
        return NotImplemented

    def __hash__(self) -> int:
        # Not the value (a reply may be unhashable), and never its id: outcomes equal by
        # value must hash alike. Equal errors are one object, so of one type.
        return hash((type(self.error), self.cut_by))

    def __repr__(self) -> str:
        cut = "" if self.cut_by is None else f", cut_by={self.cut_by}"
        return f"HandlerOutcome(error={self.error!r}, value={self.value!r}{cut})"


class Instrument:
    """Base class of instruments: override the hooks you need, leave the rest.

    A subclass that overrides no hook is valid and costs nothing. Hooks are
    called in the runtime's Trio thread, synchronously, in installation order.
    """

    __slots__ = ()

    only_carried: ClassVar[bool] = False
    """Call this instrument's ``handler_started`` and ``handler_finished`` only for
    messages it attached a context to in ``message_sent`` (an instrument that samples
    one message in N pays for the other N - 1 only the ``message_sent`` call)."""

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
        """``actor``'s handler for ``message`` returned, raised, or was cut off.

        Each ``handler_started`` call is followed by one call of this hook, in
        the actor's task, while the instrument stays installed: also when a
        restart or a stop cancels the handler (or its pause), with
        ``outcome.cut_by`` saying which. (One installed while a handler runs
        may see its end without its start.)
        """

    def timer_fired(self, actor: Cell, target: ActorRef[object], message: object) -> None:
        """A timer of ``actor`` is about to tell ``message`` to ``target``."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """A message became a dead letter."""

    # --- across processes -------------------------------------------------------

    def inject_headers(self, headers: dict[str, str]) -> None:
        """Add to ``headers`` what travels with a message leaving for another process.

        Called in the sender's task (its context variables are current) by a
        layer that sends messages elsewhere, such as ``trouper.remote``.
        """

    def extract_headers(self, headers: Mapping[str, str]) -> Callable[[], None] | None:
        """Make current what ``headers`` carry while a message from another process is delivered.

        Called by the receiving layer just before it hands the message to the
        local actor (so ``message_sent`` sees it); returns what undoes it,
        called right after, or ``None`` when there is nothing to undo.
        """
        return None


_HOOKS = (
    "actor_started",
    "actor_failed",
    "actor_restarted",
    "actor_stopped",
    "intercept_send",
    "message_sent",
    "message_delivered",
    "handler_started",
    "handler_finished",
    "timer_fired",
    "dead_letter",
    "inject_headers",
    "extract_headers",
)
# Hooks that make a cell serve through its instrumented loop while any instrument has one.
_MESSAGE_HOOKS = ("message_sent", "handler_started", "handler_finished")
# Hooks that make endpoints call them on each send while any instrument has one.
_SEND_HOOKS = ("intercept_send", "message_sent", "message_delivered")


class Instruments:
    """The instruments installed on one runtime, and for each hook the methods to call.

    ``runtime.instruments``. For each hook name there is an attribute holding
    the tuple of bound methods of the installed instruments that override it,
    in installation order; the engine tests it for truth before calling, so
    an unimplemented hook costs a truth test.
    """

    __slots__ = (
        "_carried_only",
        "_installed",
        "on_change",
        "watch_handlers",
        "watch_messages",
        "watch_sends",
        *_HOOKS,
    )

    actor_started: tuple[Callable[[Cell], None], ...]
    actor_failed: tuple[Callable[[Cell, BaseException], None], ...]
    actor_restarted: tuple[Callable[[Cell, BaseException | None], None], ...]
    actor_stopped: tuple[Callable[[Cell, BaseException | None], None], ...]
    intercept_send: tuple[Callable[[Cell, object, SendKind], Interception | None], ...]
    message_sent: tuple[Callable[[Cell, object, SendKind], object], ...]
    message_delivered: tuple[Callable[[Cell, object], None], ...]
    handler_started: tuple[Callable[[Cell, object, object], Awaitable[None] | None], ...]
    handler_finished: tuple[Callable[[Cell, object, object, HandlerOutcome], None], ...]
    timer_fired: tuple[Callable[[Cell, ActorRef[object], object], None], ...]
    dead_letter: tuple[Callable[[DeadLetter], None], ...]
    inject_headers: tuple[Callable[[dict[str, str]], None], ...]
    extract_headers: tuple[Callable[[Mapping[str, str]], Callable[[], None] | None], ...]

    def __init__(self) -> None:
        self._installed: list[Instrument] = []
        # Installed instruments, in installation order (each at most once).
        self.on_change: Callable[[], None] | None = None
        # Called after each change (the runtime recomputes its fast-path flag).
        self._carried_only: frozenset[Instrument] = frozenset()
        # The installed instruments whose handler hooks see only the messages they carried.
        self.watch_messages = False
        # Whether some instrument carries contexts or watches handlers.
        self.watch_handlers = False
        # Whether some instrument watches every handler (not only_carried): cells then serve
        # through their instrumented loop; messages carrying contexts take it one by one.
        self.watch_sends = False
        # Whether some instrument intercepts or watches sends: endpoints call the hooks.
        self._rebuild()

    def __iter__(self) -> Iterator[Instrument]:
        return iter(tuple(self._installed))

    def __len__(self) -> int:
        return len(self._installed)

    def __contains__(self, instrument: object) -> bool:
        return instrument in self._installed

    def add(self, instrument: Instrument) -> None:
        """Install ``instrument`` (after those already installed); installing twice does nothing.

        Cells switch to or from their instrumented loop at their next idle
        moment or after at most ``throughput`` messages.

        Raises:
            TypeError: ``instrument`` is not an ``Instrument``.
        """
        if not isinstance(instrument, Instrument):
            raise TypeError(f"expected a trouper.runtime.lowlevel.Instrument, got {instrument!r}")
        if instrument not in self._installed:
            self._installed.append(instrument)
            self._rebuild()

    def remove(self, instrument: Instrument) -> None:
        """Uninstall ``instrument``; removing one that is not installed does nothing."""
        if instrument in self._installed:
            self._installed.remove(instrument)
            self._rebuild()

    def _rebuild(self) -> None:
        for hook in _HOOKS:
            default = getattr(Instrument, hook)
            methods = tuple(
                getattr(instrument, hook)
                for instrument in self._installed
                if getattr(type(instrument), hook) is not default
            )
            setattr(self, hook, methods)
        self._carried_only = frozenset(
            instrument for instrument in self._installed if type(instrument).only_carried
        )
        self.watch_messages = any(getattr(self, hook) for hook in _MESSAGE_HOOKS)
        self.watch_handlers = any(
            getattr(type(instrument), hook) is not getattr(Instrument, hook)
            and not type(instrument).only_carried
            for instrument in self._installed
            for hook in ("handler_started", "handler_finished")
        )
        self.watch_sends = any(getattr(self, hook) for hook in _SEND_HOOKS)
        if self.on_change is not None:
            self.on_change()

    # --- calling observing hooks (errors logged, never raised into the engine) ---------

    def started(self, actor: Cell) -> None:
        """Call ``actor_started`` hooks (once per spawn: inlined)."""
        for hook in self.actor_started:
            try:
                hook(actor)
            except Exception:
                log.exception("trouper instrument hook %r raised (ignored)", hook)

    def failed(self, actor: Cell, error: BaseException) -> None:
        """Call ``actor_failed`` hooks."""
        for hook in self.actor_failed:
            observe_hook(hook, actor, error)

    def restarted(self, actor: Cell, error: BaseException | None) -> None:
        """Call ``actor_restarted`` hooks."""
        for hook in self.actor_restarted:
            observe_hook(hook, actor, error)

    def stopped(self, actor: Cell, reason: BaseException | None) -> None:
        """Call ``actor_stopped`` hooks (once per stop: inlined)."""
        for hook in self.actor_stopped:
            try:
                hook(actor, reason)
            except Exception:
                log.exception("trouper instrument hook %r raised (ignored)", hook)

    def delivered(self, actor: Cell, message: object) -> None:
        """Call ``message_delivered`` hooks."""
        for hook in self.message_delivered:
            observe_hook(hook, actor, message)

    def timer(self, actor: Cell, target: ActorRef[object], message: object) -> None:
        """Call ``timer_fired`` hooks."""
        for hook in self.timer_fired:
            observe_hook(hook, actor, target, message)

    def dead(self, letter: DeadLetter) -> None:
        """Call ``dead_letter`` hooks."""
        for hook in self.dead_letter:
            observe_hook(hook, letter)

    def outgoing_headers(self) -> dict[str, str]:
        """Call ``inject_headers`` hooks; return the headers they added (maybe none)."""
        headers: dict[str, str] = {}
        for hook in self.inject_headers:
            observe_hook(hook, headers)
        return headers

    @contextmanager
    def received(self, headers: Mapping[str, str] | None) -> Iterator[None]:
        """Deliver a message from another process inside this block.

        ``extract_headers`` hooks make what ``headers`` carry current for the
        block and undo it after (in reverse order). Without headers, or with
        no such hook, it does nothing.
        """
        undos: list[Callable[[], None]] = []
        if headers:
            for hook in self.extract_headers:
                undo = observe_hook(hook, headers)
                if undo is not None:
                    undos.append(cast("Callable[[], None]", undo))
        try:
            yield
        finally:
            for undo in reversed(undos):
                observe_hook(undo)

    def finished(
        self,
        actor: Cell,
        message: object,
        contexts: Contexts,
        error: BaseException | None,
        value: object = None,
        cut_by: Command | None = None,
    ) -> None:
        """Call ``handler_finished`` hooks, each with the context its instrument carried.

        The ``HandlerOutcome`` is made only if some hook is to be called.
        """
        carried_only = self._carried_only
        outcome: HandlerOutcome | None = None
        for hook in self.handler_finished:
            owner = getattr(hook, "__self__", None)
            own = None if contexts is None else contexts.get(owner)
            if own is None and owner in carried_only:
                continue
            if outcome is None:
                outcome = HandlerOutcome(error, value, cut_by=cut_by)
            try:
                hook(actor, message, own, outcome)
            except Exception:
                log.exception("trouper instrument hook %r raised (ignored)", hook)

    def starting(self, actor: Cell, message: object, contexts: Contexts) -> Awaitable[None] | None:
        """Call ``handler_started`` hooks; return what the cell must await first, if anything.

        Unlike the observing hooks, an exception raised here propagates: the
        handler then fails with it (an injected crash).
        """
        carried_only = self._carried_only
        pauses: list[Awaitable[None]] = []
        try:
            for hook in self.handler_started:
                owner = getattr(hook, "__self__", None)
                own = None if contexts is None else contexts.get(owner)
                if own is None and owner in carried_only:
                    continue
                pause = hook(actor, message, own)
                if pause is not None:
                    pauses.append(pause)
        except BaseException:
            _close(pauses)  # the handler fails without running: they will never be awaited
            raise
        if not pauses:
            return None
        return pauses[0] if len(pauses) == 1 else _in_turn(pauses)

    def sent(self, actor: Cell, message: object, kind: SendKind) -> Contexts:
        """Call ``message_sent`` hooks; return the contexts to carry, by instrument (or None)."""
        contexts: dict[object, object] | None = None
        for hook in self.message_sent:
            try:
                context = hook(actor, message, kind)
            except Exception:
                log.exception("trouper instrument hook %r raised (ignored)", hook)
                continue
            if context is not None:
                if contexts is None:
                    contexts = {}
                contexts[getattr(hook, "__self__", None)] = context
        return contexts

    def intercept(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        """Ask ``intercept_send`` hooks; the first ``Interception`` decides."""
        for hook in self.intercept_send:
            fate = hook(actor, message, kind)
            if fate is not None:
                return fate
        return None


async def _in_turn(pauses: list[Awaitable[None]]) -> None:
    for index, pause in enumerate(pauses):
        try:
            await pause
        except BaseException:
            _close(pauses[index + 1 :])  # (cut off: the rest will never be awaited)
            raise


def _close(pauses: list[Awaitable[None]]) -> None:
    """Close the pauses that will never be awaited (a coroutine left so would warn)."""
    for pause in pauses:
        close = getattr(pause, "close", None)
        if close is not None:
            close()


def observe_hook(hook: Callable[..., object], *args: object) -> object:
    """Call an observing hook: one that raises is logged and ignored (its result, else None)."""
    try:
        return hook(*args)
    except Exception:
        log.exception("trouper instrument hook %r raised (ignored)", hook)
        return None
