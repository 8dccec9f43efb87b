"""Pools: ``spawn_pool`` and the ``Pool`` actor that owns a pool's members.

Theory of operation
-------------------
A pool is an ordinary actor (``Pool``) whose ref routes: its endpoint (see
``_endpoints``) sends each message straight to a member, or into the shared
mailbox of a balancing pool, and hands only ``Resize`` and ``Members`` to the
pool actor itself. The pool actor is the members' supervisor and the only
writer of the membership:

- ``on_start`` starts the members one by one (``member-1`` .. ``member-N``,
  children of the pool, so the pool's ``strategy`` restarts a member that
  fails: same cell, same mailbox, nothing else lost) and watches each;
- ``Resize`` starts members with the lowest free numbers, or removes the
  highest-numbered ones: out of the routing first, their queue handed back
  to the router (``PoolEndpoint.retire``), then stopped, last first;
- a member that stops for good on its own (``ctx.stop()``, ``rt.stop`` on
  its ref, a ``STOP`` directive) leaves the pool when its ``Terminated``
  arrives; the pool stops itself when none is left, unless its supervision
  is already stopping them all (a give-up, whose failure must reach the
  pool's own supervisor).

If the pool actor restarts (its members exceeded the restart intensity and
its supervisor restarted it), the members are stopped with the old instance
and the new one starts as many fresh ones as the pool last wanted. Its
``on_stop`` unwatches the members, so that their stop (which, when the pool
stops for good, comes before ``on_stop``) leaves no ``Terminated`` behind to
become a dead letter.

When the pool actor stops for good, one listener per runtime on its
``STOPPED`` event (sent from the cell's synchronous finalization, so also
after a cancelled stop) closes the endpoint. A pool whose spawn fails after
its endpoint was made (cancelled while its parent's children's nursery
opens, its name taken meanwhile) never runs: the engine calls
``trouper_spawn_failed``, which forgets and closes the endpoint at once.
"""

from __future__ import annotations

import contextlib
import itertools
import weakref
from collections.abc import Callable, Mapping

import attrs

from trouper._validate import check_mailbox_factory, check_mailbox_size, check_throughput
from trouper.actors import Actor, ActorRef, ActorState, Address, Reject, Terminated, handler
from trouper.errors import ActorStopped, ChildNotFound
from trouper.routing._endpoints import PoolEndpoint, endpoint_for
from trouper.routing._messages import Members, Resize, check_size
from trouper.routing._routers import Balancing, RoundRobin, Router
from trouper.runtime import ActorEvent, EventKind, EventLog, Listener, Runtime
from trouper.runtime.lowlevel import (
    Cell,
    Endpoint,
    Guardian,
    MailboxFactory,
    cell_of,
    register_extension,
    spawn_cell,
)
from trouper.supervision import Restart, Strategy

__all__ = ["Pool", "PoolFactory", "members", "pool", "resize", "spawn_pool"]


@attrs.frozen
class _MemberSpec:
    """How to build a member: the same for every member, across restarts."""

    factory: Callable[..., Actor]
    args: tuple[object, ...]
    kwargs: Mapping[str, object]
    strategy: Strategy | None
    mailbox_size: float | None
    throughput: int | None


