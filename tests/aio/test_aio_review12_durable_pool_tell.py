"""Review 12: an awaited tell from asyncio to a durable balancing pool returns once it is held."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import attrs
import pytest
from aio_actors import run

import trouper
from trouper.aio import open_runtime
from trouper.durable import Durable, SqliteStore
from trouper.errors import StoreFailed
from trouper.routing import Balancing

pytestmark = pytest.mark.real_clock


@trouper.message("test.aio.review12.big")
@attrs.frozen
class Big:
    text: str


class Keeper(trouper.Actor):
    """A pool member that takes ``Big`` messages."""

    @trouper.handler
    async def big(self, message: Big) -> None:
        pass


def test_an_awaited_tell_to_a_durable_pool_whose_commit_fails_never_returns(
    tmp_path: Path,
) -> None:
    """The store cannot hold it: ``await tell`` waits for the commit, as to a durable actor.

    The failed commit stops the runtime (as in Trio), which cancels the tell; it
    used to return once the message was only staged in the pool's shared mailbox.
    """
    returned: list[str] = []

    async def main() -> None:
        store = SqliteStore(tmp_path / "s.db", synchronous="normal", max_size=65536)
        async with open_runtime(store=store) as rt:
            spawn = partial(
                rt.runtime.spawn_pool, router=Balancing(), name="jobs", mailbox=Durable()
            )
            jobs = await rt.run(spawn, Keeper, 2)
            await rt.ref(jobs).tell(Big("x" * 200_000))
            returned.append("tell")

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
            spawn = partial(
                rt.runtime.spawn_pool, router=Balancing(), name="jobs", mailbox=Durable()
            )
            jobs = rt.ref(await rt.run(spawn, Recorder, 1))
            await jobs.tell(Big("a"))
            await jobs.tell(Big("b"))
            await jobs.ask(Big("c"))  # after a and b: one member, one queue

    run(main)
    assert got == ["a", "b", "c"]
