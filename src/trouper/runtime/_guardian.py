"""The guardian: the supervising half of an actor, or of the runtime's root.

Theory of operation
-------------------
A guardian holds an owner's children in start order and the ``Supervision``
that decides their fate (``trouper.supervision``: pure logic). Children run
as tasks in the owner's nursery (the root's, or the owner's children host).

Supervision flows one way. A child that exits (a failure, or a stop of its
own) reports it with ``child_exited``, which only queues the exit, and parks
(``_lifecycle``: ``FAILED`` or ``EXITING``). The guardian's worker, a task
that runs while there is work, takes one job at a time, as an OTP supervisor
handles one exit at a time:

- an exit: if still current (the child has not been answered or restarted
  since), ask ``Supervision.on_exit`` for a decision and carry it out:
  ``RESUME`` is a command to the child; ``STOP`` a command whose end the
  worker waits for (within the child's shutdown); a restart, of one child or
  of a group, goes through ``_restart``; an escalation or a give-up through
  ``_give_up``;
- a delayed start: the second half of a restart whose backoff has passed.

``_restart`` is the one restart routine: it counts the restart of each member
(``RESTARTED``), ends the group last started first (``TERMINATE``, or ``STOP``
for a temporary child) waiting for each to end, then starts the members in
start order (``START``), each after the previous one's ``on_start``; a member
that fails to start holds the ones after it until its exit is decided (a job
queued behind that exit starts them, unless the decision restarted them). A backoff
is the one wait between the two halves, and it does not hold up the worker:
a timer queues the start as a job when it passes, and the members' restart
tickets say whether the start is still theirs to do (a later restart or a
stop supersedes it).

Give-up (the intensity exceeded, or the strategy escalates): a guardian of
an actor stops every child, last started first, then fails its owner
(``FAIL``), whose own guardian decides. The root has no owner: it stops the
child that exceeded (top-level actors are independent services) and, as the
runtime's options say, fails the runtime.

A child started while the worker carries out a decision (or a restart's
backoff) waits for it under ``OneForAll`` and ``RestForOne``
(``wait_for_decisions``): it depends on the earlier children, which the
restart has stopped, as OTP's supervisor takes ``start_child`` only after the
restart in hand. The owner's own task waiting so waits on the child the worker
waits on (``Cell.waited_on``): that child's handler asking the owner is a
cycle, cut off as any other.

``stop_all`` stops every child, one at a time, last started first, each
within its own deadline, and ends the worker and the pending backoffs. A
guardian whose children depend on none of each other (a pool's members:
``stop_together``) begins every child's stop at once, last started first,
then waits for them all: each still has its own deadline, and the stop takes
as long as the slowest child's instead of the sum of them. The runtime's close
(``asked_at``) keeps the order, but a top-level actor's running handler has
its grace from the close's start, not from its turn.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import trio
from trio.lowlevel import Task, checkpoint, current_task

from trouper._text import class_label, describe
from trouper.actors import Address
from trouper.errors import ChildFailed, RestartIntensityExceeded
from trouper.runtime._ask import ask_chain
from trouper.runtime._cell import Cell, own_cell
from trouper.runtime._lifecycle import Command, Phase
from trouper.runtime._observe import ActorEvent, EventKind
from trouper.supervision import (
    Decision,
    Directive,
    OneForOne,
    Restart,
    Strategy,
    Supervision,
)

if TYPE_CHECKING:
    from trouper.runtime._runtime import Runtime

__all__ = ["Guardian"]


@attrs.frozen
class _Exit:
    """A child's exit waiting for a decision."""

    cell: Cell
    """The child that exited."""
    number: int
    """Its exit number when it reported (the exit is current while it is unchanged)."""
    error: BaseException | None
    """Its error, or ``None`` for a normal exit of its own."""


@attrs.frozen
class _DelayedStart:
    """The second half of a restart, once its backoff has passed."""

    cells: tuple[Cell, ...]
    """The members to start, in start order."""
    tickets: tuple[int, ...]
    """Each member's restart ticket when it was ended: a start is theirs while equal."""
    cause: BaseException | None
    """The failure that caused the restart (for ``on_restart``)."""


