"""The cell: the one task that runs an actor, across all its instances.

Theory of operation
-------------------
A cell owns an actor's mailbox and its ref (the cell is the ref's endpoint)
and runs as one task in its parent's nursery, inside a cancel scope of its
own. The actor instance is replaceable; the cell is not: a restart swaps the
instance and keeps the mailbox, the ref, the name and the watchers.

An actor that has children gets a nursery for them when it spawns the first
one: a small host task, started beside the cell in the parent's nursery,
holds it open until the children have stopped. So the tree of supervisors
is a tree of nurseries, and a leaf actor (most of them) pays for none.
Timers run beside the cell too, and end with its instance.

Only the cell's own task changes the cell's phase. Everyone else (the
supervisor, a stopper, a linked actor) sends it a *command* and, if they need
to, waits for the phase they expect. ``_lifecycle`` is a loop over commands::

    _Start(cause)    create an instance (not on the first start: spawn did),
                     on_restart(cause) if restarting, on_start; then serve
    _Resume          serve again with the same instance
    _Fail / _Exit    (from serving) report to the supervisor, park for its answer
    _Restart(cause)  end the instance, wait out the backoff, then _Start
    _Terminate       end the instance, park for _Start (group restarts)
    _Stop(reason)    stop children, on_stop, finalize: stopped for good

Commands come from three places, with fixed precedence:

- a stop (``rt.stop``, a supervisor's STOP, a shutdown) always wins;
- the supervisor's instructions are only taken where they make sense:
  ``_Resume`` and ``_Restart`` answer the exit awaiting a decision (and
  nothing else), ``_Start`` starts a cell that is idle with no instance, and
  ``_Terminate`` (a group restart) replaces whatever the actor had pending
  of its own (its exit is moot: it is being replaced anyway);
- the actor's own exits (``ctx.stop()``, a linked actor's failure, its
  children's give-up) count only while it runs an instance and is not
  already exiting; a failure overrides a pending normal exit. A link
  failure that arrives between instances is kept for the next one.

Each exit the cell reports gets a number (``exits``); the supervisor queues
exits while it is busy and drops one whose number is no longer current or
that was answered meanwhile (``exiting`` is cleared as soon as an answer,
or a stop, is delivered).

Serving is the hot path: take a message from the mailbox's deque, find its
handler in the class's table (one dict lookup by exact type), await it. A
handler's exception ends serving with ``_Fail``; a pending command ends it
between two messages, so a running handler always finishes. After
``throughput`` messages without a park the cell yields to the scheduler.

A stop has a deadline (the actor's ``shutdown``): it is set on the cell's
scope and its children's host, so once it passes everything still running in
the actor (its handler, its children, its ``on_stop``) is cancelled, and the
cell finalizes.

Finalizing is synchronous and always runs (also when cancelled from outside),
after the actor's children have finalized: the mailbox closes and its
messages become dead letters (asks get ``ActorStopped``), the name is freed,
watchers and links are told, and the supervisor forgets or keeps the child.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs
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
    HandlerFunction,
    Reject,
    Terminated,
    Timer,
    instantiate,
)
from trouper.errors import (
    ActorStopped,
    HandlerError,
    LinkedActorFailed,
    MailboxFull,
    StartFailed,
    UnhandledMessage,
)
from trouper.runtime._mailbox import Mailbox
from trouper.runtime._observe import ActorEvent, DeadLetter, EventKind
from trouper.supervision import ChildSpec, Restart, Strategy

if TYPE_CHECKING:
    from trouper.runtime._guardian import Guardian
    from trouper.runtime._runtime import Runtime

__all__ = ["Cell"]

log = logging.getLogger("trouper")


# --- commands ------------------------------------------------------------------


@attrs.frozen
class _Start:
    cause: BaseException | None


@attrs.frozen
class _Resume:
    pass


@attrs.frozen
class _Fail:
    error: BaseException
    linked: bool = False
    """From a linked actor's failure: kept for the next instance if none runs now."""


@attrs.frozen
class _Exit:
    """The actor stopped itself (``ctx.stop()``)."""


@attrs.frozen
class _Restart:
    cause: BaseException | None
    delay: float


@attrs.frozen
class _Terminate:
    cause: BaseException | None


@attrs.frozen
class _Stop:
    reason: BaseException | None


_Command = _Start | _Resume | _Fail | _Exit | _Restart | _Terminate | _Stop

