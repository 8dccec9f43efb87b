"""``Portal``: how code on other threads talks to actors (Trio's ``from_thread``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import trio

from trouper.actors import Actor, ActorRef

if TYPE_CHECKING:
    from trouper.runtime._runtime import Runtime

__all__ = ["Portal"]

T = TypeVar("T")


class Portal:
    """Tell, ask and spawn from a thread that is not the runtime's Trio thread.

    Each call blocks the calling thread until the Trio side has done the
    work, and re-raises there what the Trio side raised. Calling a portal
    from the runtime's own thread raises ``RuntimeError`` (use the async API
    there). Typical users: a synchronous web framework's request handlers, a
    CLI, a worker started with ``trio.to_thread.run_sync``.
    """

    __slots__ = ("_runtime", "_token")

    def __init__(self, token: trio.lowlevel.TrioToken, runtime: Runtime) -> None:
        self._token = token
        self._runtime = runtime

    def run(self, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run ``await fn(*args)`` in the runtime's thread and return its result."""
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def tell(self, ref: ActorRef[object], message: object) -> None:
        """``await ref.tell(message)`` from this thread (waits while the mailbox is full)."""
        self.run(ref.tell, message)

    def ask(
        self, ref: ActorRef[object], message: object, *, timeout: float | None = None
    ) -> object:
        """``await ref.ask(message)`` from this thread and return the reply.

        A blocking call from a plain thread has no cancel scope to take a
        deadline from, so this one takes ``timeout`` (seconds, ``None`` for
        none) and raises ``trio.TooSlowError`` when it passes.
        """
        if timeout is None:
            return self.run(ref.ask, message)

        async def ask_within() -> object:
            with trio.fail_after(timeout):
                return await ref.ask(message)

        return self.run(ask_within)

    def spawn(
        self, factory: Callable[..., Actor], *args: object, name: str | None = None
    ) -> ActorRef[object]:
        """``await runtime.spawn(factory, *args, name=name)`` from this thread."""

        async def spawn() -> ActorRef[object]:
            return await self._runtime.spawn(factory, *args, name=name)

        return self.run(spawn)