@attrs.frozen
class PoolFactory:
    """A pool as a factory: ``ChildSpec("workers", pool(Worker, 4))`` supervises a pool.

    Made by ``pool(...)``. Calling it builds the ``Pool`` actor; the engine
    asks it (``trouper_endpoint``) for the endpoint each new pool's ref
    routes through, so every pool it starts gets its own router state.
    """

    member: _MemberSpec
    """How each member is built."""
    router: Router
    """How messages are spread over the members."""
    size: int
    """How many members a new pool starts."""
    mailbox: MailboxFactory | None = None
    """What opens a balancing pool's shared mailbox (``Durable()``), or None: in memory."""
    _unnamed: bool = attrs.field(default=False, kw_only=True, alias="_unnamed", repr=False)
    # Set by ``spawn_pool`` without ``name=``: the pool's name is then automatic
    # (``PoolFactory-N``, after what was spawned before), no identity for a store.

    def __call__(self) -> Pool:
        """Build the pool actor (the engine calls this, with ``self.ctx`` set)."""
        return Pool(self)

    def trouper_endpoint(self, cell: Cell) -> PoolEndpoint:
        """The routing endpoint of the pool run by ``cell`` (one per pool started).

        Raises:
            ValueError: the pool actor itself was given a durable mailbox (the
                ``mailbox=`` of the spawn or ``ChildSpec`` that starts it), which
                would keep only its control requests (the failed spawn closes it).
        """
        if cell.mailbox.durable:
            raise ValueError(
                f"the mailbox of pool {cell.address.path} is given to the spawn or ChildSpec "
                "that starts it, where it would hold only the pool's Resize and Members "
                "requests, not its members' messages: pass mailbox= to spawn_pool or "
                "pool(..., router=Balancing()) instead (its members then share it)"
            )
        runtime = cell.runtime
        size = self.member.mailbox_size
        if size is None:
            size = runtime.mailbox_size
        shared = None
        if self.mailbox is not None:
            # Opened under the pool's chosen name, as spawn opens an actor's: a durable
            # one is the pool's identity in the store (and refuses an unnamed pool).
            chosen = None if self._unnamed else cell.name
            shared = self.mailbox.open_mailbox(runtime, chosen, size)
        endpoint = endpoint_for(self.router, self.size, size, shared).attach(cell)
        _track(runtime, endpoint)
        return endpoint

    def trouper_spawn_failed(self, cell: Cell, endpoint: Endpoint[object]) -> None:
        """The pool's spawn failed after ``trouper_endpoint``: forget and close its endpoint.

        No pool actor will ever stop to close it: its shared mailbox (a durable
        one holds the pool's name in the store) is closed now.
        """
        assert isinstance(endpoint, PoolEndpoint)
        pools = _open_pools.get(cell.runtime)
        if pools is not None:
            pools.forget(endpoint)
        endpoint.close()


def pool(
    factory: Callable[..., Actor],
    size: int,
    *args: object,
    router: Router | None = None,
    mailbox_size: float | None = None,
    throughput: int | None = None,
    mailbox: MailboxFactory | None = None,
    **kwargs: object,
) -> PoolFactory:
    """Describe a pool of ``size`` members built by ``factory(*args, **kwargs)``.

    For ``ChildSpec``: ``ChildSpec("workers", pool(Worker, 4, router=Balancing()))``
    makes the pool a supervised child like any other (restarted by its
    supervisor's strategy, stopped in order). ``mailbox_size`` and
    ``throughput`` apply to each member (a balancing pool's shared mailbox
    takes ``mailbox_size``). ``mailbox`` opens a balancing pool's shared
    mailbox: ``Durable()`` makes the pool a durable work queue, kept under
    the pool's name (which must then be chosen). Without ``mailbox``, a
    balancing pool's members share one of their class's ``default_mailbox``
    kind, if it names one; the other routers give each member an in-memory
    mailbox, and refuse a class that names one.

    Raises:
        ValueError: ``size`` is not an int >= 1, a bad option, an unknown
            router, or a ``mailbox`` (or the members' class's
            ``default_mailbox``) for a pool that is not balancing.
        TypeError: ``factory`` is not callable, or ``mailbox`` is not a mailbox factory.
    """
    check_size(size)
    if not callable(factory):
        raise TypeError(f"factory must be callable (an Actor class or a function), got {factory!r}")
    chosen = RoundRobin() if router is None else router
    endpoint_for(chosen, size, 1)  # refuses what is not a router, before anything starts
    if mailbox is None and isinstance(factory, type):
        default = getattr(factory, "default_mailbox", None)
        if default is not None:
            option = f"{factory.__qualname__}.default_mailbox"
            check_mailbox_factory(default, option)
            if not isinstance(chosen, Balancing):
                # Spawned unnamed, each member would open one of its own (a durable
                # one needs a name: it failed at start, saying to pass name=), and a
                # member's queue moves to the others on a shrink, out of any store.
                raise ValueError(
                    f"{option} cannot be the mailbox of each member of a "
                    f"{type(chosen).__name__}() pool (a member has no name of its own, "
                    "and its queued messages move to the other members when the pool "
                    "shrinks): use router=Balancing() with name=... (the members then "
                    "share one mailbox of that kind, kept under the pool's name), or pool "
                    "a subclass whose default_mailbox is None (each member's mailbox in memory)"
                )
            # The members' class names its mailbox: the one they share is of that kind (a
            # durable default makes the pool a durable work queue, as ``mailbox=`` would).
            mailbox = default
    elif mailbox is not None:
        check_mailbox_factory(mailbox)
        if not isinstance(chosen, Balancing):
            raise ValueError(
                "mailbox= is for Balancing() pools, whose members share one mailbox; "
                f"got router {chosen!r}"
            )
    member = _MemberSpec(
        factory,
        args,
        dict(kwargs),
        chosen.strategy,
        None if mailbox_size is None else check_mailbox_size(mailbox_size),
        None if throughput is None else check_throughput(throughput),
    )
    return PoolFactory(member, chosen, size, mailbox)


