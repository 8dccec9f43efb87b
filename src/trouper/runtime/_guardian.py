"""The guardian: the supervising half of an actor, or of the runtime's root.

Theory of operation
-------------------
A guardian holds an owner's children in start order and the ``Supervision``
that decides their fate (``trouper.supervision``: pure logic). Children run
as tasks in the owner's nursery; the guardian never touches a child's
instance, it only sends the child's cell commands and waits for the phase it
expects (see ``_cell``).

When a child exits (a failure, or a stop of its own) its cell calls
``child_exited`` and parks. Decisions that need no waiting are carried out
at once: resume, restart one child (the child restarts itself, backoff
included), stop it. Decisions that need waiting (restarting a group of
children in order, giving up) go to the guardian's worker, a task that does
one such job at a time, exactly as an OTP supervisor handles one exit at a
time. While the worker is busy, further exits queue behind it; when their
turn comes, an exit from a child that has been restarted meanwhile is stale
and is dropped (OTP flushes those EXIT messages too).

Give-up (the intensity exceeded, or the strategy escalates): the guardian
stops every child, last started first, then fails its owner, whose own
guardian decides. The root has no owner: it either stops the child that
exceeded (the default: top-level actors are independent services) or fails
the runtime.

``shutdown`` stops every child, one at a time, last started first, each
within its own ``shutdown`` deadline, and ends the worker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

import trio

from trouper._text import class_label, describe
from trouper.actors import ActorState, Address
from trouper.errors import ChildFailed, RestartIntensityExceeded
from trouper.runtime._cell import STOP, Cell, _Fail, _Restart, _Resume, _Start, _Stop, _Terminate
from trouper.runtime._observe import ActorEvent, EventKind
from trouper.supervision import Decision, Directive, Restart, Strategy, Supervision

if TYPE_CHECKING:
    from trouper.runtime._runtime import Runtime

__all__ = ["Guardian"]


_Job = Callable[[], Awaitable[None]]


def _ended(cell: Cell) -> bool:
    """The cell's instance has ended and it waits to be started (or it stopped)."""
    return cell.state is ActorState.STOPPED or (cell.idle and cell.instance is None)


def _settled(cell: Cell) -> bool:
    """The cell started (running), failed to, or stopped."""
    return cell.state in (ActorState.RUNNING, ActorState.FAILED, ActorState.STOPPED)


