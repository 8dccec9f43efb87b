"""``Portal``: how code on other threads talks to actors (Trio's ``from_thread``)."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import trio

from trouper.actors import Actor, ActorRef
from trouper.errors import RuntimeClosed

if TYPE_CHECKING:
    from trouper.runtime._runtime import Runtime
    from trouper.topics import Subscription

__all__ = ["Portal"]

T = TypeVar("T")


class Portal:
    """Tell, ask, spawn and publish from a thread that is not the runtime's Trio thread.

    Each call blocks the calling thread until the Trio side has done the
    work, and re-raises there what the Trio side raised. Called from the
    thread that hosts the runtime (its Trio thread, or the asyncio loop that
    hosts Trio as a guest) it raises ``RuntimeError`` at once instead of
    waiting for itself forever; use the async API there (or ``trouper.aio``).
    Once the runtime has stopped, calls raise ``RuntimeClosed``, and so does
    a call still running when it ends (it is cancelled then). Typical
    users: a synchronous web framework's request handlers, a CLI, a worker
    started with ``trio.to_thread.run_sync``.

    The calls that take a ref take an ``ActorRef``: anything else (a name,
    ``trouper.aio``'s ``AioRef``, whose ``ActorRef`` is ``aio_ref.ref``) raises
    ``TypeError`` in the calling thread, before anything crosses.
    """

    __slots__ = ("_runtime", "_thread", "_token")

    def __init__(self, token: trio.lowlevel.TrioToken, runtime: Runtime, thread: int) -> None:
        self._token = token
        # The Trio run's token: what ``from_thread`` schedules work through.
        self._runtime = runtime
        # The runtime the portal talks to.
        self._thread = thread
        # The id of the thread that hosts the runtime (where the portal must not be used).

    def run(self, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run ``await fn(*args)`` in the runtime's thread and return its result.

        Raises:
            RuntimeError: called from the thread that hosts the runtime.
            RuntimeClosed: the runtime has stopped, or it ended during the call
                (what still ran then was cancelled), or so did its Trio run.
        """
        if threading.get_ident() == self._thread:
            raise RuntimeError(
                "the portal was called from the thread that hosts the runtime, where it "
                "would wait for itself forever: use the async API there (await ref.ask(...)), "
                "or trouper.aio from asyncio code"
            )
        runtime = self._runtime
        if runtime.closed:
            raise RuntimeClosed(runtime.node)
        try:
            return trio.from_thread.run(self._bound, fn, *args, trio_token=self._token)
        except (trio.RunFinishedError, trio.Cancelled):
            # Cancelled: the task running the call was cancelled, which Trio
            # does to such tasks only as the run ends, with the runtime gone.
            raise RuntimeClosed(runtime.node) from None

    async def _bound(self, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """``await fn(*args)`` in a task of Trio's own, cancelled as the runtime ends.

        Trio runs a call from a thread in a system task, which only the end of
        the whole run cancels: a call the runtime's end did not finish (one
        waiting on something other than its actors) kept the thread waiting
        after the runtime had gone, for good while the run went on.
        """
        runtime = self._runtime
        if runtime.closed:  # (closed between the thread's check and now)
            raise RuntimeClosed(runtime.node)
        calls = runtime._portal_calls
        with trio.CancelScope() as scope:
            calls.add(scope)
            try:
                return await fn(*args)
            finally:
                calls.discard(scope)
        raise RuntimeClosed(runtime.node)  # cancelled as the runtime ended

    def tell(self, ref: ActorRef[object], message: object) -> bool:
        """``await ref.tell(message)`` from this thread (waits while the mailbox is full).

        Returns what ``tell`` returns: whether the message reached the mailbox
        (``False``: it became a dead letter, its actor stopped).
        """
        _check_ref(ref, "portal.tell")
        return self.run(ref.tell, message)

    def ask(
        self, ref: ActorRef[object], message: object, *, timeout: float | None = None
    ) -> object:
        """``await ref.ask(message)`` from this thread and return the reply.

        A blocking call from a plain thread has no cancel scope to take a
        deadline from, so this one takes ``timeout`` (seconds, ``None`` for
        none) and raises ``trio.TooSlowError`` when it passes.
        """
        _check_ref(ref, "portal.ask")
        if timeout is None:
            return self.run(ref.ask, message)

        async def ask_within() -> object:
            with trio.fail_after(timeout):
                return await ref.ask(message)

        return self.run(ask_within)

    def spawn(
        self, factory: Callable[..., Actor], *args: object, **options_and_kwargs: object
    ) -> ActorRef[object]:
        """``await runtime.spawn(factory, *args, **kwargs)`` from this thread.

        Takes the factory's keyword arguments and the spawn options (``name``,
        ``mailbox_size``, ``throughput``, ``restart``, ``shutdown``) as
        ``Runtime.spawn`` does.
        """

        async def spawn() -> ActorRef[object]:
            return await self._runtime.spawn(factory, *args, **options_and_kwargs)  # type: ignore[arg-type]

        return self.run(spawn)

    def stop(self, ref: ActorRef[object]) -> None:
        """``await runtime.stop(ref)`` from this thread."""
        _check_ref(ref, "portal.stop")
        self.run(self._runtime.stop, ref)

    def publish(self, subject: str, message: object) -> int:
        """``await runtime.topics.publish(subject, message)`` from this thread."""

        async def publish() -> int:
            return await self._runtime.topics.publish(subject, message)

        return self.run(publish)

    def subscribe(self, ref: ActorRef[object], pattern: str, **options: object) -> Subscription:
        """``runtime.topics.subscribe(ref, pattern, **options)`` from this thread."""
        _check_ref(ref, "portal.subscribe")

        async def subscribe() -> Subscription:
            return self._runtime.topics.subscribe(ref, pattern, **options)  # type: ignore[arg-type]

        return self.run(subscribe)

    def unsubscribe(self, subscription: Subscription) -> None:
        """``runtime.topics.unsubscribe(subscription)`` from this thread."""

        async def unsubscribe() -> None:
            self._runtime.topics.unsubscribe(subscription)

        self.run(unsubscribe)


def _check_ref(ref: object, what: str) -> None:
    """``check_ref`` in the calling thread: a bad ref is refused before anything crosses."""
    from trouper.runtime._runtime import check_ref  # (that module imports this one)

    check_ref(ref, what)
