"""Held for a full mailbox, one node's asks and tells to a pool keep the order they were sent in."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import Balance, Note, nodes, wait_for
from test_remote_review_full_buffer import paused

from trouper import Actor, ActorRef, handler
from trouper.remote import Nats, cluster_of
from trouper.routing import Balancing, Broadcast, ConsistentHash, Router
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class GatedLog(Actor):
    """Logs each ``Note``'s text and each ``Balance`` ask, the first only once ``gate`` is set."""

    def __init__(self, started: trio.Event, gate: trio.Event, seen: list[str]) -> None:
        self.started = started
        self.gate = gate
        self.seen = seen

    @handler
    async def note(self, message: Note) -> None:
        self.started.set()
        await self.gate.wait()
        self.seen.append(message.text)

    @handler
    async def balance(self, message: Balance) -> int:
        self.seen.append("ask")
        return len(self.seen)


def one_key(message: object) -> object:
    """Every message to the same member."""
    return 0


async def ask_into(pool: ActorRef[object], answers: list[object]) -> None:
    """Ask ``pool`` for a ``Balance`` and record the answer."""
    answers.append(await pool.ask(Balance()))


async def fill_the_member(pool: ActorRef[object], started: trio.Event) -> None:
    """Tell a note the member takes (it waits at the gate), then one that fills its mailbox."""
    await pool.tell(Note("first"))
    await started.wait()
    await pool.tell(Note("queued"))


@pytest.mark.parametrize(
    "router", [ConsistentHash(one_key), Balancing()], ids=["consistent-hash", "balancing"]
)
async def test_a_held_ask_to_a_pool_is_not_overtaken_by_a_later_held_tell(
    transport: Nats, router: Router
) -> None:
    """An ask held for a full pool member reaches it before the tell sent after it."""
    seen: list[str] = []
    started, gate = trio.Event(), trio.Event()
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn_pool(
            GatedLog, 1, started, gate, seen, router=router, name="pool", mailbox_size=1
        )
        pool = web.remote("bank", "pool")
        answers: list[object] = []
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await fill_the_member(pool, started)
                await pool.tell(Note("held"))  # held: the ask and the tell queue behind it
                await wait_for(lambda: cluster_of(bank).statistics().held == 1)
                nursery.start_soon(ask_into, pool, answers)
                await wait_for(lambda: cluster_of(bank).statistics().held == 2)
                await pool.tell(Note("after"))
                await wait_for(lambda: cluster_of(bank).statistics().held == 3)
                gate.set()
        await wait_for(lambda: len(seen) == 5)
    assert seen == ["first", "queued", "held", "ask", "after"]
    assert answers == [4]


@pytest.mark.parametrize(
    "router", [ConsistentHash(one_key), Balancing()], ids=["consistent-hash", "balancing"]
)
async def test_an_ask_held_first_waits_for_room_and_the_tell_after_it_waits_behind(
    transport: Nats, router: Router
) -> None:
    """An ask that must wait for room in a full pool stays held; the tell after it follows it."""
    seen: list[str] = []
    started, gate = trio.Event(), trio.Event()
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn_pool(
            GatedLog, 1, started, gate, seen, router=router, name="pool", mailbox_size=1
        )
        pool = web.remote("bank", "pool")
        answers: list[object] = []
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await fill_the_member(pool, started)
                await wait_for(lambda: cluster_of(bank).statistics().received == 2)
                nursery.start_soon(ask_into, pool, answers)
                await wait_for(lambda: cluster_of(bank).statistics().held == 1)
                await pool.tell(Note("after"))
                await wait_for(lambda: cluster_of(bank).statistics().held == 2)
                gate.set()
        await wait_for(lambda: len(seen) == 4)
    assert seen == ["first", "queued", "ask", "after"]
    assert answers == [3]


class MemberLog(Actor):
    """Logs each ``Note``'s text and each ``Balance`` ask, under its own id."""

    def __init__(self, seen: list[tuple[int, str]]) -> None:
        self.seen = seen

    @handler
    async def note(self, message: Note) -> None:
        self.seen.append((id(self), message.text))

    @handler
    async def balance(self, message: Balance) -> int:
        self.seen.append((id(self), "ask"))
        return 0


async def test_an_ask_to_a_broadcast_pool_is_not_overtaken_by_the_tell_sent_after_it(
    own_server: NatsServer, prefix: str
) -> None:
    """A broadcast pool answers asks by task: the tell sent after the ask still comes second."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    seen: list[tuple[int, str]] = []
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn_pool(MemberLog, 2, seen, router=Broadcast(), name="pool")
        pool = web.remote("bank", "pool")
        answers: list[object] = []
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                with paused(own_server):  # the ask and the tell reach "bank" together
                    nursery.start_soon(ask_into, pool, answers)
                    await wait_for(lambda: cluster_of(web).statistics().sent == 1)
                    await pool.tell(Note("after"))
                    await trio.testing.wait_all_tasks_blocked()  # all written
            await wait_for(lambda: len(seen) == 4)
    members = {member for member, _ in seen}
    assert len(members) == 2
    for member in members:
        assert [text for who, text in seen if who == member] == ["ask", "after"]
    assert answers == [[0, 0]]
