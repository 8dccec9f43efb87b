"""Review: a state publish sent again must not overwrite a newer state saved meanwhile.

A durable actor's state is saved by a publish on its subject in the state
stream, which keeps the last one. A publish answered "busy" (or with no
answer in time, or lost with a connection) is sent again after a pause; the
actor's next message may have saved its next state meanwhile, and the older
state, sent again, was stored after it: the state went back, the handled
message's change lost although its ack had gone out. An older state is no
longer sent after a newer one: it ends with it.
"""

from __future__ import annotations

from functools import partial

import attrs
import pytest
from js_support import Job, eventually

import trouper
from trouper.durable import Durable, JetStreamStore
from trouper.nats import Msg, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

ROUNDS = 6
"""Actors tried: the impostor's answer races the stream's, and must win once."""


@trouper.message("js-review13.total")
@attrs.define
class Total:
    """The sum of the jobs handled."""

    total: int = 0


class Adder(trouper.Actor):
    """Adds each job to its durable total; answers the total."""

    state: Total

    @trouper.handler
    async def job(self, message: Job) -> int:
        self.state.total += message.n
        return self.state.total


def has_answered(answered: set[str], count: int) -> bool:
    """Whether the impostor answered ``count`` actors' first states."""
    return len(answered) == count


def store_on(url: str, prefix: str) -> JetStreamStore:
    """A store with test-sized timings."""
    return JetStreamStore(url, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5)


async def test_a_state_sent_again_after_a_busy_answer_does_not_undo_the_next_one(
    js_server: NatsServer, prefix: str
) -> None:
    """Each actor's first state is answered 'busy' (the stream stored it): its next state stays."""
    answered: set[str] = set()

    def impostor(msg: Msg) -> None:
        # Answers each actor's first state publish, racing the stream (which stores
        # it all the same): 'busy', so the store sends it again after a pause.
        if msg.subject not in answered:
            answered.add(msg.subject)
            msg.respond_nowait(
                b'{"error":{"code":503,"err_code":10039,"description":"jetstream not enabled"}}'
            )

    async with connect(js_server.url) as other:
        await other.subscribe(f"{prefix}.state.>", callback=impostor)
        await other.flush()
        async with trouper.open_runtime(store=store_on(js_server.url, prefix)) as rt:
            for n in range(ROUNDS):
                ref = await rt.spawn(Adder, name=f"adder-{n}", mailbox=Durable())
                await ref.tell(Job(1))
                await ref.tell(Job(2))
                await eventually(partial(has_answered, answered, n + 1))
                await rt.store.flush()  # the first state sent again, if it is
    async with trouper.open_runtime(store=store_on(js_server.url, prefix)) as rt:
        totals = []
        for n in range(ROUNDS):
            ref = await rt.spawn(Adder, name=f"adder-{n}", mailbox=Durable())
            totals.append(await ref.ask(Job(0)))
    assert totals == [3] * ROUNDS
