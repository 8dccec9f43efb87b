"""Round-robin pools: each message to the next member in turn, one ref for all."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorEvent, EventKind, HandlerError, handler
from trouper.routing import RoundRobin, members


@attrs.frozen
class Job:
    id: int
    crash: bool = False


def member_of(actor: Actor) -> str:
    return actor.ctx.self_ref.address.path.rpartition("/")[2]


class Worker(Actor):
    """Journals (member, job id); crashes on request; replies with its member id."""

    def __init__(self, journal: list[tuple[str, int]]) -> None:
        self.journal = journal

    @handler
    async def job(self, message: Job) -> str:
        if message.crash:
            raise RuntimeError(f"job {message.id} crashed")
        self.journal.append((member_of(self), message.id))
        return member_of(self)


async def test_messages_go_to_members_in_turn() -> None:
    """Message i goes to member (i mod n) + 1, and each member keeps the order it got."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 3, journal, router=RoundRobin())
        for i in range(9):
            await pool.tell(Job(i))
        await trio.testing.wait_all_tasks_blocked()
    assert sorted(journal) == [
        ("member-1", 0),
        ("member-1", 3),
        ("member-1", 6),
        ("member-2", 1),
        ("member-2", 4),
        ("member-2", 7),
        ("member-3", 2),
        ("member-3", 5),
        ("member-3", 8),
    ]


async def test_round_robin_is_the_default_router() -> None:
    """``spawn_pool`` without a router routes round-robin."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, journal)
        replies = [await pool.ask(Job(i)) for i in range(4)]
    assert replies == ["member-1", "member-2", "member-1", "member-2"]


async def test_tell_nowait_goes_to_members_in_turn() -> None:
    """``tell_nowait`` takes turns as ``tell`` does."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, journal)
        for i in range(4):
            pool.tell_nowait(Job(i))
        await trio.testing.wait_all_tasks_blocked()
    assert sorted(journal) == [("member-1", 0), ("member-1", 2), ("member-2", 1), ("member-2", 3)]


async def test_ask_reaches_one_member_and_returns_its_reply() -> None:
    """An ask through the pool is answered by the member whose turn it is."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 3, [])
        await pool.tell(Job(0))
        assert await pool.ask(Job(1)) == "member-2"


async def test_failed_ask_raises_handler_error_from_the_member() -> None:
    """A member's handler error reaches the asker as ``HandlerError`` naming the member."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, [], name="pool")
        with pytest.raises(
            HandlerError,
            match=r"^handler of trouper://local/pool/member-1 raised "
            r"RuntimeError\('job 0 crashed'\)$",
        ):
            await pool.ask(Job(0, crash=True))


async def test_crashed_member_restarts_and_keeps_its_queue() -> None:
    """A member that fails is restarted; the messages queued behind the failure are handled."""
    journal: list[tuple[str, int]] = []
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append)
        pool = await rt.spawn_pool(Worker, 2, journal, name="pool")
        for i in range(8):
            pool.tell_nowait(Job(i, crash=i == 2))
        await trio.testing.wait_all_tasks_blocked()
        refs = await members(pool)
    assert sorted(journal) == [
        ("member-1", 0),
        ("member-1", 4),
        ("member-1", 6),
        ("member-2", 1),
        ("member-2", 3),
        ("member-2", 5),
        ("member-2", 7),
    ]
    restarted = [e.address.path for e in events if e.kind is EventKind.RESTARTED]
    assert restarted == ["/pool/member-1"]
    assert [ref.address.path for ref in refs] == ["/pool/member-1", "/pool/member-2"]
