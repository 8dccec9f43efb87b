"""The crossing: the one place where asyncio code hands work to the Trio guest.

Theory of operation
-------------------
Trio runs as a guest on the asyncio loop's thread: its scheduler runs in loop
callbacks ("ticks"), and only its wait for I/O runs in a worker thread. Code
in an asyncio task is outside every Trio task, so it never awaits Trio; it
may read the engine's state (Trio is between two steps whenever asyncio code
runs) and call the engine's synchronous sends (the direct route, below).
Every other call is a *job* appended to ``jobs`` and carried out by the
*pump*, a Trio task of the bridge's nursery that runs queued jobs in order,
each in a copy of its caller's ``contextvars`` context.

Most calls need no job. Trio's guest mode lets the host loop's own thread
change Trio's state between two ticks: a task rescheduled from asyncio code
(``Event.set``, a mailbox waking its actor) runs in Trio's next tick, and
Trio's ``reschedule`` forces that tick itself if Trio was idle (Trio's own
tests pin this: "the host can directly wake a Trio task"). The engine's
synchronous sends do nothing else, so the *direct route* calls them from
the asyncio caller at once, in its own context: ``ask`` queues the ask with
``Cell.ask_soon`` (the reply callback resolves the caller's future),
``tell_nowait`` and ``tell`` put the message with ``Cell.send_nowait``. An
ask then costs one Trio tick and one round of the asyncio loop, where a job
costs two of each. A call takes the direct route when its target is an actor
of this runtime with an in-memory mailbox, the runtime's sends are plain
(``Runtime.special_sends`` is false: no instrument watches sends, whose hooks
expect to run in Trio, and no handler runs in a transaction, since the engine
stages a send made in one by asking Trio for the current task, and between
two ticks there is none), nothing from the loop waits for that actor's room
(its lane, below) and no job is queued (the call would overtake it); else it
is a job, as below. A direct send refused at once (an ask to a stopped actor
or with no handler, a tell that became a dead letter) lets the loop run once
before it raises or returns (``_pass_turn``, off the hot path), so that a loop
retrying it never holds the loop and can be timed out.

Only asyncio code may await the bridge's futures: a Trio task (an actor) that
tries gets Trio's ``TypeError`` thrown into it at the await, which the bridge
turns into a ``RuntimeError`` naming the ``ActorRef``, after withdrawing the
call as a cancellation would. Awaited calls other than sends refuse a Trio
task before they queue anything; sends are not checked (that would cost
every message).

Waking Trio when it is idle is the expensive part: Trio then sleeps in its
I/O thread, and a wake-up wakes that thread, which wakes the loop: two
thread switches (50-130 µs measured), where a Trio tick costs about 7 µs.
So Trio stays awake for ``LINGER`` seconds after the loop's last call or a
call's completion, and never goes idle between an ask's reply and the next
ask. The guest run's clock (``LingerClock``) does it: Trio asks its clock
how long it may sleep when it has no task to run, and while the crossing is
lingering the clock answers 0, so Trio polls again on the next round of the
loop instead of handing its wait to the I/O thread, at no task step's cost.
Every call and completion marks the clock *active* (a flag, no clock read
on the loop's side); the clock renews the linger when it finds the mark.

The pump parks whenever ``jobs`` is empty; queueing a job reschedules it
(allowed from the host, as above).

A job is one of:

- a plain call, done in the pump's own step (``subscribe``, ``unsubscribe``,
  withdrawing a call, ``run_sync``);
- a delivery (``tell``, ``tell_nowait``, off the direct route): ``tell_nowait``
  on the Trio ref in the pump's step (for an awaited ``tell`` to an actor of
  this runtime, ``Cell.send_nowait_as``, so that the instruments see a
  ``TELL``; to a durable mailbox, an actor's, a balancing pool's shared one or
  a ``durable_ref``'s, it always waits in a lane, as ``await tell`` does in
  Trio, until the message is held). If the mailbox is full (for an
  actor of this runtime, read before the send is tried: a refused try would
  reach the instruments as a send of its own, and the wait for room again),
  the message starts the actor's *lane*: a queue served in order by one Trio
  task, which sends each message in a copy of its own caller's context
  (``await tell``, a ``tell_nowait`` with ``Cell.send_as`` so that the
  instruments still see a ``TELL_NOWAIT``, and for an ask the endpoint's
  ``ask_when_room``, which waits for room but not for the reply, else
  ``ref.ask`` in a task of its own that the lane lets run to its first wait,
  its message in or queued for room, before going on), which every later
  delivery and ask from the loop to that actor joins until it is empty, so
  messages from the loop keep their order without a later tell
  waiting for an earlier ask's reply.
  Consecutive ``tell_nowait`` calls to one actor in one context (a burst)
  share a job: the later ones append their message to the last queued job;
- an awaited call (``spawn``, ``stop``, ``publish``, ``run``): a Trio task in
  the bridge's nursery, inside a cancel scope of its own;
- an ask: queued in the pump's step with a reply callback where the endpoint
  offers one (``ask_soon``, the engine's ask without a waiting task), else
  (no room, or an endpoint that answers no callback ask: a remote node, a
  broadcast pool) it starts the endpoint's lane, so that later sends keep
  behind it. While an instrument watches sends (tracing, metrics, a
  simulation's interceptions), asks still go by callback, off the direct
  route: ``ask_soon`` calls the send hooks itself (``intercept_send``,
  ``message_sent``, ``message_delivered``), so they see the ask in the
  pump's step, a Trio task, in the caller's context, as they see a Trio
  task's ``ref.ask``.

An awaited call hands its result to an asyncio future (set from Trio code on
the loop's thread, which asyncio allows). When the asyncio caller is
cancelled (``asyncio.timeout``, ``wait_for``, ``task.cancel()``), its future
is cancelled at once and a withdrawal job cancels the call's scope, so the
engine applies its own rule: an ask not yet taken is withdrawn, the reply to
one already taken is discarded (a callback ask is ``abandon``ed, to the same
effect, at once when it went the direct route); a tell still waiting for
room is not sent.

``tell_nowait`` must raise ``MailboxFull`` at once, before its message has
crossed. The direct route raises the engine's own. Otherwise, for an actor
of this runtime it reads the mailbox's depth (a read, not a call: Trio is
between two steps while asyncio code runs) and counts the messages the loop
already has on their way to it; a message that finds
the mailbox full anyway when it crosses (filled meanwhile from Trio) joins
the lane, never lost. A balancing pool (a ``SharingEndpoint`` with a
``shared_mailbox()``) is bounded the same way by the mailbox its members
share. For other endpoints (another pool, a remote node) the loop bounds what
it has on its way to each at the runtime's ``mailbox_size``.

When the bridge's nursery is cancelled (the runtime has closed), the pump
marks the crossing closed, so later calls raise ``RuntimeClosed`` at once, and
runs what was still queued: deliveries reach the engine (a stopped actor's
messages become dead letters) and every call still awaited fails with the
closed-runtime error. A lane cancelled with messages in it (an abort) fails
its awaited ones the same way, and makes its told-nowait ones dead letters
(``"actor stopped"``), as an abort makes the messages in the mailboxes.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import math
import types
from asyncio import _get_running_loop
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from functools import partial
from threading import get_ident
from time import perf_counter
from typing import Any, Protocol, TypeVar, cast

import outcome
import trio
from trio.lowlevel import (
    Abort,
    Task,
    current_task,
    in_trio_task,
    reschedule,
    wait_task_rescheduled,
)

from trouper.actors import ActorRef
from trouper.errors import CallbackAskUnsupported, MailboxFull, RuntimeClosed
from trouper.runtime import DeadLetter, DeadLetterReason, Runtime
from trouper.runtime.lowlevel import (
    Cell,
    Mailbox,
    MemoryMailbox,
    SendKind,
    SharingEndpoint,
    release_frames_unless_failing,
)

__all__ = ["LINGER", "Call", "Crossing", "LingerClock", "holds_cancelled"]

log = logging.getLogger("trouper.aio")

T = TypeVar("T")

LINGER = 0.0005
"""Seconds Trio stays awake after the loop's last call or a completion (see the theory above)."""

