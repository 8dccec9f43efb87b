"""Random sends, failures, retries, restarts and crashes through actors, against a reference model.

Each example is a seeded durable simulation (virtual time, the store in the
committer task): a producer tells a durable worker numbered jobs, each with
an idempotency key, some more than once; each job's kind says how its
handler behaves (succeeds, fails once and is restarted by its supervisor,
asks for a ``Retry`` once, or always fails: poison); the runtime is killed at
random instants and restarted on the same store, and the producer resends
what it had not been told was stored. The model says what must hold after
the last recovery: every job that is not poison applied exactly once in the
worker's durable state, every poison job in the dead-letter queue, nothing
left in a mailbox, nothing else.
"""

from __future__ import annotations

import attrs
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

import trouper
from trouper.durable import Delivery, Durable, Retry
from trouper.supervision import OneForOne
from trouper.testing import DurableSimulation, run_durable_simulation

KINDS = ("ok", "fail_once", "retry_once", "poison")
OPTIONS = Durable(max_deliveries=5, backoff=(0.1,), dedup_window=None)


@trouper.message("test.model.job")
@attrs.frozen
class Job:
    key: str
    kind: str


@attrs.define
class Done:
    """The worker's durable state: how many times each job was applied."""

    applied: dict[str, int] = attrs.Factory(dict)


class Worker(trouper.Actor):
    """Applies jobs in its durable state; ``runs`` (outside the store) counts handler entries."""

    state: Done

    def __init__(self, runs: dict[str, int]) -> None:
        self.runs = runs

    @trouper.handler
    async def job(self, message: Job) -> None:
        runs = self.runs[message.key] = self.runs.get(message.key, 0) + 1
        await trio.sleep(0.01)
        if message.kind == "poison" or (message.kind == "fail_once" and runs == 1):
            raise ValueError(f"job {message.key} fails")
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        if message.kind == "retry_once" and runs == 1:
            raise Retry(after=0.05)
        self.state.applied[message.key] = self.state.applied.get(message.key, 0) + 1

    @trouper.handler
    async def applied(self, message: str) -> dict[str, int]:
        return dict(self.state.applied)


Send = tuple[int, str, float]

sends = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=7),
        st.sampled_from(KINDS),
        st.sampled_from([0.0, 0.02, 0.1]),
    ),
    min_size=1,
    max_size=14,
)
crashes = st.lists(st.floats(min_value=0.0, max_value=0.6), max_size=2)


def play(plan: list[Send], instants: list[float]) -> None:
    runs: dict[str, int] = {}
    confirmed = 0

    async def system(sim: DurableSimulation) -> dict[str, int]:
        nonlocal confirmed
        worker = await sim.runtime.spawn(Worker, runs, name="worker", mailbox=OPTIONS)
        # Resend from the first send not confirmed stored: its key dedups it if it was.
        for number, kind, pause in plan[confirmed:]:
            await worker.tell(Job(f"j{number}", kind), msg_id=f"j{number}")
            confirmed += 1
            await trio.sleep(pause)
        await trio.sleep(20)  # every backoff and poison run is over by then
        applied = await worker.ask("applied")
        assert isinstance(applied, dict)
        return applied

    # Patient supervision: a poison job fails five times in half a second, and
    # the default intensity (3 restarts in 5 s) would stop the worker first.
    patient = OneForOne(max_restarts=100, within=1.0)
    result = run_durable_simulation(system, seed=0, crashes=sorted(instants), root_strategy=patient)
    assert result.error is None, result.error
    first_kind: dict[str, str] = {}
    for number, kind, _ in plan:
        first_kind.setdefault(f"j{number}", kind)
    expected_dead = {key for key, kind in first_kind.items() if kind == "poison"}
    expected_done = set(first_kind) - expected_dead
    assert result.value == dict.fromkeys(expected_done, 1), "applied once each, none lost"
    dead = {letter.message.key for letter in result.dead_letters}  # type: ignore[attr-defined]
    assert dead == expected_dead
    assert all(letter.attempts == 5 for letter in result.dead_letters)
    assert [box.depth for box in result.mailboxes] == [0]


@settings(max_examples=80, deadline=None)
@given(plan=sends, instants=crashes)
def test_durable_actor_follows_the_model(plan: list[Send], instants: list[float]) -> None:
    """No job lost, none applied twice, poison dead after max_deliveries, whatever the crashes."""
    play(plan, instants)
