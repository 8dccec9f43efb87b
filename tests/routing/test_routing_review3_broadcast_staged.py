"""Review: a broadcast pool's ``tell_nowait`` from a transactional handler is staged, not refused.

A plain actor's ``tell_nowait`` from a durable handler is staged with the
handler's ack and delivered after the commit whatever the room; a broadcast
pool's refused it with ``MailboxFull`` when a member's mailbox was full, so
the handler failed (and its message was delivered again, to fail again).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.durable import Durable, SqliteStore
from trouper.routing import Broadcast, members


@trouper.message("test.routing.review3.go")
@attrs.frozen
class Go:
    """Tell the pool ``Fan`` now (from a durable handler: in its transaction)."""


@attrs.frozen
class Fan:
    """What each member records."""


@attrs.frozen
class Hold:
    """Wait until the event is set."""

    event: trio.Event


@attrs.frozen
class Filler:
    """Takes a member's last free slot."""


class Member(Actor):
    """Records each ``Fan`` it handles; holds on ``Hold``."""

    def __init__(self, got: list[str]) -> None:
        self.got = got

    @handler
    async def fan(self, message: Fan) -> None:
        self.got.append(self.ctx.self_ref.address.path)

    @handler
    async def hold(self, message: Hold) -> None:
        await message.event.wait()

    @handler
    async def filler(self, message: Filler) -> None:
        pass


class Forward(Actor):
    """A durable actor that fans ``Fan`` out to the pool with ``tell_nowait``."""

    def __init__(self, pool: trouper.ActorRef[object], outcomes: list[object]) -> None:
        self.pool = pool
        self.outcomes = outcomes

    @handler
    async def go(self, message: Go) -> None:
        try:
            self.outcomes.append(self.pool.tell_nowait(Fan()))
        except Exception as error:
            self.outcomes.append(error)
            raise


async def test_a_staged_broadcast_tell_nowait_ignores_a_full_member(tmp_path: Path) -> None:
    """Staged, it reaches every member after the commit, as a plain actor's would."""
    got: list[str] = []
    outcomes: list[object] = []
    release = trio.Event()
    store = SqliteStore(tmp_path / "s.db", synchronous="normal")
    async with trouper.open_runtime(store=store) as rt:
        pool = await rt.spawn_pool(Member, 2, got, router=Broadcast(), mailbox_size=1, name="p")
        second = (await members(pool))[1]
        second.tell_nowait(Hold(release))
        await trio.testing.wait_all_tasks_blocked()
        second.tell_nowait(Filler())
        forward = await rt.spawn(Forward, pool, outcomes, name="forward", mailbox=Durable())
        await forward.tell(Go())
        await trio.sleep(1)  # on virtual time: the store commits the handler's ack
        release.set()
        await trio.sleep(1)
    assert outcomes == [True]
    assert sorted(got) == ["/p/member-1", "/p/member-2"]
