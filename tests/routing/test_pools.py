"""Pools as actors: spawning, arguments, the one ref, stopping, members' fates, supervision."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import (
    Actor,
    ActorState,
    ActorStopped,
    EventKind,
    OneForOne,
    Restart,
    StartFailed,
    Terminated,
    handler,
)
from trouper.routing import (
    Balancing,
    Broadcast,
    ConsistentHash,
    RoundRobin,
    Router,
    members,
    pool,
)
from trouper.runtime import WhichChildren
from trouper.runtime.lowlevel import cell_of


@attrs.frozen
class Job:
    id: int
    crash: bool = False


@attrs.frozen
class Quit:
    pass


class Worker(Actor):
    """Journals (member, job id); crashes or stops itself on request."""

    def __init__(self, journal: list[tuple[str, int]]) -> None:
        self.journal = journal

    @handler
    async def job(self, message: Job) -> str:
        if message.crash:
            raise RuntimeError(f"job {message.id} crashed")
        member = self.ctx.self_ref.address.path.rpartition("/")[2]
        self.journal.append((member, message.id))
        return member

    @handler
    async def quit(self, message: Quit) -> None:
        self.ctx.stop()


class Broken(Actor):
    """Cannot start."""

    async def on_start(self) -> None:
        raise OSError("no socket")


@attrs.frozen
class Deaths(trouper.Request[list[str]]):
    pass


class Owner(Actor):
    """Runs a pool as its child and watches it; reports the deaths it saw."""

    def __init__(self, journal: list[tuple[str, int]]) -> None:
        self.journal = journal
        self.deaths: list[str] = []

    async def on_start(self) -> None:
        self.pool = await self.ctx.spawn_pool(Worker, 2, self.journal, name="owned")
        self.ctx.watch(self.pool)

    @handler
    async def job(self, message: Job) -> None:
        await self.pool.tell(message)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.deaths.append(str(message.ref.address))

    @handler
    async def report(self, message: Deaths) -> list[str]:
        return self.deaths


ROUTERS: list[Router] = [RoundRobin(), Balancing(), ConsistentHash(repr), Broadcast()]


# --- arguments ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -1, True, 2.5, "3"])
async def test_size_must_be_a_positive_int(size: object) -> None:
    """``spawn_pool`` refuses a size that is not an int >= 1, before starting anything."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=rf"^size must be an int >= 1, got {size!r}$"):
            await rt.spawn_pool(Worker, size, [])  # type: ignore[arg-type]
        assert rt.tree().actors == ()


async def test_router_must_be_one_of_the_routers() -> None:
    """Anything but a router is refused, with what was given."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            ValueError,
            match=r"^router must be RoundRobin\(\), Balancing\(\), ConsistentHash\(key\) or "
            r"Broadcast\(\), got 'round-robin'$",
        ):
            await rt.spawn_pool(Worker, 2, [], router="round-robin")  # type: ignore[arg-type]


async def test_factory_must_be_callable() -> None:
    """A factory that is not callable is refused."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            TypeError,
            match=r"^factory must be callable \(an Actor class or a function\), got 42$",
        ):
            await rt.spawn_pool(42, 2)  # type: ignore[arg-type]


async def test_a_member_that_cannot_start_fails_the_spawn_and_leaves_nothing() -> None:
    """``StartFailed`` for the pool (the member's failure as cause); nothing keeps running."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            StartFailed, match=r"^actor trouper://local/bad failed to start: StartFailed\("
        ) as caught:
            await rt.spawn_pool(Broken, 2, name="bad")
        assert isinstance(caught.value.__cause__, StartFailed)
        assert rt.tree().actors == ()
        assert rt.lookup("bad") is None


# --- the one ref ---------------------------------------------------------------------


@pytest.mark.parametrize("router", ROUTERS, ids=lambda r: type(r).__name__)
async def test_the_pool_runs_members_as_its_children(router: Router) -> None:
    """The pool is one actor in the tree, with member-1..N as its children."""
    async with trouper.open_runtime() as rt:
        await rt.spawn_pool(Worker, 3, [], router=router, name="pool")
        (pool,) = rt.tree().actors
        assert (pool.path, pool.actor_class) == ("/pool", "Pool")
        assert [(c.path, c.actor_class) for c in pool.children] == [
            ("/pool/member-1", "Worker"),
            ("/pool/member-2", "Worker"),
            ("/pool/member-3", "Worker"),
        ]


async def test_lookup_by_name_gives_the_routing_ref() -> None:
    """``rt.lookup(name)`` returns the pool's ref itself, which routes."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, journal, name="pool")
        found = rt.lookup("pool")
        assert found == pool
        assert found is not None
        assert found.endpoint is pool.endpoint
        assert await found.ask(Job(1)) == "member-1"
        assert await found.ask(Job(2)) == "member-2"


