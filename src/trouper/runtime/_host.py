"""The children's host: the task that holds the nursery an actor's children run in.

Theory of operation
-------------------
Leaf actors (most of them) have no nursery. When an actor spawns its first
child, a small host task starts beside the actor's cell, in the parent's
nursery, and opens a nursery for the children; so the tree of supervisors is
a tree of nurseries. The host sleeps until it is cancelled: by the actor
when its children have been stopped (the instance ends, or the actor stops),
or by the actor's stop deadline, which the actor sets on the host's scope so
that whatever of its subtree still runs then is cancelled too.

``join`` waits (shielded) until the host task has ended, so that the
children have finalized before their parent does.
"""

from __future__ import annotations

import math

import trio

__all__ = ["ChildrenHost"]


class ChildrenHost:
    """The host task of one actor's children, and its cancel scope."""

    __slots__ = ("_deadline", "_done", "_scope")

    def __init__(self, deadline: float = math.inf) -> None:
        self._scope: trio.CancelScope | None = None
        # The host task's scope once it runs; cancelled ends it (and the children).
        self._done = trio.Event()
        # Set when the host task has ended (every child task has ended with it).
        self._deadline = deadline
        # When the host is cancelled at the latest (the owner's stop deadline).

    async def open(self, nursery: trio.Nursery, name: str) -> trio.Nursery:
        """Start the host task in ``nursery``; return the children's nursery."""
        try:
            children: trio.Nursery = await nursery.start(self._run, name=name)
        except BaseException:
            self._done.set()  # a host that never ran has nothing to wait for
            raise
        return children

    async def _run(self, *, task_status: trio.TaskStatus[trio.Nursery]) -> None:
        try:
            with trio.CancelScope(deadline=self._deadline) as self._scope:
                async with trio.open_nursery() as children:
                    task_status.started(children)
                    await trio.sleep_forever()
        finally:
            self._scope = None
            self._done.set()

    def set_deadline(self, deadline: float) -> None:
        """Cancel the host (and its children) at ``deadline`` at the latest."""
        if deadline < self._deadline:
            self._deadline = deadline
            if self._scope is not None:
                self._scope.deadline = deadline

    def cancel(self) -> None:
        """End the host task and whatever still runs in the children's nursery."""
        self._deadline = -math.inf
        if self._scope is not None:
            self._scope.cancel()

    async def join(self) -> None:
        """Wait, shielded from cancellation, until the host task has ended."""
        if not self._done.is_set():
            with trio.CancelScope(shield=True):
                await self._done.wait()
