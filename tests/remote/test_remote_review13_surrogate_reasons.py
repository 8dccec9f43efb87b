"""An error whose text holds a lone surrogate still crosses to the other node, escaped.

Such text comes from a file name ``os.fsdecode`` could not decode. msgpack
cannot encode it: the stop notice, and an ask's answer, raised as they were
encoded, so the watcher on the other node never heard that the actor stopped
and the asker waited until its deadline.
"""

from __future__ import annotations

import pytest
import trio
from remote_support import Explode, Watched, nodes, stop_watched

from trouper import Actor, handler
from trouper.errors import HandlerError, RemoteError
from trouper.remote import Nats

pytestmark = pytest.mark.real_clock

NAME = "/data/report-\udcff.csv"
"""A file name as ``os.fsdecode`` gives it for bytes that are not UTF-8."""


class Reader(Actor):
    """Fails naming a file whose name is not UTF-8 (as ``os.fsdecode`` left it)."""

    @handler
    async def explode(self, message: Explode) -> None:
        raise ValueError(f"{NAME}: no header row")


async def test_an_actor_stopped_by_an_error_naming_an_undecodable_file_is_reported(
    transport: Nats,
) -> None:
    """The watcher on the other node gets ``Terminated``; the notice is not lost."""
    seen: list[object] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        with trio.fail_after(10):
            await stop_watched(web, bank, Reader, "reader", seen)
    assert seen == [Watched("/reader", "bank", "RemoteError")]


async def test_an_ask_whose_handler_raised_such_an_error_gets_the_handler_error(
    transport: Nats,
) -> None:
    """``HandlerError`` whose remote text shows the character escaped; no hang."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Reader, name="reader")
        with trio.fail_after(10), pytest.raises(HandlerError) as caught:
            await web.remote("bank", "reader").ask(Explode("go"))
    remote = caught.value.remote
    assert isinstance(remote, RemoteError)
    assert remote.type_name == "ValueError"
    assert "report-\\udcff.csv" in remote.message