async def test_a_members_parent_is_the_pool() -> None:
    """A member's ``ctx.parent`` is the pool's routing ref."""

    class Child(Actor):
        @handler
        async def job(self, message: Job) -> object:
            return self.ctx.parent

    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Child, 2)
        parent = await pool.ask(Job(0))
        assert parent == pool
        assert isinstance(parent, trouper.ActorRef)
        assert parent.endpoint is pool.endpoint


async def test_an_actor_can_own_a_pool() -> None:
    """``ctx.spawn_pool`` makes the pool a child of the actor; messages flow through it."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        owner = await rt.spawn(Owner, journal, name="owner")
        for i in range(4):
            await owner.tell(Job(i))
        await trio.testing.wait_all_tasks_blocked()
        assert [a.path for a in rt.tree().walk()] == [
            "/owner",
            "/owner/owned",
            "/owner/owned/member-1",
            "/owner/owned/member-2",
        ]
        await rt.stop(owner)
        assert rt.tree().actors == ()
    assert sorted(journal) == [("member-1", 0), ("member-1", 2), ("member-2", 1), ("member-2", 3)]


# --- stopping -----------------------------------------------------------------------


@pytest.mark.parametrize("router", ROUTERS, ids=lambda r: type(r).__name__)
async def test_stopping_the_pool_stops_every_member(router: Router) -> None:
    """``rt.stop(pool)`` stops the members, then the pool."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 3, [], router=router)
        refs = await members(pool)
        await rt.stop(pool)
        assert cell_of(pool).state is ActorState.STOPPED
        assert [cell_of(ref).state for ref in refs] == [ActorState.STOPPED] * 3
        assert rt.tree().actors == ()


@pytest.mark.parametrize("router", ROUTERS, ids=lambda r: type(r).__name__)
async def test_a_stopped_pool_takes_tells_as_dead_letters_and_fails_asks(router: Router) -> None:
    """After the stop: tell and tell_nowait are dead letters to the pool; ask raises."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, [], router=router, name="pool")
        await rt.stop(pool)
        await pool.tell(Job(1))
        pool.tell_nowait(Job(2))
        with pytest.raises(ActorStopped, match=r"^actor trouper://local/pool has stopped$"):
            await pool.ask(Job(3))
    assert [(d.message, str(d.recipient), d.reason) for d in rt.dead_letters.recent] == [
        (Job(1), "trouper://local/pool", "actor stopped"),
        (Job(2), "trouper://local/pool", "actor stopped"),
        (Job(3), "trouper://local/pool", "actor stopped"),
    ]


async def test_stopping_a_pool_leaves_no_dead_letters_of_its_own() -> None:
    """An idle pool stops cleanly: its members' deaths are not reported as dead letters."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 3, [])
        await rt.stop(pool)
    assert rt.dead_letters.count == 0


async def test_watchers_of_the_pool_learn_when_it_stops() -> None:
    """Watching the pool's ref delivers ``Terminated`` for the pool, not for its members."""
    async with trouper.open_runtime() as rt:
        owner = await rt.spawn(Owner, [], name="owner")
        (pool,) = [ref for ref in [rt.lookup("owned")] if ref is not None]
        await rt.stop(pool)
        await trio.testing.wait_all_tasks_blocked()
        assert await owner.ask(Deaths()) == ["trouper://local/owner/owned"]


# --- members' fates --------------------------------------------------------------------


async def test_a_member_that_stops_itself_leaves_the_pool() -> None:
    """A member's normal stop is final: the pool routes to the others from then on."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, journal)
        await pool.tell(Quit())
        await trio.testing.wait_all_tasks_blocked()
        assert [ref.address.path.rpartition("/")[2] for ref in await members(pool)] == ["member-2"]
        assert [await pool.ask(Job(i)) for i in range(3)] == ["member-2"] * 3


async def test_the_pool_stops_when_its_last_member_has_stopped() -> None:
    """With every member gone for good, the pool stops itself (its watchers learn it)."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, [], router=Broadcast())
        await pool.tell(Quit())
        await trio.testing.wait_all_tasks_blocked()
        assert cell_of(pool).state is ActorState.STOPPED


