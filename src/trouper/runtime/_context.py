"""``ActorContext``: the runtime's implementation of ``trouper.actors.Context``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from trio.lowlevel import cancel_shielded_checkpoint

from trouper.actors import (
    IN_MEMORY_DELIVERY,
    Actor,
    ActorRef,
    Context,
    DeliveryInfo,
    Timer,
)
from trouper.errors import ActorStopped, ChildNotFound, NameTaken
from trouper.runtime import _runtime
from trouper.runtime._cell import Cell
from trouper.runtime._lifecycle import Command, Phase
from trouper.runtime._timers import start_timer
from trouper.supervision import ChildInfo, ChildSpec, Restart

if TYPE_CHECKING:
    from trouper.routing import Router
    from trouper.runtime._runtime import MailboxFactory, Runtime

__all__ = ["ActorContext"]


class ActorContext(Context):
    """What ``self.ctx`` is for an actor run by a ``Runtime``."""

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        # The cell of the actor this context belongs to (every instance shares it).

    def _living(self) -> Cell:
        """This actor's cell, unless it has stopped for good (a context kept after the stop).

        Raises:
            ActorStopped: the actor has stopped for good: a bond or a child made
                now would never be released (nobody would learn of it).
        """
        cell = self._cell
        if cell.phase is Phase.STOPPED:
            raise ActorStopped(cell.address)
        return cell

    @property
    def self_ref(self) -> ActorRef[object]:
        """This actor's own ref (stable across restarts)."""
        return self._cell.ref

    @property
    def runtime(self) -> Runtime:
        """The runtime this actor runs in."""
        return self._cell.runtime

    @property
    def parent(self) -> ActorRef[object] | None:
        """The supervising actor's ref, or ``None`` for a top-level actor."""
        owner = self._cell.parent.owner
        return None if owner is None else owner.ref

    @property
    def delivery(self) -> DeliveryInfo:
        """How the message being handled was delivered (see ``Context.delivery``)."""
        delivery = self._cell.delivery
        return IN_MEMORY_DELIVERY if delivery is None else cast(DeliveryInfo, delivery)

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
        """Start a child of this actor; see ``Context.spawn``.

        Raises:
            ActorStopped: this actor has stopped for good (a context kept after it).
        """
        cell = await _runtime.spawn_cell(
            self._cell.runtime,
            self._cell.guardian,
            factory,
            args,
            kwargs,
            name=name,
            mailbox_size=mailbox_size,
            throughput=throughput,
            restart=restart,
            shutdown=shutdown,
            mailbox=mailbox,
        )
        return cell.ref

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

        Raises:
            ActorStopped: this actor has stopped for good (a context kept after it).
        """
        cell = self._cell
        pools = cast("_runtime._Pools", cell.runtime.extension("pools"))
        return await pools.spawn(
            cell.guardian,
            factory,
            size,
            *args,
            router=router,
            name=name,
            mailbox_size=mailbox_size,
            throughput=throughput,
            restart=restart,
            shutdown=shutdown,
            **kwargs,
        )

    def stop(self) -> None:
        """Stop this actor once the running handler returns; see ``Context.stop``."""
        self._cell.stop_self()

    def send_later(self, delay: float, target: ActorRef[object], message: object) -> Timer:
        """Tell ``message`` to ``target`` after ``delay`` seconds, unless cancelled first.

        Raises:
            ActorStopped: this actor has stopped for good (a context kept after it).
            RuntimeError: called from outside the runtime's Trio run (another thread).
            ValueError: ``target`` is an actor of a runtime in another thread,
                which no tell from this one reaches; nothing is scheduled.
        """
        return start_timer(self._living(), delay, None, target, message)

    def every(self, interval: float, target: ActorRef[object], message: object) -> Timer:
        """Tell ``message`` to ``target`` every ``interval`` seconds until cancelled.

        Raises:
            ActorStopped: this actor has stopped for good (a context kept after it):
                its timers are cancelled when it stops, and this one never would be.
            RuntimeError: called from outside the runtime's Trio run (another thread).
            ValueError: ``target`` is an actor of a runtime in another thread,
                which no tell from this one reaches; nothing is scheduled.
        """
        return start_timer(self._living(), interval, interval, target, message)

    def watch(self, ref: ActorRef[object]) -> None:
        """Receive ``Terminated(ref, reason)`` once ``ref`` has stopped for good.

        Goes through the ref's endpoint, so a pool or a remote actor is watched
        as a local one is.

        Raises:
            TypeError: ``ref`` is not a ref, or its endpoint has no ``watch`` and
                ``unwatch``; nothing is recorded.
            ValueError: ``ref`` is a ref to an actor of another runtime; nothing
                is recorded.
            ActorStopped: this actor has stopped for good (a context kept after
                it): nothing is recorded, the watched side never holds a stale watcher.
        """
        me = self._living()
        _runtime.check_ref(ref, "watch", me.runtime)
        if ref == me.ref or (me._bonds is not None and ref in me._bonds.watching):
            return
        endpoint = ref.endpoint
        if type(endpoint) is Cell and endpoint.phase is Phase.STOPPED and me.awaits_terminated(ref):
            return  # already told, not yet handled: watching twice gives one Terminated
        watch = getattr(endpoint, "watch", None)
        if watch is None or not callable(getattr(endpoint, "unwatch", None)):
            # Checked before anything is recorded: a watch kept for a ref that cannot be
            # unwatched would fail this actor's own stop.
            raise TypeError(f"{ref!r} cannot be watched: its endpoint does not support watching")
        me.bonds.watching[ref] = None
        try:
            watch(me)
        except BaseException:
            me.bonds.watching.pop(ref, None)
            raise

    def unwatch(self, ref: ActorRef[object]) -> None:
        """Stop watching ``ref``; a ``Terminated`` not yet handled is withdrawn."""
        me = self._cell
        _runtime.check_ref(ref, "unwatch", me.runtime)
        if me._bonds is not None and ref in me._bonds.watching:
            del me._bonds.watching[ref]
            _unwatch(ref, me)
        me.withdraw_notices(ref)

    def link(self, ref: ActorRef[object]) -> None:
        """Tie this actor's fate to ``ref``'s, both ways; see ``Context.link``.

        Raises:
            TypeError: ``ref`` is not a ref to an actor of this process.
            ValueError: ``ref`` is a ref to an actor of another runtime.
            ActorStopped: this actor has stopped for good (a context kept after
                it): no link is recorded on either side.
        """
        me = self._living()
        other = _local(me, ref, "link")
        if other is me or other in me.bonds.links:
            return
        if other.phase is Phase.STOPPED:
            me.linked_stopped(other, other.stop_reason)
            return
        me.bonds.links[other] = None
        other.bonds.links[me] = None

    def unlink(self, ref: ActorRef[object]) -> None:
        """Remove the link with ``ref``, both ways."""
        me = self._cell
        other = _local(me, ref, "unlink")
        me.bonds.links.pop(other, None)
        other.bonds.links.pop(me, None)

    async def start_child(self, spec: ChildSpec) -> ActorRef[object]:
        """Start a child from a spec, after the existing children; see ``Context.start_child``.

        Raises:
            ActorStopped: this actor has stopped for good (a context kept after it).
        """
        if not isinstance(spec, ChildSpec):
            raise TypeError(f"start_child takes a ChildSpec, got {spec!r}")
        cell = await _runtime.spawn_cell(
            self._cell.runtime,
            self._cell.guardian,
            spec.factory,
            spec.args,
            dict(spec.kwargs),
            name=spec.name,
            mailbox_size=spec.mailbox_size,
            throughput=spec.throughput,
            restart=spec.restart,
            shutdown=spec.shutdown,
            mailbox=cast("MailboxFactory | None", spec.mailbox),
            spec=spec,
        )
        return cell.ref

    def _child(self, child_id: str) -> Cell:
        guardian = self._cell.children_guardian
        child = None if guardian is None else guardian.find(child_id)
        if child is None:
            raise ChildNotFound(self._cell.address, child_id)
        return child

    async def stop_child(self, child_id: str) -> None:
        """Stop a child for good; see ``Context.stop_child``."""
        child = self._child(child_id)
        if child.phase is Phase.STOPPED:
            await cancel_shielded_checkpoint()
            return
        child.command(Command.STOP)
        await child.wait_stopped()

    async def restart_child(self, child_id: str) -> ActorRef[object]:
        """Start a stopped child again, or stop and start a running one."""
        child = self._child(child_id)
        if child.spec is None:
            raise ValueError(
                f"child {child_id!r} of {self._cell.address.path} was spawned, not started "
                "from a ChildSpec: only spec children can be restarted by id"
            )
        if child.spec.restart is Restart.TEMPORARY:
            # Its stop would take it off the list (OTP deletes a temporary child's spec):
            # started again, it would run unsupervised, never stopped with its parent.
            raise ValueError(
                f"child {child_id!r} of {self._cell.address.path} is TEMPORARY: it is never "
                "started again; start a new one with StartChild"
            )
        # (as a new child: after a group restart in hand, not beside it)
        guardian = self._cell.guardian
        await guardian.wait_for_decisions()
        await self.stop_child(child_id)
        await child.wait_task_ended()  # (not beside the stopped life's task)
        # Again: a sibling's failure may have begun a group restart while the child
        # stopped, and that restart, which found it stopping, does not start it again.
        # A new life begun in its midst would be ended with the group and never started.
        await guardian.wait_for_decisions()
        if guardian.closing:
            raise RuntimeError(f"{guardian.path} is stopping: it cannot start new children")
        names = self._cell.runtime.names
        if child.name is not None:
            if child.name in names:
                raise NameTaken(child.name)
            names[child.name] = child
        child.reset_for_new_life()
        child.begin(None)
        await child.wait_first_start()
        return child.ref

    async def delete_child(self, child_id: str) -> None:
        """Stop a child if it runs and forget its spec."""
        child = self._child(child_id)
        await self.stop_child(child_id)
        guardian = self._cell.guardian
        guardian.remove(child)
        guardian.supervision.forget(child_id)

    def children(self) -> list[ChildInfo]:
        """This actor's children, in start order."""
        guardian = self._cell.children_guardian
        if guardian is None:
            return []
        return [
            ChildInfo(c.child_id, c.ref, c.state, c.restart_count, c.restart)
            for c in guardian.children
        ]


def _unwatch(ref: ActorRef[object], watcher: Cell) -> None:
    unwatch = getattr(ref.endpoint, "unwatch", None)
    if unwatch is not None:
        unwatch(watcher)


def _local(me: Cell, ref: ActorRef[object], what: str) -> Cell:
    _runtime.check_ref(ref, what, me.runtime)
    try:
        return _runtime.cell_of(ref)
    except TypeError:
        raise TypeError(
            f"cannot {what} {ref!r}: links tie actors of one process only; "
            "watch a remote actor instead (ctx.watch), which reports its stop"
        ) from None