_EXIT = _Exit()
_RESUME = _Resume()
STOP = _Stop(None)
"""A normal stop (commands are values: this one is shared)."""
_CAN_FAIL = (ActorState.STARTING, ActorState.RUNNING)


def _is_stopped(cell: Cell) -> bool:
    return cell.state is ActorState.STOPPED


# --- asks ------------------------------------------------------------------------


class Ask:
    """An ask in flight: the message, and how its reply reaches the waiting task."""

    __slots__ = ("abandoned", "message", "result", "task")

    def __init__(self, message: object) -> None:
        self.message = message
        self.task: Task | None = None
        self.result: outcome.Outcome[object] | None = None
        self.abandoned = False

    def settle(self, result: outcome.Outcome[object]) -> None:
        """Deliver the reply (or error) to the asker, now or when it parks."""
        task = self.task
        if task is not None:
            self.task = None
            reschedule(task, result)
        elif not self.abandoned:
            self.result = result

    def _abort(self, _: object) -> Abort:
        self.task = None
        self.abandoned = True
        return Abort.SUCCEEDED

    async def wait(self) -> object:
        """Wait for the reply; if cancelled first, the ask is abandoned."""
        if self.result is None:
            self.task = current_task()
            return await wait_task_rescheduled(self._abort)
        return self.result.unwrap()


# --- the cell --------------------------------------------------------------------


class _Bonds:
    """Who watches an actor, whom it watches, and whom it is linked to (made on first use)."""

    __slots__ = ("links", "watchers", "watching")

    def __init__(self) -> None:
        self.watchers: dict[Cell, None] = {}
        self.watching: dict[Cell, None] = {}
        self.links: dict[Cell, None] = {}


