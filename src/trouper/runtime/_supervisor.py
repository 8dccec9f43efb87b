"""``Supervisor``: an actor whose only job is to run children from specs (OTP's supervisor)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from trouper.actors import Actor, ActorRef, Reject, Request, handler
from trouper.errors import ChildNotFound
from trouper.supervision import ChildInfo, ChildSpec, OneForOne, Strategy, check_unique_ids

__all__ = [
    "DeleteChild",
    "RestartChild",
    "StartChild",
    "StopChild",
    "Supervisor",
    "WhichChildren",
]


@attrs.frozen
class StartChild(Request[ActorRef[object]]):
    """Ask a ``Supervisor`` to start a child from ``spec``; the reply is the child's ref."""

    spec: ChildSpec
    """The new child's spec (its id must be new)."""


@attrs.frozen
class StopChild:
    """Ask a ``Supervisor`` to stop a child for good (its spec is kept)."""

    id: str
    """The child's id."""


@attrs.frozen
class RestartChild(Request[ActorRef[object]]):
    """Ask a ``Supervisor`` to (re)start a child from its spec; the reply is its ref."""

    id: str
    """The child's id."""


@attrs.frozen
class DeleteChild:
    """Ask a ``Supervisor`` to stop a child if needed and forget its spec."""

    id: str
    """The child's id."""


@attrs.frozen
class WhichChildren(Request[list[ChildInfo]]):
    """Ask a ``Supervisor`` for its children; the reply is a list of ``ChildInfo``."""


class Supervisor(Actor):
    """Starts children from specs, in order, and supervises them with a strategy.

    ``on_start`` starts every child in spec order, each after the previous
    one's ``on_start``; if one cannot start, the supervisor's own start fails
    with that cause (and the children already started are stopped). On stop,
    children stop in reverse order. The strategy's give-up fails the
    supervisor; its own supervisor decides what happens to it, and a restart
    starts every spec again with a fresh restart history.

    At run time, ask it ``StartChild``, ``StopChild``, ``RestartChild``,
    ``DeleteChild`` or ``WhichChildren`` (or, from inside, use ``self.ctx``).
    A request it cannot carry out (a duplicate or unknown id, a name already
    taken, a child that cannot start) is rejected: the ``ask`` raises
    ``DuplicateChild``, ``ChildNotFound``, ``NameTaken``, ``StartFailed`` (or
    the factory's own error; ``ValueError`` for a ``RestartChild`` of a child
    not started from a spec, or of a ``TEMPORARY`` one; ``ActorStopped`` for a
    child stopped before its start completed) and the supervisor goes on.

    Raises:
        ValueError: when built with duplicate child ids, children given as an
            iterator (used up by the first instance) or a bad strategy.
    """

    def __init__(
        self, children: Sequence[ChildSpec] = (), *, strategy: Strategy | None = None
    ) -> None:
        if strategy is not None and not isinstance(strategy, Strategy):
            raise ValueError(f"strategy must be a Strategy, got {strategy!r}")
        if isinstance(children, Iterator):
            # The factory's arguments build every instance: a restarted supervisor
            # would find the iterator used up and start no child, silently.
            raise ValueError(
                "children must be a list or tuple of ChildSpec values, not an iterator: "
                "each instance of the supervisor (a restart builds a new one) starts them, "
                f"and an iterator is used up by the first; got {children!r}"
            )
        self.specs = check_unique_ids(children)
        self.supervisor_strategy = strategy or OneForOne()

    async def on_start(self) -> None:
        """Start every child from its spec, in order."""
        for spec in self.specs:
            await self.ctx.start_child(spec)

    @handler
    async def start_child(self, message: StartChild) -> ActorRef[object] | Reject:
        """Start a new child; reply with its ref, or reject why it could not start."""
        try:
            return await self.ctx.start_child(message.spec)
        except Exception as error:  # any start error is the asker's answer (OTP's {error, _})
            return Reject(error)

    @handler
    async def stop_child(self, message: StopChild) -> Reject | None:
        """Stop a child for good (or reject an unknown id)."""
        try:
            await self.ctx.stop_child(message.id)
        except ChildNotFound as error:
            return Reject(error)
        return None

    @handler
    async def restart_child(self, message: RestartChild) -> ActorRef[object] | Reject:
        """Start a child again from its spec; reply with its ref (or reject)."""
        try:
            return await self.ctx.restart_child(message.id)
        except Exception as error:
            # Any start error is the asker's answer, as for StartChild: an unknown id, a
            # child not from a spec or TEMPORARY (ValueError), its name taken, its start
            # failed, or stopped (ActorStopped) before it completed.
            return Reject(error)

    @handler
    async def delete_child(self, message: DeleteChild) -> Reject | None:
        """Stop a child if needed and forget its spec (or reject an unknown id)."""
        try:
            await self.ctx.delete_child(message.id)
        except ChildNotFound as error:
            return Reject(error)
        return None

    @handler
    async def which_children(self, message: WhichChildren) -> list[ChildInfo]:
        """Reply with the children, in start order."""
        return self.ctx.children()
