"""Review fix: in a balancing pool each member's watches, and their notices, are its own."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, ActorRef, Terminated, handler
from trouper.routing import Balancing


class Target(Actor):
    """Something to watch."""


@attrs.frozen
class Hold:
    """Keep the member that takes it busy until ``gate`` is set."""

    gate: trio.Event


@attrs.frozen
class UnwatchLater:
    """Wait for ``gate``, then stop watching ``ref``."""

    ref: ActorRef[object]
    gate: trio.Event


class Member(Actor):
    """Watches ``target`` from its start; records who handled which ``Terminated``."""

    def __init__(self, target: ActorRef[object], seen: list[tuple[str, str]]) -> None:
        self.target = target
        self.seen = seen

    async def on_start(self) -> None:
        self.ctx.watch(self.target)

    @handler
    async def hold(self, message: Hold) -> None:
        self.seen.append((self.ctx.self_ref.address.path, "hold"))
        await message.gate.wait()

    @handler
    async def unwatch_later(self, message: UnwatchLater) -> None:
        self.seen.append((self.ctx.self_ref.address.path, "unwatch"))
        await message.gate.wait()
        self.ctx.unwatch(message.ref)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append((self.ctx.self_ref.address.path, message.ref.address.path))


async def test_a_members_unwatch_leaves_the_other_members_notice() -> None:
    """One member's ``unwatch`` withdraws its own ``Terminated`` only; the other gets its own."""
    seen: list[tuple[str, str]] = []
    async with trouper.open_runtime() as rt:
        target = await rt.spawn(Target, name="target")
        pool = await rt.spawn_pool(Member, 2, target, seen, router=Balancing(), name="pool")
        hold, unwatch = trio.Event(), trio.Event()
        await pool.tell(Hold(hold))
        await pool.tell(UnwatchLater(target, unwatch))
        await trio.testing.wait_all_tasks_blocked()
        holder = next(path for path, what in seen if what == "hold")
        unwatcher = next(path for path, what in seen if what == "unwatch")
        assert holder != unwatcher
        await rt.stop(target)
        unwatch.set()
        await trio.testing.wait_all_tasks_blocked()
        hold.set()
        await trio.testing.wait_all_tasks_blocked()
        assert [entry for entry in seen if entry[1] == "/target"] == [(holder, "/target")]


async def test_each_member_handles_the_notice_of_its_own_watch() -> None:
    """A busy member's ``Terminated`` waits for it; the idle member does not take it."""
    seen: list[tuple[str, str]] = []
    async with trouper.open_runtime() as rt:
        target = await rt.spawn(Target, name="target")
        pool = await rt.spawn_pool(Member, 2, target, seen, router=Balancing(), name="pool")
        hold = trio.Event()
        await pool.tell(Hold(hold))
        await trio.testing.wait_all_tasks_blocked()
        await rt.stop(target)
        await trio.testing.wait_all_tasks_blocked()
        hold.set()
        await trio.testing.wait_all_tasks_blocked()
        notices = sorted(entry for entry in seen if entry[1] == "/target")
        assert notices == [("/pool/member-1", "/target"), ("/pool/member-2", "/target")]