class Cell:
    """Runs one actor: its mailbox, its task, its instances, its children."""

    __slots__ = (
        "_bonds",
        "_command",
        "_context",
        "_deferred",
        "_first_start",
        "_guardian",
        "_host_done",
        "_host_scope",
        "_parked",
        "_scope",
        "_spawner",
        "_started",
        "_stop_deadline",
        "_timers",
        "_waiters",
        "actor_class",
        "address",
        "args",
        "child_id",
        "current",
        "exiting",
        "exits",
        "factory",
        "handled",
        "idle",
        "instance",
        "kwargs",
        "mailbox",
        "name",
        "owns_mailbox",
        "parent",
        "ref",
        "restart",
        "restarts",
        "runtime",
        "shutdown",
        "spec",
        "state",
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
        shutdown: float,
        spec: ChildSpec | None = None,
        owns_mailbox: bool = True,
    ) -> None:
        self.runtime = runtime
        self.parent = parent
        self.child_id = child_id
        self.factory = factory
        self.args = args
        self.kwargs = kwargs
        self.name = name
        self.mailbox = mailbox
        self.owns_mailbox = owns_mailbox
        self.throughput = throughput
        self.restart = restart
        self.shutdown = shutdown
        self.spec = spec
        self.address = Address(runtime.node, f"{parent.path}/{child_id}")
        self.ref: ActorRef[object] = ActorRef(self.address, self)
        self.actor_class: type[Actor] = factory if isinstance(factory, type) else Actor
        self.instance: Actor | None = None
        self.state = ActorState.STARTING
        self.task: Task | None = None
        self.handled = 0
        self.restarts = 0
        self._first_start = True
        self.current: Ask | None = None
        self.exiting = False
        self.exits = 0
        self.idle = False
        self.stop_reason: BaseException | None = None
        self._bonds: _Bonds | None = None
        self._command: _Command | None = None
        self._context: Context | None = None
        self._deferred: _Fail | None = None
        self._guardian: Guardian | None = None
        self._host_done: trio.Event | None = None
        self._host_scope: trio.CancelScope | None = None
        self._parked = False
        self._scope: trio.CancelScope | None = None
        self._spawner: Task | None = None
        self._started = False
        self._stop_deadline = math.inf
        self._timers: set[Timer] | None = None
        self._waiters: list[tuple[Task, Callable[[Cell], bool]]] | None = None

    def __repr__(self) -> str:
        return f"<Cell {self.address.path} {self.state.value}>"

    # --- the endpoint: how refs reach the actor ------------------------------

    async def send(self, message: object) -> None:
        """Put ``message`` in the mailbox, waiting while it is full (``ActorRef.tell``)."""
        await checkpoint_if_cancelled()
        mailbox = self.mailbox
        if mailbox.put_nowait(message):
            await cancel_shielded_checkpoint()
        elif mailbox.closed:
            self.dead_letter(message, "actor stopped")
            await cancel_shielded_checkpoint()
        elif not await mailbox.put(message):
            self.dead_letter(message, "actor stopped")

    def send_nowait(self, message: object) -> None:
        """Put ``message`` in the mailbox now (``ActorRef.tell_nowait``)."""
        mailbox = self.mailbox
        if not mailbox.put_nowait(message):
            if mailbox.closed:
                self.dead_letter(message, "actor stopped")
            else:
                raise MailboxFull(self.address, mailbox.size)

    async def ask(self, message: object) -> object:
        """Put an ask in the mailbox and wait for the handler's reply (``ActorRef.ask``)."""
        await checkpoint_if_cancelled()
        mailbox = self.mailbox
        if mailbox.closed:
            self.dead_letter(message, "actor stopped")
            raise ActorStopped(self.address)
        if not self.actor_class.handles(type(message)):
            self.dead_letter(message, "unhandled message")
            raise UnhandledMessage(self.address, type_name(type(message)))
        if self.task is not None and current_task() is self.task:
            raise RuntimeError(
                f"{self.address.path} asked itself from inside its own handler, "
                "which would wait forever: call the method directly or tell instead"
            )
        envelope = Ask(message)
        if not mailbox.put_nowait(envelope) and not await mailbox.put(envelope):
            self.dead_letter(message, "actor stopped")
            raise ActorStopped(self.address)
        return await envelope.wait()

    def dead_letter(self, message: object, reason: str, error: BaseException | None = None) -> None:
        """Report ``message`` to this actor as undeliverable, failing its ask if it is one."""
        if type(message) is Ask:
            message.settle(outcome.Error(ActorStopped(self.address)))
            if message.abandoned:
                return
            message = message.message
        self.runtime.dead_letters.post(DeadLetter(message, self.address, reason, error))

    # --- commands and parking ------------------------------------------------

    def command(self, command: _Command) -> None:
        """Ask the cell's task to do something (see the precedence rules above)."""
        state = self.state
        if state is ActorState.STOPPED:
            return
        kind, pending = type(command), self._command
        if kind is _Stop:
            if type(pending) is _Stop:
                return
            self.stop_reason = command.reason  # type: ignore[union-attr]
            self.exiting = False
            self._apply_stop_deadline(self.runtime.now() + self.shutdown)
        elif type(pending) is _Stop:
            return
        elif kind is _Terminate:
            if self.idle and self.instance is None:
                return  # already ended
            self.exiting = False
        elif kind is _Start:
            if not (self.idle and self.instance is None) or pending is not None:
                return
        elif kind is _Resume or kind is _Restart:
            if not self.exiting:
                return  # a stale answer: the exit it answers is over
            self.exiting = False
        elif self.exiting or state not in _CAN_FAIL:
            # The actor's own exit while no instance runs (or while it already exits).
            if kind is _Fail and command.linked and self._deferred is None:  # type: ignore[union-attr]
                self._deferred = command  # type: ignore[assignment]
            return
        elif pending is not None and not (kind is _Fail and type(pending) is _Exit):
            return
        self._command = command
        self._unpark()

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
        for scope in (self._scope, self._host_scope):
            if scope is not None and deadline < scope.deadline:
                scope.deadline = deadline

    def cancel(self) -> None:
        """Cancel everything the actor is doing now (used when a spawn is cancelled)."""
        self.command(STOP)
        self._stop_deadline = -math.inf
        self._arm_deadline()

    def wake(self) -> None:
        """Resume the parked task (the mailbox calls this when mail arrives)."""
        if self._parked:
            self._parked = False
            reschedule(self.task)  # type: ignore[arg-type]  # parked implies a task

    def _unpark(self) -> None:
        if self._parked:
            self.mailbox.forget(self)
            self._parked = False
            reschedule(self.task)  # type: ignore[arg-type]  # parked implies a task

    def _abort_park(self, _: object) -> Abort:
        self._parked = False
        self.mailbox.forget(self)
        return Abort.SUCCEEDED

    async def _next_command(self) -> _Command:
        if self._command is None:
            self.idle = True
            self.notify()
            try:
                while self._command is None:
                    self._parked = True
                    await wait_task_rescheduled(self._abort_park)
            finally:
                self.idle = False
        command, self._command = self._command, None
        return command

    # --- phases others wait for ------------------------------------------------

    def _set_state(self, state: ActorState) -> None:
        self.state = state
        if self._waiters:
            self.notify()

    async def wait_until(self, done: Callable[[Cell], bool]) -> None:
        """Wait until ``done(self)`` holds; it is checked at each change of state."""
        if done(self):
            return
        if self._waiters is None:
            self._waiters = []
        waiter = (current_task(), done)
        self._waiters.append(waiter)

        def abort(_: object) -> Abort:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    async def wait_stopped(self) -> None:
        """Wait until the actor has stopped for good."""
        await self.wait_until(_is_stopped)

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
            self._started = True
            self.state = ActorState.RUNNING
            self._emit(EventKind.STARTED)
        self.parent.nursery.start_soon(self._run, name=f"trouper {self.address.path}")

    async def wait_first_start(self) -> None:
        """Wait until the first ``on_start`` has run (``spawn`` calls this).

        Raises:
            StartFailed: the first ``on_start`` raised; nothing of the actor runs.
        """
        self._spawner = current_task()

        def abort(_: object) -> Abort:
            self._spawner = None
            self.cancel()
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    def _release_spawner(self, result: outcome.Outcome[None]) -> None:
        spawner, self._spawner = self._spawner, None
        if spawner is not None:
            reschedule(spawner, result)

    async def _run(self) -> None:
        self.task = current_task()
        try:
            with trio.CancelScope(deadline=self._stop_deadline) as self._scope:
                await self._lifecycle()
        finally:
            # Cancelled before its children stopped: cancel them, and let them
            # finalize first (children before parents, names freed in order).
            if self._host_done is not None:
                self._cancel_children()
                await self._join_children()
            self._finalize()

    async def _lifecycle(self) -> None:
        command: _Command = _RESUME if self._started else _Start(None)
        while True:
            kind = type(command)
            if kind is _Start:
                first, self._first_start = self._first_start, False
                error = await self._start_instance(command.cause)  # type: ignore[union-attr]
                if error is not None and first:
                    await self._stop_children()
                    self.stop_reason = error
                    return
                command = _Fail(error) if error is not None else await self._serve()
            elif kind is _Resume:
                self._set_state(ActorState.RUNNING)
                command = await self._serve()
            elif kind is _Fail or kind is _Exit:
                if kind is _Fail and self.state is not ActorState.FAILED:
                    self._report_failure(command.error)  # type: ignore[union-attr]
                self.exiting = True
                self.exits += 1
                self.parent.child_exited(self, getattr(command, "error", None))
                command = await self._next_command()
                self.exiting = False
            elif kind is _Restart:
                await self._end_instance()
                command = await self._pause(command.delay) or _Start(command.cause)  # type: ignore[union-attr]
            elif kind is _Terminate:
                await self._end_instance()
                command = await self._next_command()
            else:
                await self._stop_for_good()
                return

    async def _start_instance(self, cause: BaseException | None) -> BaseException | None:
        self._set_state(ActorState.STARTING)
        self._started = False
        try:
            if self.instance is None:
                assert self._context is not None
                self.instance = instantiate(self._context, self.factory, self.args, self.kwargs)
                self.actor_class = type(self.instance)
            if cause is not None:
                await self.instance.on_restart(cause)
            await self.instance.on_start()
        except Exception as error:
            self._report_failure(error)
            return error
        self._started = True
        self._set_state(ActorState.RUNNING)
        self._emit(EventKind.STARTED)
        self._release_spawner(outcome.Value(None))
        return None

    async def _serve(self) -> _Command:
        """Handle messages until a command arrives or a handler fails (the hot path)."""
        instance = self.instance
        assert instance is not None
        dispatch, resolve = self._handlers(type(instance))
        mailbox = self.mailbox
        items = mailbox.items
        throughput = self.throughput
        budget = throughput
        if self._deferred is not None and self._command is None:
            self._command, self._deferred = self._deferred, None
        while self._command is None:
            if not items:
                mailbox.register(self)
                self._parked = True
                await wait_task_rescheduled(self._abort_park)
                budget = throughput
                continue
            message = items.popleft()
            if mailbox._producers:
                mailbox.admit()
            if type(message) is Ask:
                envelope = message
                if envelope.abandoned:
                    continue
                message = envelope.message
            else:
                envelope = None
            try:
                handler = dispatch[type(message)]
            except KeyError:
                handler = resolve(type(message))
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
            if envelope is not None:
                self.current = None
                if type(result) is Reject:
                    envelope.settle(outcome.Error(result.error))
                else:
                    envelope.settle(outcome.Value(result))
            elif result is not None and type(result) is Reject:
                self.runtime.dead_letters.post(
                    DeadLetter(message, self.address, "rejected", result.error)
                )
            budget -= 1
            if not budget:
                budget = throughput
                await checkpoint()
        command, self._command = self._command, None
        if items and not self.owns_mailbox and mailbox._consumers:
            # A shared mailbox may have spent its wake-up on this cell: pass it on.
            mailbox._wake_one()
        return command

    def _handlers(
        self, actor_class: type[Actor]
    ) -> tuple[Mapping[type, HandlerFunction | None], Callable[[type], HandlerFunction | None]]:
        """The handler table and resolver ``_serve`` uses (a seam for instrumented cells)."""
        return actor_class._trouper_dispatch, actor_class._trouper_resolve

    def _unhandled(self, message: object, envelope: Ask | None) -> None:
        if envelope is not None:
            envelope.settle(outcome.Error(UnhandledMessage(self.address, type_name(type(message)))))
        self.runtime.dead_letters.post(DeadLetter(message, self.address, "unhandled message"))

    def _handler_failed(self, error: Exception, message: object, envelope: Ask | None) -> _Command:
        if envelope is not None:
            failure = HandlerError(self.address, describe(error))
            failure.__cause__ = error
            envelope.settle(outcome.Error(failure))
        self.runtime.dead_letters.post(DeadLetter(message, self.address, "handler failed", error))
        self._report_failure(error)
        return _Fail(error)

    def _report_failure(self, error: BaseException) -> None:
        self._set_state(ActorState.FAILED)
        self._emit(EventKind.FAILED, error)

    async def _pause(self, delay: float) -> _Command | None:
        """Wait out a backoff; return a command (a stop) that cut it short, if any."""
        self._set_state(ActorState.RESTARTING)
        if delay > 0:
            with trio.move_on_after(delay):
                while self._command is None:
                    self._parked = True
                    await wait_task_rescheduled(self._abort_park)
        command, self._command = self._command, None
        return command

    async def _end_instance(self) -> None:
        """End the current instance before a restart: on_stop, then its children.

        Bounded by the actor's ``shutdown`` like a stop: what is still running
        when it passes is cancelled (and has finalized before the new
        instance starts), and the restart goes on.
        """
        self._arm_deadline()
        self._set_state(ActorState.RESTARTING)
        with trio.move_on_after(self.shutdown):
            await self._call_on_stop()
            await self._stop_children()
        self._cancel_children()
        await self._join_children()
        self.instance = None

    async def _stop_for_good(self) -> None:
        instance = self.instance
        if self._guardian is not None or (
            instance is not None and type(instance).on_stop is not Actor.on_stop
        ):
            self._arm_deadline()
        self._set_state(ActorState.STOPPING)
        await self._stop_children()
        await self._call_on_stop()

    async def _call_on_stop(self) -> None:
        self._cancel_timers()
        instance = self.instance
        if instance is None or not self._started:
            return
        self._started = False
        if type(instance).on_stop is Actor.on_stop:
            return
        try:
            await instance.on_stop()
        except Exception:
            log.exception("%s: on_stop raised (ignored, the stop goes on)", self.address.path)

    async def _stop_children(self) -> None:
        self._cancel_timers()
        guardian, self._guardian = self._guardian, None
        if guardian is not None:
            await guardian.shutdown()
        self._cancel_children()

    def _cancel_children(self) -> None:
        """Cancel the children's host (and whatever still runs there); it is done."""
        self._guardian = None
        host, self._host_scope = self._host_scope, None
        if host is not None:
            host.cancel()

    async def _join_children(self) -> None:
        """Wait (shielded) until the children's host task has ended, if there was one."""
        done, self._host_done = self._host_done, None
        if done is not None and not done.is_set():
            with trio.CancelScope(shield=True):
                await done.wait()

    def _cancel_timers(self) -> None:
        if self._timers:
            for timer in tuple(self._timers):
                timer.cancel()

    # --- finalizing ---------------------------------------------------------

    def _finalize(self) -> None:
        """Stopped for good: close the mailbox, free the name, tell everyone (sync)."""
        reason = self.stop_reason
        self._set_state(ActorState.STOPPED)
        self._command = None
        self._scope = None
        self.task = None
        self._cancel_timers()
        if self._spawner is not None:
            # The first start never completed: the spawner learns why only now,
            # once nothing of the actor runs any more.
            failure: BaseException = ActorStopped(self.address)
            if reason is not None:
                failure = StartFailed(self.address, describe(reason))
                failure.__cause__ = reason
            self._release_spawner(outcome.Error(failure))
        if self.current is not None:
            self.current.settle(outcome.Error(ActorStopped(self.address)))
            self.current = None
        if self.owns_mailbox:
            for message in self.mailbox.close():
                self.dead_letter(message, "actor stopped")
        runtime = self.runtime
        if self.name is not None and runtime.names.get(self.name) is self:
            del runtime.names[self.name]
        self._emit(EventKind.STOPPED, reason)
        bonds, self._bonds = self._bonds, None
        if bonds is not None:
            for watched in bonds.watching:
                watched.bonds.watchers.pop(self, None)
            for watcher in bonds.watchers:
                watcher.bonds.watching.pop(self, None)
                watcher.deliver_system(Terminated(self.ref, reason))
            for linked in bonds.links:
                linked.bonds.links.pop(self, None)
                linked.linked_stopped(self, reason)
        self.instance = None
        self.parent.child_stopped(self)

    @property
    def started(self) -> bool:
        """Whether the current instance has completed ``on_start`` (and not stopped)."""
        return self._started

    @property
    def bonds(self) -> _Bonds:
        """Watchers, watched actors and links of this actor (made on first use)."""
        if self._bonds is None:
            self._bonds = _Bonds()
        return self._bonds

    def deliver_system(self, message: object) -> None:
        """Put a system message (Terminated, Exited) in the mailbox, whatever its size."""
        if self.mailbox.closed:
            self.runtime.dead_letters.post(DeadLetter(message, self.address, "actor stopped"))
        else:
            self.mailbox.put_system(message)

    def linked_stopped(self, other: Cell, reason: BaseException | None) -> None:
        """React to a linked actor's stop: an ``Exited`` message, or a failure of our own."""
        if self.actor_class.trap_exits:
            self.deliver_system(Exited(other.ref, reason))
        elif reason is not None:
            failure = LinkedActorFailed(other.address, describe(reason))
            failure.__cause__ = reason
            self.command(_Fail(failure, linked=True))

    def _emit(self, kind: EventKind, reason: BaseException | None = None) -> None:
        events = self.runtime.events
        if events.wants(kind):
            events.emit(
                ActorEvent(
                    kind, self.address, class_label(self.actor_class), reason, self.runtime.now()
                )
            )

    # --- used by the guardian and the context ---------------------------------------

    @property
    def guardian(self) -> Guardian:
        """The supervising side of this actor (its nursery opens with the first child)."""
        if self._guardian is None:
            if self.state in (ActorState.STOPPING, ActorState.STOPPED):
                raise RuntimeError(f"{self.address.path} is stopping: it cannot have children")
            from trouper.runtime._guardian import Guardian

            self._guardian = Guardian(
                self.runtime, None, path=self.address.path, strategy=self._strategy(), owner=self
            )
        return self._guardian

    def _strategy(self) -> Strategy:
        source = self.instance if self.instance is not None else self.actor_class
        return source.supervisor_strategy or self.runtime.default_strategy

    @property
    def children_guardian(self) -> Guardian | None:
        """The guardian if the current instance has (or had) children."""
        return self._guardian

    async def open_children_nursery(self) -> trio.Nursery:
        """Start the host task that holds a nursery for this actor's children; return it."""
        nursery: trio.Nursery = await self.parent.nursery.start(
            self._host, name=f"trouper children of {self.address.path}"
        )
        return nursery

    async def _host(self, *, task_status: trio.TaskStatus[trio.Nursery]) -> None:
        done = self._host_done = trio.Event()
        try:
            with trio.CancelScope(deadline=self._stop_deadline) as self._host_scope:
                async with trio.open_nursery() as nursery:
                    task_status.started(nursery)
                    await trio.sleep_forever()
        finally:
            done.set()

    async def deliver_timer(self, target: ActorRef[object], message: object) -> None:
        """Deliver a timer's message (a seam: instrumented cells trace it)."""
        await target.tell(message)

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
        self.command(_EXIT)

    def reset_for_new_life(self) -> None:
        """Make a stopped child startable again from its spec (same ref, same mailbox)."""
        self.mailbox.reopen()
        self.state = ActorState.STARTING
        self.stop_reason = None
        self._stop_deadline = math.inf
        self._deferred = None
        self._first_start = True
