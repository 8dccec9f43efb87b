"""An awaited tell from asyncio to a durable actor returns once the message is held, as in Trio."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from aio_actors import run

import trouper
from trouper.aio import open_runtime
from trouper.durable import Durable, SqliteStore
from trouper.errors import StoreFailed

pytestmark = pytest.mark.real_clock


@trouper.message("test.aio.review6.big")
@attrs.frozen
class Big:
    text: str


class Keeper(trouper.Actor):
    """A durable actor that takes ``Big`` messages."""

    @trouper.handler
    async def big(self, message: Big) -> None:
        pass


def test_an_awaited_tell_whose_commit_fails_never_returns(tmp_path: Path) -> None:
    """The store cannot hold the message: ``await tell`` does not return as if it were held.

    It waits for the commit, whose failure stops the runtime (as in Trio), which
    cancels it; it used to return once the message was only staged.
    """
    returned: list[str] = []

    async def main() -> None:
        store = SqliteStore(tmp_path / "s.db", synchronous="normal", max_size=65536)
        async with open_runtime(store=store) as rt:
            keeper = await rt.spawn(Keeper, name="keeper", mailbox=Durable())
            await keeper.tell(Big("x" * 200_000))
            returned.append("tell")

    # The failed store then stops the runtime, as it does in Trio.
    with pytest.raises(StoreFailed, match=r"database or disk is full"):
        run(main)
    assert returned == []
