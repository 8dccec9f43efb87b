"""``open_runtime()`` for asyncio: the runtime as a Trio guest on the running loop.

Theory of operation
-------------------
``open_runtime`` starts a Trio guest run (``trio.lowlevel.start_guest_run``)
on the running asyncio loop: Trio's scheduler runs in the loop's own
callbacks on the loop's thread, and only Trio's wait for I/O sits in a worker
thread of Trio's. The guest run's main function (``_GuestRun._main``) holds,
from the outside in:

- ``outer``, a cancel scope that an abort (the owner task cancelled from
  outside) cancels: every actor is cancelled at once, as when a Trio
  ``open_runtime`` block is cancelled;
- the bridge's nursery: the crossing's pump, its lanes and its calls. It
  outlives the runtime, so that calls in flight during the shutdown end the
  way they end on Trio (an ask gets ``ActorStopped``);
- ``trouper.open_runtime(**options)``, whose body hands the ``AioRuntime`` to
  ``__aenter__`` and waits for ``closing``.

Leaving the ``async with`` normally or with an error sets ``closing`` (the
graceful shutdown: every actor stopped, ``on_stop`` run); leaving it
cancelled aborts. Either way ``__aexit__`` waits for the guest run to finish
(Trio must run to completion), and a cancellation that arrives while it
waits turns a graceful shutdown into an abort. An error that escalates past
the root cancels the runtime's body in Trio; the body then cancels the owner
task (as ``asyncio.TaskGroup`` cancels its parent), and ``__aexit__`` takes
that cancellation back and raises the error instead, once the runtime has
shut down.

Signals: in the main thread of a host that had no ``signal.set_wakeup_fd``
when the block was entered, Trio installs its own and puts the old one (none)
back when it ends. A host that took it meanwhile (``loop.add_signal_handler``
inside the block) would then lose its signals after the block, so the guest
run notes the fd it finds in place of Trio's as it ends and sets it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar, cast

import outcome
import trio

from trouper.actors import Actor, ActorRef
from trouper.aio._crossing import Crossing, LingerClock, holds_cancelled
from trouper.aio._ref import AioRef
from trouper.runtime import ActorTree, Portal, Runtime
from trouper.runtime import open_runtime as open_trio_runtime
from trouper.runtime.lowlevel import check_reachable
from trouper.topics import Overflow, Subscription

__all__ = ["AioRuntime", "open_runtime"]

T = TypeVar("T")

AnyRef = AioRef[object] | ActorRef[object]


def _trio_ref(ref: AnyRef) -> ActorRef[object]:
    if isinstance(ref, AioRef):
        return ref.ref
    if isinstance(ref, ActorRef):
        return ref
    raise TypeError(f"expected an AioRef or an ActorRef, got {ref!r}")


class AioRuntime:
    """A running actor system, seen from asyncio: spawn, stop, find actors; publish, subscribe.

    Made by ``trouper.aio.open_runtime()``. The actors are ordinary trouper
    actors running in Trio; this is their asyncio face. Coroutine methods
    cross into Trio and return once the work is done there; plain methods
    (``lookup``, ``ref``, ``tree``) only read. Every method belongs to the
    event loop's thread: other threads use ``portal``, and Trio code (actors)
    the Trio ``runtime``.
    """

    __slots__ = ("_crossing", "_runtime")

    def __init__(self, runtime: Runtime, crossing: Crossing) -> None:
        self._runtime = runtime
        # The Trio runtime; its methods are called only in Trio, through the crossing.
        self._crossing = crossing
        # The one way from the loop into Trio, shared with every AioRef of this runtime.

    def __repr__(self) -> str:
        return f"<AioRuntime {self._runtime.node!r}>"

    @property
    def runtime(self) -> Runtime:
        """The Trio ``Runtime`` underneath, for Trio code and for ``run``/``run_sync``.

        Do not call its methods from asyncio code: hand them to ``run`` or
        ``run_sync``, which run them in Trio.
        """
        return self._runtime

    @property
    def portal(self) -> Portal:
        """The runtime's portal, for threads other than the loop's (``run_in_executor``)."""
        return self._runtime.portal

    @property
    def closed(self) -> bool:
        """Whether the runtime has closed; every call that crosses then raises ``RuntimeClosed``."""
        return self._crossing.closed

    # --- actors -------------------------------------------------------------------

    def ref(self, ref: AnyRef) -> AioRef[object]:
        """The asyncio handle of ``ref`` (an ``ActorRef`` from a reply, say); equal to it.

        Raises:
            TypeError: ``ref`` is neither an ``AioRef`` nor an ``ActorRef``.
            ValueError: ``ref`` is an actor of a runtime in another thread, or a
                remote actor's ref that runtime made, which asyncio code on this
                loop cannot tell (that thread's runtime can, or its portal from here).
        """
        actor_ref = _trio_ref(ref)
        # Its handle's every tell and ask would be refused as it crossed.
        check_reachable(
            actor_ref,
            "ref",
            self._runtime,
            ": reach it through that runtime's portal (its rt.portal)",
        )
        if isinstance(ref, AioRef):
            return ref
        return AioRef(actor_ref, self._crossing)

    async def spawn(
        self, factory: Callable[..., Actor], *args: object, **options_and_kwargs: object
    ) -> AioRef[object]:
        """Start a top-level actor and return its handle once its ``on_start`` has run.

        Takes what ``Runtime.spawn`` takes, passed through: ``factory(*args,
        **kwargs)`` builds the instance, and the spawn options (``name``,
        ``mailbox_size``, ``throughput``, ``restart``, ``shutdown``, ...) are
        keyword-only. Cancelled, it leaves no actor behind: before the actor
        has started the spawn is undone, and after (the cancellation landed
        once Trio started it, before this returned its handle) the actor is
        stopped.

        Raises:
            NameTaken: ``name`` belongs to a living actor.
            StartFailed: the first ``on_start`` raised (``__cause__``).
            RuntimeClosed: the runtime is shutting down or closed.
        """
        runtime = self._runtime

        async def spawn() -> ActorRef[object]:
            return await runtime.spawn(factory, *args, **options_and_kwargs)  # type: ignore[arg-type]

        return await self._started(spawn)

    async def spawn_pool(
        self,
        factory: Callable[..., Actor],
        size: int,
        *args: object,
        **options_and_kwargs: object,
    ) -> AioRef[object]:
        """Start a top-level pool of ``size`` actors behind one handle (``Runtime.spawn_pool``).

        Takes what ``Runtime.spawn_pool`` takes, passed through: ``router``,
        ``name``, ``mailbox_size`` and the other options keyword-only, the rest
        for ``factory``. Returns once every member has run its ``on_start``.
        Cancelled, it leaves no pool behind, as ``spawn`` leaves no actor: the
        pool is stopped if it started before its caller could take the handle.

        Raises:
            ValueError: a bad size, router or option (see ``Runtime.spawn_pool``).
            NameTaken: ``name`` belongs to a living actor.
            StartFailed: a member (or the pool) could not start.
            RuntimeClosed: the runtime is shutting down or closed.
        """
        runtime = self._runtime

        async def spawn_pool() -> ActorRef[object]:
            return await runtime.spawn_pool(factory, size, *args, **options_and_kwargs)  # type: ignore[arg-type]

        return await self._started(spawn_pool)

    async def _started(self, start: Callable[[], Awaitable[ActorRef[object]]]) -> AioRef[object]:
        """``await start()`` in a Trio task; the handle of the actor (or pool) it started.

        Started, but its caller cancelled before it got the handle: it is
        stopped, since nobody else holds its ref to stop it.
        """
        return AioRef(await self._crossing.call(start, undo=self._runtime.stop), self._crossing)

    async def stop(self, ref: AnyRef) -> None:
        """Stop an actor for good and wait until it has stopped (``Runtime.stop``)."""
        await self._crossing.call(self._runtime.stop, _trio_ref(ref))

    def lookup(self, name: str) -> AioRef[object] | None:
        """Return the handle of the living actor registered as ``name``, or ``None``.

        A read of the registry as it is now (Trio is between two steps while
        asyncio code runs); nothing crosses.
        """
        self._crossing.check_caller()
        ref = self._runtime.lookup(name)
        return None if ref is None else AioRef(ref, self._crossing)

    def tree(self) -> ActorTree:
        """The live hierarchy as data (``Runtime.tree``), read as it is now."""
        self._crossing.check_caller()
        return self._runtime.tree()

    # --- topics -------------------------------------------------------------------

    async def publish(self, subject: str, message: object) -> int:
        """Deliver ``message`` to every subscriber of ``subject`` (``TopicRegistry.publish``).

        Returns:
            How many subscribers the message was handed to.

        Raises:
            InvalidSubject: ``subject`` is not a valid subject, or is in ``trouper.system``.
        """
        runtime = self._runtime

        async def publish() -> int:
            return await runtime.topics.publish(subject, message)

        return await self._crossing.call(publish)

    async def subscribe(
        self,
        ref: AnyRef,
        pattern: str,
        *,
        with_subject: bool = False,
        overflow: Overflow | None = None,
        queue: str | None = None,
    ) -> Subscription:
        """Subscribe an actor to ``pattern`` (``TopicRegistry.subscribe``); return the subscription.

        The options are the registry's: ``with_subject`` delivers
        ``Published(subject, message)``, ``overflow`` says what publishing does
        when the mailbox is full, and ``queue`` joins the queue group of that
        name for ``pattern`` (each publish goes to one member in turn). End
        the subscription with ``unsubscribe`` (its own ``cancel()`` is for Trio
        code). The registry's errors (``InvalidSubject``, ``ValueError`` for a
        bad ``overflow`` or ``queue``) are raised here. Cancelled, it leaves no
        subscription behind, also when the cancellation lands after the
        subscription was made but before this returned it.
        """
        runtime, actor = self._runtime, _trio_ref(ref)

        def subscribe() -> Subscription:
            return runtime.topics.subscribe(
                actor, pattern, with_subject=with_subject, overflow=overflow, queue=queue
            )

        def undo(subscription: Subscription) -> None:
            # Made, but its caller was cancelled before it got it: nobody could end it.
            runtime.topics.unsubscribe(subscription)

        return await self._crossing.call_sync(subscribe, undo=undo)

    async def unsubscribe(self, subscription: Subscription) -> None:
        """End ``subscription`` (``TopicRegistry.unsubscribe``). Idempotent."""
        runtime = self._runtime

        def unsubscribe() -> None:
            runtime.topics.unsubscribe(subscription)

        await self._crossing.call_sync(unsubscribe)

    # --- anything else ------------------------------------------------------------

    async def run(self, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """``await fn(*args)`` in a Trio task of the runtime and return its result.

        For the Trio API the bridge does not wrap (``rt.run(rt.runtime.store.flush)``).
        Cancelling the caller cancels the task. Whatever ``fn`` raises, also an
        error that is no ``Exception``, is raised here and leaves the runtime
        running (as ``trio.from_thread.run`` does); an error it raises once its
        caller has been cancelled is logged.

        Raises:
            TypeError: ``fn`` returned something that cannot be awaited (a
                synchronous function, which has run: use ``run_sync``).
        """

        async def run() -> T:
            awaitable: object = fn(*args)  # (typed async, but a user may pass any callable)
            if not inspect.isawaitable(awaitable):
                name = getattr(fn, "__qualname__", repr(fn))
                raise TypeError(
                    f"run expects an async function, but {name} returned "
                    f"{type(awaitable).__name__}, which cannot be awaited: call a synchronous "
                    "function with run_sync()"
                )
            return await cast("Awaitable[T]", awaitable)

        return await self._crossing.call(run)

    async def run_sync(self, fn: Callable[..., T], *args: object) -> T:
        """Call ``fn(*args)`` in the runtime's Trio context and return its result.

        Whatever ``fn`` raises is raised here, and leaves the runtime running.

        Raises:
            TypeError: ``fn`` returned a coroutine (an async function: use ``run``);
                it is closed, not run.
        """
        return await self._crossing.call_sync(fn, *args)


def open_runtime(**options: object) -> contextlib.AbstractAsyncContextManager[AioRuntime]:
    """Run an actor system on the running asyncio loop for the duration of an ``async with``.

    ``async with trouper.aio.open_runtime() as rt:`` inside ``asyncio.run``
    (or any asyncio application: a Starlette or FastAPI lifespan) runs
    ``trouper.open_runtime(**options)`` as a Trio guest on the loop's thread
    (``trio.lowlevel.start_guest_run``); actors are the same Trio code as
    everywhere. It takes the options of ``trouper.open_runtime``. One per
    event loop (one Trio run per thread); the block is entered and left by
    one task, as ``asyncio.timeout``'s is.

    Leaving the block stops every actor as on Trio (each one's ``on_stop``
    run, pending asks failed with ``ActorStopped``) and waits for it. An
    error that escalates past the root cancels the block and leaves it as
    that error. Cancelling the task that runs the block cancels every actor
    at once and leaves no Trio task and no asyncio task behind.

    Raises:
        RuntimeError: not in an asyncio task, or a Trio run is already active
            in this thread.
    """
    return _GuestRun(options)


def _host_uses_wakeup_fd() -> bool:
    """Whether the host has taken ``signal.set_wakeup_fd`` (Trio must then leave it alone)."""
    if threading.current_thread() is not threading.main_thread():
        return True  # only the main thread has one; Trio does not touch it elsewhere
    return _read_wakeup_fd() != -1


def _read_wakeup_fd(trio_fd: int | None = None) -> int:
    """The signal wakeup fd set now (-1: none); main thread only.

    Reading the fd means setting it: it is set back as it was, with Trio's own
    setting (no warning when its buffer is full) if it is ``trio_fd``.
    """
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd, warn_on_full_buffer=fd != trio_fd)
    return fd


def _wakeup_fd_taken_over(trio_fd: int) -> int | None:
    """The wakeup fd someone else (the host loop) set in place of Trio's ``trio_fd``, if any."""
    fd = _read_wakeup_fd(trio_fd)
    return None if fd == trio_fd else fd