def _still_held(cell: Cell, ticket: int) -> bool:
    """Whether a pending start taken with ``ticket`` is still ``cell``'s to carry out.

    It is not once a later restart superseded it (the ticket moved on) or the
    cell was stopped meanwhile (no longer ``ENDED``).
    """
    return cell.restart_ticket == ticket and cell.phase is Phase.ENDED


@attrs.frozen
class _RestartRequest:
    """A restart asked for from outside (``Runtime.restart``), not decided by the strategy."""

    cell: Cell
    """The child to restart."""
    done: trio.Event
    """Set once the new instance has started (or the child stopped meanwhile)."""


_Job = _Exit | _DelayedStart | _RestartRequest

_STOPS_PER_CHECKPOINT = 256
# Children stopped at once (idle, nothing to wait for) between two checkpoints of a
# stop_all: a million idle actors stop without a scheduler round each, and the run
# loop still gets a turn.


def _within(cell: Cell, ancestor: Cell) -> bool:
    """Whether ``cell`` is ``ancestor`` or one of its descendants."""
    current: Cell | None = cell
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent.owner
    return False


def _stopped(cell: Cell) -> bool:
    return cell.phase is Phase.STOPPED


def _ended(cell: Cell) -> bool:
    return cell.phase is Phase.ENDED or cell.phase is Phase.STOPPED


def _settled(cell: Cell) -> bool:
    return cell.phase is not Phase.ENDED and cell.phase is not Phase.STARTING


def _exited(cell: Cell) -> bool:
    return cell.phase is Phase.FAILED or cell.phase is Phase.EXITING


