"""The cell: the one task that runs an actor, across all its instances.

Theory of operation
-------------------
A cell owns an actor's mailbox and its ref (the cell is the ref's endpoint)
and runs as one task in its parent's nursery, inside a cancel scope of its
own. The actor instance is replaceable; the cell is not: a restart swaps the
instance and keeps the mailbox, the ref, the name and the bonds.

Only the cell's own task moves it from one ``Phase`` to the next; everyone
else sends it a ``Command``, and ``_lifecycle.admit`` (a pure table) decides
whether the command is taken, dropped or deferred. ``_lifecycle`` below is
the loop that carries the pending command out:

- ``START``: build an instance (not on the first start: spawn did), run
  ``on_restart`` if restarting, ``on_start``; then serve.
- ``RESUME``: serve again with the same instance.
- a failure (a handler raised, ``FAIL``, ``LINK_FAILED``) or ``EXIT``: report
  the exit to the supervisor (``Guardian.child_exited``, which only queues
  it) and park until the supervisor answers with ``RESUME``, ``TERMINATE``
  or ``STOP``. The supervisor decides and carries its decision out in its
  own task; it never calls back into a cell that is still reporting.
- ``TERMINATE``: end the instance (``on_stop``, then its children) and park
  in ``ENDED`` until ``START``.
- ``STOP``: stop the children, run ``on_stop``, finalize: stopped for good.

Serving is the hot path: take an item from the mailbox's deque, find the
handler in the class's table (one dict lookup by exact type), await it. A
handler's exception ends serving with a failure; a pending command ends it
between two messages, so a running handler always finishes. After
``throughput`` messages without a park the cell yields to the scheduler.
While an instrument watches messages, or the mailbox wants every message
settled (a durable mailbox), the cell serves through ``_serve_tracked``, which
does the same and calls the hooks; the plain loop pays for neither.

A stop has a deadline (the actor's ``shutdown``; an actor with children
defaults to none, as OTP's supervisors default to ``infinity``): it is set on
the cell's scope and its children's host, so once it passes everything
still running in the actor (its handler, its children, its ``on_stop``) is
cancelled, and the cell finalizes. A stop that finds the actor idle with
nothing to wait for (no children, no timers, the default ``on_stop``)
finalizes it at once, in the stopper's task.

The mailbox closes when a stop for good begins (the ``STOP`` taken), not
when it is over: the actor will handle no message again, so what is queued
becomes dead letters then (asks get ``ActorStopped``), and so does what is
sent while it stops, at once (a pool routes past a stopping member; an
asker does not wait for ``on_stop``). A restart keeps the mailbox; a shared
mailbox (a balancing pool's) stays open for the other members; a settling or
durable one closes when the stop is over (see ``_refuse_mail``).

Finalizing is synchronous and always runs (also when cancelled from
outside), after the actor's children have finalized: the mailbox closes (a
second time if the stop's start closed it) and its messages become dead
letters, the name is freed, watchers and links are told, and the supervisor
forgets or keeps the child.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from threading import get_ident
from typing import TYPE_CHECKING, Protocol, cast

import outcome
import trio
from trio.lowlevel import (
    Abort,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
    reschedule,
    wait_task_rescheduled,
)

from trouper._text import class_label, describe, type_name
from trouper.actors import (
    Actor,
    ActorRef,
    ActorState,
    Address,
    Context,
    Exited,
    Reject,
    Terminated,
    Timer,
    Watcher,
    instantiate,
)
from trouper.errors import (
    ActorStopped,
    AskCycle,
    HandlerError,
    LinkedActorFailed,
    MailboxFull,
    RuntimeClosed,
    StartFailed,
    UnhandledMessage,
)
from trouper.runtime._ask import Ask, ask_chain, check_cycle
from trouper.runtime._bonds import Bonds
from trouper.runtime._envelopes import Carried, WithMsgId, message_of
from trouper.runtime._frames import release_frames_unless_failing
from trouper.runtime._host import ChildrenHost
from trouper.runtime._instrument import Contexts, Interception, SendKind, observe_hook
from trouper.runtime._lifecycle import PUBLIC_STATE, Command, Phase, Verdict, admit
from trouper.runtime._mailbox import Mailbox, MailboxEnding, MemoryMailbox
from trouper.runtime._observe import DeadLetter, DeadLetterReason
from trouper.supervision import ChildSpec, Restart, Strategy

if TYPE_CHECKING:
    from trouper.runtime._guardian import Guardian
    from trouper.runtime._runtime import Runtime

__all__ = [
    "Cell",
    "LateDelivery",
    "Transaction",
    "act_for",
    "current_cell",
    "own_cell",
    "stage_if_in_transaction",
]

log = logging.getLogger("trouper")

_acting: dict[Task, Cell] = {}
# The task of every running cell (and of its timers), to the cell it acts for. A plain
# dict rather than a context variable: setting one would cost each actor two objects.

_Next = tuple[Command, BaseException | None]
_STOPPED_REASON = DeadLetterReason.ACTOR_STOPPED
_ENDING = (Command.STOP, Command.TERMINATE)


def current_cell() -> Cell | None:
    """The cell whose task, or one of whose timers, runs now (``None`` for any other task)."""
    return _acting.get(current_task())


def own_cell() -> Cell | None:
    """The cell whose own task runs now (``None`` for a timer's task and any other)."""
    task = current_task()
    cell = _acting.get(task)
    return cell if cell is not None and cell.task is task else None


def local_cell(ref: ActorRef[object]) -> Cell | None:
    """The cell behind ``ref`` if it is a local actor's (a pool's: the pool actor's), else None."""
    endpoint = ref.endpoint
    if isinstance(endpoint, Cell):
        return endpoint
    cell = getattr(endpoint, "cell", None)
    return cell if isinstance(cell, Cell) else None


def check_reachable(ref: ActorRef[object], what: str, runtime: Runtime, remedy: str) -> None:
    """Raise ``ValueError`` if ``ref`` belongs to a runtime in a thread not ``runtime``'s.

    A ref belongs to the runtime its endpoint names (``Endpoint``): a local
    actor's, or the node whose connection a remote actor's ref sends through.
    No tell made in ``runtime``'s thread goes through such a ref (a tell does
    not cross threads), so a layer that will tell it later (a timer, an
    asyncio handle) refuses it at once, where the mistake is. A runtime beside
    ``runtime`` in the same thread passes, as does a ref of no runtime.
    ``remedy`` ends the message: what to do instead.
    """
    cell = local_cell(ref)
    # (A pool's endpoint names no runtime: its cell does.)
    home: Runtime | None = (
        cell.runtime if cell is not None else getattr(ref.endpoint, "runtime", None)
    )
    if home is not None and home.thread != runtime.thread:
        raise ValueError(
            f"{what} takes a ref to an actor that runtime {runtime.node!r} can tell; "
            f"{ref!r} belongs to another runtime (node {home.node!r}) in another "
            f"thread{remedy}"
        )


def act_for(cell: Cell | None) -> None:
    """Treat the current task as acting for ``cell`` (a timer's task); ``None`` undoes it."""
    if cell is None:
        _acting.pop(current_task(), None)
    else:
        _acting[current_task()] = cell


class Transaction(Protocol):
    """Where the sends of a handler go while its message is in a transaction (durable).

    A settling mailbox's ``open_item`` may return a delivery with this method;
    while the handler runs, every ``tell`` and ``tell_nowait`` it makes to a
    local actor is handed to ``stage`` instead of being delivered.
    """

    def stage(
        self,
        target: Mailbox,
        message: object,
        msg_id: str | None,
        release: Callable[[], None],
    ) -> None:
        """Add ``message`` for ``target`` to the transaction; ``release()`` delivers it."""
        ...


_staging: dict[Task, Transaction] = {}
# The tasks whose running handler is in a transaction, to it. Empty (the usual case), a
# send pays one truth test for it.


def stage_if_in_transaction(
    target: Mailbox, message: object, msg_id: str | None, release: Callable[[], None]
) -> bool:
    """Stage a send in the running handler's transaction, if it has one; say whether it did.

    For endpoints that put into a mailbox themselves (a balancing pool's).
    """
    if not _staging:
        return False
    transaction = _staging.get(current_task())
    if transaction is None:
        return False
    transaction.stage(target, message, msg_id, release)
    return True


class LateDelivery:
    """A tell an ``Interception`` delayed, on its way to the mailbox (``Cell.late_deliveries``).

    Made by the engine as the tell is intercepted; read-only for everyone
    else. A tell both delayed and duplicated is one late delivery of two
    copies, put one after the other.
    """

    __slots__ = ("_waiting", "due", "fate", "message")

    def __init__(self, message: object, fate: Interception, due: float) -> None:
        self.message = message
        # The message told (not the envelope it travels in).
        self.fate = fate
        # The ``Interception`` an ``intercept_send`` hook returned for it (the very object).
        self.due = due
        # When it is delivered, on Trio's clock.
        self._waiting = False
        # Whether its delivery waits for room in a full mailbox now (in ``put``).

    @property
    def waiting_for_room(self) -> bool:
        """Whether its delivery is due and waits for room in a full mailbox now."""
        return self._waiting

    def __repr__(self) -> str:
        room = ", waiting for room" if self._waiting else ""
        return f"<LateDelivery {self.message!r} due {self.due}{room}>"


class Cell:
    """Runs one actor: its mailbox, its task, its instances, its children."""

    __slots__ = (
        "_bonds",
        "_cycle_waits",
        "_deferred",
        "_end_by",
        "_failure",
        "_first_start",
        "_guardian",
        "_host",
        "_late",
        "_notices",
        "_parked",
        "_pending",
        "_pending_reason",
        "_scope",
        "_serving",
        "_spawner",
        "_starting",
        "_stop_deadline",
        "_stopped_start",
        "_timers",
        "_waiters",
        "_waits_in_cycle",
        "actor_class",
        "address",
        "args",
        "asking",
        "asking_also",
        "child_id",
        "context",
        "current",
        "delivery",
        "exits",
        "factory",
        "handled",
        "instance",
        "kwargs",
        "mailbox",
        "name",
        "owns_mailbox",
        "parent",
        "phase",
        "ref",
        "restart",
        "restart_count",
        "restart_ticket",
        "runtime",
        "shutdown",
        "spec",
        "started",
        "stop_reason",
        "task",
        "throughput",
    )

    def __init__(
        self,
        runtime: Runtime,
        parent: Guardian,
        child_id: str,
        factory: Callable[..., Actor],
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        *,
        name: str | None,
        mailbox: Mailbox,
        throughput: int,
        restart: Restart,
        shutdown: float | None,
        spec: ChildSpec | None = None,
        owns_mailbox: bool = True,
    ) -> None:
        # --- identity: fixed for the cell's life -------------------------------------
        self.runtime = runtime
        # The runtime the actor runs in.
        self.parent = parent
        # The supervising side of the actor's parent (the root's for a top-level actor).
        self.child_id = child_id
        # The actor's id among its siblings and its path segment; unique in ``parent``.
        self.address = Address(runtime.node, f"{parent.path}/{child_id}")
        # Where the actor lives (node, path).
        self.ref: ActorRef[object] = ActorRef(self.address, self)
        # The ref handed out: to this cell, or to an endpoint routing for it (a pool).
        self.name = name
        # The runtime-wide name it is registered under while it lives, or None.
        self.spec = spec
        # The child spec it was started from (kept listed after a stop), or None.
        self.factory = factory
        self.args = args
        self.kwargs = kwargs
        # How each instance is built: ``factory(*args, **kwargs)``.
        # --- options ---------------------------------------------------------------------
        self.mailbox = mailbox
        # What the cell consumes; the same across restarts.
        self.owns_mailbox = owns_mailbox
        # False for a pool member sharing its pool's mailbox (it neither sizes nor closes it).
        self.throughput = throughput
        # Messages handled before yielding to the scheduler (>= 1).
        self.restart = restart
        # The restart kind: what the supervisor does after the actor's own exits.
        self.shutdown = shutdown
        # Seconds a stop may take; None: the runtime's default, or none with children.
        # --- lifecycle -------------------------------------------------------------------
        self.phase = Phase.STARTING
        # Where the cell is (``_lifecycle``); changed only by the cell's own task.
        self._pending: Command | None = None
        # The command the task carries out next; replaced only by a higher rank.
        self._pending_reason: BaseException | None = None
        # The cause or error that goes with ``_pending``.
        self._deferred: BaseException | None = None
        # A link failure kept for the next instance to run (LinkedActorFailed), or None.
        self.stop_reason: BaseException | None = None
        # Why the actor stops for good (None: normally); set by the STOP taken.
        self._failure: BaseException | None = None
        # The failure last reported to the supervisor, until its frames are released
        # (``release_frames``): once the cell serves again or has finalized.
        self.exits = 0
        # How many exits the cell has reported; a queued exit is current while equal.
        self.restart_ticket = 0
        # Bumped by each restart routine that ends this instance (stale delayed starts skip).
        self._first_start = True
        # No instance has started yet: a failed start is a StartFailed, not a failure.
        self.instance: Actor | None = None
        # The current instance; None between instances and once stopped.
        self.actor_class: type[Actor] = factory if isinstance(factory, type) else Actor
        # The class of the latest instance (the factory until one is built).
        self.started = False
        # Whether the current instance completed ``on_start`` (and has not ended).
        self.context: Context | None = None
        # ``self.ctx`` of every instance (set by spawn).
        self.task: Task | None = None
        # The cell's task while it runs.
        self._scope: trio.CancelScope | None = None
        # The task's cancel scope, carrying the stop deadline.
        self._serving: trio.CancelScope | None = None
        # The scope around serving, while the cell serves: a restart's TERMINATE puts
        # the actor's ``shutdown`` deadline on it, so a running handler cannot hold the
        # restart up for longer.
        self._starting: trio.CancelScope | None = None
        # The scope around the start's hooks (``on_restart``, ``on_start``) while they run:
        # in a cycle of waits, a STOP or TERMINATE cuts them off as it cuts a handler.
        self._stopped_start: Cell | None = None
        # The child whose start this actor's end stopped while the running handler (or
        # start hook) waited on it in ``spawn`` (``_stop_starting_child``), until serving
        # or the hooks are over: the refusal that spawn raises is the end cutting the
        # handler off, as its deadline would, not a failure (``_cut_by_own_end``).
        self._cycle_waits = 0
        # How many actors its running handler is asking (directly or through others) now
        # wait on its stop or restart (``waited_on``): while > 0, the handler can never
        # return, so a STOP or a TERMINATE cuts it off at once (``_cut_waited_on``).
        self._waits_in_cycle: Cell | None = None
        # The actor whose start, stop or restart its running handler waits on while that
        # actor's handler asks (through others) this one (``waited_on``), else None: if
        # this actor ends first, its handler is cut off, unless that actor's is already
        # (that actor's end may wait behind this one's, in the same supervisor's worker).
        self._stop_deadline = math.inf
        # When a stop must be over: the scope's and the children host's deadline.
        self._end_by = math.inf
        # When a restart's end of the instance must be over, once its TERMINATE found a
        # handler running (inf otherwise): handler, on_stop and children share one
        # ``shutdown``, as in a stop and OTP's shutdown timer.
        self._parked = False
        # Whether the task waits in ``wait_task_rescheduled`` (mail or a command wakes it).
        self._waiters: list[tuple[Task, Callable[[Cell], bool]]] | None = None
        # Tasks in ``wait_until`` and their conditions; None when there are none.
        self._spawner: Task | None = None
        # The task in ``wait_first_start``, until the first start succeeds or fails.
        # --- work ------------------------------------------------------------------------
        self.handled = 0
        # Messages handed to a handler, across instances.
        self.restart_count = 0
        # How many times its supervisor decided to restart it.
        self.current: Ask | None = None
        # The ask whose handler runs now (failed with ActorStopped if the cell dies).
        self.asking: Cell | None = None
        # The cell this actor's handler waits on an ask to (ask cycles), or None.
        self.asking_also: tuple[Cell, ...] = ()
        # The other cells it waits on at once (a broadcast pool's members after the
        # first, which is ``asking``); empty unless ``asking`` is set.
        self.delivery: object = None
        # The running handler's delivery from a settling mailbox (``ctx.delivery``), or None.
        # --- made on first use --------------------------------------------------------
        self._bonds: Bonds | None = None
        # Watchers, watched refs and links.
        self._guardian: Guardian | None = None
        # The supervising side of the current instance's children.
        self._host: ChildrenHost | None = None
        # The task holding the children's nursery, while there is one.
        self._timers: set[Timer] | None = None
        # The current instance's live timers.
        self._notices: deque[object] | None = None
        # The Terminated and Exited of this actor's own watches and links kept out of the
        # mailbox: a member sharing its pool's mailbox handles them alone, before its next
        # shared message when idle, else at the end of its turn (the plain loop looks at them
        # only when it parks or yields: up to ``throughput - 1`` more shared messages after
        # the one it is handling, and no check per message); an actor stopping for good, its
        # mailbox closed, keeps them for ``unwatch`` to withdraw, and what is left becomes
        # dead letters when it finalizes.
        self._late: list[LateDelivery] | None = None
        # The tells an interception delayed to this actor whose delivery is not over,
        # in told order (``late_deliveries``); None until the first.

    def __repr__(self) -> str:
        return f"<Cell {self.address.path} {self.phase.value}>"

    @property
    def state(self) -> ActorState:
        """Where the actor is in its life, as trees and child lists show it."""
        return PUBLIC_STATE[self.phase]

    @property
    def stopped(self) -> bool:
        """Whether the actor has stopped for good."""
        return self.phase is Phase.STOPPED

    @property
    def stopping_for_good(self) -> bool:
        """Whether the actor stops for good: a stop is pending, under way, or over."""
        phase = self.phase
        return self._pending is Command.STOP or phase is Phase.STOPPING or phase is Phase.STOPPED

    @property
    def parked(self) -> bool:
        """Whether the cell's task is parked, waiting for mail or a command."""
        return self._parked

    @property
    def late_deliveries(self) -> tuple[LateDelivery, ...]:
        """The tells an ``Interception`` delayed to this actor, not yet delivered, in told order.

        Each stays listed until its delivery is over (it got in, or became a
        dead letter: its actor stopped, or the runtime closed first); its
        ``waiting_for_room`` says whether it waits in a full mailbox now.
        """
        return tuple(self._late) if self._late else ()

    @property
    def waiting(self) -> int:
        """How many tasks wait in ``wait_until`` for a phase of this cell."""
        return len(self._waiters) if self._waiters else 0

    # --- the endpoint: how refs reach the actor ------------------------------

    def _foreign(self) -> bool:
        """Whether the calling code runs in another thread than the runtime's."""
        return get_ident() != self.runtime.thread

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Put ``message`` in the mailbox, waiting while it is full (``ActorRef.tell``).

        Returns whether it reached the mailbox (``False``: it became a dead letter).
        Sent from a handler whose message is in a transaction (a durable
        mailbox's), the message is staged in it instead: it is delivered only
        once that transaction has committed.
        """
        runtime = self.runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread("tell")
        try:
            await checkpoint_if_cancelled()
        except RuntimeError:  # this thread, but outside the Trio run (asyncio code)
            runtime.refuse_foreign_thread("tell")
        mailbox = self.mailbox
        if msg_id is None and not runtime.special_sends and not mailbox.durable:
            # Plain: the hot path.
            if mailbox.put_nowait(message):
                await cancel_shielded_checkpoint()
                return True
            return await self._put(message)
        return await self._send_special(message, msg_id, SendKind.TELL)

    async def send_as(self, message: object, kind: SendKind) -> bool:
        """``send`` (waiting for room), reported to the instruments as sent by ``kind``.

        For a layer that carries out a caller's send later, in a task of its
        own: the asyncio bridge waits for room for a ``tell_nowait`` it has
        accepted (``SendKind.TELL_NOWAIT``). Returns as ``send``.
        """
        if self._foreign():
            self.runtime.refuse_foreign_thread("tell")
        await checkpoint_if_cancelled()
        return await self._send_special(message, None, kind)

    async def _send_special(self, message: object, msg_id: str | None, kind: SendKind) -> bool:
        """``send`` when something is not plain: staged, watched, identified or durable."""
        runtime = self.runtime
        mailbox = self.mailbox
        if runtime.in_transaction and self._stage(message, msg_id):
            # Delivered (or stored) only once the handler's transaction commits: a
            # cancellation point (above), and a schedule point once in a few such
            # sends, as a spawn is. A scheduler round for each would cost more than
            # staging it, and the actor yields between messages (``throughput``).
            if runtime.quick_op_yields():
                await cancel_shielded_checkpoint()
            return True
        item: object = (
            message if msg_id is None or not mailbox.durable else WithMsgId(message, msg_id)
        )
        instruments = runtime.instruments
        watched = instruments.watch_sends
        if watched:
            if instruments.intercept_send:
                fate = instruments.intercept(self, message, kind)
                if fate is not None:
                    return await self.intercepted_send(fate, item)
            if instruments.message_sent and not mailbox.durable:
                contexts = instruments.sent(self, message, kind)
                if contexts is not None:
                    item = Carried(message, contexts)
        if not mailbox.durable and mailbox.put_nowait(item):
            if watched and instruments.message_delivered:
                instruments.delivered(self, message)
            await cancel_shielded_checkpoint()
            return True
        if not await self._put(item):
            return False
        if watched and instruments.message_delivered:
            instruments.delivered(self, message)
        return True

    def _stage(self, message: object, msg_id: str | None) -> bool:
        """Stage ``message`` in the transaction of the handler running now, if it has one."""
        transaction = _staging.get(current_task())
        if transaction is None:
            return False
        transaction.stage(self.mailbox, message, msg_id, partial(self._release, message))
        return True

    def _release(self, message: object) -> None:
        """Deliver a staged message once its transaction committed (whatever the room)."""
        if self.mailbox.closed:
            self.dead_letter(message, _STOPPED_REASON)
        else:
            self.mailbox.put_system(message)

    async def _put(self, item: object) -> bool:
        mailbox = self.mailbox
        if mailbox.closed:
            self.dead_letter(item, _STOPPED_REASON)
            await cancel_shielded_checkpoint()
            return False
        if await mailbox.put(item):
            return True
        self.dead_letter(item, _STOPPED_REASON)
        return False

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Put ``message`` in the mailbox now (``ActorRef.tell_nowait``).

        Returns whether it reached the mailbox (``False``: it became a dead letter).
        Staged like ``send`` when sent from a handler in a transaction.

        Raises:
            MailboxFull: the mailbox is full; the message was not sent.
        """
        runtime = self.runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread("tell_nowait")
        if msg_id is not None or runtime.special_sends:
            return self._send_nowait_special(message, msg_id)
        mailbox = self.mailbox
        if type(mailbox) is MemoryMailbox:
            # MemoryMailbox.put_nowait, inlined: the hot path of tell_nowait bursts.
            items = mailbox.items
            if len(items) < mailbox.capacity:
                items.append(message)
                if mailbox.consumers:
                    try:
                        mailbox.wake_one()
                    except RuntimeError:  # this thread, but outside the Trio run (asyncio code)
                        items.pop()
                        runtime.refuse_foreign_thread("tell_nowait")
                return True
        # No room on the fast path (or another mailbox): senders may wait, or it is full.
        try:
            put = mailbox.put_nowait(message)
        except RuntimeError:  # this thread, but outside the Trio run (asyncio code)
            runtime.refuse_foreign_thread("tell_nowait")
        if put:
            return True
        if mailbox.closed:
            self.dead_letter(message, _STOPPED_REASON)
            return False
        raise MailboxFull(self.address, mailbox.size)

    def send_nowait_as(self, message: object, kind: SendKind) -> bool:
        """``send_nowait`` (never waiting), reported to the instruments as sent by ``kind``.

        For a layer that carries out a caller's send from a synchronous step:
        the asyncio bridge puts an ``await tell`` that finds room
        (``SendKind.TELL``). Returns as ``send_nowait``. Not for an awaited
        tell to a durable mailbox, which holds it only once ``put`` returned.

        Raises:
            MailboxFull: the mailbox is full; the message was not sent.
        """
        if self._foreign():
            self.runtime.refuse_foreign_thread("tell_nowait")
        return self._send_nowait_special(message, None, kind)

    def _send_nowait_special(
        self, message: object, msg_id: str | None, kind: SendKind = SendKind.TELL_NOWAIT
    ) -> bool:
        """``send_nowait`` when something is not plain: staging, an id, instruments."""
        if self.runtime.in_transaction and self._stage(message, msg_id):
            return True
        mailbox = self.mailbox
        item = message if msg_id is None or not mailbox.durable else WithMsgId(message, msg_id)
        instruments = self.runtime.instruments
        if instruments.watch_sends:
            if mailbox.full and not mailbox.closed:
                # Refused before the hooks: they see only sends that happen.
                raise MailboxFull(self.address, mailbox.size)
            if instruments.intercept_send:
                fate = instruments.intercept(self, message, kind)
                if fate is not None:
                    return self.intercepted_tell(fate, item)
            if instruments.message_sent and not mailbox.durable:
                contexts = instruments.sent(self, message, kind)
                if contexts is not None:
                    item = Carried(message, contexts)
        if not mailbox.put_nowait(item):
            if mailbox.closed:
                self.dead_letter(item, _STOPPED_REASON)
                return False
            raise MailboxFull(self.address, mailbox.size)
        if instruments.message_delivered:
            instruments.delivered(self, message)
        return True

    async def ask(self, message: object) -> object:
        """Put an ask in the mailbox and wait for the handler's reply (``ActorRef.ask``)."""
        runtime = self.runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread("ask")
        try:
            await checkpoint_if_cancelled()
        except RuntimeError:  # this thread, but outside the Trio run (asyncio code)
            runtime.refuse_foreign_thread("ask")
        try:
            envelope = self._open_ask(message, None)
        except (ActorStopped, UnhandledMessage):
            # Refused at once (before the send hooks: they see only sends that happen):
            # still a schedule point, as every Trio call that can wait is, or a loop
            # retrying it would never let others run.
            await cancel_shielded_checkpoint()
            raise
        task = current_task()
        asker = _acting.get(task)
        if asker is not None:
            if asker.task is not task:
                asker = None  # a timer: its wait blocks no mailbox
            elif self is asker or self.asking is not None:
                try:
                    check_cycle(asker, self)
                except AskCycle:
                    await cancel_shielded_checkpoint()  # refused at once, as above
                    raise
        if asker is not None:
            # Already while it waits for room (or a simulated delay): the target's
            # handler may ask back meanwhile.
            asker.asking = self
            envelope.asker = asker
        try:
            instruments = runtime.instruments
            watched = instruments.watch_sends
            if watched and instruments.intercept_send:
                fate = instruments.intercept(self, message, SendKind.ASK)
                if fate is not None:
                    # Delayed, it may find the actor stopped: the put below says so.
                    await self.intercepted_ask(fate, message)
            if watched and instruments.message_sent:
                envelope.contexts = instruments.sent(self, message, SendKind.ASK)
            mailbox = self.mailbox
            if not mailbox.put_nowait(envelope) and not await mailbox.put(envelope):
                self.dead_letter(message, _STOPPED_REASON)
                raise ActorStopped(self.address)
            if watched and instruments.message_delivered:
                instruments.delivered(self, message)
            try:
                return await envelope.wait()
            except trio.Cancelled:
                # Withdrawn: unless its handler has begun, it must not hold a place in
                # the mailbox (a tell's) until the actor gets to it and skips it.
                if type(mailbox) is MemoryMailbox and self.current is not envelope:
                    mailbox.ask_withdrawn()
                raise
        finally:
            if asker is not None:
                asker.asking = None

    def _open_ask(self, message: object, on_reply: Callable[..., None] | None) -> Ask:
        """Check that ``message`` can be asked now; return its envelope (or raise)."""
        if self.mailbox.closed:
            self.dead_letter(message, _STOPPED_REASON)
            raise ActorStopped(self.address)
        actor_class = self.actor_class
        if actor_class._trouper_dispatch.get(type(message)) is None and not actor_class.handles(
            type(message)
        ):
            self.dead_letter(message, DeadLetterReason.UNHANDLED)
            raise UnhandledMessage(
                self.address, type_name(type(message)), actor_class.unmarked_hint(type(message))
            )
        return Ask(message, on_reply)

    def ask_soon(self, message: object, on_reply: Callable[[outcome.Outcome[object]], None]) -> Ask:
        """Queue an ask whose reply goes to ``on_reply`` instead of a waiting task.

        For layers that answer asks without a task per ask (a bridge from
        another event loop, a remote node): ``on_reply(outcome)`` is called
        once, in the runtime's thread, with the handler's reply or error
        (``ActorStopped`` if the actor stops first); an error it raises is
        logged and dropped, the actor goes on. ``abandon()`` on the returned
        ask withdraws it. Synchronous: it never waits.

        Raises:
            MailboxFull: the mailbox is full; nothing was queued.
            ActorStopped: the actor has stopped (a dead letter was posted).
            UnhandledMessage: no handler takes the message (a dead letter was posted).
        """
        envelope, deliver = self._callback_ask(message, on_reply, wait=False)
        if deliver:
            if not self.mailbox.put_nowait(envelope):
                raise MailboxFull(self.address, self.mailbox.size)
            self._ask_delivered(message)
        return envelope

    async def ask_when_room(
        self, message: object, on_reply: Callable[[outcome.Outcome[object]], None]
    ) -> Ask:
        """``ask_soon`` that waits for room in a full mailbox instead of raising ``MailboxFull``.

        Cancelled while it waits, it queues nothing and ``on_reply`` is never
        called.

        Raises:
            ActorStopped: the actor has stopped, or stopped while this waited
                (a dead letter was posted).
            UnhandledMessage: no handler takes the message (a dead letter was posted).
        """
        envelope, deliver = self._callback_ask(message, on_reply, wait=True)
        if deliver:
            mailbox = self.mailbox
            if not mailbox.put_nowait(envelope) and not await mailbox.put(envelope):
                self.dead_letter(message, _STOPPED_REASON)
                raise ActorStopped(self.address)
            self._ask_delivered(message)
        return envelope

    def _callback_ask(
        self, message: object, on_reply: Callable[[outcome.Outcome[object]], None], *, wait: bool
    ) -> tuple[Ask, bool]:
        """Check and open a callback ask; return it and whether it still goes in the mailbox.

        An interception (a simulated fault) may drop or delay it, or queue a
        copy first: then it is not delivered here. Unless the caller will
        ``wait`` for room, a full mailbox refuses it before the send hooks.
        """
        runtime = self.runtime
        if self._foreign():
            runtime.refuse_foreign_thread("ask")
        envelope = self._open_ask(message, on_reply)
        instruments = runtime.instruments
        if not instruments.watch_sends:
            return envelope, True
        if not wait and self.mailbox.full:
            # Refused before the hooks: they see only sends that happen.
            raise MailboxFull(self.address, self.mailbox.size)
        if instruments.intercept_send:
            fate = instruments.intercept(self, message, SendKind.ASK)
            if fate is not None and not self.intercepted_callback_ask(fate, envelope):
                return envelope, False
        if instruments.message_sent:
            envelope.contexts = instruments.sent(self, message, SendKind.ASK)
        return envelope, True

    def _ask_delivered(self, message: object) -> None:
        instruments = self.runtime.instruments
        if instruments.watch_sends and instruments.message_delivered:
            instruments.delivered(self, message)

    # --- interceptions (simulated network faults) -----------------------------------
    #
    # Each helper delivers into this cell's mailbox, or into ``mailbox`` when one is
    # given: the shared mailbox of a balancing pool, whose endpoint reports its sends
    # to the instruments with the pool's cell as the target (``trouper.routing``).
    # An interception's own deliveries call no instruments.

    def intercepted_tell(
        self, fate: Interception, item: object, mailbox: Mailbox | None = None
    ) -> bool:
        """Deliver a tell as ``fate`` (an ``intercept_send`` hook's) says; whether it got in.

        Dropped, it counts as delivered (the sender cannot tell). Delayed, it
        is delivered that much later from a task of the runtime's, twice if
        it is also duplicated. Otherwise it is queued now, twice if
        duplicated; a copy that finds no room is a dead letter.
        """
        if fate.drop:
            return True  # lost on the way: the sender cannot tell
        target = self.mailbox if mailbox is None else mailbox
        if fate.delay > 0:
            late = LateDelivery(message_of(item), fate, self.runtime.now() + fate.delay)
            self.runtime.root.nursery.start_soon(
                self._deliver_late, late, item, target, 2 if fate.duplicate else 1
            )
            # Listed once its task is sure to run (and to unlist it as it ends).
            if self._late is None:
                self._late = []
            self._late.append(late)
            return True
        delivered = self._put_copy(item, target)
        if fate.duplicate:
            self._put_copy(item, target)
        return delivered

    async def intercepted_send(
        self, fate: Interception, item: object, mailbox: Mailbox | None = None
    ) -> bool:
        """An awaited tell as ``fate`` says: ``intercepted_tell``, but the message waits for room.

        Queued now, the message itself waits for room in a full mailbox, as
        any awaited tell does (put without waiting, it was a dead letter and
        a duplicate fault lost the message it was to repeat); its duplicate,
        if any, follows it at once and is a dead letter if it finds no room.
        """
        if fate.drop or fate.delay > 0:
            delivered = self.intercepted_tell(fate, item, mailbox)
            await checkpoint()
            return delivered
        target = self.mailbox if mailbox is None else mailbox
        if not target.durable and target.put_nowait(item):
            if fate.duplicate:
                self._put_copy(item, target)
            await cancel_shielded_checkpoint()
            return True
        if target.closed or not await target.put(item):
            self.dead_letter(item, _STOPPED_REASON)
            await cancel_shielded_checkpoint()
            return False
        if fate.duplicate:
            self._put_copy(item, target)
        return True

    def _put_copy(self, item: object, mailbox: Mailbox) -> bool:
        if mailbox.put_nowait(item):
            return True
        reason = _STOPPED_REASON if mailbox.closed else DeadLetterReason.MAILBOX_FULL
        self.dead_letter(item, reason)
        return False

    def send_nowait_unwatched(self, message: object) -> bool:
        """``send_nowait`` without instruments (an interception's own deliveries)."""
        mailbox = self.mailbox
        if mailbox.put_nowait(message):
            return True
        if mailbox.closed:
            self.dead_letter(message, _STOPPED_REASON)
            return False
        raise MailboxFull(self.address, mailbox.size)

    async def _deliver_late(
        self, late: LateDelivery, item: object, mailbox: Mailbox, copies: int
    ) -> None:
        try:
            await trio.sleep_until(late.due)
            while copies:
                if mailbox.closed:
                    copies -= 1
                    self.dead_letter(item, _STOPPED_REASON)
                    continue
                late._waiting = mailbox.full
                try:
                    put = await mailbox.put(item)
                finally:
                    late._waiting = False
                copies -= 1
                if not put:
                    self.dead_letter(item, _STOPPED_REASON)
        finally:
            self._late.remove(late)  # type: ignore[union-attr]  # (noted as it was started)
            # Cancelled with the runtime (it closed before the tell was due, or while
            # it waited for room; a cancelled put puts nothing): the copies not put
            # are lost as a message left in a stopped actor's mailbox is, and say so.
            for _ in range(copies):
                self.dead_letter(item, _STOPPED_REASON)

    async def intercepted_ask(
        self, fate: Interception, message: object, mailbox: Mailbox | None = None
    ) -> None:
        """Wait as ``fate`` says before an ask is queued; queue its duplicate (a tell).

        Dropped, it waits forever: the request is lost, only the asker's
        deadline ends the wait.
        """
        if fate.drop:
            await trio.sleep_forever()  # the request is lost: only a deadline ends the wait
        if fate.delay > 0:
            await trio.sleep(fate.delay)
        if fate.duplicate:
            self._put_copy(message, self.mailbox if mailbox is None else mailbox)

    def intercepted_callback_ask(
        self, fate: Interception, envelope: Ask, mailbox: Mailbox | None = None
    ) -> bool:
        """Deal with a callback ask as ``fate`` says; whether it is still to be queued now.

        A duplicate is queued at once (as a tell); a dropped ask is never
        queued (only the caller's deadline ends its wait); a delayed one is
        queued later from a task of the runtime's, unless abandoned by then.
        """
        target = self.mailbox if mailbox is None else mailbox
        if fate.duplicate:
            self._put_copy(envelope.message, target)
        if fate.drop:
            return False
        if fate.delay > 0:
            self.runtime.root.nursery.start_soon(self._ask_late, envelope, fate.delay, target)
            return False
        return True

    async def _ask_late(self, envelope: Ask, delay: float, mailbox: Mailbox) -> None:
        queued = False
        try:
            await trio.sleep(delay)
            queued = not envelope.abandoned and not mailbox.closed and await mailbox.put(envelope)
        finally:
            # Not queued (the actor stopped, or the runtime closed before it was due
            # or while it waited for room): answered ``ActorStopped`` as an ask left
            # in a stopped actor's mailbox is, unless the asker withdrew it.
            if not queued and not envelope.abandoned:
                self.dead_letter(envelope, _STOPPED_REASON)

    def carrying(self, message: object, kind: SendKind) -> object:
        """What to queue for ``message`` sent to this cell: it with the contexts its
        ``message_sent`` hooks return, or itself when they return none."""
        contexts = self.runtime.instruments.sent(self, message, kind)
        return message if contexts is None else Carried(message, contexts)

    # --- being watched -------------------------------------------------------------

    def watch(self, watcher: Watcher) -> None:
        """Tell ``watcher`` once when this actor stops for good (at once if it has)."""
        if self.phase is Phase.STOPPED:
            watcher.terminated(self.ref, self.stop_reason)
        else:
            self.bonds.watchers[watcher] = None

    def unwatch(self, watcher: Watcher) -> None:
        """Stop telling ``watcher``."""
        if self._bonds is not None:
            self._bonds.watchers.pop(watcher, None)

    def terminated(self, ref: ActorRef[object], reason: BaseException | None) -> None:
        """An actor this one watches stopped for good: queue ``Terminated`` (a ``Watcher``)."""
        if self._bonds is not None:
            self._bonds.watching.pop(ref, None)
        self.deliver_system(Terminated(ref, reason))

    def dead_letter(
        self, message: object, reason: DeadLetterReason | str, error: BaseException | None = None
    ) -> None:
        """Report ``message`` to this actor as undeliverable, failing its ask if it is one.

        An ask its asker withdrew (cancelled) is nobody's letter: it is dropped
        (a pool rerouting a stopped member's mail drops it so too).
        """
        if type(message) is Ask:
            if message.abandoned:
                return
            message.settle(outcome.Error(ActorStopped(self.address)))
        # (Any envelope: an ask, a message carrying contexts or a msg_id, as told.)
        self.runtime.dead_letters.post(DeadLetter(message_of(message), self.address, reason, error))

    # --- commands and parking ------------------------------------------------

    def command(self, command: Command, reason: BaseException | None = None) -> None:
        """Ask the cell's task to do something; ``_lifecycle.admit`` decides if it will."""
        verdict = admit(self.phase, self._pending, command)
        if verdict is Verdict.TAKE:
            self._pending = command
            self._pending_reason = reason
            if command is Command.STOP:
                self.stop_reason = reason
                if self._can_stop_at_once():
                    self._stop_at_once()
                    return
                self._refuse_mail()
                self._apply_stop_deadline(self.runtime.now() + self.stop_timeout)
            elif command is Command.TERMINATE and self._serving is not None and not self._parked:
                self._end_by = self.runtime.now() + self.stop_timeout
                self._serving.deadline = self._end_by
            if self._cycle_waits or self._waits_in_cycle is not None:
                self._cut_waited_on()
            elif command is Command.STOP or command is Command.TERMINATE:
                self._stop_starting_child()
            self._unpark()
        elif verdict is Verdict.DEFER and self._deferred is None:
            self._deferred = reason

    def _stop_starting_child(self) -> None:
        """Stop now a child of its own whose start the running handler (or hook) waits on.

        This actor's end, beginning now, stops its children once that handler
        returns: the child's start serves nothing, and the handler (in
        ``spawn``) would hold the end up for as long as the child's
        ``on_start`` takes, for good if it never returns, an actor with
        children having no deadline of its own by default. Stopped now, the
        child's own ``shutdown`` bounds its start; ``spawn`` then raises
        ``ActorStopped`` (or returns, if ``on_start`` completed first).
        """
        waited = self.asking
        if waited is not None and waited.phase is Phase.STARTING and waited.parent.owner is self:
            self._stopped_start = waited
            waited.command(Command.STOP)

    def _cut_by_own_end(self, error: BaseException, *, hook: bool = False) -> bool:
        """Whether ``error`` is this actor's end (or the runtime's close) refusing what it did.

        Such a refusal cuts the running handler (or start hook) off, as a
        deadline does; it is no failure: its asker gets ``ActorStopped`` and no
        failure is reported. It is ``spawn``'s refusal of the child this actor's
        end stopped (``_stop_starting_child``): ``ActorStopped`` with that child's
        address; or ``RuntimeClosed`` while the runtime closes, once this actor's
        end is pending or, for a handler, its supervisor stops its children for
        good (the close stopped first the actor a ``rt.spawn`` of its handler was
        starting, the last one started): no decision is to be made then, and the
        actor waits for its stop (``_leave_cut_off``).
        """
        ending = self._pending in _ENDING
        if isinstance(error, RuntimeClosed):
            return self.runtime.closed and (ending or (not hook and self.parent.closing))
        child = self._stopped_start
        return (
            ending
            and child is not None
            and isinstance(error, ActorStopped)
            and error.address == child.address
        )

    def _leave_cut_off(self, envelope: Ask | None) -> _Next:
        """Leave serving after a handler was cut off by a refusal (``_cut_by_own_end``).

        Without an end pending (its supervisor is stopping its children for
        good), the actor exits: its exit is dropped as the supervisor closes,
        and it parks, taking no message, until its stop comes in its turn.
        """
        self.current = None
        if envelope is not None:
            envelope.settle(outcome.Error(ActorStopped(self.address)))
        if self._pending is None:
            self._pending = Command.EXIT
        return self._leave_serving()

    def cut_running_at(self, deadline: float) -> None:
        """Cut the running handler (or start hook) off at ``deadline`` at the latest.

        For a stop for good already pending (``STOP`` taken, the task not yet
        at it): the handler's asker gets ``ActorStopped`` as from any stop, and
        the rest of the stop (children, ``on_stop``) keeps its own deadline. The
        runtime's close counts the handler's grace from the close's start, not
        from the actor's turn (``Guardian.stop_all``).
        """
        if self._pending is not Command.STOP or self._parked:
            return
        running = self._serving if self._serving is not None else self._starting
        if running is not None and deadline < running.deadline:
            running.deadline = deadline

    def _refuse_mail(self) -> None:
        """A stop for good begins: close the mailbox to senders now, not once it is over.

        The running handler still finishes, then the children stop and
        ``on_stop`` runs, but no message would be handled any more: what is
        queued becomes dead letters now (asks get ``ActorStopped``), and so
        does what is sent from now on, at once, so a pool routes past this
        member and an asker does not wait for ``on_stop``. A restart keeps the
        mailbox (``TERMINATE`` never comes here). A mailbox the cell does not
        own (a balancing pool's) stays open for the other members; a settling
        or durable one closes only when the stop is over: its message in
        handling must still be settled, and what is told meanwhile is stored
        for the actor's next incarnation.
        """
        mailbox = self.mailbox
        if self.owns_mailbox and not (mailbox.settles or mailbox.durable):
            for message in mailbox.close():
                self.dead_letter(message, _STOPPED_REASON)

    @property
    def stop_timeout(self) -> float:
        """Seconds a stop may take: ``shutdown``, else none with children, else the default."""
        if self.shutdown is not None:
            return self.shutdown
        if self._guardian is not None and self._guardian.has_children:
            return math.inf
        return self.runtime.shutdown

    def _can_stop_at_once(self) -> bool:
        """Idle, serving, nothing to wait for: the stop can be over in the stopper's task."""
        return (
            self._parked
            and self.phase is Phase.RUNNING
            and self._guardian is None
            and self._host is None
            and not self._timers
            and self.instance is not None
            and type(self.instance).on_stop is Actor.on_stop
        )

    def _stop_at_once(self) -> None:
        self._parked = False
        self.mailbox.forget(self)
        task = self.task
        self._finalize()  # the task, woken, sees STOPPED and ends
        if task is not None:
            reschedule(task)

    def _apply_stop_deadline(self, deadline: float) -> None:
        if deadline >= self._stop_deadline:
            return
        self._stop_deadline = deadline
        if not self._parked:
            self._arm_deadline()
        # A parked cell runs no user code: its deadline is armed when (and if)
        # the stop has something to wait for, which spares idle actors the cost.

    def _arm_deadline(self) -> None:
        deadline = self._stop_deadline
        scope = self._scope
        if scope is not None and deadline < scope.deadline:
            scope.deadline = deadline
        if self._host is not None:
            self._host.set_deadline(deadline)

    def cancel(self) -> None:
        """Stop at once, cancelling whatever the actor is doing (a cancelled spawn)."""
        self.command(Command.STOP)
        self._stop_deadline = -math.inf
        self._arm_deadline()

    def wake(self) -> None:
        """Resume the parked task (the mailbox calls this when mail arrives)."""
        if self._parked:
            reschedule(self.task)  # type: ignore[arg-type]  # parked implies a task
            self._parked = False  # (after: a reschedule that fails leaves it parked)

    def _unpark(self) -> None:
        if self._parked:
            self.mailbox.forget(self)
            self._parked = False
            reschedule(self.task)  # type: ignore[arg-type]  # parked implies a task

    def _abort_park(self, _: object) -> Abort:
        self._parked = False
        self.mailbox.forget(self)
        return Abort.SUCCEEDED

    async def _park(self) -> None:
        """Wait until mail (if registered on the mailbox) or a command wakes the task."""
        self._parked = True
        await wait_task_rescheduled(self._abort_park)

    async def _next_command(self) -> _Next:
        """Park until a command is pending; take it."""
        while self._pending is None:
            await self._park()
        return self._take_pending()

    def _take_pending(self) -> _Next:
        command, reason = self._pending, self._pending_reason
        assert command is not None
        self._pending = None
        self._pending_reason = None
        return command, reason

    # --- phases others wait for ------------------------------------------------

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        if self._waiters:
            self.notify()

    async def wait_until(self, done: Callable[[Cell], bool]) -> None:
        """Wait until ``done(self)`` holds, checked at each change of phase and as the task ends.

        Waiting from an actor's own task counts as asking this one (``waited_on``).
        """
        if done(self):
            await cancel_shielded_checkpoint()
            return
        if self._waiters is None:
            self._waiters = []
        waiter = (current_task(), done)
        self._waiters.append(waiter)

        def abort(_: object) -> Abort:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
            return Abort.SUCCEEDED

        with self.waited_on():
            await wait_task_rescheduled(abort)

    def ask_chain_to(self, end: Cell) -> list[Cell] | None:
        """The chain of asks from this actor to ``end`` (both included), or ``None``.

        Followed as ``check_cycle`` follows it: the cell this actor's handler is
        asking (``asking``, or one of ``asking_also``), the one that cell's is
        asking, and so on. For layers above that wait on cells themselves (a
        pool's ask) and must refuse a cycle through any of them.
        """
        return ask_chain(self, end)

    @contextmanager
    def waited_on(self) -> Iterator[None]:
        """While an actor's own task waits on this actor's start, stop or restart, it asks it.

        Such a handler (or hook) takes no message until this actor's hooks are
        done, as if it waited on an ask to it: an ask back to it from those
        hooks, directly or through others, is a cycle (``AskCycle`` at once,
        not a hang until a deadline, or for good when there is none). Not
        marked if the chain of asks from this actor already leads to the
        waiter (chains stay acyclic, which ``check_cycle`` relies on): this
        actor's handler then waits on the waiter, so a stop waited on here
        cuts that handler off at once, as its deadline would later (or never);
        if the waiter's own stop or restart is pending, or comes, before this
        actor's, the waiter's handler is cut off instead (``_cut_waited_on``).
        """
        waiter = own_cell()
        if waiter is None or waiter.asking is not None:
            yield  # not an actor's own task (a timer's, the supervisor's), or asking already
            return
        if ask_chain(self, waiter) is not None:
            self._cycle_waits += 1
            waiter._waits_in_cycle = self
            try:
                # One side is cut off if its end is pending already (else ``command``
                # cuts it when it comes): this actor's handler, or else the waiter's.
                if not self._cut_waited_on():
                    waiter._cut_waited_on()
                yield
            finally:
                self._cycle_waits -= 1
                waiter._waits_in_cycle = None
            return
        waiter.asking = self
        try:
            yield
        finally:
            waiter.asking = None

    def _cut_waited_on(self) -> bool:
        """Cut the running handler off if this actor ends in a cycle of waits; say if it did.

        While ``_cycle_waits`` > 0 that handler asks (through others) an actor
        waiting on this stop or restart: it can never return, and its deadline
        would cut it off only later (or never, with children). While it waits
        itself on the end of such an actor (``_waits_in_cycle``), it returns
        only once that actor's handler is cut off, which may never come: that
        actor's restart may be queued in the supervisor's worker behind this
        one's. It is cut off here unless that actor's handler is already. The
        hooks of a start (``on_restart``, ``on_start``) waiting in such a cycle
        are cut off as a handler is: the instance has not started, and its
        STOP or TERMINATE follows (no ``on_stop``).
        """
        serving = self._serving if self._serving is not None else self._starting
        if self._pending not in _ENDING or serving is None or self._parked:
            return False
        if not self._cycle_waits:
            waited = self._waits_in_cycle
            if waited is None or ask_chain(waited, self) is None:
                return False  # (the cycle is broken: that actor's handler was cut off)
            other = waited._serving if waited._serving is not None else waited._starting
            if other is not None and other.cancel_called and waited._pending in _ENDING:
                return False  # that actor's handler is being cut off: the cycle breaks
        serving.cancel()
        return True

    async def wait_stopped(self) -> None:
        """Wait until the actor has stopped for good."""
        await self.wait_until(_is_stopped)

    async def wait_task_ended(self) -> None:
        """Wait until the actor has stopped for good and its task has ended.

        A stop at once finalizes the actor in the stopper's task, a moment
        before the actor's own task ends: a new life (``reset_for_new_life``)
        begins only after that, never beside it.
        """
        await self.wait_until(_task_ended)

    def notify(self) -> None:
        """Wake the tasks in ``wait_until`` whose condition now holds."""
        waiters = self._waiters
        if waiters:
            keep = []
            for task, done in waiters:
                if done(self):
                    reschedule(task)
                else:
                    keep.append((task, done))
            self._waiters = keep or None

    # --- the task -------------------------------------------------------------

    def begin(self, instance: Actor | None, *, started: bool = False) -> None:
        """Start the cell's task, with the first instance if ``spawn`` built it already.

        ``started=True`` declares the instance started already (its ``on_start``
        is the default, which does nothing): the actor is running from now on.
        """
        if instance is not None:
            self.instance = instance
            self.actor_class = type(instance)
        if started:
            self._first_start = False
            self.started = True
            self.phase = Phase.RUNNING
            self.runtime.instruments.started(self)
        self.parent.nursery.start_soon(self._run, name=f"trouper {self.address.path}")

    async def wait_first_start(self) -> None:
        """Wait until the first ``on_start`` has run (``spawn`` calls this).

        Cancelled, it cancels the actor's start and returns (raising
        ``trio.Cancelled``) once the actor has stopped for good.

        Raises:
            StartFailed: the first ``on_start`` raised; nothing of the actor runs.
            RuntimeClosed: the runtime's close stopped the actor first.
            ActorStopped: something else stopped it first (``rt.stop``, its parent).
        """
        self._spawner = current_task()

        def abort(_: object) -> Abort:
            self._spawner = None
            self.cancel()
            return Abort.SUCCEEDED

        with self.waited_on():
            owner = self.parent.owner
            if owner is not None and owner._pending in _ENDING:
                # The owner's end began before its handler (or hook) came to wait here:
                # stopped now, as when the end comes during the wait, so that the
                # child's own shutdown bounds the start the end would wait for.
                owner._stop_starting_child()
            try:
                await wait_task_rescheduled(abort)
            except trio.Cancelled:
                # The spawn is cancelled, and the actor with it (``abort``): it leaves
                # once that is over, as a nursery's exit waits for its cancelled tasks,
                # so that the actor's name and id are free when ``spawn`` raises (a
                # retry must not find them taken, or not, as the scheduler had it).
                with trio.CancelScope(shield=True):
                    await self.wait_until(_is_stopped)
                raise

    def _release_spawner(self, result: outcome.Outcome[None]) -> None:
        spawner, self._spawner = self._spawner, None
        if spawner is not None:
            reschedule(spawner, result)

    async def _run(self) -> None:
        task = self.task = current_task()
        _acting[task] = self
        try:
            if self.started and not self.mailbox.items and self._pending is None:
                # Idle from the start: wait for the first mail without a cancel scope,
                # so an actor stopped before it ever works never pays for one.
                self.mailbox.register(self)
                self._parked = True
                await wait_task_rescheduled(self._abort_park)
                if self.phase is Phase.STOPPED:
                    return  # stopped at once, in the stopper's task
            with trio.CancelScope(deadline=self._stop_deadline) as self._scope:
                await self._lifecycle()
        finally:
            try:
                if self.phase is not Phase.STOPPED:
                    # Cancelled before its children stopped: cancel them, and let them
                    # finalize first (children before parents, names freed in order).
                    # Both are dropped, as a stop that ran its course drops them: a
                    # child started again from its spec opens a nursery of its own.
                    host, self._host = self._host, None
                    guardian, self._guardian = self._guardian, None
                    if guardian is not None:
                        guardian.closing = True
                    if host is not None:
                        host.cancel()
                        await host.join()
                    self._finalize()
            finally:
                del _acting[task]
                if self.task is task:
                    # Only now may the cell begin a new life (``wait_task_ended``): a
                    # stop at once finalized it while this task still had to end.
                    self.task = None
                    if self._waiters:
                        self.notify()

    async def _lifecycle(self) -> None:
        command, reason = (Command.RESUME, None) if self.started else (Command.START, None)
        while True:
            if command is Command.RESUME:
                self._enter(Phase.RUNNING)
                if self._failure is not None:
                    self._release_failure()
                command, reason = await self._serve_until_terminated()
            elif command is Command.START:
                started = await self._start_instance(reason)
                reason = None  # (the cause, if any: not kept while the new instance serves)
                if started is None:
                    if self._failure is not None:
                        self._release_failure()
                    command, reason = await self._serve_until_terminated()
                elif self.phase is Phase.STOPPING:
                    return  # the first start failed: stopped for good
                else:
                    command, reason = Command.FAIL, started
            elif command is Command.EXIT:
                command, reason = await self._report(Phase.EXITING, None)
            elif command is Command.TERMINATE:
                await self._end_instance()
                self._enter(Phase.ENDED)
                command, reason = await self._next_command()
            elif command is Command.STOP:
                if self.phase is not Phase.STOPPED:  # (else a stop at once finalized it)
                    await self._stop_for_good()
                return
            else:  # a failure: FAIL, LINK_FAILED, a handler's or on_start's exception
                assert reason is not None
                command, reason = await self._report(Phase.FAILED, reason)

    async def _report(self, phase: Phase, error: BaseException | None) -> _Next:
        """Report an exit to the supervisor and park until it answers."""
        if error is not None:
            pending = self._pending
            if pending is not None:
                # The instance failed: a command that came for it while it ran is
                # now what the table makes of it in FAILED. Its own exit (``ctx.stop()``,
                # a FAIL) is moot, reported once as this failure; a link failure is
                # kept for the next instance, as it would be a moment later.
                verdict = admit(Phase.FAILED, None, pending)
                if verdict is not Verdict.TAKE:
                    if verdict is Verdict.DEFER and self._deferred is None:
                        self._deferred = self._pending_reason
                    self._pending = None
                    self._pending_reason = None
            self._failed(error)
            gave_up = self._gave_up()
            if gave_up is not None and gave_up is not error:
                # Its children's supervision gave up while the instance ran: that is the
                # failure its supervisor decides on (what its directives see); what the
                # instance raised meanwhile (a child stopped or refused by the give-up)
                # is its consequence, heard by the instruments just now.
                release_frames_unless_failing(self.runtime, error)
                error = gave_up
            if self._failure is not None and self._failure is not error:
                self._release_failure()
            self._failure = error
        self._enter(phase)
        self.exits += 1
        self.parent.child_exited(self, self.exits, error)
        return await self._next_command()

    def _gave_up(self) -> BaseException | None:
        """Why the instance fails, if its children's supervision gave up (else None)."""
        guardian = self._guardian
        return None if guardian is None else guardian.gave_up

    def _failed(self, error: BaseException) -> None:
        runtime = self.runtime
        runtime.instruments.failed(self, error)

    def _release_failure(self) -> None:
        """The reported failure has reached everyone owed it: let its frames' locals go.

        Its supervisor has decided and the decision is carried out (the new
        instance's ``on_restart`` has run, or the cell resumed, or it stopped
        and told its watchers and links). The error itself stays with whoever
        holds it (``DeadLetter.error``, ``Terminated.reason``, ``stop_reason``),
        with its traceback, but without the failed handler's local variables.
        """
        failure, self._failure = self._failure, None
        if failure is not None:
            release_frames_unless_failing(self.runtime, failure)

    async def _start_instance(self, cause: BaseException | None) -> BaseException | None:
        """Build and start an instance; return the error if that failed."""
        self._enter(Phase.STARTING)
        first, self._first_start = self._first_start, False
        self.started = False
        try:
            if self.instance is None:
                assert self.context is not None
                self.instance = instantiate(self.context, self.factory, self.args, self.kwargs)
                self.actor_class = type(self.instance)
            if self.mailbox.settles:
                await self.mailbox.prepare(self.instance)
            with trio.CancelScope() as starting:
                self._starting = starting
                try:
                    if cause is not None:
                        await self.instance.on_restart(cause)
                    await self.instance.on_start()
                finally:
                    self._starting = None
        except Exception as error:
            cut = self._cut_by_own_end(error, hook=True)
            self._stopped_start = None  # (read by that check; the hooks are over)
            if cut:
                # Cut off by its end as in a cycle of waits (below): not started, its
                # STOP or TERMINATE pending, no failure (nor StartFailed for a spawner).
                return None
            if first:
                self._failed(error)
                self._pending = None
                # Its children's supervision gave up while on_start ran: that is why the
                # start failed, on_start's own error (a child refused, or stopped, by the
                # give-up) only its consequence (as ``_report`` says of a later start).
                gave_up = self._gave_up()
                self.stop_reason = error if gave_up is None else gave_up
                self._enter(Phase.STOPPING)
                self._refuse_mail()
                await self._stop_children()
                return error
            return error
        if starting.cancelled_caught:
            # Cut off in a cycle of waits (``_cut_waited_on``): not started, its STOP or
            # TERMINATE pending, which serving takes at once (and no on_stop runs).
            return None
        self.started = True
        self._enter(Phase.RUNNING)
        self.runtime.instruments.started(self)
        self._release_spawner(outcome.Value(None))
        return None

    async def _serve_until_terminated(self) -> _Next:
        """Serve; a restart's ``TERMINATE`` waits for the running handler only ``shutdown`` s.

        When that deadline passes, the handler is cancelled (its ask gets
        ``ActorStopped``; a settling mailbox gets the message back) and the
        restart goes on, as OTP's supervisor kills a child that outlives its
        shutdown time.
        """
        with trio.CancelScope() as scope:
            self._serving = scope
            try:
                return await self._serve()
            finally:
                self._serving = None
                self._stopped_start = None
        envelope, self.current = self.current, None
        if envelope is not None:
            envelope.settle(outcome.Error(ActorStopped(self.address)))
        return self._take_pending()

    async def _serve(self) -> _Next:
        """Handle messages until a command arrives or a handler fails (the hot path).

        A message that carries instruments' contexts (``Carried``, or an ask
        with contexts) goes through ``_handle_one``, which calls the handler
        hooks; plain messages pay for neither. While some instrument watches
        every handler, or the mailbox settles, ``_serve_tracked`` serves instead.
        """
        instance = self.instance
        assert instance is not None
        mailbox = self.mailbox
        instruments = self.runtime.instruments
        tracked = instruments.watch_handlers or mailbox.settles
        if tracked:
            return await self._serve_tracked()
        self._take_deferred()
        if self._notices:
            leave = await self._serve_notices(instance, None)
            if leave is not None:
                return leave
        actor_class = type(instance)
        dispatch = actor_class._trouper_dispatch
        resolve = actor_class._trouper_resolve
        items = mailbox.items
        throughput = self.throughput
        budget = throughput
        while self._pending is None:
            if not items:
                if mailbox.producers:
                    mailbox.admit()  # emptied by other means (a withdrawn Terminated)
                    if items:
                        continue
                if self._notices:
                    return Command.RESUME, None  # serve again, its own notices first
                mailbox.register(self)
                self._parked = True
                await wait_task_rescheduled(self._abort_park)
                if self.phase is Phase.STOPPED:
                    return Command.STOP, None  # a stop at once finalized the cell
                if instruments.watch_handlers or self._notices:
                    return Command.RESUME, None  # serve again, instrumented or notified
                budget = throughput
                continue
            message = items.popleft()
            if not items and mailbox.producers:
                mailbox.admit()  # drained: senders waiting for room come in
            cls = type(message)
            if cls is Ask:
                envelope: Ask | None = message  # type: ignore[assignment]
                if envelope.abandoned:  # type: ignore[union-attr]
                    continue
                if envelope.contexts is not None:  # type: ignore[union-attr]
                    leave = await self._handle_one(instance, message, False, None)
                    if leave is not None:
                        return leave
                    budget -= 1
                    continue
                message = envelope.message  # type: ignore[union-attr]
                cls = type(message)
            elif cls is Carried:
                leave = await self._handle_one(instance, message, False, None)
                if leave is not None:
                    return leave
                budget -= 1
                continue
            else:
                envelope = None
            try:
                handler = dispatch[cls]
            except KeyError:
                handler = resolve(cls)
            if handler is None:
                self._unhandled(message, envelope)
                continue
            self.handled += 1
            self.current = envelope
            try:
                result = await handler(instance, message)
            except Exception as error:
                self.current = None
                return self._handler_failed(error, message, envelope)
            # _answer, inlined: this is the hot path.
            if envelope is not None:
                self.current = None
                if type(result) is Reject:
                    envelope.settle(outcome.Error(result.to_raise()))
                else:
                    envelope.settle(outcome.Value(result))
            elif type(result) is Reject:
                self.runtime.dead_letters.post(
                    DeadLetter(message, self.address, DeadLetterReason.REJECTED, result.error)
                )
            budget -= 1
            if budget <= 0:
                budget = throughput
                await checkpoint()
                if instruments.watch_handlers or self._notices:
                    break
        return self._leave_serving()

    async def _serve_tracked(self) -> _Next:
        """``_serve`` where every item goes through ``_handle_one`` (hooks, settling)."""
        instance = self.instance
        assert instance is not None
        self._take_deferred()
        mailbox = self.mailbox
        settles = mailbox.settles
        items = mailbox.items
        instruments = self.runtime.instruments
        task = current_task()
        throughput = self.throughput
        budget = throughput
        while self._pending is None:
            if self._notices:
                leave = await self._serve_notices(instance, task)
                if leave is not None:
                    return leave
                continue
            if not items:
                if mailbox.producers:
                    mailbox.admit()
                    if items:
                        continue
                mailbox.register(self)
                self._parked = True
                await wait_task_rescheduled(self._abort_park)
                if self.phase is Phase.STOPPED:
                    return Command.STOP, None
                if not (instruments.watch_handlers or settles):
                    return Command.RESUME, None  # serve again, plain
                budget = throughput
                continue
            item = items.popleft()
            if mailbox.producers:
                mailbox.admit()
            leave = await self._handle_one(instance, item, settles, task)
            if leave is not None:
                return leave
            budget -= 1
            if budget <= 0:
                budget = throughput
                await checkpoint()
                if not (instruments.watch_handlers or settles):
                    break
        return self._leave_serving()

    async def _handle_one(
        self, instance: Actor, item: object, settles: bool, task: Task | None
    ) -> _Next | None:
        """Handle one item with the instruments' hooks, settling it if the mailbox settles.

        Returns what ends serving (a failure) or ``None`` to go on. A settling
        mailbox owns the fate of each message: it opens each item
        (``open_item``: the message, its ask, its delivery), hears how it ended
        (``settle``), and may absorb a failure (a retry asked for by the
        handler), which then is no failure of the actor. While a handler runs
        whose delivery is a ``Transaction``, the sends it makes are staged in it.
        """
        mailbox = self.mailbox
        instruments = self.runtime.instruments
        delivery: object = None
        contexts: Contexts = None
        envelope: Ask | None = None
        if settles:
            message, envelope, delivery = mailbox.open_item(item)
        else:
            message = item
            cls = type(item)
            if cls is Ask:
                envelope = cast(Ask, item)
                if envelope.abandoned:
                    return None
                message = envelope.message
            elif cls is Carried:
                message = item.message  # type: ignore[attr-defined]
                contexts = item.contexts  # type: ignore[attr-defined]
        if envelope is not None and contexts is None:
            contexts = envelope.contexts
        actor_class = type(instance)
        handler = actor_class._trouper_dispatch.get(type(message)) or actor_class._trouper_resolve(
            type(message)
        )
        if handler is None:
            if not settles:
                self._unhandled(message, envelope)
                return None
            # The mailbox keeps the message and dead-letters it: its notice, posted
            # once the move is durable, is the one dead letter (none posted here).
            self._refuse(message, envelope)
            mailbox.settle(item, MailboxEnding.FAILED, None)
            return None
        self.handled += 1
        self.current = envelope
        staged = False
        if settles:
            self.delivery = delivery
            if task is not None and delivery is not None and hasattr(delivery, "stage"):
                _staging[task] = cast(Transaction, delivery)
                staged = True
                runtime = self.runtime
                runtime.in_transaction += 1
                runtime.special_sends = True
        try:
            if instruments.handler_started:
                pause = instruments.starting(self, message, contexts)
                if pause is not None:
                    await pause
            result = await handler(instance, message)
        except Exception as error:
            if self._cut_by_own_end(error):
                if instruments.handler_finished:
                    cut, by = ActorStopped(self.address), self._pending or Command.STOP
                    instruments.finished(self, message, contexts, cut, cut_by=by)
                if settles:
                    self._return_item(item)
                return self._leave_cut_off(envelope)
            self.current = None
            if instruments.handler_finished:
                instruments.finished(self, message, contexts, error)
            if not settles:
                return self._handler_failed(error, message, envelope)
            return self._settle_failed(item, error, envelope)
        except BaseException as ended:
            if instruments.handler_finished:
                self._cut_off(message, contexts, ended)
            if settles:
                self._return_item(item)
            raise
        finally:
            if settles:
                self.delivery = None
                if staged:
                    _staging.pop(task, None)  # type: ignore[arg-type]
                    self.runtime.in_transaction -= 1
                    self.runtime.recount_special_sends()
        if settles:
            if envelope is None and isinstance(result, BaseException):
                # ``return GiveUp(...)`` for ``raise``: an exception returned to a
                # tell reaches nobody, and the message would be acknowledged as
                # handled with the handler's decision lost. It fails the handler.
                returned = TypeError(
                    f"the handler returned {result!r} instead of raising it "
                    "(returned to a tell, it would reach nobody)"
                )
                self.current = None
                if instruments.handler_finished:
                    instruments.finished(self, message, contexts, returned)
                return self._settle_failed(item, returned, envelope)
            try:
                mailbox.settle(item, MailboxEnding.HANDLED, None)
            except Exception as error:
                # The handler returned, but what it did cannot be committed (its new
                # state cannot be stored): it failed, and counts as a handler error.
                self.current = None
                if instruments.handler_finished:
                    instruments.finished(self, message, contexts, error)
                return self._settle_failed(item, error, envelope)
        if instruments.handler_finished:
            instruments.finished(self, message, contexts, None, result)
        self._answer(envelope, message, result)
        return None

    def _return_item(self, item: object) -> None:
        """Give a settling mailbox back the item of a handler cut off (redelivered later)."""
        try:
            self.mailbox.settle(item, MailboxEnding.RETURNED, None)
        except Exception:
            # Raised here it would replace the cancellation that is unwinding.
            log.exception("%s: returning a message raised (ignored)", self.address.path)

    def _cut_off(self, message: object, contexts: Contexts, ended: BaseException) -> None:
        """Report a handler that never finished to ``handler_finished`` (``_handle_one``).

        Cancelled, it was cut off by the restart whose deadline was put on the
        serving scope (``TERMINATE``), or else by a stop: it ends with the
        ``ActorStopped`` its asker gets. Anything else that is no ``Exception``
        (``KeyboardInterrupt``) is its error as it is.
        """
        if _only_cancelled(ended):
            serving = self._serving
            restart = (
                serving is not None and serving.cancel_called and self._pending is not Command.STOP
            )
            by = Command.TERMINATE if restart else Command.STOP
            self.runtime.instruments.finished(
                self, message, contexts, ActorStopped(self.address), cut_by=by
            )
        else:
            self.runtime.instruments.finished(self, message, contexts, ended)

    def _settle_failed(self, item: object, error: Exception, envelope: Ask | None) -> _Next | None:
        """Settle a failed item with its settling mailbox; return the failure unless absorbed."""
        if self.mailbox.settle(item, MailboxEnding.FAILED, error):
            return None  # absorbed (a retry): the ask waits for the redelivery
        # The mailbox keeps the message (to retry or dead-letter it): no dead letter here.
        if envelope is not None:
            failure = HandlerError(self.address, describe(error))
            failure.__cause__ = error
            envelope.settle(outcome.Error(failure))
        return Command.FAIL, error

    async def _serve_notices(self, instance: Actor, task: Task | None) -> _Next | None:
        """Handle this member's own notices (``Terminated``, ``Exited``), oldest first.

        Returns what ends serving (a failure) or ``None`` once none is left.
        """
        notices = self._notices
        while notices and self._pending is None:
            leave = await self._handle_one(instance, notices.popleft(), False, task)
            if leave is not None:
                return leave
        return None

    def _answer(self, envelope: Ask | None, message: object, result: object) -> None:
        """Give a handler's result to its asker (a ``Reject`` raises there); _serve inlines it."""
        if envelope is not None:
            self.current = None
            if type(result) is Reject:
                envelope.settle(outcome.Error(result.to_raise()))
            else:
                envelope.settle(outcome.Value(result))
        elif type(result) is Reject:
            self.runtime.dead_letters.post(
                DeadLetter(message, self.address, DeadLetterReason.REJECTED, result.error)
            )

    def _take_deferred(self) -> None:
        """A link failure kept for this instance fails it now."""
        if self._deferred is not None and self._pending is None:
            self._pending, self._pending_reason = Command.LINK_FAILED, self._deferred
            self._deferred = None

    def _leave_serving(self) -> _Next:
        if self._pending is None:
            return Command.RESUME, None  # the instruments changed: serve again
        if not self.owns_mailbox:
            # A shared mailbox may have spent its wake-up on this cell: pass it on.
            pass_wakeup = getattr(self.mailbox, "pass_wakeup", None)
            if pass_wakeup is not None:
                pass_wakeup()
        return self._take_pending()

    def _unhandled(self, message: object, envelope: Ask | None) -> None:
        self._refuse(message, envelope)
        self.runtime.dead_letters.post(
            DeadLetter(message, self.address, DeadLetterReason.UNHANDLED)
        )

    def _refuse(self, message: object, envelope: Ask | None) -> None:
        """Answer the asker of a message no handler takes with ``UnhandledMessage``."""
        if envelope is not None:
            hint = self.actor_class.unmarked_hint(type(message))
            envelope.settle(
                outcome.Error(UnhandledMessage(self.address, type_name(type(message)), hint))
            )

    def _handler_failed(self, error: Exception, message: object, envelope: Ask | None) -> _Next:
        if self._cut_by_own_end(error):
            return self._leave_cut_off(envelope)
        if envelope is not None:
            failure = HandlerError(self.address, describe(error))
            failure.__cause__ = error
            envelope.settle(outcome.Error(failure))
        self.runtime.dead_letters.post(
            DeadLetter(message, self.address, DeadLetterReason.HANDLER_FAILED, error)
        )
        return Command.FAIL, error

    async def _end_instance(self) -> None:
        """End the current instance before a restart: on_stop, then its children.

        Bounded by the actor's ``shutdown`` like a stop, counted from the
        ``TERMINATE`` if a handler was running then (the handler's wait is part
        of it): what is still running when it passes is cancelled (and has
        finalized before the new instance starts), and the restart goes on.
        """
        self._enter(Phase.ENDING)
        end_by, self._end_by = self._end_by, math.inf
        if end_by == math.inf:
            end_by = self.runtime.now() + self.stop_timeout
        with trio.move_on_at(end_by):
            await self._call_on_stop()
            await self._stop_children()
        # Also when the deadline cut on_stop off before _stop_children: a timer it
        # started ends with this instance, never telling the next one.
        self._cancel_timers()
        host, self._host = self._host, None
        self._guardian = None
        if host is not None:
            host.cancel()
            await host.join()
        self.instance = None

    async def _stop_for_good(self) -> None:
        self._enter(Phase.STOPPING)
        instance = self.instance
        if self._guardian is not None or (
            instance is not None and type(instance).on_stop is not Actor.on_stop
        ):
            self._arm_deadline()
        await self._stop_children()
        await self._call_on_stop()

    async def _call_on_stop(self) -> None:
        self._cancel_timers()
        instance = self.instance
        if instance is None or not self.started:
            return
        self.started = False
        if type(instance).on_stop is Actor.on_stop:
            return
        if self._cancelled_from_outside():
            return  # a stop that is a cancellation never starts on_stop
        try:
            await instance.on_stop()
        except Exception as error:
            self._on_stop_failed(error)

    def _on_stop_failed(self, error: Exception) -> None:
        """Report an ``on_stop`` that raised: one log record, and a FAILED to the instruments.

        The record says what happened and carries the traceback. The instruments
        hear of the failure all the same (a simulation's trace, the event log's
        listeners), though it changes nothing of the stop; the event log, which
        would log its FAILED event at ERROR with the same traceback, only tells
        its listeners, so that one error is one record.
        """
        runtime = self.runtime
        path = self.address.path
        log.error(
            "%s: on_stop raised (ignored, the stop goes on)",
            path,
            exc_info=error,
            extra={"actor": path},  # as the event log's FAILED record would have it
        )
        events = runtime.events
        for hook in runtime.instruments.actor_failed:
            if hook == events.actor_failed:
                hook = events.actor_failed_unlogged
            observe_hook(hook, self, error)

    def _cancelled_from_outside(self) -> bool:
        """Whether the task is cancelled by something other than its own stop deadline."""
        scope = self._scope
        own = scope is not None and scope.cancel_called
        return trio.current_effective_deadline() == -math.inf and not own

    async def _stop_children(self) -> None:
        self._cancel_timers()
        guardian, self._guardian = self._guardian, None
        if guardian is not None:
            # In the runtime's close every actor's stop was asked for at its start, so
            # a child's running handler has its grace from then, as a top-level one's.
            await guardian.stop_all(asked_at=self.runtime.stopping_since)
        host, self._host = self._host, None
        if host is not None:
            host.cancel()
            await host.join()

    def _cancel_timers(self) -> None:
        if self._timers:
            for timer in tuple(self._timers):
                timer.cancel()

    def discard(self, reason: BaseException | None) -> None:
        """End what the instance of a spawn that failed started in ``__init__``.

        No task of the cell will ever run to end it: its timers are cancelled,
        and its watches and links released as a stop's are (a linked actor
        hears of ``reason``, as of an ``on_start`` that raised).
        """
        self._cancel_timers()
        self._release_bonds(reason)

    def _release_bonds(self, reason: BaseException | None) -> None:
        """Tell watchers and links of the end (for ``reason``), withdraw the actor's watches."""
        bonds, self._bonds = self._bonds, None
        if bonds is not None:
            bonds.release(self, reason)

    # --- finalizing ---------------------------------------------------------

    def _finalize(self) -> None:
        """Stopped for good: close the mailbox, free the name, tell everyone (sync)."""
        reason = self.stop_reason
        self._enter(Phase.STOPPED)
        self._pending = None
        self._scope = None
        self.asking = None
        self.asking_also = ()
        self._cancel_timers()
        if self._spawner is not None:
            # The first start never completed: the spawner learns why only now,
            # once nothing of the actor runs any more. Stopped by the runtime's
            # close, it is the close the spawner hears of (spawn's RuntimeClosed),
            # not the stop of an actor it never got a ref to.
            failure: BaseException = (
                RuntimeClosed(self.runtime.node)
                if self.runtime.closed
                else ActorStopped(self.address)
            )
            if reason is not None:
                failure = StartFailed(self.address, describe(reason))
                failure.__cause__ = reason
            self._release_spawner(outcome.Error(failure))
        if self.current is not None:
            self.current.settle(outcome.Error(ActorStopped(self.address)))
            self.current = None
        if self.owns_mailbox:
            for message in self.mailbox.close():
                self.dead_letter(message, _STOPPED_REASON)
        notices, self._notices = self._notices, None
        if notices:
            for message in notices:
                self.dead_letter(message, _STOPPED_REASON)
        runtime = self.runtime
        if self.name is not None and runtime.names.get(self.name) is self:
            del runtime.names[self.name]
        runtime.instruments.stopped(self, reason)
        self._release_bonds(reason)
        self.instance = None
        self.started = False
        self.parent.child_stopped(self)
        if self._failure is not None:
            self._release_failure()

    @property
    def bonds(self) -> Bonds:
        """Watchers, watched refs and links of this actor (made on first use)."""
        if self._bonds is None:
            self._bonds = Bonds()
        return self._bonds

    def deliver_system(self, message: object) -> None:
        """Put a system message (Terminated, Exited) in the mailbox, whatever its size.

        A member sharing its pool's mailbox keeps it apart instead: the notice
        of its own watch or link is for it alone, not for whichever member is
        free (and its ``unwatch`` withdraws only its own). So does an actor
        stopping for good, whose mailbox closed when the stop began: the
        notice is a dead letter when the stop is over, unless its ``on_stop``
        withdrew it (``ctx.unwatch``) meanwhile, as it could from the mailbox.
        """
        if self.owns_mailbox:
            if not self.mailbox.closed:
                self.mailbox.put_system(message)
                return
            kept = self.phase is Phase.STOPPING or self._pending is Command.STOP
        else:
            kept = self.phase is not Phase.STOPPED
        if not kept:
            self.runtime.dead_letters.post(DeadLetter(message, self.address, _STOPPED_REASON))
            return
        if self._notices is None:
            self._notices = deque()
        self._notices.append(message)
        if self.phase is Phase.RUNNING:
            self._unpark()  # (parked on the shared mailbox: serve the notice now)

    def awaits_terminated(self, ref: ActorRef[object]) -> bool:
        """Whether a ``Terminated`` for ``ref`` waits here, not yet handled."""
        for items in (self.mailbox.items if self.owns_mailbox else None, self._notices):
            if items and any(type(m) is Terminated and m.ref == ref for m in items):
                return True
        return False

    def withdraw_notices(self, ref: ActorRef[object]) -> None:
        """Drop the ``Terminated`` for ``ref`` not yet handled (``ctx.unwatch``)."""
        for items in (self.mailbox.items if self.owns_mailbox else None, self._notices):
            if items:
                for item in [m for m in items if type(m) is Terminated and m.ref == ref]:
                    items.remove(item)

    def linked_stopped(self, other: Cell, reason: BaseException | None) -> None:
        """React to a linked actor's stop: an ``Exited`` message, or a failure of our own."""
        if self.actor_class.trap_exits:
            self.deliver_system(Exited(other.ref, reason))
        elif reason is not None:
            failure = LinkedActorFailed(other.address, describe(reason))
            failure.__cause__ = reason
            self.command(Command.LINK_FAILED, failure)

    # --- used by the guardian and the context ---------------------------------------

    @property
    def guardian(self) -> Guardian:
        """The supervising side of this actor's children (made with the first child)."""
        if self._guardian is None:
            if self.phase is Phase.STOPPED:
                # (a context kept after its actor stopped: a child would run unsupervised)
                raise ActorStopped(self.address)
            if self.phase in (Phase.STOPPING, Phase.ENDING):
                raise RuntimeError(f"{self.address.path} is stopping: it cannot have children")
            self._guardian = self.runtime.new_guardian(self)
        return self._guardian

    def strategy(self) -> Strategy:
        """How this actor supervises its children (its instance's or class's, or the default)."""
        source = self.instance if self.instance is not None else self.actor_class
        strategy = source.supervisor_strategy
        if strategy is None:
            return self.runtime.default_strategy
        if not isinstance(strategy, Strategy):
            # (``OneForAll`` for ``OneForAll()``): refused at the first child, not
            # at its first failure, where the supervisor's worker crashed the runtime.
            raise ValueError(
                f"{class_label(self.actor_class)}.supervisor_strategy must be a Strategy "
                f"(OneForOne(), OneForAll() or RestForOne()) or None, got {strategy!r}"
            )
        return strategy

    @property
    def children_guardian(self) -> Guardian | None:
        """The guardian if the current instance has (or had) children."""
        return self._guardian

    async def open_children_nursery(self) -> trio.Nursery:
        """Start the host task that holds a nursery for this actor's children; return it."""
        host = self._host = ChildrenHost(self._stop_deadline)
        return await host.open(self.parent.nursery, f"trouper children of {self.address.path}")

    @property
    def timer_nursery(self) -> trio.Nursery:
        """Where the actor's timers run (beside the cell)."""
        return self.parent.nursery

    @property
    def timers(self) -> set[Timer]:
        """The actor's live timers (cancelled when its instance ends)."""
        if self._timers is None:
            self._timers = set()
        return self._timers

    def stop_self(self) -> None:
        """Stop once the running handler returns (``ctx.stop()``)."""
        self.command(Command.EXIT)

    def awaiting_decision(self, exit_number: int) -> bool:
        """Whether the exit numbered ``exit_number`` still waits for its supervisor.

        Not once an answer (or a stop) is pending: the exit has been answered.
        """
        return (
            self.exits == exit_number
            and self.phase in (Phase.FAILED, Phase.EXITING)
            and self._pending is None
        )

    def reset_for_new_life(self) -> None:
        """Make a stopped child startable again from its spec (same ref, same mailbox).

        Only once its last task has ended (``wait_task_ended``).
        """
        self.mailbox.reopen()
        self.phase = Phase.STARTING
        self.stop_reason = None
        self._stop_deadline = math.inf
        self._end_by = math.inf
        self._deferred = None
        self._first_start = True


def _only_cancelled(error: BaseException) -> bool:
    """Whether ``error`` is a cancellation: ``trio.Cancelled``, or a group of nothing else."""
    if isinstance(error, BaseExceptionGroup):
        return error.split(trio.Cancelled)[1] is None
    return isinstance(error, trio.Cancelled)


def _is_stopped(cell: Cell) -> bool:
    return cell.phase is Phase.STOPPED


def _task_ended(cell: Cell) -> bool:
    return cell.phase is Phase.STOPPED and cell.task is None