def _number(cell: Cell) -> int:
    return int(cell.child_id.rpartition("-")[2])


class Pool(Actor):
    """The actor behind a pool's ref: starts, watches, resizes and supervises the members.

    Not spawned directly: use ``spawn_pool`` (``rt.spawn_pool``,
    ``ctx.spawn_pool``). It handles ``Resize``, ``Members`` and its members'
    ``Terminated``; everything else told to the pool's ref goes to members
    without passing through it.
    """

    def __init__(self, factory: PoolFactory) -> None:
        endpoint = self.ctx.self_ref.endpoint
        assert isinstance(endpoint, PoolEndpoint)
        self._cell = endpoint.cell
        self.endpoint = endpoint
        self.spec = factory.member
        self.supervisor_strategy = factory.member.strategy

    async def on_start(self) -> None:
        """Start the members the pool wants, one by one, each routed to once started."""
        if self.endpoint.closed:
            # Stopped for good, then started again from its spec (``RestartChild``):
            # the endpoint was closed (a balancing pool's shared mailbox too), and
            # is closed again when this life of the pool ends.
            self.endpoint.reopen()
            _track(self._cell.runtime, self.endpoint)
        self.endpoint.set_members(())
        # The members depend on none of each other: when the pool stops (or gives
        # up), every member's stop begins at once, so a pool whose members are all
        # busy (a broadcast reaches each) stops within one member's shutdown
        # deadline, as one busy actor does, not within the sum of them.
        self._cell.guardian.stop_together = True
        for number in range(1, self.endpoint.size + 1):
            await self._start_member(number)

    async def on_stop(self) -> None:
        """Stop watching the members, withdrawing the ``Terminated`` their stop queued."""
        for cell in self.endpoint.members:
            self.ctx.unwatch(cell.ref)

    async def _start_member(self, number: int) -> None:
        spec, endpoint = self.spec, self.endpoint
        cell = await spawn_cell(
            self._cell.runtime,
            self._cell.guardian,
            spec.factory,
            spec.args,
            dict(spec.kwargs),
            child_id=f"member-{number}",
            shared_mailbox=endpoint.shared,
            mailbox_size=spec.mailbox_size,
            throughput=spec.throughput,
        )
        self.ctx.watch(cell.ref)
        endpoint.actor_class = cell.actor_class
        endpoint.set_members(sorted((*endpoint.members, cell), key=_number))

    @handler
    async def resize(self, message: Resize) -> Reject | None:
        """Grow or shrink to ``message.size`` members; reject if a new member cannot start."""
        endpoint = self.endpoint
        # Members whose stop for good has begun are counted by none of the sizes: they
        # leave now, not when their Terminated comes. Their numbers stay taken while
        # their cells finish stopping (a child's id is its own until then).
        taken = {_number(cell) for cell in endpoint.members}
        self._drop_stopping()
        current = endpoint.members
        endpoint.size = message.size
        if message.size > len(current):
            free = (n for n in itertools.count(1) if n not in taken)
            for number in itertools.islice(free, message.size - len(current)):
                try:
                    await self._start_member(number)
                except Exception as error:
                    # The new member's failure (StartFailed, or its factory's own
                    # error) is the asker's answer; the pool itself is fine.
                    endpoint.size = len(endpoint.members)
                    guardian = self._cell.children_guardian
                    if guardian is not None and guardian.closing:
                        # Not the member's fault: the supervision gave up and is
                        # stopping every member, and the pool fails next (a
                        # restart starts as many members as it has now).
                        return Reject(ActorStopped(self._cell.address))
                    if not endpoint.members:
                        self.ctx.stop()  # its last members were stopping: none is left
                    return Reject(error)
        elif message.size < len(current):
            leaving = current[message.size :]
            endpoint.set_members(current[: message.size])
            for cell in leaving:
                self.ctx.unwatch(cell.ref)
                endpoint.retire(cell)
            for cell in reversed(leaving):
                await self._stop_member(cell)
        return None

    def _drop_stopping(self) -> None:
        """Take the members whose stop for good has begun out of the pool, now."""
        endpoint = self.endpoint
        guardian = self._cell.children_guardian
        if guardian is not None and guardian.closing:
            return  # a give-up stops them all: the pool restarts with as many (member_stopped)
        staying = [cell for cell in endpoint.members if not cell.stopping_for_good]
        if len(staying) == len(endpoint.members):
            return
        for cell in endpoint.members:
            if cell.stopping_for_good:
                self.ctx.unwatch(cell.ref)  # gone already: its Terminated has nothing to do
        endpoint.set_members(staying)

    async def _stop_member(self, cell: Cell) -> None:
        if cell.state is ActorState.STOPPED:
            return
        with contextlib.suppress(ChildNotFound):  # it stopped while another was stopping
            await self.ctx.stop_child(cell.child_id)

    @handler
    async def members(self, message: Members) -> tuple[ActorRef[object], ...]:
        """Reply with the refs of the members that stay, in member order.

        A member whose stop for good has begun has left (as ``Resize`` counts),
        even before the pool has handled its ``Terminated``.
        """
        cells = self.endpoint.members
        guardian = self._cell.children_guardian
        if guardian is None or not guardian.closing:  # (a give-up: the pool restarts with all)
            cells = tuple(cell for cell in cells if not cell.stopping_for_good)
        return tuple(cell.ref for cell in cells)

    @handler
    async def member_stopped(self, message: Terminated) -> None:
        """Take a member that stopped for good out of the pool; stop when none is left."""
        endpoint = self.endpoint
        gone = cell_of(message.ref)
        if gone not in endpoint.members:
            return  # a member of an earlier incarnation, or one removed by a resize
        guardian = self._cell.children_guardian
        if guardian is not None and guardian.closing:
            # The supervision gave up and is stopping every member; the pool
            # fails next, and a restart starts as many members as it had.
            return
        endpoint.set_members([cell for cell in endpoint.members if cell is not gone])
        endpoint.size = len(endpoint.members)
        if not endpoint.members:
            self.ctx.stop()


