"""Broadcast pools: every member gets every message; an ask gathers every reply."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, HandlerError, MailboxFull, handler
from trouper.routing import Broadcast, members, resize


@attrs.frozen
class Note:
    n: int


@attrs.frozen
class Fail:
    member: str


@attrs.frozen
class Hold:
    pass


class Listener(Actor):
    """Journals (member, n); fails a ``Fail`` addressed to it; holds on ``Hold``."""

    def __init__(self, journal: list[tuple[str, object]], gate: trio.Event | None = None) -> None:
        self.journal = journal
        self.gate = gate

    @property
    def member(self) -> str:
        return self.ctx.self_ref.address.path.rpartition("/")[2]

    @handler
    async def note(self, message: Note) -> str:
        self.journal.append((self.member, message.n))
        return f"{self.member} got {message.n}"

    @handler
    async def fail(self, message: Fail) -> str:
        self.journal.append((self.member, message))
        if message.member == self.member:
            raise ValueError(f"{self.member} refuses")
        return self.member

    @handler
    async def hold(self, message: Hold) -> None:
        assert self.gate is not None
        await self.gate.wait()


async def test_every_member_gets_every_message_in_order() -> None:
    """Each told message reaches all members, each member in the order sent."""
    journal: list[tuple[str, object]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Listener, 3, journal, router=Broadcast())
        for n in range(5):
            await pool.tell(Note(n))
        await trio.testing.wait_all_tasks_blocked()
    for member in ("member-1", "member-2", "member-3"):
        assert [n for m, n in journal if m == member] == [0, 1, 2, 3, 4]
    assert len(journal) == 15


async def test_ask_returns_every_reply_in_member_order() -> None:
    """An ask is answered by each member; the replies come back as a list, in member order."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Listener, 3, [], router=Broadcast())
        assert await pool.ask(Note(7)) == [
            "member-1 got 7",
            "member-2 got 7",
            "member-3 got 7",
        ]


async def test_ask_raises_the_first_failure_after_every_member_answered() -> None:
    """One member failing: the ask raises its error, and the other members still handled it."""
    journal: list[tuple[str, object]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Listener, 3, journal, router=Broadcast(), name="all")
        with pytest.raises(
            HandlerError,
            match=r"^handler of trouper://local/all/member-2 raised "
            r"ValueError\('member-2 refuses'\)$",
        ):
            await pool.ask(Fail("member-2"))
    assert sorted(member for member, _ in journal) == ["member-1", "member-2", "member-3"]


async def test_tell_nowait_delivers_to_all_members_or_none() -> None:
    """``tell_nowait`` with one member's mailbox full raises and delivers to no member."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    async with trouper.open_runtime(mailbox_size=1) as rt:
        pool = await rt.spawn_pool(Listener, 2, journal, gate, router=Broadcast(), name="all")
        pool.tell_nowait(Hold())
        await trio.testing.wait_all_tasks_blocked()
        (await members(pool))[1].tell_nowait(Note(9))
        with pytest.raises(
            MailboxFull,
            match=r"^mailbox of trouper://local/all/member-2 is full \(capacity 1 messages\)$",
        ):
            pool.tell_nowait(Note(2))
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert journal == [("member-2", 9)]


class Metered(Listener):
    """A listener whose ``member-2`` handles a ``Note`` only once given a permit."""

    def __init__(self, journal: list[tuple[str, object]], permits: trio.Semaphore) -> None:
        super().__init__(journal)
        self.permits = permits

    @handler
    async def note(self, message: Note) -> str:
        if self.member == "member-2":
            await self.permits.acquire()
        return await super().note(message)


async def test_tell_nowait_counts_a_member_with_a_waiting_sender_as_full() -> None:
    """Room behind a waiting sender is the sender's: ``tell_nowait`` raises and delivers nowhere."""
    journal: list[tuple[str, object]] = []
    permits = trio.Semaphore(0)
    async with trouper.open_runtime(mailbox_size=2) as rt:
        pool = await rt.spawn_pool(Metered, 2, journal, permits, router=Broadcast(), name="all")
        for n in range(3):  # member-2 takes 0 and waits for a permit: [1, 2], full
            pool.tell_nowait(Note(n))
            await trio.testing.wait_all_tasks_blocked()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pool.tell, Note(3))  # member-1 has it; it waits on member-2
            await trio.testing.wait_all_tasks_blocked()
            permits.release()  # member-2 handles 0 and takes 1: [2], and 3 still waits
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(MailboxFull, match=r"^mailbox of trouper://local/all/member-2 "):
                pool.tell_nowait(Note(4))
            for _ in range(3):
                permits.release()
        await trio.testing.wait_all_tasks_blocked()
    assert [n for member, n in journal if member == "member-1"] == [0, 1, 2, 3]
    assert [n for member, n in journal if member == "member-2"] == [0, 1, 2, 3]


async def test_growing_adds_listeners_for_later_messages() -> None:
    """After a resize up, the new members get the messages told from then on."""
    journal: list[tuple[str, object]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Listener, 1, journal, router=Broadcast())
        await pool.tell(Note(1))
        await resize(pool, 3)
        await pool.tell(Note(2))
        await trio.testing.wait_all_tasks_blocked()
    assert sorted(journal) == [("member-1", 1), ("member-1", 2), ("member-2", 2), ("member-3", 2)]


async def test_shrinking_drops_the_removed_members_copies_as_dead_letters() -> None:
    """Removed members' queued copies are dead letters; the members that stay handle theirs."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Listener, 2, journal, gate, router=Broadcast(), name="all")
        pool.tell_nowait(Hold())
        pool.tell_nowait(Note(1))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(resize, pool, 1)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert journal == [("member-1", 1)]
    assert [(str(d.recipient), d.reason, d.message) for d in rt.dead_letters.recent] == [
        ("trouper://local/all/member-2", "actor stopped", Note(1))
    ]
