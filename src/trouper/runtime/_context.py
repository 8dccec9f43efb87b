"""``ActorContext``: the runtime's implementation of ``trouper.actors.Context``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from trio.lowlevel import cancel_shielded_checkpoint

from trouper.actors import Actor, ActorRef, ActorState, Context, Terminated, Timer
from trouper.errors import ChildNotFound, NameTaken
from trouper.runtime import _runtime
from trouper.runtime._cell import STOP, Cell
from trouper.runtime._timers import start_timer
from trouper.supervision import ChildInfo, ChildSpec, Restart

if TYPE_CHECKING:
    from trouper.routing import Router
    from trouper.runtime._runtime import Runtime

__all__ = ["ActorContext"]


class ActorContext(Context):
    """What ``self.ctx`` is for an actor run by a ``Runtime``."""

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

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

    async def spawn(
        self,
        factory: Callable[..., Actor],
        *args: object,
        name: str | None = None,
        mailbox_size: float | None = None,
        throughput: int | None = None,
        restart: Restart | None = None,
        shutdown: float | None = None,
        **kwargs: object,
    ) -> ActorRef[object]:
        """Start a child of this actor; see ``Context.spawn``."""
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
        )
        return cell.ref

    async def spawn_pool(
        self,
        factory: Callable[..., Actor],
        size: int,
        *args: object,
        router: Router | None = None,
        name: str | None = None,
        **kwargs: object,
    ) -> ActorRef[object]:
        """Start a pool of ``size`` actors behind one ref, as a child of this actor."""
        from trouper.routing import spawn_pool

        return await spawn_pool(
            self._cell.guardian, factory, size, *args, router=router, name=name, **kwargs
        )

    def stop(self) -> None:
        """Stop this actor once the running handler returns; see ``Context.stop``."""
        self._cell.stop_self()

    def send_later(self, delay: float, target: ActorRef[object], message: object) -> Timer:
        """Tell ``message`` to ``target`` after ``delay`` seconds, unless cancelled first."""
        return start_timer(self._cell, delay, None, target, message)

    def every(self, interval: float, target: ActorRef[object], message: object) -> Timer:
        """Tell ``message`` to ``target`` every ``interval`` seconds until cancelled."""
        return start_timer(self._cell, interval, interval, target, message)

    def watch(self, ref: ActorRef[object]) -> None:
        """Receive ``Terminated(ref, reason)`` once ``ref`` has stopped for good."""
        me, target = self._cell, _runtime.cell_of(ref)
        if target is me or (me._bonds is not None and target in me._bonds.watching):
            return
        if target.state is ActorState.STOPPED:
            me.deliver_system(Terminated(target.ref, target.stop_reason))
            return
        target.bonds.watchers[me] = None
        me.bonds.watching[target] = None

    def unwatch(self, ref: ActorRef[object]) -> None:
        """Stop watching ``ref``; a ``Terminated`` not yet handled is withdrawn."""
        me, target = self._cell, _runtime.cell_of(ref)
        target.bonds.watchers.pop(me, None)
        me.bonds.watching.pop(target, None)
        items = me.mailbox.items
        for item in [m for m in items if type(m) is Terminated and m.ref == ref]:
            items.remove(item)

    def link(self, ref: ActorRef[object]) -> None:
        """Tie this actor's fate to ``ref``'s, both ways; see ``Context.link``."""
        me, other = self._cell, _runtime.cell_of(ref)
        if other is me or other in me.bonds.links:
            return
        if other.state is ActorState.STOPPED:
            me.linked_stopped(other, other.stop_reason)
            return
        me.bonds.links[other] = None
        other.bonds.links[me] = None

    def unlink(self, ref: ActorRef[object]) -> None:
        """Remove the link with ``ref``, both ways."""
        me, other = self._cell, _runtime.cell_of(ref)
        me.bonds.links.pop(other, None)
        other.bonds.links.pop(me, None)

    async def start_child(self, spec: ChildSpec) -> ActorRef[object]:
        """Start a child from a spec, after the existing children; see ``Context.start_child``."""
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
            restart=spec.restart,
            shutdown=spec.shutdown,
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
        if child.state is ActorState.STOPPED:
            await cancel_shielded_checkpoint()
            return
        child.command(STOP)
        await child.wait_stopped()

    async def restart_child(self, child_id: str) -> ActorRef[object]:
        """Start a stopped child again, or stop and start a running one."""
        child = self._child(child_id)
        if child.spec is None:
            raise ValueError(
                f"child {child_id!r} of {self._cell.address.path} was spawned, not started "
                "from a ChildSpec: only spec children can be restarted by id"
            )
        await self.stop_child(child_id)
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
            ChildInfo(c.child_id, c.ref, c.state, c.restarts, c.restart) for c in guardian.children
        ]