# --- closing the endpoint when the pool stops for good ------------------------------


@attrs.define(eq=False)
class _OpenPools:
    """A runtime's pools that have not stopped, and the listener that closes them."""

    _events: EventLog
    _pools: dict[Address, list[PoolEndpoint]] = attrs.field(factory=dict)
    # The endpoints of the pools at each address that have not stopped. Most
    # often one; two when spawns of the same pool raced and the loser's spawn
    # has not failed yet (it must not push the winner out).
    _listener: Listener | None = None

    def track(self, endpoint: PoolEndpoint) -> None:
        """Close ``endpoint`` once its pool actor has stopped for good."""
        if endpoint.cell.state is ActorState.STOPPED:
            endpoint.close()
            return
        self._pools.setdefault(endpoint.cell.address, []).append(endpoint)
        if self._listener is None:
            # Listen only while a pool is open, and only to stops, so that a
            # runtime without pools does not even build the events.
            self._listener = self._events.listen(self._on_stop, kinds=[EventKind.STOPPED])

    def forget(self, endpoint: PoolEndpoint) -> None:
        """Stop tracking ``endpoint`` (its pool never ran: its spawn failed)."""
        self._keep(endpoint.cell.address, lambda kept: kept is not endpoint)

    def _on_stop(self, event: ActorEvent) -> None:
        if event.address not in self._pools:
            return  # not a pool (every actor's stop comes here)
        stopped = self._keep(event.address, lambda kept: kept.cell.state is not ActorState.STOPPED)
        for endpoint in stopped:
            endpoint.close()

    def _keep(self, address: Address, keep: Callable[[PoolEndpoint], bool]) -> list[PoolEndpoint]:
        """Keep tracking the endpoints at ``address`` that ``keep`` says; return the others."""
        endpoints = self._pools.get(address)
        if endpoints is None:
            return []
        kept: list[PoolEndpoint] = []
        dropped: list[PoolEndpoint] = []
        for endpoint in endpoints:
            (kept if keep(endpoint) else dropped).append(endpoint)
        if dropped:
            if kept:
                self._pools[address] = kept
            else:
                del self._pools[address]
                if not self._pools and self._listener is not None:
                    self._listener.cancel()
                    self._listener = None
        return dropped


