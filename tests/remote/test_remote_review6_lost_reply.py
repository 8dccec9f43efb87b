"""A reply the answering node lost while it was cut off fails its ask once that node is back."""

from __future__ import annotations

import attrs
import pytest
import trio
from remote_support import wait_for
from test_remote_review_full_buffer import Chunk

import trouper
from relay_support import Relay
from trouper import Actor, handler
from trouper.errors import NodeUnreachable
from trouper.remote import Nats, cluster_of
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

WHY = "its reply was lost while node 'bank' was cut off from the cluster"
ANSWER = 128 * 1024
"""Bytes of the answer: more than is left in the outage buffer once ``Fill`` has filled it."""


@trouper.message("remote_review6_lost.answer")
@attrs.frozen
class AnswerWhenSet(trouper.Request[bytes]):
    pass


@trouper.message("remote_review6_lost.fill")
@attrs.frozen
class Fill(trouper.Request[None]):
    pass


class Gated(Actor):
    """Answers ``AnswerWhenSet`` with ``ANSWER`` bytes once ``gate`` is set."""

    def __init__(self, started: trio.Event, gate: trio.Event) -> None:
        self.started = started
        self.gate = gate

    @handler
    async def answer(self, message: AnswerWhenSet) -> bytes:
        self.started.set()
        await self.gate.wait()
        return bytes(ANSWER)


class Filler(Actor):
    """Fills its node's outage buffer with topic publishes, big ones then smaller ones."""

    @handler
    async def fill(self, message: Fill) -> None:
        cluster = cluster_of(self.ctx.runtime)
        for size in (900 * 1024, ANSWER // 2):
            unsent = cluster.statistics().unsent
            while cluster.statistics().unsent == unsent:  # until one does not fit
                await self.ctx.runtime.topics.publish("flood.x", Chunk(bytes(size)))


async def test_a_reply_lost_to_a_full_outage_buffer_fails_the_ask_after_the_reconnect(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Not at the asker's deadline: the answering node knows it dropped it, and says so."""
    started, gate = trio.Event(), trio.Event()
    outcomes: list[object] = []
    async with trio.open_nursery() as nursery:
        relay = Relay(cluster_server.url)
        port = await nursery.start(relay.serve)
        # Heartbeats far apart: web never finds bank gone during the test (that fails asks too).
        near = Nats(cluster_server.url, prefix=prefix, heartbeat=30.0)
        far = Nats(f"nats://127.0.0.1:{port}", prefix=prefix, heartbeat=30.0, reconnect_wait=0.05)
        async with (
            trouper.open_runtime(node="bank", transport=far) as bank,
            trouper.open_runtime(node="web", transport=near) as web,
        ):
            await bank.spawn(Gated, started, gate, name="gated")
            filler = await bank.spawn(Filler)

            async def ask() -> None:
                try:
                    outcomes.append(await web.remote("bank", "gated").ask(AnswerWhenSet()))
                except NodeUnreachable as error:
                    outcomes.append(error)

            with trio.fail_after(10):
                await wait_for(lambda: cluster_of(web).nodes() == ("bank", "web"))
                nursery.start_soon(ask)
                await started.wait()
                relay.cut()
                await wait_for(lambda: not cluster_of(bank).connected)
                await filler.ask(Fill())
                unsent = cluster_of(bank).statistics().unsent
                gate.set()
                await wait_for(lambda: cluster_of(bank).statistics().unsent == unsent + 1)
                relay.heal()
                await wait_for(lambda: len(outcomes) == 1)
            assert cluster_of(web).nodes() == ("bank", "web")  # web never found bank gone
        nursery.cancel_scope.cancel()
    [error] = outcomes
    assert isinstance(error, NodeUnreachable)
    assert str(error) == f"actor trouper://bank/gated is unreachable: {WHY}"
