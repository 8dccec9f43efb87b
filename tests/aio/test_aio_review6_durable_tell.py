"""An awaited tell from asyncio to a durable mailbox returns once the message is held, as in Trio.

A durable actor's mailbox (review 6), and a durable balancing pool's shared one (review 12).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import pytest
from aio_actors import run

import trouper
from trouper.aio import AioRef, AioRuntime, open_runtime
from trouper.durable import Durable, SqliteStore
from trouper.errors import StoreFailed
from trouper.routing import Balancing

pytestmark = pytest.mark.real_clock


@trouper.message("test.aio.review6.big")
@attrs.frozen
class Big:
    text: str


class Keeper(trouper.Actor):
    """A durable actor (or pool member) that takes ``Big`` messages."""

    @trouper.handler
    async def big(self, message: Big) -> None:
        pass


Spawn = Callable[[AioRuntime], Awaitable[AioRef[object]]]


@pytest.mark.parametrize(
    "spawn",
    [
        lambda rt: rt.spawn(Keeper, name="keeper", mailbox=Durable()),
        lambda rt: rt.spawn_pool(Keeper, 2, router=Balancing(), name="jobs", mailbox=Durable()),
    ],
    ids=["actor", "balancing pool"],
)
def test_an_awaited_tell_whose_commit_fails_never_returns(tmp_path: Path, spawn: Spawn) -> None:
    """The store cannot hold the message: ``await tell`` does not return as if it were held.

    It waits for the commit, whose failure stops the runtime (as in Trio), which
    cancels it; it used to return once the message was only staged (in the
    actor's mailbox, or the pool's shared one).
    """
    returned: list[str] = []

    async def main() -> None:
        store = SqliteStore(tmp_path / "s.db", synchronous="normal", max_size=65536)
        async with open_runtime(store=store) as rt:
            keeper = await spawn(rt)
            await keeper.tell(Big("x" * 200_000))
            returned.append("tell")

    # The failed store then stops the runtime, as it does in Trio.
    with pytest.raises(StoreFailed, match=r"database or disk is full"):
        run(main)
    assert returned == []


def test_an_awaited_tell_to_a_durable_pool_is_handled(tmp_path: Path) -> None:
    """With room in the store, the awaited tells return and the member takes them in order."""
    got: list[str] = []

    class Recorder(trouper.Actor):
        @trouper.handler
        async def big(self, message: Big) -> None:
            got.append(message.text)

    async def main() -> None:
        async with open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
            jobs = await rt.spawn_pool(
                Recorder, 1, router=Balancing(), name="jobs", mailbox=Durable()
            )
            await jobs.tell(Big("a"))
            await jobs.tell(Big("b"))
            await jobs.ask(Big("c"))  # after a and b: one member, one queue

    run(main)
    assert got == ["a", "b", "c"]