# Keyed weakly, and the value holds no reference to the runtime once its pools
# have stopped (they all have when the runtime has), so runtimes are not kept.
_open_pools: weakref.WeakKeyDictionary[Runtime, _OpenPools] = weakref.WeakKeyDictionary()


def _track(runtime: Runtime, endpoint: PoolEndpoint) -> None:
    pools = _open_pools.get(runtime)
    if pools is None:
        pools = _open_pools[runtime] = _OpenPools(runtime.events)
    pools.track(endpoint)


# --- the API ------------------------------------------------------------------------


async def spawn_pool(
    guardian: Guardian,
    factory: Callable[..., Actor],
    size: int,
    *args: object,
    router: Router | None = None,
    name: str | None = None,
    mailbox_size: float | None = None,
    throughput: int | None = None,
    restart: Restart | None = None,
    shutdown: float | None = None,
    mailbox: MailboxFactory | None = None,
    **kwargs: object,
) -> ActorRef[object]:
    """Start a pool of ``size`` members behind one ref, as a child of ``guardian``.

    Applications call ``rt.spawn_pool`` or ``ctx.spawn_pool``, which pass the
    guardian. Each member is ``factory(*args, **kwargs)``; ``router``
    (default ``RoundRobin()``) decides which member gets each message. The
    options are ``spawn``'s: ``name`` registers the pool (``rt.lookup(name)``
    returns the same routing ref), ``restart`` and ``shutdown`` apply to the
    pool as a child of its supervisor, ``mailbox_size`` and ``throughput`` to
    each member. ``mailbox`` opens a balancing pool's shared mailbox:
    ``rt.spawn_pool(Worker, 4, router=Balancing(), name="jobs", mailbox=Durable())``
    is a durable work queue with competing consumers, kept under the pool's
    name. Returns once every member has run its ``on_start``.

    The ref behaves as one actor's: ``tell``, ``tell_nowait`` and ``ask`` go
    to the member(s) the router picks (see each router for what ``ask``
    returns); ``Resize`` and ``Members`` go to the pool itself; ``rt.stop``,
    ``ctx.watch`` and ``ctx.link`` act on the pool, which stops its members
    when it stops. Members are the pool's children, restarted by its
    ``router.strategy`` when they fail.

    Raises:
        ValueError: ``size`` is not an int >= 1, ``router`` is not one of the
            routers, or a ``mailbox`` (or the members' class's ``default_mailbox``)
            for a pool that is not balancing.
        TypeError: ``factory`` is not callable.
        NameTaken: ``name`` belongs to a living actor.
        StartFailed: a member (or the pool) could not start; nothing of the pool keeps running.
    """
    description = pool(
        factory,
        size,
        *args,
        router=router,
        mailbox_size=mailbox_size,
        throughput=throughput,
        mailbox=mailbox,
        **kwargs,
    )
    if name is None:
        description = attrs.evolve(description, _unnamed=True)
    cell = await spawn_cell(
        guardian.runtime,
        guardian,
        description,
        (),
        {},
        name=name,
        restart=restart,
        shutdown=shutdown,
    )
    return cell.ref


class _Pools:
    """The ``"pools"`` extension of a runtime: what ``rt.spawn_pool`` calls."""

    __slots__ = ()

    def __init__(self, runtime: Runtime) -> None:
        pass

    spawn = staticmethod(spawn_pool)


register_extension("pools", _Pools)


async def resize(pool: ActorRef[object], size: int) -> None:
    """Have the pool behind ``pool`` run ``size`` members; return once it does.

    Same as ``await pool.ask(Resize(size))``; see ``Resize`` for what happens
    to the messages of removed members.

    Raises:
        ValueError: ``size`` is not an int >= 1.
        StartFailed: a new member's ``on_start`` raised (a factory's own error is
            raised as it is); the members started so far stay.
        ActorStopped: the pool has stopped, or its supervision gave up (and the
            pool restarts with the members it had) before the new ones all started.
    """
    await pool.ask(Resize(size))


async def members(pool: ActorRef[object]) -> tuple[ActorRef[object], ...]:
    """Return the refs of the pool's members, in member order (``pool.ask(Members())``).

    Raises:
        ActorStopped: the pool has stopped.
    """
    return await pool.ask(Members())