class _GuestRun:
    """The ``async with`` of ``open_runtime``: one guest run, from start to finish."""

    def __init__(self, options: dict[str, object]) -> None:
        self._options = options
        # What trouper.open_runtime takes, passed through.
        self._loop: asyncio.AbstractEventLoop | None = None
        # The host loop, once entered.
        self._owner: asyncio.Task[object] | None = None
        # The task that runs the block: what a failure of the runtime cancels.
        self._clock = LingerClock()
        # The guest run's clock: keeps Trio awake while the crossing is busy.
        self._token: trio.lowlevel.TrioToken | None = None
        # The guest run's token, once started.
        self._ready: asyncio.Future[AioRuntime] | None = None
        # Resolved by the guest run when the runtime runs (or failed to start).
        self._done: asyncio.Future[outcome.Outcome[None]] | None = None
        # Resolved with the guest run's outcome when it has finished.
        self._outer: trio.CancelScope | None = None
        # The guest run's outermost scope (Trio side), cancelled by an abort.
        self._closing: trio.Event | None = None
        # Set (in Trio) to shut the runtime down gracefully.
        self._aborted = False
        # An abort was requested: the owner was cancelled from outside.
        self._exiting = False
        # __aexit__ has begun: a failure no longer cancels the owner.
        self._failed_owner = False
        # The runtime failed and cancelled the owner (one cancel() to take back).
        self._trio_wakeup_fd: int | None = None
        # Trio's signal wakeup fd, when Trio installed one (main thread, host had none).
        self._host_wakeup_fd: int | None = None
        # The wakeup fd the host set in place of Trio's while it ran (loop.add_signal_handler):
        # Trio puts back the one it found at start when it ends, so it is set again after.

    # --- asyncio side --------------------------------------------------------------

    async def __aenter__(self) -> AioRuntime:
        if self._loop is not None:
            raise RuntimeError("this open_runtime() has already been entered")
        # Trio first: in a Trio program there is no asyncio loop either, and the
        # way out is trouper.open_runtime.
        if trio.lowlevel.in_trio_run():
            raise RuntimeError(
                "a Trio run is already active in this thread: one trouper.aio runtime "
                "per event loop (and in Trio code, use trouper.open_runtime)"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            owner = None
        else:
            owner = asyncio.current_task()
        if owner is None:
            raise RuntimeError("trouper.aio.open_runtime() must run in an asyncio task")
        self._loop = loop
        self._owner = owner
        self._ready = loop.create_future()
        self._done = loop.create_future()
        host_uses_wakeup_fd = _host_uses_wakeup_fd()
        trio.lowlevel.start_guest_run(
            self._main,
            clock=self._clock,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=self._finished,
            host_uses_signal_set_wakeup_fd=host_uses_wakeup_fd,
        )
        if not host_uses_wakeup_fd:
            # Trio has installed its own by now (setting up the run, before any tick).
            self._trio_wakeup_fd = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(self._trio_wakeup_fd, warn_on_full_buffer=False)
        # Allowed right after start_guest_run returns (Trio's guest-mode docs).
        self._token = trio.lowlevel.current_trio_token()
        try:
            return await asyncio.shield(self._ready)
        except asyncio.CancelledError as cancelled:
            # Cancelled from outside (an abort), or by the runtime failing before
            # the block's first line: __aexit__ tells them apart, and raises the
            # runtime's error in the second case.
            await self.__aexit__(type(cancelled), cancelled, cancelled.__traceback__)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._owner is not None
        assert self._done is not None
        self._exiting = True
        cancelled = isinstance(exc, asyncio.CancelledError)
        if cancelled and not self._failed_owner:
            self._abort()
        else:
            self._close()
        interrupted = await self._wait_finished()
        result = self._done.result()
        if self._failed_owner:
            self._failed_owner = False
            if self._owner.uncancel() == 0:
                cancelled = False  # only the runtime's own cancellation: taken back
        if cancelled:
            return  # the block's cancellation goes on
        if interrupted:
            raise asyncio.CancelledError  # cancelled while it shut down: that goes on
        own_error = exc is not None and not isinstance(exc, asyncio.CancelledError)
        if isinstance(result, outcome.Error) and not own_error:
            # The runtime failed; an error of the block's own would win, as on Trio.
            error = result.error
            error.__suppress_context__ = True
            raise error

    def _close(self) -> None:
        self._request(self._set_closing)

    def _abort(self) -> None:
        self._aborted = True
        self._request(self._cancel_outer)

    def _request(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in Trio soon (``run_sync_soon``: the crossing needs a live pump)."""
        assert self._token is not None
        # A finished guest run has nothing left to stop.
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(fn)

    async def _wait_finished(self) -> bool:
        """Wait until the guest run has finished; return whether a cancellation came meanwhile.

        Trio must run to completion: a cancellation does not interrupt the
        wait, it turns the shutdown into an abort.
        """
        assert self._done is not None
        interrupted = False
        while not self._done.done():
            try:
                await asyncio.shield(self._done)
            except asyncio.CancelledError:
                interrupted = True
                self._abort()
        return interrupted

    def _finished(self, result: outcome.Outcome[None]) -> None:
        """The guest run's done callback (called on the loop's thread)."""
        assert self._done is not None
        assert self._ready is not None
        if self._host_wakeup_fd is not None:
            # Trio has put back the fd it found at start (none): the host's goes back in.
            signal.set_wakeup_fd(self._host_wakeup_fd)
        if not self._ready.done():
            error = result.error if isinstance(result, outcome.Error) else None
            self._ready.set_exception(
                error or RuntimeError("the runtime stopped before it started")
            )
            self._ready.exception()  # retrieved here if nobody awaits it any more
        self._done.set_result(result)

    # --- Trio side ------------------------------------------------------------------

    async def _main(self) -> None:
        """The guest run's main function: the runtime, then the host's signal wakeup fd noted."""
        try:
            await self._run_runtime()
        finally:
            if self._trio_wakeup_fd is not None:
                self._host_wakeup_fd = _wakeup_fd_taken_over(self._trio_wakeup_fd)

    async def _run_runtime(self) -> None:
        """Run the Trio runtime and the crossing until closed or aborted (the theory above)."""
        assert self._loop is not None
        assert self._ready is not None
        failure: BaseException | None = None
        with trio.CancelScope() as self._outer:
            if self._aborted:
                self._outer.cancel()
            async with trio.open_nursery() as nursery:
                try:
                    async with open_trio_runtime(**self._options) as runtime:  # type: ignore[arg-type]
                        crossing = Crossing(
                            self._loop,
                            nursery,
                            self._clock,
                            node=runtime.node,
                            limit=runtime.mailbox_size,
                            runtime=runtime,
                        )
                        nursery.start_soon(crossing.pump, name="trouper.aio pump")
                        self._closing = trio.Event()
                        self._ready.set_result(AioRuntime(runtime, crossing))
                        try:
                            await self._closing.wait()
                        finally:
                            if not self._closing.is_set():
                                self._body_cancelled()
                except BaseException as error:
                    if holds_cancelled(error):
                        raise  # the abort: the outer scope's
                    # Kept out of the bridge's nursery, which would wrap it in a group.
                    failure = error
                finally:
                    nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure

    def _body_cancelled(self) -> None:
        """The runtime's body was cancelled in Trio: by an abort, or by a failure of the runtime."""
        if self._aborted or self._exiting:
            return
        assert self._owner is not None
        self._failed_owner = self._owner.cancel(msg="the trouper runtime failed")

    def _set_closing(self) -> None:
        if self._closing is not None:
            self._closing.set()

    def _cancel_outer(self) -> None:
        if self._outer is not None:
            self._outer.cancel()
