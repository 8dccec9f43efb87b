"""The runtime: ``open_runtime()``, ``start_runtime()`` and ``Runtime``.

A runtime is a nursery where top-level actors run, a root guardian that
supervises them, a name registry, the dead-letter office, the event log and
the instruments. Leaving ``open_runtime()`` stops every actor (last spawned
first, each one's children before itself) within ``shutdown_timeout``; what
is still running then is cancelled.

The layers above the engine (topics, pools) attach to a runtime as
*extensions*: a layer registers a factory under a key when it is imported
(``register_extension``), and ``runtime.extension(key)`` makes that layer's
object for the runtime on first use (the durable layer's, as a runtime with a
store starts: it binds the store's codec to the runtime). ``rt.topics`` and
``rt.spawn_pool`` are conveniences over it; the engine imports no layer above it.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Literal, NoReturn, Protocol, cast

import trio
from trio.lowlevel import (
    Task,
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    current_root_task,
)

from trouper._groups import single_leaf
from trouper._validate import (
    check_mailbox_factory,
    check_mailbox_size,
    check_name,
    check_seconds,
    check_throughput,
)
from trouper.actors import Actor, ActorRef, instantiate
from trouper.errors import ActorStopped, DuplicateChild, NameTaken, RuntimeClosed
from trouper.runtime._cell import Cell, local_cell, own_cell
from trouper.runtime._context import ActorContext
from trouper.runtime._guardian import Guardian
from trouper.runtime._instrument import Instruments
from trouper.runtime._lifecycle import Command, Phase
from trouper.runtime._mailbox import Mailbox, MemoryMailbox
from trouper.runtime._observe import DeadLetterOffice, EventLog
from trouper.runtime._portal import Portal
from trouper.runtime._tree import ActorTree, build_tree
from trouper.supervision import ChildSpec, OneForOne, Restart, Strategy

if TYPE_CHECKING:
    from trouper.actors import Endpoint
    from trouper.durable import Store
    from trouper.routing import Router
    from trouper.topics import TopicRegistry

__all__ = [
    "EndpointFactory",
    "MailboxFactory",
    "Runtime",
    "Transport",
    "cell_of",
    "open_runtime",
    "register_extension",
    "running",
    "spawn_cell",
    "start_runtime",
]

log = logging.getLogger("trouper")

GiveUpPolicy = Literal["stop", "escalate"]
EscalationPolicy = Literal["raise", "log"]

_EXTENSIONS: dict[str, Callable[[Runtime], object]] = {}

QUICK_OPS_PER_YIELD = 16
"""Spawns and stops that complete at once between two yields to the scheduler."""


_STORE_LAYER = "durable"
"""The layer made as a runtime with a store starts (``trouper.durable``'s, if imported)."""


def register_extension(key: str, factory: Callable[[Runtime], object]) -> None:
    """Make ``runtime.extension(key)`` build ``factory(runtime)`` on first use, per runtime.

    For the layers above the engine, at import time (``trouper.topics``
    registers ``"topics"``, ``trouper.routing`` registers ``"pools"``).
    Registering a key again replaces its factory for runtimes that have not
    used it yet.
    """
    _EXTENSIONS[key] = factory


class Transport(Protocol):
    """What ``open_runtime(transport=...)`` takes: a way to other nodes (``trouper.remote.Nats``).

    ``attach(runtime)`` returns an async context manager entered once the
    runtime runs (before the block's first line) and exited after every actor
    has stopped (so remote watchers still hear of the stops), before the
    runtime's tasks are cancelled.
    """

    def attach(self, runtime: Runtime) -> AbstractAsyncContextManager[object]:
        """Join the cluster as ``runtime.node`` for as long as the returned context is entered."""
        ...


class MailboxFactory(Protocol):
    """What ``spawn(..., mailbox=...)`` takes: it opens the mailbox of each actor spawned.

    ``trouper.durable.Durable`` is one; an ``Actor`` subclass may name one as its
    class default (``default_mailbox``).
    """

    def open_mailbox(self, runtime: Runtime, name: str | None, size: float) -> Mailbox:
        """Return the mailbox of an actor named ``name`` (``None``: unnamed), of capacity ``size``.

        Raises:
            ValueError: the mailbox cannot serve this actor (a durable one needs a name).
        """
        ...


class EndpointFactory(Protocol):
    """A factory whose actors' refs deliver through an endpoint of its own (a pool's router).

    It may also have ``trouper_spawn_failed(cell, endpoint)`` (not part of the
    protocol, so a factory without it still is one): called once, synchronously,
    when the spawn of ``cell`` fails after ``trouper_endpoint`` made ``endpoint``
    (the spawn was cancelled, its name or id was taken meanwhile, the runtime
    is closing, the factory raised), so that it releases what the endpoint holds.
    """

    def trouper_endpoint(self, cell: Cell) -> Endpoint[object]:
        """Return the endpoint the actor's ref delivers through, for the cell just made."""
        ...


class Runtime:
    """A running actor system: spawn actors, find them by name, stop them, look at them.

    Made and run by ``open_runtime()`` or ``start_runtime()`` (the testing
    kit builds one by hand and runs it with ``lowlevel.running``). Its
    methods are for the Trio thread that runs it; other threads use
    ``portal``, asyncio code uses ``trouper.aio``.
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
        store: AbstractAsyncContextManager[object] | None = None,
        transport: Transport | None = None,
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
        """This runtime's node name (the ``node`` of every address)."""
        self.mailbox_size = check_mailbox_size(mailbox_size)
        """The default mailbox capacity."""
        self.throughput = check_throughput(throughput)
        """The default number of messages an actor handles before it yields."""
        self.shutdown = check_seconds("shutdown", shutdown)
        """The default seconds a leaf actor's graceful stop may take."""
        self.shutdown_timeout = check_seconds("shutdown_timeout", shutdown_timeout)
        """Seconds the shutdown may wait for actors to stop (idle ones, stopped at once, free)."""
        self.root_strategy = root_strategy or OneForOne()
        """How top-level actors are supervised."""
        self.default_strategy = default_strategy or OneForOne()
        """How an actor supervises its children when its class sets no strategy."""
        self.on_root_give_up = on_root_give_up
        """What the root does when a top-level actor exceeds its intensity."""
        self.on_escalation = on_escalation
        """What an escalation past the root does."""
        self.random = random.Random(seed)
        """The runtime's random source (backoff jitter), seeded by ``seed``."""
        if store is not None and not (hasattr(store, "__aenter__") and hasattr(store, "__aexit__")):
            raise TypeError(
                f"store must be a store such as trouper.durable.SqliteStore, got {store!r}"
            )
        self._store = store
        if transport is not None and not callable(getattr(transport, "attach", None)):
            raise TypeError(
                f"transport must be a transport such as trouper.remote.Nats(url), got {transport!r}"
            )
        self.transport = transport
        """How this runtime reaches other nodes (``open_runtime(transport=...)``), or ``None``."""
        self.special_sends = False
        """Whether sends must take their slow path: an instrument watches sends, or a handler
        runs in a transaction (then its sends are staged). Read by every tell."""
        self.in_transaction = 0
        """How many of this runtime's handlers run in a transaction (durable mailboxes) now."""
        self.instruments = Instruments()
        """Hooks on what the engine does (``trouper.runtime.lowlevel.Instrument``)."""
        self.instruments.on_change = self.recount_special_sends
        self.events = EventLog()
        """Lifecycle events (started, stopped, failed, restarted, gave up): ``listen(fn)``."""
        self.instruments.add(self.events)
        self.dead_letters = DeadLetterOffice(self.instruments)
        """Undeliverable messages: ``count``, ``recent``, ``listen(fn)``."""
        self.names: dict[str, Cell] = {}
        """The living actors by name (chosen or automatic); read it, never change it."""
        self.root_task: Task | None = None
        """The root task of the Trio run the runtime lives in, once it runs."""
        self.closed = False
        """Whether the runtime takes no new actors (its block ended, or it was closed)."""
        self.stopping_since: float | None = None
        """When the close began stopping every actor (``now()``), or ``None`` before it."""
        self.thread: int | None = None
        """The id of the thread the runtime runs in (``threading.get_ident()``), once it runs."""
        self._ids = itertools.count(1)
        self._root: Guardian | None = None
        self._body_scope: trio.CancelScope | None = None
        self._failure: BaseException | None = None
        self._close_requested = trio.Event()
        self._finished = trio.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._portal_calls: set[trio.CancelScope] = set()
        # The scopes of the portal calls running now (``Portal.run``): cancelled as the
        # runtime ends, so that no thread waits on a call the runtime will never finish.
        self._extensions: dict[str, object] = {}
        self._quick_ops = 0
        # Operations completed at once since the last yield (see ``quick_checkpoint``).

    def __repr__(self) -> str:
        return f"<Runtime {self.node!r}>"

    async def quick_checkpoint(self) -> None:
        """The schedule point of an operation that completed at once (a spawn, an idle stop).

        Each such call was already a cancellation point; it yields to the
        scheduler once every ``QUICK_OPS_PER_YIELD`` calls, so that a loop
        spawning or stopping many actors still lets other tasks run, without
        paying a scheduler round (as much work as the spawn itself) for each.
        """
        if self.quick_op_yields():
            await cancel_shielded_checkpoint()

    def quick_op_yields(self) -> bool:
        """Count an operation that completed at once; say whether it should yield now.

        ``quick_checkpoint`` without the coroutine, for a hot path that awaits
        ``cancel_shielded_checkpoint()`` itself when this says so: a send staged
        in a handler's transaction (it delivers nothing before the commit).
        """
        self._quick_ops += 1
        if self._quick_ops >= QUICK_OPS_PER_YIELD:
            self._quick_ops = 0
            return True
        return False

    def recount_special_sends(self) -> None:
        """Recompute ``special_sends`` (after instruments or transactions change)."""
        self.special_sends = self.in_transaction > 0 or self.instruments.watch_sends

    @staticmethod
    def now() -> float:
        """The current time on Trio's clock (virtual under ``MockClock``)."""
        return trio.current_time()

    @property
    def store(self) -> Store:
        """The store durable mailboxes keep messages in (``open_runtime(store=...)``).

        Opened before the first actor starts and closed after the last one stops.

        Raises:
            RuntimeError: the runtime was opened without a store.
        """
        if self._store is None:
            raise RuntimeError(
                "this runtime has no store: open it with open_runtime(store=SqliteStore(path)) "
                "to use durable mailboxes"
            )
        return cast("Store", self._store)

    def remote(self, node: str, name: str) -> ActorRef[object]:
        """A ref to the actor registered as ``name`` on ``node`` (``trouper.remote``).

        Raises:
            RuntimeError: the runtime has no transport to other nodes, or this
                is called from outside the runtime's Trio thread.
        """
        self.check_thread("remote")
        if self.transport is None:
            raise RuntimeError(
                "this runtime has no transport: open it with "
                "open_runtime(node=..., transport=trouper.remote.Nats(url)) to reach other nodes"
            )
        return cast("_Remote", self.extension("remote")).ref(node, name)

    @property
    def root(self) -> Guardian:
        """The root's supervising side (``trouper.runtime.lowlevel.Guardian``), for the layers."""
        if self._root is None:
            raise RuntimeError("the runtime is not running")
        return self._root

    def extension(self, key: str) -> object:
        """This runtime's object for the layer registered as ``key`` (made on first use).

        Raises:
            LookupError: no layer registered ``key`` (its package is not imported).
        """
        try:
            return self._extensions[key]
        except KeyError:
            pass
        factory = _EXTENSIONS.get(key)
        if factory is None:
            raise LookupError(
                f"no trouper layer provides {key!r}: import the package that does "
                "(trouper.topics for 'topics', trouper.routing for 'pools')"
            )
        if not self._in_run():
            # A layer's object subscribes to the runtime's events as it is made:
            # from another thread that would race the Trio thread.
            raise RuntimeError(
                f"runtime {self.node!r} makes its {key!r} object on first use, and that use "
                "was outside the Trio run that hosts it (another thread, or asyncio code "
                "beside it): use it there first, or go through rt.portal or trouper.aio"
            )
        made = self._extensions[key] = factory(self)
        return made

    def check_thread(self, what: str) -> None:
        """Raise ``RuntimeError`` if called outside the runtime's Trio thread (or run).

        Every operation that may queue something checks this before it does,
        so that a call from another thread fails clearly instead of leaving an
        actor stuck.
        """
        if not self._in_run():
            self.refuse_foreign_thread(what)

    def _in_run(self) -> bool:
        """Whether the caller runs in the Trio run that hosts this runtime."""
        try:
            return current_root_task() is self.root_task
        except RuntimeError:  # no Trio run in this thread
            return False

    def refuse_foreign_thread(self, what: str) -> NoReturn:
        """Raise the ``RuntimeError`` for ``what`` called from outside the runtime's thread."""
        raise RuntimeError(
            f"{what}() was called from outside the Trio run that hosts runtime {self.node!r} "
            "(another thread, or asyncio code beside it); "
            f"from another thread use rt.portal ({_PORTAL_NAMES.get(what, 'portal.run')}), "
            "from asyncio code use trouper.aio"
        )

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
        mailbox: MailboxFactory | None = None,
        **kwargs: object,
    ) -> ActorRef[object]:
        """Start a top-level actor and return its ref once its ``on_start`` has run.

        ``factory(*args, **kwargs)`` builds the instance (an ``Actor`` subclass,
        or a function returning one); it is called again for each restart.
        Options are keyword-only: ``name`` registers the actor for ``lookup``
        (and is its path segment; without one the actor gets an automatic
        name such as ``Account-3``, which ``lookup`` finds too), ``mailbox_size``
        bounds its mailbox (``math.inf`` for none), ``throughput`` is how many
        messages it handles before yielding, ``restart`` its restart kind
        (default ``Restart.TRANSIENT``), ``shutdown`` the seconds its graceful
        stop may take (default: the runtime's ``shutdown``, or no limit for an
        actor that has children, as OTP gives supervisors ``infinity``),
        ``mailbox`` what kind of mailbox it gets (default: in memory, or the
        class's ``default_mailbox``; ``trouper.durable.Durable()`` for one on
        the runtime's store). A factory argument named like an option needs
        ``functools.partial``.

        Raises:
            NameTaken: ``name`` belongs to a living actor.
            StartFailed: the first ``on_start`` raised (``__cause__``); nothing keeps running.
            RuntimeClosed: the runtime has stopped or is stopping, or it began to
                stop while the actor's first ``on_start`` ran and its close cut
                that ``on_start`` off (at the actor's ``shutdown``; nothing of it
                keeps running). If ``on_start`` completed within that grace,
                ``spawn`` returns the ref and the actor stops with the close.
            ActorStopped: the actor was stopped otherwise (found by name or path,
                and stopped) while its first ``on_start`` ran, and the stop cut
                that ``on_start`` off; if it completed first, ``spawn`` returns
                the ref of the actor, which then stops.
            RuntimeError: called from outside the runtime's Trio thread.
            TypeError: ``mailbox`` (or the class's ``default_mailbox``) is not a
                mailbox factory instance: a class such as ``Durable`` is refused
                (pass ``Durable()``).
        """
        self.check_thread("spawn")
        if self._root is None:
            raise (
                RuntimeClosed(self.node)
                if self.closed
                else RuntimeError("the runtime is not running")
            )
        cell = await spawn_cell(
            self,
            self._root,
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

    def lookup(self, name: str) -> ActorRef[object] | None:
        """Return the ref of the living actor registered as ``name``, or ``None``."""
        cell = self.names.get(name)
        return None if cell is None else cell.ref

    def find(self, path: str) -> ActorRef[object] | None:
        """Return the ref of the living actor at ``path`` (``"/parent/child"``), or ``None``.

        The path is an address's path: the ids from a top-level actor down, each
        after a ``/``. A stopped actor, or a path that does not start with ``/``,
        finds nothing.
        """
        if self._root is None or not path.startswith("/"):
            return None
        guardian: Guardian | None = self._root
        found: Cell | None = None
        for child_id in path[1:].split("/"):
            if guardian is None:
                return None
            found = guardian.find(child_id)
            if found is None:
                return None
            guardian = found.children_guardian
        if found is None or found.phase is Phase.STOPPED:
            return None
        return found.ref

    async def stop(self, ref: ActorRef[object]) -> None:
        """Stop an actor for good and wait until it has stopped.

        The running handler finishes (and replies); then its children stop,
        then its ``on_stop`` runs, all within its ``shutdown`` deadline, after
        which what remains is cancelled. From the moment the stop begins the
        actor takes no mail: queued messages become dead letters and their
        asks get ``ActorStopped``, and so does what is sent meanwhile, at once
        (a durable mailbox stores it for the next incarnation instead). A
        stopped actor is not restarted, whatever its restart kind. Stopping
        a stopped actor does nothing.
        Called by the actor on itself, or by one of its descendants (whose
        own stop is part of it), it returns at once and the stop takes effect
        when the running handler returns.

        Raises:
            TypeError: ``ref`` is not a ref to an actor of this process (a
                name, a remote actor's ref).
            ValueError: ``ref`` is a ref to an actor of another runtime.
            RuntimeError: called from outside the runtime's Trio thread.
        """
        self.check_thread("stop")
        check_ref(ref, "stop", self)
        cell = cell_of(ref)
        await checkpoint_if_cancelled()
        if cell.phase is Phase.STOPPED:
            await cancel_shielded_checkpoint()
            return
        cell.command(Command.STOP)
        if cell.stopped:  # stopped at once (idle, nothing to wait for)
            await self.quick_checkpoint()
            return
        if _called_from_within(cell):
            await cancel_shielded_checkpoint()
            return
        await cell.wait_stopped()

    async def restart(self, ref: ActorRef[object]) -> None:
        """Restart an actor: end its instance, start a fresh one; return once that start has run.

        The running handler finishes first (it gets the actor's ``shutdown``
        seconds, then it is cancelled); the old instance's ``on_stop`` runs and
        its children stop; the new instance's ``on_start`` runs (not
        ``on_restart``: nothing failed). The mailbox, the ref and the name stay.
        It is carried out by the actor's supervisor, one job at a time with its
        decisions, is counted in the actor's restart count and reported as
        ``RESTARTED``, and does not count toward the restart intensity. Whatever
        the actor's restart kind (a ``TEMPORARY`` one too: its kind says what
        follows its own exits, and this is none) it is restarted. If the new
        instance's ``on_start`` raises, that is the actor's failure like any
        other (``FAILED``, then its supervisor decides, as it would have after
        a decided restart) and this returns: the actor has not started. Called
        by the actor on itself, or by one of its descendants (which the
        restart stops), it returns at once and the restart follows the
        running handler. If the actor or its supervisor begins to stop
        before the restart is carried out, it returns without restarting it.
        An actor waiting stopped in its group's restart backoff (``OneForAll``,
        ``RestForOne``) is restarted with its group, at once and in start order.

        Raises:
            ActorStopped: the actor has stopped for good.
            TypeError: ``ref`` is not a ref to an actor of this process (a
                name, a remote actor's ref).
            ValueError: ``ref`` is a ref to an actor of another runtime.
            RuntimeError: called from outside the runtime's Trio thread.
        """
        self.check_thread("restart")
        check_ref(ref, "restart", self)
        cell = cell_of(ref)
        await checkpoint_if_cancelled()
        if cell.phase is Phase.STOPPED:
            raise ActorStopped(cell.address)
        done = cell.parent.request_restart(cell)
        if _called_from_within(cell):
            await cancel_shielded_checkpoint()
            return
        with cell.waited_on():
            await done.wait()

    def tree(self) -> ActorTree:
        """The live hierarchy as data; ``str()`` of it is a readable rendering."""
        return build_tree(self.root, self.root_strategy)

    @property
    def topics(self) -> TopicRegistry:
        """This runtime's topic registry: subscribe, unsubscribe, publish (``trouper.topics``)."""
        return cast("TopicRegistry", self.extension("topics"))

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
        """Start a pool of ``size`` actors behind one ref (see ``trouper.routing``).

        The ref behaves as a single actor (tell, ask); members are supervised
        children of the pool, restarted when they fail. ``router`` chooses
        the member for each message (default ``RoundRobin()``). The options
        are those of ``spawn``: ``name``, ``restart`` and ``shutdown`` apply to
        the pool; ``mailbox_size`` and ``throughput`` to each member (a
        balancing pool's shared mailbox takes ``mailbox_size``).
        """
        self.check_thread("spawn_pool")
        pools = cast("_Pools", self.extension("pools"))
        return await pools.spawn(
            self.root,
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

    @property
    def portal(self) -> Portal:
        """A handle for other threads to tell, ask, spawn and publish (Trio's ``from_thread``)."""
        if self._token is None or self.thread is None:
            raise RuntimeError("the runtime is not running")
        return Portal(self._token, self, self.thread)

    # --- lifecycle --------------------------------------------------------------

    def _begin(self, nursery: trio.Nursery) -> None:
        self._root = Guardian(self, nursery, path="/", strategy=self.root_strategy, owner=None)
        self._token = trio.lowlevel.current_trio_token()
        self.root_task = current_root_task()
        self.thread = threading.get_ident()

    def new_guardian(self, owner: Cell) -> Guardian:
        """The supervising side of ``owner``'s children (``Cell.guardian`` makes it)."""
        return Guardian(self, None, path=owner.address.path, strategy=owner.strategy(), owner=owner)

    def escalated(self, cell: Cell, failure: BaseException) -> None:
        """An escalation reached past the root: fail the runtime, or log it (``on_escalation``)."""
        if self.on_escalation == "log":
            log.error("%s escalated past the root; it is stopped", cell.address.path)
            return
        self.fail(failure)

    @property
    def failing(self) -> bool:
        """Whether the runtime has failed: its block is cancelled and the error will leave it."""
        return self._failure is not None

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
        self.closed = True
        self._close_requested.set()
        await self._finished.wait()

    async def _stop_actors(self) -> None:
        """Stop every actor (the shutdown); then the runtime's tasks may be cancelled."""
        # Every top-level actor's stop is asked for now: a handler held up is cut off
        # within its grace from now, not from its turn (reverse start order), so two
        # held actors take one grace, not two back to back up to the cutoff.
        # Nested actors count it from there too (``Cell._stop_children``).
        self.stopping_since = self.now()
        if not await self.root.stop_all(budget=self.shutdown_timeout, asked_at=self.stopping_since):
            log.warning(
                "the runtime did not stop within %s s; cancelling what still runs",
                self.shutdown_timeout,
            )
            self.root.nursery.cancel_scope.cancel()


_PORTAL_NAMES = {
    "tell": "portal.tell",
    "tell_nowait": "portal.tell",
    "ask": "portal.ask",
    "spawn": "portal.spawn",
    "spawn_pool": "portal.run",
    "stop": "portal.stop",
    "restart": "portal.run",
    "subscribe": "portal.subscribe",
    "unsubscribe": "portal.unsubscribe",
    "publish": "portal.publish",
}


class _Remote(Protocol):
    def ref(self, node: str, name: str) -> ActorRef[object]: ...


class _Pools(Protocol):
    async def spawn(
        self,
        guardian: Guardian,
        factory: Callable[..., Actor],
        size: int,
        *args: object,
        router: Router | None,
        name: str | None,
        mailbox_size: float | None,
        throughput: int | None,
        restart: Restart | None,
        shutdown: float | None,
        **kwargs: object,
    ) -> ActorRef[object]: ...


def _called_from_within(cell: Cell) -> bool:
    """Whether the caller is ``cell``'s own task or one of its descendants' (not a timer's).

    Such a caller cannot wait for ``cell`` to stop or restart: that waits for
    the caller's own handler to return (it is stopped on the way), which
    would be waiting for it, until a deadline cut the handler off, or for
    good when there is none (an actor with children). The stop or restart
    follows the handler instead, as when an actor stops itself.
    """
    caller = own_cell()
    while caller is not None:
        if caller is cell:
            return True
        caller = caller.parent.owner
    return False


def check_ref(ref: object, what: str, runtime: Runtime | None = None) -> None:
    """Raise ``TypeError`` if ``ref`` is not an ``ActorRef`` (a name, most likely).

    Given ``runtime``, raise ``ValueError`` if ``ref`` is a ref to a local actor
    of another runtime (beside it in the same Trio run, or in another thread),
    as ``topics.subscribe`` does: what acts on an actor's cell (stop, restart,
    watch, link) must run in that actor's own runtime, where its cell's state
    is safe to touch. A ref delivering elsewhere (another node's actor)
    passes, unless its endpoint names a runtime (``Endpoint``: the node whose
    connection it goes through) in another thread, whose state only that
    thread may touch: the same ``ValueError`` then, naming that runtime.
    """
    if not isinstance(ref, ActorRef):
        if isinstance(getattr(ref, "ref", None), ActorRef):
            # trouper.aio's AioRef (which the engine does not import): its ActorRef is .ref.
            raise TypeError(
                f"{what} takes an ActorRef, got {ref!r}, a handle for asyncio code "
                "(trouper.aio): pass its ActorRef (aio_ref.ref)"
            )
        raise TypeError(
            f"{what} takes an ActorRef (rt.lookup(name) finds one by name), got {ref!r}"
        )
    if runtime is None:
        return
    cell = local_cell(ref)
    home: Runtime | None
    if cell is not None:
        home = cell.runtime
        if home is runtime:
            return
    else:
        # A remote actor's ref: one made by a runtime beside this one in the same Trio run
        # works from here (watch goes through that node); one of another thread does not.
        home = getattr(ref.endpoint, "runtime", None)
        if home is None or home.thread == runtime.thread:
            return
    raise ValueError(
        f"{what} takes a ref to an actor of runtime {runtime.node!r}; {ref!r} belongs "
        f"to another runtime (node {home.node!r}): {what} it from that runtime "
        "(its portal, from another thread)"
    )


def cell_of(ref: ActorRef[object]) -> Cell:
    """The local cell behind ``ref`` (a pool's ref gives the pool actor's cell).

    Raises:
        TypeError: ``ref`` is not a ref to a local actor.
    """
    cell = local_cell(ref)
    if cell is None:
        raise TypeError(f"{ref!r} is not a ref to an actor of this process")
    return cell


def _label(factory: Callable[..., object]) -> str:
    while isinstance(factory, partial):
        factory = factory.func
    label = getattr(factory, "__name__", None)
    if not isinstance(label, str):
        label = type(factory).__name__
    return label if label.isidentifier() else "Actor"


def _automatic_id(runtime: Runtime, guardian: Guardian, factory: Callable[..., object]) -> str:
    """A new automatic name: ``Label-N``, never one taken as a name or a sibling's id."""
    label = _label(factory)
    while True:
        candidate = f"{label}-{next(runtime._ids)}"
        if candidate not in runtime.names and guardian.find(candidate) is None:
            return candidate


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
    mailbox: MailboxFactory | None = None,
    shared_mailbox: Mailbox | None = None,
) -> Cell:
    """Create, register and start a child of ``guardian``; return once ``on_start`` ran.

    ``mailbox`` opens the actor's own mailbox (default: in memory, or the
    factory class's ``default_mailbox``). ``shared_mailbox`` shares an
    existing one (a balancing pool's members); the cell then neither sizes
    nor closes it. ``child_id`` sets the path segment
    of an actor that has no runtime-wide name (a pool's ``member-3``); by
    default an actor is named by ``name``, or automatically (``Class-N``).
    A factory that has a ``trouper_endpoint(cell)`` method (``EndpointFactory``)
    gives the endpoint the actor's ref delivers through, instead of the cell;
    if the spawn fails after that, its ``trouper_spawn_failed(cell, endpoint)``
    is called.

    Raises:
        RuntimeClosed: the runtime has stopped or is stopping, or began to stop
            while the actor's first ``on_start`` ran and cut it off (if it
            completed first, the cell is returned and the actor stops with the
            close).
        ActorStopped: the actor was stopped otherwise (by name, or its parent
            stopped) and that cut its first ``on_start`` off (same rule).
        StartFailed: the first ``on_start`` raised.
        RuntimeError: the guardian's owner is stopping (it takes no new children).
        NameTaken, DuplicateChild, TypeError, ValueError: bad or taken names and options.
    """
    await checkpoint_if_cancelled()
    await guardian.wait_for_decisions()
    if runtime.closed or (guardian.closing and guardian.owner is None):
        raise RuntimeClosed(runtime.node)
    if guardian.closing:
        raise RuntimeError(f"{guardian.path} is stopping: it cannot start new children")
    if not callable(factory):
        raise TypeError(f"factory must be callable (an Actor class or a function), got {factory!r}")
    if restart is not None and not isinstance(restart, Restart):
        raise ValueError(f"restart must be a Restart member, got {restart!r}")
    if name is not None and check_name(name) in runtime.names:
        raise NameTaken(name)
    chosen = name if spec is None else spec.name  # None for an automatic name (not stable)
    if spec is not None:
        child_id = spec.id
    elif child_id is None:
        if name is None:
            name = _automatic_id(runtime, guardian, factory)
        child_id = name
    if guardian.find(child_id) is not None:
        raise DuplicateChild(guardian.address, child_id)
    size = runtime.mailbox_size if mailbox_size is None else check_mailbox_size(mailbox_size)
    if shared_mailbox is not None:
        own_mailbox: Mailbox = shared_mailbox
    else:
        given = mailbox
        if mailbox is None and isinstance(factory, type):
            mailbox = getattr(factory, "default_mailbox", None)
        if mailbox is None:
            own_mailbox = MemoryMailbox(size)
        else:
            option = "mailbox" if given is not None else f"{_label(factory)}.default_mailbox"
            check_mailbox_factory(mailbox, option)
            own_mailbox = mailbox.open_mailbox(runtime, chosen, size)
    endpoint: Endpoint[object] | None = None
    made: Cell | None = None
    try:
        cell = made = Cell(
            runtime,
            guardian,
            child_id,
            factory,
            args,
            kwargs,
            name=name,
            mailbox=own_mailbox,
            owns_mailbox=shared_mailbox is None,
            throughput=runtime.throughput if throughput is None else check_throughput(throughput),
            restart=restart or Restart.TRANSIENT,
            shutdown=None if shutdown is None else check_seconds("shutdown", shutdown),
            spec=spec,
        )
        if own_mailbox.settles:
            own_mailbox.attach(cell)
        make_endpoint = getattr(factory, "trouper_endpoint", None)
        if make_endpoint is not None:
            endpoint = make_endpoint(cell)
            cell.ref = ActorRef(cell.address, endpoint)
        if not guardian.is_open:
            await guardian.open()
        context = cell.context = ActorContext(cell)
        instance = instantiate(context, factory, args, kwargs)
        if name is not None and name in runtime.names:
            raise NameTaken(name)  # taken while the guardian's nursery was opening
        if guardian.find(child_id) is not None:
            raise DuplicateChild(guardian.address, child_id)  # (likewise: the first child's id)
        # A settling mailbox prepares each instance before its on_start (a durable one
        # loads the actor's state): such an actor always goes through its first start.
        default_start = type(instance).on_start is Actor.on_start and not own_mailbox.settles
        try:
            cell.begin(instance, started=default_start)
        except RuntimeError:  # the nursery closed under us: the runtime is stopping
            raise RuntimeClosed(runtime.node) from None
    except BaseException as error:
        if made is not None:
            # Timers its instance started in __init__ run already, in the parent's nursery,
            # and its watches and links are recorded: no task of the cell will ever end them.
            made.discard(error if isinstance(error, Exception) else None)
        if shared_mailbox is None:
            # No task will ever consume it (or close it as it finalizes): a mailbox
            # left open would hold its name (a durable one's, for good).
            own_mailbox.close()
        if endpoint is not None:
            # Likewise for what the factory's endpoint holds (a pool's shared
            # mailbox): no cell will ever stop to let it go.
            spawn_failed = getattr(factory, "trouper_spawn_failed", None)
            if spawn_failed is not None:
                spawn_failed(cell, endpoint)
        raise
    # Registered once its task exists: if it is cancelled before it runs, its
    # finalization (which always runs) unregisters it.
    if name is not None:
        runtime.names[name] = cell
    guardian.add(cell)
    if default_start:
        # Nothing to wait for: the actor is started as spawn returns.
        await runtime.quick_checkpoint()
    else:
        try:
            await cell.wait_first_start()
        except BaseException:
            # Never started (it failed, was stopped or cancelled: it has stopped for
            # good), so never the guardian's child: a spec child stays listed once
            # stopped, but one whose start failed is not added (OTP's start_child
            # returns {error, _} and keeps no spec), or a retry with its id would be
            # refused as a duplicate of a child that never ran.
            if cell.phase is Phase.STOPPED:
                guardian.remove(cell)
                guardian.supervision.forget(child_id)
            raise
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
    store: AbstractAsyncContextManager[object] | None = None,
    transport: Transport | None = None,
) -> AsyncIterator[Runtime]:
    """Run an actor system for the duration of an ``async with`` block.

    Args:
        node: this runtime's node name (the ``node`` of every address).
        mailbox_size: default mailbox capacity (an int >= 1, or ``math.inf``).
        throughput: default number of messages an actor handles before it yields.
        shutdown: default seconds a leaf actor's graceful stop may take (an
            actor with children waits for them as long as their own
            ``shutdown`` allows, unless it was given a ``shutdown`` of its own).
        shutdown_timeout: seconds the shutdown at the end of the block may
            wait for actors to finish stopping; what is still running then is
            cancelled. Stopping idle actors, which stop at once, does not count
            against it, so a million idle actors shut down without tripping it.
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
        store: where durable mailboxes keep their messages (a
            ``trouper.durable.SqliteStore``); opened before the block's actors
            start, closed after the last one stops. A store that cannot be opened
            (not a store, locked, corrupt) raises here. Once open, its dead
            letters list refs as refs of this runtime (``rt.store.dead_letters``).
        transport: how this runtime, as node ``node``, reaches other nodes (a
            ``trouper.remote.Nats``); attached once the runtime runs, detached
            after the last actor has stopped.

    Leaving the block stops every actor: top-level actors last-spawned first,
    each one's children before itself, ``on_stop`` run, pending asks failed
    with ``ActorStopped``. A top-level actor's running handler is cut off at
    the block's end plus the actor's ``shutdown`` at the latest, whenever its
    turn comes: actors held in handlers stop within one grace together, not
    one each. An error that escalates past the root cancels the block and
    leaves it as that error. Cancelling the block from outside cancels every
    actor at once (their ``on_stop`` does not run) and leaves no task behind.
    Once the block is left (or cancelled), ``spawn`` raises ``RuntimeClosed``.
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
        store=store,
        transport=transport,
    )
    async with running(runtime):
        yield runtime


@asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[Runtime]:
    """Run a ``Runtime`` built by hand for the duration of a block (see ``open_runtime``).

    For the layers above the engine (the testing kit installs instruments on
    its runtimes before they run); applications use ``open_runtime()``.
    """
    if runtime._root is not None or runtime.closed:
        raise RuntimeError("this runtime has already run; build a new one")
    body_error: Exception | None = None
    try:
        async with AsyncExitStack() as stack:
            if runtime._store is not None:
                # Open before the first actor, closed after the last one has stopped.
                await stack.enter_async_context(runtime._store)
            try:
                async with trio.open_nursery() as nursery:
                    runtime._begin(nursery)
                    if runtime._store is not None and _STORE_LAYER in _EXTENSIONS:
                        # Made now, not at the first durable mailbox: it binds the store's
                        # codec to this runtime, so rt.store lists a dead letter holding
                        # a ref with that ref from the block's first line.
                        runtime.extension(_STORE_LAYER)
                    async with AsyncExitStack() as attached:
                        if runtime.transport is not None:
                            await attached.enter_async_context(runtime.transport.attach(runtime))
                        try:
                            # Failed already (while the transport attached): the
                            # block is cancelled at its first checkpoint.
                            with trio.CancelScope() as runtime._body_scope:
                                if runtime._failure is not None:
                                    runtime._body_scope.cancel()
                                yield runtime
                        except Exception as error:
                            body_error = error
                        finally:
                            runtime._body_scope = None
                            runtime.closed = True
                        await runtime._stop_actors()
                    runtime.root.nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                single = single_leaf(group)
                if single is None:
                    raise
                raise single from None
    finally:
        runtime.closed = True
        for scope in runtime._portal_calls:
            scope.cancel()
        runtime._finished.set()
    if body_error is not None:
        raise body_error
    if runtime._failure is not None:
        raise runtime._failure


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
        await runtime._close_requested.wait()
