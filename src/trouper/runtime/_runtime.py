"""The runtime: ``open_runtime()``, ``start_runtime()`` and ``Runtime``.

A runtime is a nursery where top-level actors run, a root guardian that
supervises them, a name registry, the dead-letter office and the event log.
Leaving ``open_runtime()`` stops every actor (last spawned first, each one's
children before itself) within ``shutdown_timeout``; what is still running
then is cancelled.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Literal

import trio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from trouper._validate import check_mailbox_size, check_name, check_seconds, check_throughput
from trouper.actors import Actor, ActorRef, ActorState, Endpoint, instantiate
from trouper.errors import DuplicateChild, NameTaken
from trouper.runtime._cell import STOP, Cell, _Stop
from trouper.runtime._context import ActorContext
from trouper.runtime._guardian import Guardian
from trouper.runtime._mailbox import Mailbox
from trouper.runtime._observe import DeadLetterOffice, EventLog
from trouper.runtime._portal import Portal
from trouper.runtime._tree import ActorTree, build_tree
from trouper.supervision import ChildSpec, OneForOne, Restart, Strategy

if TYPE_CHECKING:
    from trouper.routing import Router
    from trouper.topics import TopicRegistry

__all__ = ["Runtime", "cell_of", "open_runtime", "running", "spawn_cell", "start_runtime"]

log = logging.getLogger("trouper")

GiveUpPolicy = Literal["stop", "escalate"]
EscalationPolicy = Literal["raise", "log"]


class Runtime:
    """A running actor system: spawn actors, find them by name, stop them, look at them.

    Made and run by ``open_runtime()`` or ``start_runtime()`` (the testing
    kit builds one by hand and runs it with ``lowlevel.running``). Its
    methods are for the Trio thread that runs it; other threads use
    ``portal``.
    """

    def __init__(
        self,
        *,
        node: str = "local",
        mailbox_size: float = 1000,
        throughput: int = 100,
        shutdown: float = 5.0,
        shutdown_timeout: float = 10.0,
        root_strategy: Strategy | None = None,
        default_strategy: Strategy | None = None,
        on_root_give_up: GiveUpPolicy = "stop",
        on_escalation: EscalationPolicy = "raise",
        seed: int | None = None,
        cell_class: type[Cell] = Cell,
    ) -> None:
        if not isinstance(node, str) or not node or "/" in node:
            raise ValueError(f"node must be a non-empty name without '/', got {node!r}")
        if on_root_give_up not in ("stop", "escalate"):
            raise ValueError(
                f"on_root_give_up must be 'stop' or 'escalate', got {on_root_give_up!r}"
            )
        if on_escalation not in ("raise", "log"):
            raise ValueError(f"on_escalation must be 'raise' or 'log', got {on_escalation!r}")
        for label, strategy in (
            ("root_strategy", root_strategy),
            ("default_strategy", default_strategy),
        ):
            if strategy is not None and not isinstance(strategy, Strategy):
                raise ValueError(f"{label} must be a Strategy, got {strategy!r}")
        self.node = node
        self.mailbox_size = check_mailbox_size(mailbox_size)
        self.throughput = check_throughput(throughput)
        self.shutdown = check_seconds("shutdown", shutdown)
        self.shutdown_timeout = check_seconds("shutdown_timeout", shutdown_timeout)
        self.root_strategy = root_strategy or OneForOne()
        self.default_strategy = default_strategy or OneForOne()
        self.on_root_give_up = on_root_give_up
        self.on_escalation = on_escalation
        self.random = random.Random(seed)
        self.cell_class = cell_class
        """The class of the cells that run actors (the testing kit substitutes its own)."""
        self.names: dict[str, Cell] = {}
        self.dead_letters = DeadLetterOffice()
        """Undeliverable messages: ``count``, ``recent``, ``listen(fn)``."""
        self.events = EventLog()
        """Lifecycle events (started, stopped, failed, restarted, gave up): ``listen(fn)``."""
        self._ids = itertools.count(1)
        self._root: Guardian | None = None
        self._body_scope: trio.CancelScope | None = None
        self._failure: BaseException | None = None
        self._closed = trio.Event()
        self._finished = trio.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._topics: TopicRegistry | None = None

    def __repr__(self) -> str:
        return f"<Runtime {self.node!r}>"

    @staticmethod
    def now() -> float:
        """The current time on Trio's clock (virtual under ``MockClock``)."""
        return trio.current_time()

    @property
    def root(self) -> Guardian:
        if self._root is None:
            raise RuntimeError("the runtime is not running")
        return self._root

    # --- actors -----------------------------------------------------------------

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
        """Start a top-level actor and return its ref once its ``on_start`` has run.

        ``factory(*args, **kwargs)`` builds the instance (an ``Actor`` subclass,
        or a function returning one); it is called again for each restart.
        Options are keyword-only: ``name`` registers the actor for ``lookup``
        (and is its path segment), ``mailbox_size`` bounds its mailbox
        (``math.inf`` for none), ``throughput`` is how many messages it handles
        before yielding, ``restart`` its restart kind (default
        ``Restart.TRANSIENT``), ``shutdown`` the seconds its graceful stop may
        take. A factory argument named like an option needs ``functools.partial``.

        Raises:
            NameTaken: ``name`` belongs to a living actor.
            StartFailed: the first ``on_start`` raised (``__cause__``); nothing keeps running.
            RuntimeError: the runtime is shutting down.
        """
        cell = await spawn_cell(
            self,
            self.root,
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

    def lookup(self, name: str) -> ActorRef[object] | None:
        """Return the ref of the living actor registered as ``name``, or ``None``."""
        cell = self.names.get(name)
        return None if cell is None else cell.ref

    async def stop(self, ref: ActorRef[object]) -> None:
        """Stop an actor for good and wait until it has stopped.

        The running handler finishes (and replies); then its children stop,
        then its ``on_stop`` runs, all within its ``shutdown`` deadline, after
        which what remains is cancelled. Queued messages become dead letters
        and their asks get ``ActorStopped``. A stopped actor is not restarted,
        whatever its restart kind. Stopping a stopped actor does nothing.
        Called by the actor on itself, it returns at once and the stop takes
        effect when the running handler returns.
        """
        cell = cell_of(ref)
        await checkpoint_if_cancelled()
        if cell.state is ActorState.STOPPED:
            await cancel_shielded_checkpoint()
            return
        cell.command(STOP)
        if cell.task is not None and cell.task is trio.lowlevel.current_task():
            await cancel_shielded_checkpoint()
            return
        await cell.wait_stopped()

    def tree(self) -> ActorTree:
        """The live hierarchy as data; ``str()`` of it is a readable rendering."""
        return build_tree(self.root, self.root_strategy)

    @property
    def topics(self) -> TopicRegistry:
        """This runtime's topic registry: subscribe, unsubscribe, publish.

        The one place the engine names a layer above it (``trouper.topics``,
        imported on first use), so that the registry is reachable from the
        runtime; nothing in the engine depends on it.
        """
        if self._topics is None:
            from trouper.topics import TopicRegistry

            self._topics = TopicRegistry(self)
        return self._topics

    async def spawn_pool(
        self,
        factory: Callable[..., Actor],
        size: int,
        *args: object,
        router: Router | None = None,
        name: str | None = None,
        **kwargs: object,
    ) -> ActorRef[object]:
        """Start a pool of ``size`` actors behind one ref (see ``trouper.routing``).

        The ref behaves as a single actor (tell, ask); members are supervised
        children of the pool, restarted when they fail. ``router`` chooses
        the member for each message (default ``RoundRobin()``).
        """
        from trouper.routing import spawn_pool

        return await spawn_pool(self.root, factory, size, *args, router=router, name=name, **kwargs)

    @property
    def portal(self) -> Portal:
        """A handle for other threads to tell, ask and spawn (Trio's ``from_thread``)."""
        if self._token is None:
            raise RuntimeError("the runtime is not running")
        return Portal(self._token, self)

    # --- lifecycle --------------------------------------------------------------

    def _begin(self, nursery: trio.Nursery) -> None:
        self._root = Guardian(self, nursery, path="/", strategy=self.root_strategy, owner=None)
        self._token = trio.lowlevel.current_trio_token()

    def root_escalation(
        self, cell: Cell, error: BaseException, failure: BaseException, *, gave_up: bool
    ) -> None:
        """Handle a give-up or escalation at the root: stop the actor, or fail the runtime."""
        cell.command(_Stop(error))
        if gave_up and self.on_root_give_up == "stop":
            return
        if self.on_escalation == "log":
            log.error("%s escalated past the root; it is stopped", cell.address.path)
            return
        self.fail(failure)

    def fail(self, error: BaseException) -> None:
        """Fail the runtime: the ``async with`` body is cancelled and ``error`` leaves it."""
        if self._failure is None:
            self._failure = error
            if self._body_scope is not None:
                self._body_scope.cancel()

    async def aclose(self) -> None:
        """Stop every actor and close the runtime (for runtimes made by ``start_runtime``).

        Waits until the shutdown is complete. Do not call it from an actor of
        this runtime: it would wait for itself.
        """
        self._closed.set()
        await self._finished.wait()

    async def _shutdown(self) -> None:
        root = self.root
        with trio.move_on_after(self.shutdown_timeout) as scope:
            await root.shutdown()
        if scope.cancelled_caught:
            log.warning(
                "the runtime did not stop within %s s; cancelling what still runs",
                self.shutdown_timeout,
            )
        root.nursery.cancel_scope.cancel()


def cell_of(ref: ActorRef[object]) -> Cell:
    """The local cell behind ``ref``.

    Raises:
        TypeError: ``ref`` is not a ref to a local actor.
    """
    endpoint = ref.endpoint
    if isinstance(endpoint, Cell):
        return endpoint
    cell = getattr(endpoint, "cell", None)
    if isinstance(cell, Cell):
        return cell
    raise TypeError(f"{ref!r} is not a ref to an actor of this process")


def _label(factory: Callable[..., object]) -> str:
    while isinstance(factory, partial):
        factory = factory.func
    return getattr(factory, "__name__", type(factory).__name__)


async def spawn_cell(
    runtime: Runtime,
    guardian: Guardian,
    factory: Callable[..., Actor],
    args: tuple[object, ...],
    kwargs: dict[str, object],
    *,
    name: str | None = None,
    mailbox_size: float | None = None,
    throughput: int | None = None,
    restart: Restart | None = None,
    shutdown: float | None = None,
    spec: ChildSpec | None = None,
    child_id: str | None = None,
    mailbox: Mailbox | None = None,
    endpoint: Callable[[Cell], Endpoint[object]] | None = None,
) -> Cell:
    """Create, register and start a child of ``guardian``; return once ``on_start`` ran.

    ``mailbox`` shares an existing mailbox (a balancing pool's members); the
    cell then neither sizes nor closes it. ``child_id`` overrides the path
    segment (by default the name, or ``Class-N``). ``endpoint(cell)`` gives
    the object the actor's ref delivers through (a pool's router), instead of
    the cell itself.
    """
    await checkpoint_if_cancelled()
    guardian.check_open()
    if not callable(factory):
        raise TypeError(f"factory must be callable (an Actor class or a function), got {factory!r}")
    if name is not None and check_name(name) in runtime.names:
        raise NameTaken(name)
    if restart is not None and not isinstance(restart, Restart):
        raise ValueError(f"restart must be a Restart member, got {restart!r}")
    if spec is not None:
        child_id = spec.id
    elif child_id is None:
        child_id = name if name is not None else f"{_label(factory)}-{next(runtime._ids)}"
    if guardian.find(child_id) is not None:
        raise DuplicateChild(guardian.address, child_id)
    cell = runtime.cell_class(
        runtime,
        guardian,
        child_id,
        factory,
        args,
        kwargs,
        name=name,
        mailbox=mailbox
        if mailbox is not None
        else Mailbox(
            runtime.mailbox_size if mailbox_size is None else check_mailbox_size(mailbox_size)
        ),
        owns_mailbox=mailbox is None,
        throughput=runtime.throughput if throughput is None else check_throughput(throughput),
        restart=restart or Restart.TRANSIENT,
        shutdown=runtime.shutdown if shutdown is None else check_seconds("shutdown", shutdown),
        spec=spec,
    )
    if endpoint is not None:
        cell.ref = ActorRef(cell.address, endpoint(cell))
    if guardian._nursery is None:
        await guardian.open()
    context = cell._context = ActorContext(cell)
    instance = instantiate(context, factory, args, kwargs)
    if name is not None:
        runtime.names[name] = cell
    guardian.add(cell)
    if type(instance).on_start is Actor.on_start:
        # Nothing to wait for: the actor is started as spawn returns.
        cell.begin(instance, started=True)
        await cancel_shielded_checkpoint()
    else:
        cell.begin(instance)
        await cell.wait_first_start()
    return cell


@asynccontextmanager
async def open_runtime(
    *,
    node: str = "local",
    mailbox_size: float = 1000,
    throughput: int = 100,
    shutdown: float = 5.0,
    shutdown_timeout: float = 10.0,
    root_strategy: Strategy | None = None,
    default_strategy: Strategy | None = None,
    on_root_give_up: GiveUpPolicy = "stop",
    on_escalation: EscalationPolicy = "raise",
    seed: int | None = None,
) -> AsyncIterator[Runtime]:
    """Run an actor system for the duration of an ``async with`` block.

    Args:
        node: this runtime's node name (the ``node`` of every address).
        mailbox_size: default mailbox capacity (an int >= 1, or ``math.inf``).
        throughput: default number of messages an actor handles before it yields.
        shutdown: default seconds an actor's graceful stop may take.
        shutdown_timeout: seconds the whole shutdown may take at the end of
            the block; what is still running then is cancelled.
        root_strategy: how top-level actors are supervised (default
            ``OneForOne()``: 3 restarts within 5 s, counted per actor).
        default_strategy: how an actor supervises its children when its class
            sets no ``supervisor_strategy`` (default ``OneForOne()``).
        on_root_give_up: ``"stop"`` (default) stops a top-level actor that
            exceeds the root's intensity and goes on; ``"escalate"`` treats it
            as an escalation past the root.
        on_escalation: what an escalation past the root does: ``"raise"``
            (default) fails the runtime, so the error leaves this ``async
            with``; ``"log"`` logs it, stops the actor and goes on.
        seed: seed of the runtime's random source (backoff jitter), for replays.

    Leaving the block stops every actor: top-level actors last-spawned first,
    each one's children before itself, ``on_stop`` run, pending asks failed
    with ``ActorStopped``. An error that escalates past the root cancels the
    block and leaves it as that error. Cancelling the block from outside
    cancels every actor at once (their ``on_stop`` does not run) and leaves no
    task behind.
    """
    runtime = Runtime(
        node=node,
        mailbox_size=mailbox_size,
        throughput=throughput,
        shutdown=shutdown,
        shutdown_timeout=shutdown_timeout,
        root_strategy=root_strategy,
        default_strategy=default_strategy,
        on_root_give_up=on_root_give_up,
        on_escalation=on_escalation,
        seed=seed,
    )
    async with running(runtime):
        yield runtime


@asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[Runtime]:
    """Run a ``Runtime`` built by hand for the duration of a block (see ``open_runtime``).

    For the layers above the engine (the testing kit builds its runtimes with
    instrumented cells); applications use ``open_runtime()``.
    """
    if runtime._root is not None:
        raise RuntimeError("this runtime has already run; build a new one")
    body_error: Exception | None = None
    try:
        async with trio.open_nursery() as nursery:
            runtime._begin(nursery)
            try:
                with trio.CancelScope() as runtime._body_scope:
                    yield runtime
            except Exception as error:
                body_error = error
            finally:
                runtime._body_scope = None
            await runtime._shutdown()
    except BaseExceptionGroup as group:
        single = _single_leaf(group)
        if single is None:
            raise
        raise single from None
    finally:
        runtime._finished.set()
    if body_error is not None:
        raise body_error
    if runtime._failure is not None:
        raise runtime._failure


def _single_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception inside nested one-member groups, or ``None``."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        if len(error.exceptions) != 1:
            return None
        error = error.exceptions[0]
    return error


async def start_runtime(nursery: trio.Nursery, **options: object) -> Runtime:
    """Start a runtime inside a nursery the application already has.

    Takes the options of ``open_runtime``. The runtime runs until
    ``await runtime.aclose()`` (a graceful stop) or until the nursery is
    cancelled; an error escalating past its root is raised in ``nursery``,
    like any failing task's::

        async with trio.open_nursery() as nursery:
            rt = await trouper.start_runtime(nursery)
            ...
            await rt.aclose()
    """
    runtime: Runtime = await nursery.start(partial(_serve_runtime, options))
    return runtime


async def _serve_runtime(
    options: dict[str, object], *, task_status: trio.TaskStatus[Runtime]
) -> None:
    async with open_runtime(**options) as runtime:  # type: ignore[arg-type]
        task_status.started(runtime)
        await runtime._closed.wait()
