"""What a second review found lost across nodes: replies, watch notices, cut topic frames."""

from __future__ import annotations

import pytest
import trio
from remote_support import Balance, Note, nodes, wait_for

import trouper
import trouper.nats
from trouper import Actor, Terminated, handler
from trouper.codec import Codec
from trouper.errors import NodeUnreachable
from trouper.remote import Nats
from trouper.remote.wire import OK

pytestmark = pytest.mark.real_clock

NOTE = Codec().encode_blob(Note("ok"))


class Journal(Actor):
    """Watches the refs it is told of and records each ``Terminated``; answers ``Balance``."""

    def __init__(self, seen: list[Terminated]) -> None:
        self.seen = seen

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append(message)

    @handler
    async def barrier(self, message: Balance) -> int:
        return 0

    async def receive(self, message: object) -> None:
        assert isinstance(message, trouper.ActorRef)
        self.ctx.watch(message)


async def test_no_responders_fails_only_the_ask_that_had_none(transport: Nats) -> None:
    """The server's 503 for one ask fails that ask; another ask to the node gets its reply."""
    async with nodes(transport, "web") as (web,), trio.open_nursery() as nursery:
        replies: list[object] = []
        async with trouper.nats.connect(transport.servers[0]) as bank:
            # A node "bank" that receives for one actor only: asks to any other have no responders.
            sub = await bank.subscribe(f"{transport.prefix}.actor.bank.acct")
            await bank.flush()

            async def ask_acct() -> None:
                replies.append(await web.remote("bank", "acct").ask(Balance()))

            nursery.start_soon(ask_acct)
            with trio.fail_after(5):
                request = await sub.next_msg()
                with pytest.raises(
                    NodeUnreachable,
                    match=r"^actor trouper://bank/other is unreachable: "
                    r"no node 'bank' is in the cluster$",
                ):
                    await web.remote("bank", "other").ask(Balance())
                await request.respond(OK + request.data[-8:] + Codec().encode_blob(7))
                await wait_for(lambda: replies == [7])