_FOREIGN_THREAD = (
    "trouper.aio calls belong to the event loop's thread; "
    "other threads use the runtime's portal (rt.portal)"
)

_OTHER_LOOP = (
    "trouper.aio calls belong to asyncio code on the event loop that opened the runtime, "
    "not another one (a second asyncio.run, a pytest-asyncio fixture of another loop "
    "scope): open the runtime on the loop that uses it"
)

_TRIO_TASK = (
    "trouper.aio calls belong to asyncio code: actors and other Trio code "
    "use the ActorRef (aio_ref.ref) and the Trio runtime (rt.runtime)"
)


class LingerClock(trio.abc.Clock):
    """The guest run's clock: the system's time, but no sleep while the crossing lingers.

    Trio calls ``deadline_to_sleep_time`` only when it has no task to run,
    to learn how long its I/O wait may last; answering 0 makes it poll and
    come back on the loop's next round instead of sleeping in its I/O
    thread (sleeping less than asked is always allowed: Trio just looks
    again). Read and written on the loop's thread only.
    """

    __slots__ = ("_awake_until", "active")

    def __init__(self) -> None:
        self.active = False
        # Set by every call and completion; the next sleep question renews the linger.
        self._awake_until = -math.inf
        # perf_counter() time until which Trio does not sleep.

    def start_clock(self) -> None:
        """Nothing to start: the time is ``perf_counter()``."""

    def current_time(self) -> float:
        """The time in seconds, from ``perf_counter()`` (as Trio's own clock)."""
        return perf_counter()

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Seconds until ``deadline``, or 0 while the crossing lingers."""
        now = perf_counter()
        if self.active:
            self.active = False
            self._awake_until = now + LINGER
            return 0.0
        if now < self._awake_until:
            return 0.0
        return deadline - now


class Call:
    """One awaited call from asyncio: the future its caller awaits, and the scope to withdraw it."""

    __slots__ = ("envelope", "future", "scope")

    def __init__(self, future: asyncio.Future[object]) -> None:
        self.future = future
        # What the asyncio caller awaits; cancelled as soon as the caller is.
        self.scope: trio.CancelScope | None = None
        # The Trio side's cancel scope while the call runs in a task, else None.
        self.envelope: _Abandonable | None = None
        # An ask queued with a reply callback, until it is answered, else None.

    def resolve(self, value: object) -> None:
        """Hand ``value`` to the caller, unless it has given up."""
        if not self.future.done():
            self.future.set_result(value)

    def reject(self, error: BaseException) -> None:
        """Raise ``error`` in the caller, unless it has given up."""
        if not self.future.done():
            self.future.set_exception(_crossable(error))

    def withdraw(self) -> None:
        """Cancel the Trio side of a call its caller gave up (a job: runs in Trio)."""
        if self.scope is not None:
            self.scope.cancel()
        if self.envelope is not None:
            self.envelope.abandon()


class _Abandonable(Protocol):
    """An ask in flight that was queued with a reply callback."""

    def abandon(self) -> None:
        """Withdraw it: skipped if not yet taken, its reply dropped if taken."""


_AskSoon = Callable[[object, Callable[["outcome.Outcome[object]"], None]], _Abandonable]
"""An endpoint's ``ask_soon(message, on_reply)``: an ask answered by callback, with no task."""