class Guardian:
    """The children of one owner (an actor, or the root) and how they are supervised."""

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
        self._nursery = nursery
        self.path = "" if path == "/" else path
        self.strategy = strategy
        self.owner = owner
        self.address = owner.address if owner is not None else Address(runtime.node, "/")
        self.supervision = Supervision(strategy, per_child=owner is None)
        # Insertion-ordered: iteration is start order, lookup and removal are O(1).
        self._children: dict[str, Cell] = {}
        self.closing = False
        self._queue: deque[tuple[Cell, int, BaseException | None]] = deque()
        self._busy = False
        self._worker_scope: trio.CancelScope | None = None
        self._opening: trio.Event | None = None

    def __repr__(self) -> str:
        return f"<Guardian {self.path or '/'} {len(self._children)} children>"

    @property
    def children(self) -> list[Cell]:
        """The children, in start order (a copy)."""
        return list(self._children.values())

    @property
    def nursery(self) -> trio.Nursery:
        """Where the children run (open once the first child is being spawned)."""
        assert self._nursery is not None, "open() the guardian before starting children"
        return self._nursery

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

    def check_open(self) -> None:
        """Raise ``RuntimeError`` if the guardian takes no new children."""
        if self.closing:
            where = self.path or "the runtime"
            raise RuntimeError(f"{where} is stopping: it cannot start new children")

    def live_ids(self) -> list[str]:
        """The ids of the children that have not stopped, in start order."""
        return [c.child_id for c in self._children.values() if c.state is not ActorState.STOPPED]

    # --- exits -------------------------------------------------------------------

    def child_exited(self, cell: Cell, error: BaseException | None) -> None:
        """A child failed (``error``) or stopped itself (``None``) and waits for a decision."""
        if self.closing:
            cell.command(_Stop(error))
        elif self._busy:
            self._queue.append((cell, cell.exits, error))
        else:
            job = self._decide(cell, error)
            if job is not None:
                self._busy = True
                self.nursery.start_soon(self._work, job, name=f"trouper guardian {self.path}")

    def _decide(self, cell: Cell, error: BaseException | None) -> _Job | None:
        """Carry out a decision that needs no waiting; return the job for one that does."""
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
            cell.command(_Resume())
        elif directive is Directive.STOP:
            cell.command(_Stop(error))
        elif directive is Directive.RESTART:
            if decision.restart != (cell.child_id,):
                return partial(self._restart_group, error, decision)
            self._count_restart(cell, error)
            cell.command(_Restart(error, decision.delay))
        else:
            assert error is not None  # a normal exit never escalates
            return self._escalate(cell, error, decision)
        return None

    def _count_restart(self, cell: Cell, error: BaseException | None) -> None:
        cell.restarts += 1
        events = self.runtime.events
        if events.wants(EventKind.RESTARTED):
            events.emit(
                ActorEvent(
                    EventKind.RESTARTED,
                    cell.address,
                    class_label(cell.actor_class),
                    error,
                    self.runtime.now(),
                )
            )

    def _escalate(self, cell: Cell, error: BaseException, decision: Decision) -> _Job | None:
        failure: BaseException
        if decision.gave_up:
            failure = RestartIntensityExceeded(
                cell.address, self.strategy.max_restarts, self.strategy.within
            )
        else:
            failure = ChildFailed(cell.address, describe(error))
        failure.__cause__ = error
        owner = "root" if self.owner is None else class_label(self.owner.actor_class)
        self.runtime.events.emit(
            ActorEvent(EventKind.GAVE_UP, self.address, owner, failure, self.runtime.now())
        )
        if self.owner is None:
            self.runtime.root_escalation(cell, error, failure, gave_up=decision.gave_up)
            return None
        return partial(self._give_up, cell, error, failure)

    # --- the worker ------------------------------------------------------------

    async def _work(self, job: _Job) -> None:
        """Do waiting jobs one at a time, then the exits that queued meanwhile."""
        with trio.CancelScope() as scope:
            self._worker_scope = scope
            try:
                next_job: _Job | None = job
                while next_job is not None:
                    await next_job()
                    next_job = None
                    while next_job is None and self._queue and not self.closing:
                        cell, exit_number, error = self._queue.popleft()
                        # Stale if the exit was answered meanwhile (or the cell stopped).
                        if cell.exiting and cell.exits == exit_number:
                            next_job = self._decide(cell, error)
            finally:
                self._worker_scope = None
                self._busy = False

    async def _restart_group(self, error: BaseException | None, decision: Decision) -> None:
        ids = set(decision.restart)
        group = [c for c in self._children.values() if c.child_id in ids]
        # Temporary children are never restarted: in a group they are stopped (OTP).
        restarting = [c for c in group if c.restart is not Restart.TEMPORARY]
        for cell in restarting:
            self._count_restart(cell, error)
        for cell in reversed(group):
            if cell.restart is Restart.TEMPORARY:
                cell.command(STOP)
                await cell.wait_stopped()
            else:
                cell.command(_Terminate(error))
                await cell.wait_until(_ended)
        if decision.delay > 0:
            await trio.sleep(decision.delay)
        for cell in restarting:
            if self.closing:
                return
            if cell.state is ActorState.STOPPED:
                continue
            cell.command(_Start(error))
            await cell.wait_until(_settled)
            # A cell that failed again has its failure queued behind this job;
            # its siblings are started all the same, so none is left waiting.

    async def _give_up(self, failed: Cell, error: BaseException, failure: BaseException) -> None:
        self.closing = True
        await self._stop_all(failed, error)
        assert self.owner is not None
        self.owner.command(_Fail(failure))

    # --- stopping ---------------------------------------------------------------

    async def _stop_all(
        self, failed: Cell | None = None, error: BaseException | None = None
    ) -> None:
        for cell in reversed(tuple(self._children.values())):
            if cell.state is not ActorState.STOPPED:
                cell.command(_Stop(error if cell is failed else None))
                await cell.wait_stopped()

    async def shutdown(self) -> None:
        """Stop every child, last started first, each within its shutdown deadline."""
        self.closing = True
        self._queue.clear()
        if self._worker_scope is not None:
            self._worker_scope.cancel()
        await self._stop_all()

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