class Guardian:
    """The children of one owner (an actor, or the root) and how they are supervised."""

    __slots__ = (
        "_backoffs",
        "_children",
        "_member",
        "_nursery",
        "_opening",
        "_queue",
        "_quiet",
        "_worker",
        "_worker_task",
        "address",
        "closing",
        "gave_up",
        "owner",
        "path",
        "runtime",
        "stop_together",
        "strategy",
        "supervision",
    )

    def __init__(
        self,
        runtime: Runtime,
        nursery: trio.Nursery | None,
        *,
        path: str,
        strategy: Strategy,
        owner: Cell | None,
    ) -> None:
        self.runtime = runtime
        # The runtime the children run in.
        self.owner = owner
        # The actor whose children these are; None for the root.
        self.path = "" if path == "/" else path
        # The owner's path ("" for the root): the prefix of the children's paths.
        self.address = owner.address if owner is not None else Address(runtime.node, "/")
        # Who reports give-ups (the owner, or the root's "/").
        self.strategy = strategy
        # How the children are supervised; fixed for the guardian's life.
        self.supervision = Supervision(strategy, per_child=owner is None)
        # The decision state: restart history, backoff streaks.
        self.closing = False
        # True once the guardian stops its children for good (it takes no new ones).
        self.stop_together = False
        # Whether ``stop_all`` begins every child's stop at once (a pool's members,
        # which depend on none of each other), so that the stop takes as long as the
        # slowest child's, not the sum of them; else one child after the other.
        self.gave_up: BaseException | None = None
        # Why the owner fails, once this guardian gave up on its children (set before it
        # stops them: an owner still in its first on_start fails its start with it).
        self._nursery = nursery
        # Where the children run; for an actor, opened with the first child.
        self._opening: trio.Event | None = None
        # Set while the owner's children host is being started (others wait on it).
        self._children: dict[str, Cell] = {}
        # The children by id, in start order (insertion order).
        self._queue: deque[_Job] = deque()
        # Jobs waiting for the worker, oldest first.
        self._worker: trio.CancelScope | None = None
        # The worker task's scope while it runs (None: no worker).
        self._worker_task: Task | None = None
        # The worker task, once it has begun (a worker never cancels itself).
        self._backoffs: dict[trio.CancelScope, _DelayedStart] = {}
        # The scopes of backoff timers not yet passed, and the start each one holds.
        self._quiet: trio.Event | None = None
        # Set when the worker ends or moves on to another child (made by a new child
        # waiting for it, else None); a backoff's start is a job of a worker, so its end
        # sets it too.
        self._member: Cell | None = None
        # The child the worker waits on now (to end, stop or start), else None.

    def __repr__(self) -> str:
        return f"<Guardian {self.path or '/'} {len(self._children)} children>"

    @property
    def children(self) -> list[Cell]:
        """The children, in start order (a copy)."""
        return list(self._children.values())

    @property
    def has_children(self) -> bool:
        """Whether any child is listed (running or kept after a stop)."""
        return bool(self._children)

    @property
    def nursery(self) -> trio.Nursery:
        """Where the children run (open once the first child is being spawned)."""
        assert self._nursery is not None, "open() the guardian before starting children"
        return self._nursery

    @property
    def is_open(self) -> bool:
        """Whether the children's nursery exists."""
        return self._nursery is not None

    async def open(self) -> None:
        """Make sure the children's nursery exists (the owner's host task starts it)."""
        while self._nursery is None:
            if self._opening is not None:
                await self._opening.wait()
                continue
            assert self.owner is not None  # the root is given its nursery
            opening = self._opening = trio.Event()
            try:
                self._nursery = await self.owner.open_children_nursery()
            finally:
                self._opening = None
                opening.set()

    def find(self, child_id: str) -> Cell | None:
        """Return the child with this id, or ``None``."""
        return self._children.get(child_id)

    def live_ids(self) -> list[str]:
        """The ids of the children that have not stopped, in start order."""
        return [c.child_id for c in self._children.values() if c.phase is not Phase.STOPPED]

    # --- exits -------------------------------------------------------------------

    def child_exited(self, cell: Cell, number: int, error: BaseException | None) -> None:
        """A child failed (``error``) or stopped itself (``None``): queue it for a decision.

        Never calls back into the child: the worker answers it later. A
        guardian that is closing drops it (``stop_all`` stops every child).
        """
        if not self.closing:
            self._enqueue(_Exit(cell, number, error))

    def _enqueue(self, job: _Job) -> None:
        self._queue.append(job)
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._worker is None and self._queue and not self.closing:
            self._worker = trio.CancelScope()
            self.nursery.start_soon(self._work, name=f"trouper supervisor {self.path or '/'}")

    async def _work(self) -> None:
        """Do the queued jobs one at a time, until none is left."""
        scope = self._worker
        assert scope is not None
        self._worker_task = current_task()
        try:
            with scope:
                while self._queue and not self.closing:
                    job = self._queue.popleft()
                    if type(job) is _Exit:
                        await self._decide(job)
                    elif type(job) is _RestartRequest:
                        try:
                            if not job.cell.stopped:
                                await self._restart_asked(job.cell)
                        finally:
                            job.done.set()
                    else:
                        await self._start_group(job)  # type: ignore[arg-type]
        finally:
            if self._worker is scope:
                self._worker = None
                self._worker_task = None
                self._ensure_worker()  # jobs queued while this worker was ending
                if self._worker is None:
                    self._set_quiet()

    async def wait_for_decisions(self) -> None:
        """Before a child starts: wait for the decisions in hand.

        Under ``OneForAll`` and ``RestForOne`` a child depends on those started
        before it. While the worker carries out a restart (or a restart waits
        for its backoff), some of them are stopped: a child started meanwhile
        (by the owner's ``on_start``, ``StartChild``, ``ctx.spawn``, or again by
        ``RestartChild``) would run
        without them and outside the restart. It starts once the worker is done
        and no restart waits for its backoff, as OTP's supervisor handles a
        ``start_child`` only after the restart it is carrying out. A
        ``OneForOne`` child depends on none: it starts at once.

        The root waits so too (``rt.spawn`` under a group-restarting
        ``root_strategy``). The owner's own task (at the root, any actor's own
        task) waits meanwhile on the child the worker waits on
        (``Cell.waited_on``): that child's handler asking it is cut off
        (or gets ``AskCycle``), as in any cycle of asks. An actor the restart
        ends itself (at the root: the top-level actor it ends, or a descendant
        of it) waits on its own end, which cuts its handler off when it comes. A child whose hook
        (``on_start``, ``on_stop``) already waits on the owner can be cut off
        by nothing: the new child starts at once then, without waiting.
        """
        if isinstance(self.strategy, OneForOne):
            return
        caller = own_cell()
        # The actor whose own task waits here and so holds its mailbox: the owner
        # (a child added by its handler or hooks); at the root (``rt.spawn`` with a
        # group-restarting ``root_strategy``) any actor's. Other tasks block none.
        waiter = caller if self.owner is None or caller is self.owner else None
        while (self._worker is not None or self._backoffs) and not self.closing:
            if self._quiet is None:
                self._quiet = trio.Event()
            moved = self._quiet
            member = self._member
            if member is None or waiter is None:
                await moved.wait()
            elif _within(waiter, member):
                # The restart ends the waiter's own top-level actor (the root's only),
                # the waiter with it, and waits on that: the waiter waits on its own
                # end, which cuts its handler off when it comes (``_cut_waited_on``),
                # as its deadline would later; it starts nothing beside the group.
                with waiter.waited_on():
                    await moved.wait()
            elif member.phase is not Phase.RUNNING and ask_chain(member, waiter) is not None:
                return  # its hook waits on the waiter: the restart can never end first
            else:
                with member.waited_on():
                    await moved.wait()

    def _set_quiet(self) -> None:
        quiet, self._quiet = self._quiet, None
        if quiet is not None:
            quiet.set()

    async def _decide(self, job: _Exit) -> None:
        cell, error = job.cell, job.error
        if not cell.awaiting_decision(job.number):
            return  # stale: answered, restarted or stopped meanwhile
        runtime = self.runtime
        decision = self.supervision.on_exit(
            self.live_ids(),
            cell.child_id,
            cell.restart,
            error,
            runtime.now(),
            runtime.random.random(),
            # An actor whose own children's supervision gave up has lost part of
            # what it was: it can be restarted, never resumed.
            started=cell.started
            and not (cell.children_guardian is not None and cell.children_guardian.closing),
        )
        directive = decision.directive
        if directive is Directive.RESUME:
            cell.command(Command.RESUME)
        elif directive is Directive.STOP:
            cell.command(Command.STOP, error)
            # one exit at a time: this one is over when it has stopped
            await self._wait_for(cell, _stopped)
        elif directive is Directive.RESTART:
            ids = set(decision.restart)
            group = [c for c in self._children.values() if c.child_id in ids]
            await self._restart(group, error, decision.delay)
        else:
            # A give-up may follow a normal exit too: a permanent child that
            # stops itself is restarted, and that counts toward the intensity.
            await self._give_up(cell, error, decision)

    def request_restart(self, cell: Cell) -> trio.Event:
        """Queue a restart of ``cell`` asked for from outside; the event is set when it is done.

        It goes through the one restart routine, like a decided restart (counted
        in ``restart_count`` and reported as ``RESTARTED``), but no strategy
        decided it, so it does not count toward the intensity.
        """
        done = trio.Event()
        if self.closing:
            done.set()
        else:
            self._enqueue(_RestartRequest(cell, done))
        return done

    async def _restart_asked(self, cell: Cell) -> None:
        """Carry out a restart asked for from outside (``Runtime.restart``).

        A child whose group waits stopped in a restart's backoff (``OneForAll``,
        ``RestForOne``) is not started alone, ahead of the members started
        before it, on which it depends: the group's pending start is carried
        out now instead, in start order (the wait cut short, as a restart
        asked for cuts a lone child's wait short), and counts as this restart.
        """
        held = self._held_start(cell)
        if held is None:
            await self._restart([cell], None, 0, asked=True)
            return
        scope, start = held
        del self._backoffs[scope]
        scope.cancel()
        self._count_restart(cell, None)
        await self._start_group(start)

    def _held_start(self, cell: Cell) -> tuple[trio.CancelScope, _DelayedStart] | None:
        """The backoff holding ``cell``'s start with other members of its group, if any."""
        for scope, start in self._backoffs.items():
            if len(start.cells) > 1 and any(
                member is cell and _still_held(member, ticket)
                for member, ticket in zip(start.cells, start.tickets, strict=True)
            ):
                return scope, start
        return None

    # --- the one restart routine ----------------------------------------------------

    async def _restart(
        self, group: list[Cell], cause: BaseException | None, delay: float, *, asked: bool = False
    ) -> None:
        """Restart ``group``: end it last started first, wait ``delay``, start it in order.

        ``asked``: a restart asked for from outside (``rt.restart``), which
        restarts its one child whatever its restart kind.
        """
        # Temporary children are never restarted by a decision: in a group they are
        # stopped (OTP). The kind says what follows an exit; a restart asked for is none.
        # One stopping for good meanwhile is ended with the group, but not restarted.
        restarting = [
            c
            for c in group
            if (asked or c.restart is not Restart.TEMPORARY) and not c.stopping_for_good
        ]
        for cell in restarting:
            self._count_restart(cell, cause)
        for cell in reversed(group):
            cell.restart_ticket += 1
            if cell.restart is Restart.TEMPORARY and not asked:
                cell.command(Command.STOP)
                await self._wait_for(cell, _stopped)
            else:
                cell.command(Command.TERMINATE)
                await self._wait_for(cell, _ended)
        start = _DelayedStart(tuple(restarting), tuple(c.restart_ticket for c in restarting), cause)
        if delay > 0:
            # Listed now, not when its task begins: a child waiting for the restart
            # (wait_for_decisions) must not find it neither in hand nor in a backoff.
            scope = trio.CancelScope()
            self._backoffs[scope] = start
            self.nursery.start_soon(self._after_backoff, start, delay, scope)
        else:
            await self._start_group(start)

    async def _after_backoff(
        self, start: _DelayedStart, delay: float, scope: trio.CancelScope
    ) -> None:
        with scope:
            try:
                await trio.sleep(delay)
            finally:
                self._backoffs.pop(scope, None)
            if not self.closing:
                self._enqueue(start)

    async def _start_group(self, start: _DelayedStart) -> None:
        cells, tickets = start.cells, start.tickets
        for index, (cell, ticket) in enumerate(zip(cells, tickets, strict=True)):
            if self.closing:
                return
            if not _still_held(cell, ticket):
                continue  # superseded by a later restart, or stopped meanwhile
            cell.command(Command.START, start.cause)
            await self._wait_for(cell, _settled)
            if _exited(cell):
                # It exited again, and its exit is queued: the members after it (which
                # may depend on it) wait for the decision, as OTP starts none after a
                # child that failed to start. Queued behind that exit, the rest is
                # started then unless the decision restarted them (their tickets moved).
                if index + 1 < len(cells):
                    self._enqueue(
                        _DelayedStart(cells[index + 1 :], tickets[index + 1 :], start.cause)
                    )
                return

    async def _wait_for(self, cell: Cell, done: Callable[[Cell], bool]) -> None:
        """Wait until ``done(cell)``; an owner waiting for decisions waits on ``cell`` meanwhile."""
        self._member = cell
        self._set_quiet()  # (wakes such an owner: it waits on this child now)
        try:
            await cell.wait_until(done)
        finally:
            self._member = None

    def _count_restart(self, cell: Cell, cause: BaseException | None) -> None:
        cell.restart_count += 1
        self.runtime.instruments.restarted(cell, cause)

    # --- giving up ------------------------------------------------------------------

    async def _give_up(self, cell: Cell, error: BaseException | None, decision: Decision) -> None:
        failure: BaseException
        if decision.gave_up or error is None:  # (only a failure escalates by directive)
            failure = RestartIntensityExceeded(
                cell.address, self.strategy.max_restarts, self.strategy.within, error is None
            )
        else:
            failure = ChildFailed(cell.address, describe(error))
        failure.__cause__ = error
        runtime = self.runtime
        owner = "root" if self.owner is None else class_label(self.owner.actor_class)
        runtime.events.emit(
            ActorEvent(EventKind.GAVE_UP, self.address, owner, failure, runtime.now())
        )
        if self.owner is None:
            # Top-level actors are independent services: stop only the offender.
            cell.command(Command.STOP, error)
            if not (decision.gave_up and runtime.on_root_give_up == "stop"):
                runtime.escalated(cell, failure)
            return
        self.gave_up = failure
        await self.stop_all(failed=cell, error=error)
        self.owner.command(Command.FAIL, failure)

    # --- stopping ---------------------------------------------------------------

    async def stop_all(
        self,
        *,
        failed: Cell | None = None,
        error: BaseException | None = None,
        budget: float = math.inf,
        asked_at: float | None = None,
    ) -> bool:
        """Stop every child for good, last started first, each within its shutdown deadline.

        The guardian takes no new children and no new decisions from now on.
        ``budget`` bounds the seconds spent *waiting* for children to stop (the
        runtime's ``shutdown_timeout``); stopping children that stop at once
        (idle, nothing to wait for) costs none of it. Returns ``False`` if the
        budget ran out before every child had stopped.

        ``asked_at`` (the runtime's close: every stop was asked for then, at
        once) counts a child's grace for its running handler from then, not
        from its turn: a handler still running when its turn comes is cut off
        at ``asked_at`` plus the child's ``shutdown`` at the latest, so the
        graces of handlers held up together do not add up one after the
        other. Each child still stops in its turn (the ones started after it
        have stopped, so it serves them while they do), and the rest of its
        stop (its children, ``on_stop``) has its own deadline from its turn.
        """
        self.closing = True
        self._set_quiet()  # (a child waiting to start is refused now)
        self._drop_queue()
        worker = self._worker
        if worker is not None and self._worker_task is not current_task():
            worker.cancel()
        for scope in tuple(self._backoffs):
            scope.cancel()
        at_once = 0
        children = tuple(reversed(self._children.values()))
        if self.stop_together:
            # Every stop begins now, last started first; the loop below then only
            # waits, so each child's deadline runs from here, not from its turn.
            for cell in children:
                if cell.phase is Phase.STOPPED:
                    continue
                cell.command(Command.STOP, error if cell is failed else None)
                if cell.stopped:
                    at_once += 1
                    if not at_once % _STOPS_PER_CHECKPOINT:
                        await checkpoint()
        for cell in children:
            if cell.phase is Phase.STOPPED:
                continue
            if not self.stop_together:
                cell.command(Command.STOP, error if cell is failed else None)
                if asked_at is not None:
                    cell.cut_running_at(asked_at + cell.stop_timeout)
            if cell.stopped:  # stopped at once: nothing to wait for
                at_once += 1
                if not at_once % _STOPS_PER_CHECKPOINT:
                    await checkpoint()
                continue
            start = trio.current_time()
            with trio.move_on_after(budget) as waiting:
                await cell.wait_stopped()
            if waiting.cancelled_caught:
                return False
            budget -= trio.current_time() - start
        await checkpoint()
        return True

    def _drop_queue(self) -> None:
        """Forget the jobs not begun; a restart asked for from outside is over (not done)."""
        queue = self._queue
        while queue:
            job = queue.popleft()
            if type(job) is _RestartRequest:
                job.done.set()  # its caller returns: the child is stopped, not restarted

    def child_stopped(self, cell: Cell) -> None:
        """A child stopped for good: forget it, unless its spec keeps it listed."""
        if cell.spec is None or cell.spec.restart is Restart.TEMPORARY:
            self.remove(cell)
            self.supervision.forget(cell.child_id)

    def add(self, cell: Cell) -> None:
        """Append a new child (it starts after the existing ones)."""
        self._children[cell.child_id] = cell

    def remove(self, cell: Cell) -> None:
        """Forget a child (if it is still this guardian's)."""
        if self._children.get(cell.child_id) is cell:
            del self._children[cell.child_id]
