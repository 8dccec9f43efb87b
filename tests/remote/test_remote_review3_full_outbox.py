"""A tell or ask waiting for room in a full outbox ends its wait as soon as its node is gone."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import trio
import trio.testing
from remote_support import Balance, nodes, wait_for
from test_remote_review_full_buffer import CHUNK, Chunk, paused

import trouper.nats
from trouper.errors import NodeUnreachable
from trouper.nats import Msg
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

GONE = "node 'bank' sent no heartbeat for 2 s"


def _ignore(msg: Msg) -> None:
    """A stalled node's callback: it takes everything and answers nothing."""


async def test_waits_for_room_end_when_the_node_is_found_gone_while_the_server_reads_nothing(
    own_server: NatsServer, prefix: str
) -> None:
    """The ask fails and the tell is a dead letter at once, not once the server reads again."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    outcomes: list[BaseException | object] = []
    told: list[bool] = []
    letters: list[DeadLetter] = []
    with ExitStack() as pause:
        async with (
            trio.open_nursery() as nursery,
            nodes(transport, "web") as (web,),
            trouper.nats.connect(own_server.url) as bank,
        ):
            # A node "bank" that beat once and then stalled: still subscribed, never answering.
            await bank.subscribe(f"{prefix}.actor.bank.>", callback=_ignore)
            await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", "ab" * 8, 1.0]))
            cluster = cluster_of(web)
            target = web.remote("bank", "acct")
            other = web.remote("bank", "other")

            async def fill() -> None:
                while await target.tell(Chunk(bytes(CHUNK))):
                    pass

            async def ask() -> None:
                try:
                    outcomes.append(await target.ask(Balance()))
                except NodeUnreachable as error:
                    outcomes.append(error)

            async def tell() -> None:
                told.append(await other.tell(Balance()))

            with trio.fail_after(20):
                await wait_for(lambda: "bank" in cluster.nodes())
                pause.enter_context(paused(own_server))
                nursery.start_soon(fill)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                nursery.start_soon(ask)
                nursery.start_soon(tell)
                await trio.testing.wait_all_tasks_blocked(0.2)  # both wait for room
                assert outcomes == []
                assert told == []
                web.dead_letters.listen(letters.append)
                # Found gone while the server still reads nothing: both waits end.
                await wait_for(lambda: len(outcomes) == 1 and len(told) == 1)
                assert "bank" not in cluster.nodes()
                pause.close()
                nursery.cancel_scope.cancel()
    [error] = outcomes
    assert isinstance(error, NodeUnreachable)
    assert str(error) == f"actor trouper://bank/acct is unreachable: {GONE}"
    assert told == [False]
    [letter] = [letter for letter in letters if letter.recipient == other.address]
    assert letter.reason == "node unreachable"
    assert str(letter.error) == f"actor trouper://bank/other is unreachable: {GONE}"
