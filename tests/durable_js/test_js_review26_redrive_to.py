"""Review 26: on JetStream too, dead letters can be redriven to another mailbox (``to=``)."""

from __future__ import annotations

import pytest
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

LETTERS = 3


class Refuser(trouper.Actor):
    """Gives every job up."""

    @trouper.handler
    async def job(self, message: Job) -> None:
        raise GiveUp("not here")


class Keeper(trouper.Actor):
    """Notes every job it is given."""

    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.seen.append(message.n)


async def test_redrive_to_another_mailbox_hands_the_dead_letters_to_its_actor(
    js_server: NatsServer, prefix: str
) -> None:
    """Redriven ``to="fixed"``: a mailbox never held before is made; its actor gets them all."""
    seen: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        refuser = await rt.spawn(Refuser, name="jobs", mailbox=Durable())
        for n in range(LETTERS):
            await refuser.tell(Job(n), msg_id=f"job-{n}")

        async def buried() -> bool:
            return len([r async for r in rt.store.dead_letters("jobs")]) == LETTERS

        await eventually(buried)
        assert await rt.store.redrive("jobs", to="fixed") == LETTERS
        assert [r async for r in rt.store.dead_letters()] == []
        await rt.spawn(Keeper, seen, name="fixed", mailbox=Durable())

        async def handled() -> bool:
            return len(seen) == LETTERS

        await eventually(handled)
    assert sorted(seen) == list(range(LETTERS))


@pytest.mark.parametrize(("to", "error"), [("", ValueError), ("a/b", ValueError), (5, TypeError)])
async def test_a_target_no_actor_could_have_is_refused_before_anything_moves(
    js_server: NatsServer, prefix: str, to: object, error: type[Exception]
) -> None:
    """A bad ``to`` raises and leaves the dead letters where they are."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        refuser = await rt.spawn(Refuser, name="jobs", mailbox=Durable())
        await refuser.tell(Job(0))

        async def buried() -> bool:
            return len([r async for r in rt.store.dead_letters("jobs")]) == 1

        await eventually(buried)
        with pytest.raises(error):
            await rt.store.redrive("jobs", to=to)  # type: ignore[arg-type]
        assert len([r async for r in rt.store.dead_letters("jobs")]) == 1