_AskWhenRoom = Callable[
    [object, Callable[["outcome.Outcome[object]"], None]], Awaitable[_Abandonable]
]
"""An endpoint's ``ask_when_room(message, on_reply)``: ``ask_soon`` that waits for room."""


class _Item:
    """A message waiting in a lane: what to send, who awaits it, and in what context."""

    __slots__ = ("asking", "call", "context", "message")

    def __init__(
        self,
        message: object,
        call: Call | None,
        context: contextvars.Context,
        *,
        asking: bool,
    ) -> None:
        self.message = message
        # The message, as the loop's caller gave it.
        self.call = call
        # The awaiting caller's call; None for a tell_nowait, which nobody awaits.
        self.context = context
        # A copy of its caller's context: the lane sends it there, not in the lane's own.
        self.asking = asking
        # Whether this is an ask (served with ``await ask``) rather than a tell.


_Job = tuple[contextvars.Context, Callable[..., None], tuple[object, ...]]


class Crossing:
    """Carries asyncio callers' work into the Trio guest, in order (see the theory above).

    Built in Trio (by the guest run, with the bridge's nursery); its
    asyncio-side methods are for the loop's thread only, outside Trio tasks.
    """

    __slots__ = (
        "_burst",
        "_clock",
        "_closed",
        "_jobs",
        "_lanes",
        "_limit",
        "_loop",
        "_node",
        "_nursery",
        "_parked",
        "_runtime",
        "_thread",
        "_waiting",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        nursery: trio.Nursery,
        clock: LingerClock,
        *,
        node: str,
        limit: float,
        runtime: Runtime,
    ) -> None:
        self._loop = loop
        # The host loop; every future made here belongs to it (no other loop may await them).
        self._node = node
        # The runtime's node name, for the closed-runtime error.
        self._nursery = nursery
        # The bridge's nursery: the pump, lanes and awaited calls run there.
        self._thread = get_ident()
        # The loop's thread, the only one allowed to queue jobs.
        self._limit = limit
        # At most this many tell_nowait messages on their way to a pool or remote endpoint.
        self._runtime = runtime
        # The Trio runtime: while its sends are special, none takes the direct route.
        self._jobs: deque[_Job] = deque()
        # Jobs queued by asyncio callers, oldest first; only the pump takes them.
        self._lanes: dict[object, deque[_Item]] = {}
        # Per endpoint, the messages waiting behind a full mailbox; a lane exists while non-empty.
        self._waiting: dict[object, int] = {}
        # Per endpoint, tell_nowait messages accepted and not yet in a mailbox (absent when 0).
        self._parked: Task | None = None
        # The pump's task while it is parked, else None.
        self._clock = clock
        # The guest run's clock, which keeps Trio awake while the loop is busy.
        self._closed = False
        # Set once (by the pump, as the bridge's nursery ends): no job is accepted after.
        self._burst: Callable[[ActorRef[object], list[object]], None] = self._tell_all
        # The job that delivers told-nowait messages (one bound method, compared by identity).

    # --- the asyncio side ----------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the runtime has closed: calls raise ``RuntimeClosed`` from now on."""
        return self._closed

    def check_caller(self) -> None:
        """Refuse callers that are not asyncio code on the loop's thread.

        Raises:
            RuntimeClosed: the runtime is closed.
            RuntimeError: the caller is another thread (other threads have the portal),
                or asyncio code of another event loop of the loop's thread.
        """
        if self._closed:
            raise RuntimeClosed(self._node)
        if get_ident() != self._thread:
            raise RuntimeError(_FOREIGN_THREAD)
        if _get_running_loop() is not self._loop:
            # The loop's thread, but another loop runs now (or none): an awaited
            # call would queue its work, then fail to await this loop's future.
            raise RuntimeError(_OTHER_LOOP)

    def _foreign_loop(self, future: asyncio.Future[Any], error: RuntimeError) -> bool:
        """Whether awaiting ``future`` raised ``error`` because another loop runs the caller.

        asyncio's "got Future attached to a different loop": an ask or a send
        that crossed as a job from a second loop of the loop's thread, which
        the send path does not check up front (as cheap as it must be, it
        compares threads only).
        """
        return not _raised_by(future, error) and _get_running_loop() is not self._loop

    def _check_awaiting_caller(self) -> None:
        """Refuse, before anything is queued, a call that will await the loop's futures.

        Raises:
            RuntimeClosed: the runtime is closed.
            RuntimeError: the caller is another thread, or a Trio task (an actor).
        """
        self.check_caller()
        if in_trio_task():
            raise RuntimeError(_TRIO_TASK)

    def _direct(self, ref: ActorRef[object]) -> Cell | None:
        """The actor's cell if a send to ``ref`` may take the direct route now, else ``None``.

        Checks the caller's thread first, not its loop (reading the running
        loop costs a send a quarter more; an ask or job from another loop of
        the thread is caught where it awaits: ``_foreign_loop``). The hot path
        of every send from asyncio: plain reads only.
        """
        if self._closed:
            raise RuntimeClosed(self._node)
        if get_ident() != self._thread:
            raise RuntimeError(_FOREIGN_THREAD)
        key = ref.endpoint
        if (
            type(key) is Cell
            and not self._jobs
            and type(key.mailbox) is MemoryMailbox
            and not self._runtime.special_sends
            and (not self._lanes or key not in self._lanes)
        ):
            return key
        return None

    def _queue(self, fn: Callable[..., None], args: tuple[object, ...]) -> None:
        """Queue ``fn(*args)`` to run in Trio, in the caller's context, after earlier jobs."""
        self._jobs.append((contextvars.copy_context(), fn, args))
        self._unpark()

    async def call(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: object,
        undo: Callable[[T], Awaitable[object]] | None = None,
    ) -> T:
        """``await fn(*args)`` in a Trio task and return its result (or raise its error).

        ``undo(result)``, if given, runs in a Trio task of its own when the
        caller was cancelled too late to cancel ``fn``: after it returned, or
        while it returned, before the withdrawal reached Trio. The caller
        never gets the result then.
        """
        self._check_awaiting_caller()
        call = Call(self._loop.create_future())
        self._queue(self._start, (call, fn, args, undo))
        undo_soon = None if undo is None else partial(self._undo, undo)
        return await self._outcome(call, undo_soon)  # type: ignore[return-value]

    async def call_sync(
        self, fn: Callable[..., T], *args: object, undo: Callable[[T], None] | None = None
    ) -> T:
        """``fn(*args)`` in the pump's step (Trio's context) and return its result.

        ``undo(result)``, if given, runs in Trio when the caller is cancelled
        after ``fn`` returned but before it could take the result.
        """
        self._check_awaiting_caller()
        call = Call(self._loop.create_future())
        self._queue(self._run_sync, (call, fn, args))
        return await self._outcome(call, undo)  # type: ignore[arg-type, return-value]

    async def tell(self, ref: ActorRef[object], message: object) -> bool:
        """``await ref.tell(message)`` from asyncio: returns once the message is in the mailbox.

        Returns what ``ActorRef.tell`` returns: whether the message reached the
        mailbox (``False``: it became a dead letter, its actor stopped).
        """
        cell = self._direct(ref)
        if cell is not None and len(cell.mailbox) < cell.mailbox.size:
            # With room, no wait (as asyncio.Queue.put): no yield, so nothing overtakes it.
            try:
                delivered = cell.send_nowait(message)
            except MailboxFull:
                pass  # its room went to senders already waiting there: wait in a lane
            else:
                self._clock.active = True
                if not delivered:
                    # A dead letter (the actor has stopped): a producer loop must
                    # still let the loop run, or nothing could time it out.
                    await _pass_turn()
                return delivered
        call = Call(self._loop.create_future())
        self._queue(self._deliver, (ref, message, call))
        return await self._outcome(call)  # type: ignore[return-value]

    def tell_nowait(self, ref: ActorRef[object], message: object) -> None:
        """Queue ``message`` for ``ref`` at the next crossing, without waiting.

        Raises:
            MailboxFull: the actor's mailbox has no room left for it, counting the
                messages the loop has on their way to it (for an endpoint with no
                mailbox of its own, ``limit`` messages are on their way to it).
            RuntimeClosed: the runtime is closed.
            RuntimeError: the caller is another thread.
        """
        cell = self._direct(ref)
        if cell is not None:
            cell.send_nowait(message)
            self._clock.active = True
            return
        key = ref.endpoint
        waiting = self._waiting.get(key, 0)
        # The mailbox its tells go into: an actor's of this runtime, or the one a
        # balancing pool's members share.
        mailbox: Mailbox | None
        if isinstance(key, Cell):
            mailbox = key.mailbox
        elif isinstance(key, SharingEndpoint):
            mailbox = key.shared_mailbox()
        else:
            mailbox = None
        if mailbox is not None:
            # Its room, as it is now, bounds what the loop sends ahead (a read:
            # Trio is between two steps). Full counts the senders waiting for
            # room, who go first.
            if not mailbox.closed and (mailbox.full or waiting + len(mailbox) >= mailbox.size):
                raise MailboxFull(ref.address, mailbox.size)
        elif waiting >= self._limit:
            raise MailboxFull(ref.address, self._limit)
        self._waiting[key] = waiting + 1
        context = contextvars.copy_context()
        jobs = self._jobs
        if jobs:
            # A burst: messages to the same actor in the same context share a job.
            last_context, fn, args = jobs[-1]
            if fn is self._burst and args[0] is ref and _same_context(last_context, context):
                args[1].append(message)  # type: ignore[attr-defined]
                return
        jobs.append((context, self._burst, (ref, [message])))
        self._unpark()

    async def ask(self, ref: ActorRef[object], message: object) -> object:
        """``await ref.ask(message)`` from asyncio, with the engine's cancellation rule."""
        cell = self._direct(ref)
        if cell is not None:
            future = self._loop.create_future()
            try:
                envelope = cell.ask_soon(message, partial(_settle, self._clock, future))
            except MailboxFull:
                pass  # wait for room in the actor's lane, as a job
            except Exception:
                # Refused at once (stopped actor, unhandled message): let the loop
                # run first, so that a loop retrying the ask can be timed out.
                await _pass_turn()
                raise
            else:
                self._clock.active = True
                try:
                    return await future
                except asyncio.CancelledError:
                    if future.cancelled():
                        envelope.abandon()  # withdrawn, or its reply dropped
                    raise
                except TypeError as error:
                    if _raised_by(future, error):
                        raise  # the reply's own error
                    # Trio refused to await an asyncio future: the caller is a Trio task.
                    future.cancel()
                    envelope.abandon()
                    raise RuntimeError(_TRIO_TASK) from None
                except RuntimeError as error:
                    if not self._foreign_loop(future, error):
                        raise  # the reply's own error
                    future.cancel()
                    envelope.abandon()  # withdrawn, as a cancelled ask is
                    raise RuntimeError(_OTHER_LOOP) from None
        call = Call(self._loop.create_future())
        self._queue(self._ask, (ref, message, call))
        return await self._outcome(call)

    async def _outcome(self, call: Call, undo: Callable[[object], None] | None = None) -> object:
        try:
            return await call.future
        except asyncio.CancelledError:
            future = call.future
            if not self._closed:
                if future.cancelled():
                    self._queue(call.withdraw, ())
                elif undo is not None and future.done() and future.exception() is None:
                    # Done, but the caller was cancelled before it resumed: it
                    # never gets the result, so what the call made is taken back.
                    self._queue(undo, (future.result(),))
            raise
        except TypeError as error:
            if _raised_by(call.future, error):
                raise  # the call's own error
            # Trio refused to await an asyncio future: the caller is a Trio task
            # (a tell or ask that had to cross as a job). Withdraw it.
            call.future.cancel()
            if not self._closed:
                self._queue(call.withdraw, ())
            raise RuntimeError(_TRIO_TASK) from None
        except RuntimeError as error:
            if not self._foreign_loop(call.future, error):
                raise  # the call's own error
            # A job queued from another loop of the thread: withdrawn before
            # the pump (which runs when the runtime's loop does) takes it.
            call.future.cancel()
            if not self._closed:
                self._queue(call.withdraw, ())
            raise RuntimeError(_OTHER_LOOP) from None

    # --- the Trio side -------------------------------------------------------------

    def _unpark(self) -> None:
        """Have the pump run the queued jobs, and Trio linger (asyncio side).

        Trio's ``reschedule`` is allowed from the host between ticks, and
        forces a tick if Trio was idle.
        """
        self._clock.active = True
        task = self._parked
        if task is not None:
            self._parked = None
            reschedule(task)

    def _rouse(self) -> None:
        """Keep Trio awake for ``LINGER`` more seconds after a completion (Trio side)."""
        self._clock.active = True

    def _abort_park(self, _: object) -> Abort:
        self._parked = None
        return Abort.SUCCEEDED

    async def pump(self) -> None:
        """Run queued jobs until the bridge's nursery is cancelled (the bridge's one loop)."""
        jobs = self._jobs
        try:
            while True:
                while jobs:
                    context, fn, args = jobs.popleft()
                    context.run(fn, *args)
                self._parked = current_task()
                await wait_task_rescheduled(self._abort_park)
        finally:
            # The runtime has closed: refuse new jobs, settle the queued ones.
            self._closed = True
            while jobs:
                context, fn, args = jobs.popleft()
                context.run(fn, *args)

    def _run_sync(self, call: Call, fn: Callable[..., object], args: tuple[object, ...]) -> None:
        if call.future.cancelled():
            return
        try:
            value = fn(*args)
        except BaseException as error:
            # Any error is the caller's, as trio.from_thread.run hands it back:
            # one that is no Exception (pytest.fail's) must not end the pump.
            call.reject(error)
        else:
            if inspect.iscoroutine(value):
                # An async function: its work would silently never happen.
                value.close()
                name = getattr(fn, "__qualname__", repr(fn))
                call.reject(
                    TypeError(
                        f"run_sync expects a synchronous function, but {name} returned "
                        "a coroutine: await it with run() instead"
                    )
                )
                return
            call.resolve(value)

    def _start(
        self,
        call: Call,
        fn: Callable[..., Awaitable[object]],
        args: tuple[object, ...],
        undo: Callable[[object], Awaitable[object]] | None,
    ) -> None:
        self._nursery.start_soon(self._perform, call, fn, args, undo)

    def _undo(self, undo: Callable[[T], Awaitable[object]], result: T) -> None:
        """Start ``undo(result)``: the caller gave up the result of a call that returned it."""
        self._nursery.start_soon(undo, result)

    async def _perform(
        self,
        call: Call,
        fn: Callable[..., Awaitable[object]],
        args: tuple[object, ...],
        undo: Callable[[object], Awaitable[object]] | None = None,
        *,
        asking: bool = False,
    ) -> None:
        if call.future.cancelled():
            return  # withdrawn before it started
        try:
            with trio.CancelScope() as call.scope:
                try:
                    value = await fn(*args)
                except BaseException as error:
                    if not holds_cancelled(error):
                        # Any other error is the caller's (as trio.from_thread.run
                        # hands it back), not the runtime's.
                        self._failed(call, error, asking=asking)
                    elif isinstance(error, BaseExceptionGroup):
                        # Cancelled, and failed on the way out (a nursery's child):
                        # the cancellation is Trio's, the failure still the caller's,
                        # never the bridge's nursery's (it would end the runtime).
                        cancelled, failed = error.split(trio.Cancelled)
                        if failed is None:
                            raise
                        self._failed(call, failed, asking=asking)
                        assert cancelled is not None  # it holds one
                        raise cancelled from None
                    else:
                        raise  # Trio's to handle: the call's scope, or the closing runtime
                else:
                    if undo is not None and call.future.cancelled():
                        # The caller gave up while fn returned, too late for its
                        # withdrawal: it never gets the result, which is taken back.
                        self._undo(undo, value)
                    else:
                        call.resolve(value)
        finally:
            call.scope = None
            # Cancelled from above: the runtime is closing under the call.
            call.reject(RuntimeClosed(self._node))
        self._rouse()

    def _failed(self, call: Call, error: BaseException, *, asking: bool) -> None:
        """Raise ``error`` in the caller; if it gave up, log it (an ask's error is its reply)."""
        if call.future.done() and not asking:
            log.error("a call from asyncio failed after its caller gave up", exc_info=error)
        call.reject(error)

    async def _ask_apart(
        self,
        call: Call,
        ask: Callable[[object], Awaitable[object]],
        message: object,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        # Reported started first: the ask still runs on to its first wait in
        # this step, and the lane that started it resumes in a later one.
        task_status.started()
        await self._perform(call, ask, (message,), asking=True)

    def _ask(self, ref: ActorRef[object], message: object, call: Call) -> None:
        # The one place an ask crosses. With an endpoint that takes a reply
        # callback (``ask_soon``), the ask is queued here and answered by
        # ``_replied``, with no Trio task; otherwise (no room, or no callback
        # ask) it starts the endpoint's lane (see ``_wait_in_lane``).
        key = ref.endpoint
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(_Item(message, call, contextvars.copy_context(), asking=True))
            return
        if call.future.cancelled():
            return  # withdrawn before it crossed
        ask_soon: _AskSoon | None = getattr(key, "ask_soon", None)
        if ask_soon is not None and not _refuses(key):
            try:
                call.envelope = ask_soon(message, partial(self._replied, call))
            except (MailboxFull, CallbackAskUnsupported):
                pass  # it waits for room, or is asked by a task, in a lane below
            except Exception as error:
                call.reject(error)
                return
            else:
                return
        # No room, or no callback ask: the ask starts a lane, which later
        # sends to this endpoint join, so that none overtakes it.
        item = _Item(message, call, contextvars.copy_context(), asking=True)
        lane = self._lanes[key] = deque([item])
        self._nursery.start_soon(self._serve_lane, ref, lane)

    def _replied(self, call: Call, result: outcome.Outcome[object]) -> None:
        call.envelope = None
        if isinstance(result, outcome.Value):
            call.resolve(result.value)
        else:
            call.reject(result.error)  # type: ignore[attr-defined]
        self._rouse()

    def _deliver(self, ref: ActorRef[object], message: object, call: Call | None) -> None:
        key = ref.endpoint
        lane = self._lanes.get(key)
        if lane is None:
            if call is not None and call.future.cancelled():
                return  # withdrawn before it crossed
            try:
                reached = _put_nowait(ref, message, awaited=call is not None)
            except Exception as error:
                self._delivered(ref, message, call, error)
                return
            if reached is not None:
                self._delivered(ref, message, call, None, reached=reached)
                return
            lane = self._open_lane(key, ref)
        lane.append(_Item(message, call, contextvars.copy_context(), asking=False))

    def _tell_all(self, ref: ActorRef[object], messages: list[object]) -> None:
        """Deliver messages told nowait, in order (a job: one per burst to one actor)."""
        key = ref.endpoint
        lane = self._lanes.get(key)
        delivered = 0
        if lane is None:
            for message in messages:
                try:
                    if _put_nowait(ref, message, awaited=False) is None:
                        lane = self._open_lane(key, ref)
                        break
                except Exception as error:
                    self._refused(ref, message, error)
                delivered += 1
        if lane is not None:
            context = contextvars.copy_context()  # (one burst: one caller's context)
            lane.extend(
                _Item(message, None, context, asking=False) for message in messages[delivered:]
            )
        if delivered:
            self._arrived(key, delivered)

    def _delivered(
        self,
        ref: ActorRef[object],
        message: object,
        call: Call | None,
        error: Exception | None,
        *,
        reached: bool = True,
    ) -> None:
        """A delivery is over: ``reached`` the mailbox (or a dead letter), or failed (``error``)."""
        if call is not None:
            if error is None:
                call.resolve(reached)
            else:
                call.reject(error)
            return
        self._arrived(ref.endpoint, 1)
        if error is not None:
            self._refused(ref, message, error)

    def _refused(self, ref: ActorRef[object], message: object, error: Exception) -> None:
        """``ref``'s endpoint refused a message told nowait (a pool whose key raised).

        Its caller was told the message was on its way and cannot be given the
        error now: it becomes a dead letter with the error, as a topic message
        or another node's tell that an endpoint refuses does.
        """
        runtime = self._runtime
        runtime.dead_letters.post(
            DeadLetter(message, ref.address, DeadLetterReason.DELIVERY_FAILED, error)
        )
        release_frames_unless_failing(runtime, error)

    def _arrived(self, key: object, count: int) -> None:
        """Count ``count`` tell_nowait messages to ``key`` as no longer on their way."""
        waiting = self._waiting.get(key, 0) - count
        if waiting > 0:
            self._waiting[key] = waiting
        else:
            self._waiting.pop(key, None)

    def _open_lane(self, key: object, ref: ActorRef[object]) -> deque[_Item]:
        """Start ``ref``'s lane (the actor's mailbox is full): its queue, served in order."""
        lane: deque[_Item] = deque()
        self._lanes[key] = lane
        self._nursery.start_soon(self._serve_lane, ref, lane)
        return lane

    async def _serve_lane(self, ref: ActorRef[object], lane: deque[_Item]) -> None:
        """Send a lane's messages in order: at once while there is room, else waiting for it."""
        key = ref.endpoint
        try:
            while lane:
                item = lane[0]
                call = item.call
                if call is not None and call.future.cancelled():
                    lane.popleft()  # withdrawn before its turn
                    continue
                # Each message is sent in its own caller's context (the instruments
                # see it there), not in the lane's, which is its first caller's.
                if not item.asking and item.context.run(self._put_item, ref, item):
                    lane.popleft()
                    continue
                # No room: wait for it.
                await _in_context(item.context, self._wait_in_lane(ref, item))
                lane.popleft()
        finally:
            # Cancelled from above (the runtime is closing): what is left is not sent.
            # An awaiting caller is told; a message told nowait, whose caller was
            # told it is on its way, is a dead letter, as the mailboxes' are.
            del self._lanes[key]
            for item in lane:
                if item.call is not None:
                    item.call.reject(RuntimeClosed(self._node))
                else:
                    letter = DeadLetter(item.message, ref.address, DeadLetterReason.ACTOR_STOPPED)
                    item.context.run(self._runtime.dead_letters.post, letter)
            self._arrived(key, sum(item.call is None for item in lane))

    def _put_item(self, ref: ActorRef[object], item: _Item) -> bool:
        """Send a told message of a lane now if there is room; whether it is done with.

        Done with: in the mailbox, a dead letter, or refused by the endpoint.
        """
        try:
            reached = _put_nowait(ref, item.message, awaited=item.call is not None)
        except Exception as error:
            self._delivered(ref, item.message, item.call, error)
            return True
        if reached is None:
            return False
        self._delivered(ref, item.message, item.call, None, reached=reached)
        return True

    async def _wait_in_lane(self, ref: ActorRef[object], item: _Item) -> None:
        """Send the lane's head, waiting for room; an ask's reply is not waited for here."""
        call = item.call
        ask_when_room: _AskWhenRoom | None = getattr(ref.endpoint, "ask_when_room", None)
        if item.asking and ask_when_room is None:
            # An endpoint whose ask both sends and waits for the reply (a pool, a
            # remote node): the ask runs in a task of its own, which the lane
            # lets run first to where it waits (for the reply once its message
            # is in, or for room among the senders waiting there, ahead of the
            # lane's next message), then one round more for the tasks it
            # started (a broadcast's asks of its members).
            assert call is not None  # an ask always has its caller
            await self._nursery.start(self._ask_apart, call, ref.ask, item.message)
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        error: Exception | None = None
        queued: _Abandonable | None = None
        reached = False
        with trio.CancelScope() as scope:
            if call is not None:
                call.scope = scope
            try:
                if ask_when_room is not None and item.asking:
                    assert call is not None  # an ask always has its caller
                    # Wait for room only: the reply comes to _replied, and the
                    # lane moves on (a later tell must not wait for this reply).
                    queued = await ask_when_room(item.message, partial(self._replied, call))
                elif call is None and isinstance(cell := ref.endpoint, Cell):
                    # A tell_nowait the loop accepted: the instruments see what its caller did.
                    await cell.send_as(item.message, SendKind.TELL_NOWAIT)
                else:
                    reached = await ref.tell(item.message) is not False
            except Exception as failure:
                error = failure
        if call is None:
            self._delivered(ref, item.message, None, error)
            return
        call.scope = None
        if queued is not None:
            if call.future.cancelled():
                queued.abandon()  # its caller gave up as it got room: withdrawn
            elif not call.future.done():
                call.envelope = queued  # until _replied: what a withdrawal abandons
            return
        if error is None:
            call.resolve(reached)  # (a withdrawn ask's future is cancelled: nothing is set)
        else:
            call.reject(error)
        self._rouse()


@types.coroutine
def _in_context(
    context: contextvars.Context, coroutine: Coroutine[Any, Any, T]
) -> Generator[Any, Any, T]:
    """Await ``coroutine`` with each of its steps run in ``context``.

    What a task does for its own coroutine (``Context.run`` around each
    ``send``), for one await in a task whose own context is another
    caller's: the lane's, which sends each caller's message in a copy of that
    caller's context. Trio's traps pass through unchanged; the task stays
    the same (its cancel scopes, ``current_task()``), only the context differs.
    """
    step: Callable[[Any], Any] = coroutine.send
    value: Any = None
    while True:
        try:
            trap = context.run(step, value)
        except StopIteration as done:
            return cast("T", done.value)
        try:
            value, step = (yield trap), coroutine.send
        except BaseException as error:
            # Thrown into the awaiting task (a close): on into the coroutine.
            value, step = error, coroutine.throw


def _refuses(endpoint: object) -> bool:
    """Whether ``endpoint`` is an actor whose mailbox would refuse a message now.

    A send to it waits for room in a lane without being tried first: the
    refused try would reach the instruments (``intercept_send``,
    ``message_sent``) as a send of its own, and the wait in the lane again.
    """
    return isinstance(endpoint, Cell) and endpoint.mailbox.full


def _put_nowait(ref: ActorRef[object], message: object, *, awaited: bool) -> bool | None:
    """Send ``message`` to ``ref`` now; ``None``, with nothing sent, if it has no room now.

    Else whether it reached the mailbox (``False``: it became a dead letter).

    ``ref.tell_nowait(message)``, or for a caller's ``await tell`` (``awaited``)
    to an actor of this runtime, ``Cell.send_nowait_as`` a ``TELL``: the
    instruments see the kind the caller used. A durable mailbox holds a told
    message only once its ``put`` returned: an awaited tell to one (an actor's,
    the one a balancing pool's members share, a ``durable_ref``'s) always waits
    for it (in a lane).
    """
    endpoint = ref.endpoint
    try:
        if isinstance(endpoint, Cell):
            mailbox = endpoint.mailbox
            if mailbox.full:
                return None  # not tried: see _refuses
            if awaited:
                if mailbox.durable:
                    return None
                return endpoint.send_nowait_as(message, SendKind.TELL)
        elif awaited and isinstance(endpoint, SharingEndpoint):
            shared = endpoint.shared_mailbox()
            if shared is not None and shared.durable:
                return None
        # (``is not False``: an endpoint that returns nothing sent it; never sent twice)
        return ref.tell_nowait(message) is not False
    except MailboxFull:
        return None


def _same_context(first: contextvars.Context, second: contextvars.Context) -> bool:
    """Whether two copies of callers' contexts hold equal values (one job may serve both).

    Copies of one unchanged context compare at once; others compare their
    values, whose ``==`` is the application's: one that raises (a NumPy
    array's truth value) makes them different, never the caller's error.
    """
    try:
        return first == second
    except Exception:
        return False


async def _pass_turn() -> None:
    """Let the loop run once before a send returns without having waited (a refusal)."""
    try:
        await asyncio.sleep(0)
    except TypeError:
        # Trio refused the bare yield: the caller is a Trio task, not asyncio code.
        raise RuntimeError(_TRIO_TASK) from None


def holds_cancelled(error: BaseException) -> bool:
    """Whether ``error`` is, or is a group that holds, a ``trio.Cancelled``."""
    if isinstance(error, BaseExceptionGroup):
        return error.subgroup(trio.Cancelled) is not None
    return isinstance(error, trio.Cancelled)


def _raised_by(future: asyncio.Future[object], error: BaseException) -> bool:
    """Whether ``error`` is ``future``'s own, not Trio's refusal to await it in a Trio task."""
    return future.done() and not future.cancelled() and future.exception() is error


def _settle(
    clock: LingerClock, future: asyncio.Future[object], result: outcome.Outcome[object]
) -> None:
    """Hand an ask's reply (or error) to its asyncio caller, unless it has given up.

    A completion: Trio lingers after it (``clock``), for the caller's next call.
    """
    clock.active = True
    if not future.done():
        if type(result) is outcome.Value:
            future.set_result(result.value)
        else:
            future.set_exception(_crossable(result.error))  # type: ignore[attr-defined]


def _crossable(error: BaseException) -> BaseException:
    """``error``, or for a ``StopIteration`` (which asyncio futures refuse) a ``RuntimeError``.

    The ``RuntimeError`` has the ``StopIteration`` as ``__cause__``: what a
    coroutine that lets one escape raises (PEP 479), so what a native await
    of the same call would have raised.
    """
    if isinstance(error, StopIteration):
        wrapped = RuntimeError(f"the call raised {type(error).__name__}")
        wrapped.__cause__ = error
        return wrapped
    return error
