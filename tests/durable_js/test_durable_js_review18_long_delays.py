"""Delays and windows too long for JetStream's nanosecond durations (int64, about 292 years)."""

from __future__ import annotations

import pytest
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, Retry, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

YEAR = 365.25 * 24 * 3600


class Later(trouper.Actor):
    """Records each run (job, attempt); job 1 is retried after ``after`` seconds."""

    def __init__(self, runs: list[tuple[int, int]], after: float) -> None:
        self.runs = runs
        self.after = after

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.runs.append((message.n, delivery.attempt))
        if message.n == 1:
            raise Retry(after=self.after)


@pytest.mark.parametrize("after", [1e12, 10_000 * YEAR])
async def test_a_retry_in_ten_thousand_years_is_not_redelivered_at_once(
    js_server: NatsServer, prefix: str, after: float
) -> None:
    """Retry(after=...) past the server's longest delay waits: the next message comes first."""
    runs: list[tuple[int, int]] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Later, runs, after, name="later", mailbox=Durable(prefetch=1))
        ref = durable_ref(rt, "later")
        await ref.tell(Job(1))
        await eventually(lambda: runs)
        await ref.tell(Job(2))
        await eventually(lambda: (2, 1) in runs)
    # A delay the server cannot read is a plain -NAK: job 1 comes back at once, ahead of
    # job 2 (the server's redeliveries go first), and again after each Retry.
    assert runs == [(1, 1), (2, 1)]


class Failing(trouper.Actor):
    """Records each run (job, attempt); job 1 fails."""

    def __init__(self, runs: list[tuple[int, int]]) -> None:
        self.runs = runs

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.runs.append((message.n, delivery.attempt))
        if message.n == 1:
            raise ValueError("job 1 fails")


async def test_a_backoff_of_ten_thousand_years_is_not_redelivered_at_once(
    js_server: NatsServer, prefix: str
) -> None:
    """A failure under backoff=(1e12,) waits: the next message comes first."""
    runs: list[tuple[int, int]] = []
    options = Durable(prefetch=1, backoff=(1e12,))
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Failing, runs, name="failing", mailbox=options)
        ref = durable_ref(rt, "failing")
        await ref.tell(Job(1))
        await eventually(lambda: runs)
        await ref.tell(Job(2))
        await eventually(lambda: (2, 1) in runs)
    assert runs == [(1, 1), (2, 1)]
