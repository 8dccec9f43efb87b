"""Tells still queued in the outbox for a node found gone become dead letters, not lost silently."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import trio
import trio.testing
from remote_support import nodes, wait_for
from test_remote_review_full_buffer import CHUNK, Chunk, paused

import trouper.nats
from trouper.nats import Msg
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def _ignore(msg: Msg) -> None:
    """A stalled node's callback: it takes everything and answers nothing."""


async def test_tells_queued_for_a_node_found_gone_become_dead_letters(
    own_server: NatsServer, prefix: str
) -> None:
    """Handed on but not yet written when the node is found gone: each is a dead letter."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    told: list[Chunk] = []
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

            async def fill() -> None:
                n = 0
                while True:
                    n += 1
                    chunk = Chunk(n.to_bytes(8, "big") + bytes(CHUNK // 4))
                    if not await target.tell(chunk):
                        return
                    told.append(chunk)

            with trio.fail_after(20):
                await wait_for(lambda: "bank" in cluster.nodes())
                web.dead_letters.listen(letters.append)
                pause.enter_context(paused(own_server))
                nursery.start_soon(fill)
                # Found gone while the server still reads nothing: the filler is refused.
                await wait_for(lambda: "bank" not in cluster.nodes())
                await wait_for(lambda: len(letters) > 1)
                pause.close()
                nursery.cancel_scope.cancel()
    queued = [letter.message for letter in letters if letter.message in told]
    assert queued, "no tell handed on before the node was found gone became a dead letter"
    assert all(letter.reason == "node unreachable" for letter in letters)