async def test_members_failing_beyond_the_intensity_fail_the_pool() -> None:
    """The pool's strategy gives up: the pool fails and its supervisor restarts it afresh."""
    journal: list[tuple[str, int]] = []
    events: list[tuple[EventKind, str]] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(lambda e: events.append((e.kind, e.address.path)))
        pool = await rt.spawn_pool(
            Worker, 2, journal, router=RoundRobin(strategy=OneForOne(max_restarts=1)), name="p"
        )
        before = await members(pool)
        await pool.tell(Job(0, crash=True))
        await pool.tell(Job(1, crash=True))
        await trio.testing.wait_all_tasks_blocked()
        after = await members(pool)
        assert [ref.address.path for ref in after] == ["/p/member-1", "/p/member-2"]
        assert [cell_of(ref) for ref in after] != [cell_of(ref) for ref in before]
        assert await pool.ask(Job(2)) == "member-1"
    assert (EventKind.GAVE_UP, "/p") in events
    assert (EventKind.RESTARTED, "/p") in events


async def test_a_crashed_member_keeps_its_ref() -> None:
    """A restarted member is the same member: same ref, same place in the pool."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, [])
        before = await members(pool)
        await pool.tell(Job(0, crash=True))
        await trio.testing.wait_all_tasks_blocked()
        after = await members(pool)
        assert after == before
        assert [cell_of(a) is cell_of(b) for a, b in zip(after, before, strict=True)] == [
            True,
            True,
        ]
        assert cell_of(after[0]).restart_count == 1


async def test_a_pool_is_a_supervisors_child_through_a_child_spec() -> None:
    """ChildSpec(id, pool(...)): the supervisor starts the pool; its ref routes to members."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(
            trouper.Supervisor,
            [trouper.ChildSpec("workers", pool(Worker, 3, journal, router=RoundRobin()))],
            name="sup",
        )
        listed = await sup.ask(WhichChildren())
        info = listed[0]
        workers = info.ref
        assert info.id == "workers"
        assert [await workers.ask(Job(n)) for n in range(3)] == [
            "member-1",
            "member-2",
            "member-3",
        ]
        assert len(await members(workers)) == 3
        await rt.stop(sup)
        assert cell_of(workers).state is ActorState.STOPPED


async def test_a_pool_child_is_restarted_by_its_supervisor_when_it_gives_up() -> None:
    """Members exceed the pool's intensity: the pool fails, its supervisor restarts it."""
    journal: list[tuple[str, int]] = []
    fragile = RoundRobin(strategy=OneForOne(max_restarts=0))
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(
            trouper.Supervisor,
            [trouper.ChildSpec("workers", pool(Worker, 2, journal, router=fragile))],
        )
        info = (await sup.ask(WhichChildren()))[0]
        await info.ref.tell(Job(1, crash=True))
        await trio.testing.wait_all_tasks_blocked()
        after = (await sup.ask(WhichChildren()))[0]
        assert (after.restart_count, after.state) == (1, ActorState.RUNNING)
        assert await info.ref.ask(Job(2)) in ("member-1", "member-2")


async def test_spawn_pool_options_go_to_the_pool_and_its_members_not_the_factory() -> None:
    """mailbox_size and throughput size each member; name, restart, shutdown the pool."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn_pool(
            Worker,
            2,
            journal,
            router=RoundRobin(),
            name="small",
            mailbox_size=1,
            throughput=5,
            restart=Restart.PERMANENT,
            shutdown=2,
        )
        assert rt.lookup("small") == ref
        for n in range(2):  # one queued for each member ...
            ref.tell_nowait(Job(n))
        with pytest.raises(trouper.MailboxFull):  # ... and each member's mailbox holds one
            ref.tell_nowait(Job(9))
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(n for _, n in journal) == [0, 1]


@pytest.mark.parametrize("router", [RoundRobin(), Balancing(), ConsistentHash(lambda m: 1)])
async def test_a_pool_takes_callback_asks(router: Router) -> None:
    """ask_soon on a pool's endpoint routes to a member; the reply reaches the callback."""
    replies: list[object] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, [], router=router)
        endpoint = pool.endpoint
        assert hasattr(endpoint, "ask_soon")
        endpoint.ask_soon(Job(7), lambda result: replies.append(result.unwrap()))
        await trio.testing.wait_all_tasks_blocked()
    assert replies in (["member-1"], ["member-2"])
