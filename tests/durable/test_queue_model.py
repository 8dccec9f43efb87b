"""Random runs of sends, failures, retries, waits, reopens and crashes against a reference model.

The model knows, for every message, how many of its deliveries count toward
``max_deliveries`` (failures, and the delivery charged to each suspect of a
crash) and predicts which messages die. After a crash it also predicts the
order in which the suspects come back, one at a time. Checked: no message is
lost (each is handled or dead at the end), none is delivered after its
acknowledgement was durable, and the dead-letter queue holds exactly the
messages the model says.
"""

from __future__ import annotations

import tempfile
from collections import deque
from pathlib import Path
from random import Random

import trio
import trio.testing
from durable_support import CODEC, Taker, make_store
from hypothesis import given, settings
from hypothesis import strategies as st

from trouper.durable import (
    Delivery,
    Durable,
    DurableQueue,
    Retry,
    SqliteStore,
)
from trouper.runtime.lowlevel import MailboxEnding

MAX = 3
OPTIONS = Durable(max_deliveries=MAX, backoff=(1.0, 2.0))

Step = tuple[str, float]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.just(0.0)),
        st.tuples(st.just("handle"), st.just(0.0)),
        st.tuples(st.just("fail"), st.just(0.0)),
        st.tuples(st.just("retry"), st.sampled_from([0.5, 2.0])),
        st.tuples(st.just("wait"), st.sampled_from([0.5, 1.0, 3.0])),
        st.tuples(st.just("reopen"), st.just(0.0)),
        st.tuples(st.just("crash"), st.just(0.0)),
    ),
    max_size=30,
)


class Model:
    """What the queue should do, message by message."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        # Deliveries counting toward max_deliveries, per message.
        self.charged: dict[str, int] = {}
        self.dead: set[str] = set()
        self.handled: set[str] = set()
        # Suspects of the last crash still to settle, in order (the first may be out).
        self.suspects: deque[str] = deque()
        # The suspect handed out (its delivery charged), if one is.
        self.out: str | None = None

    def started(self) -> None:
        """A new incarnation hands out the next suspect, if any."""
        self.hand_out()

    def hand_out(self) -> None:
        assert self.out is None
        while self.suspects:
            text = self.suspects[0]
            if self.charged[text] >= MAX:
                self.suspects.popleft()
                self.dead.add(text)
                continue
            self.charged[text] += 1
            self.out = text
            return

    def crashed(self, in_memory: list[str]) -> None:
        if self.suspects:
            # A crash during recovery: the suspect out keeps its charge.
            self.out = None
            return
        # A crash in normal operation: what was handed over may have run.
        for text in in_memory:
            self.charged[text] += 1
        self.suspects = deque(in_memory)

    def stopped_cleanly(self) -> None:
        if self.out is not None:
            self.charged[self.out] -= 1  # returned, not run
            self.out = None

    def settled_suspect(self) -> None:
        self.suspects.popleft()
        self.out = None
        self.hand_out()


class Run:
    """One incarnation after another of a store and its queue, in one nursery."""

    def __init__(self, path: Path, nursery: trio.Nursery) -> None:
        self.path = path
        self.nursery = nursery
        self.store: SqliteStore | None = None
        self.queue: DurableQueue | None = None

    async def start(self) -> DurableQueue:
        self.store = make_store(self.path)
        await self.store.open()
        self.queue = DurableQueue(self.store, "box", CODEC, OPTIONS, random=Random(0))
        await self.nursery.start(self.queue.serve)
        return self.queue

    async def stop(self, *, crash: bool) -> None:
        assert self.store is not None
        assert self.queue is not None
        if crash:
            await self.store.simulate_crash()
        self.queue.close()
        await self.queue.aclose()
        await self.store.aclose()


async def quiet() -> None:
    """On virtual time: return once the store and every task are idle."""
    await trio.sleep(0.001)


async def play(plan: list[Step], path: Path) -> None:
    model = Model()
    durable_acks: set[str] = set()
    taker = Taker()
    async with trio.open_nursery() as nursery:
        run = Run(path, nursery)
        queue = await run.start()
        for action, value in plan:
            if action == "send":
                text = f"m{len(model.sent)}"
                model.sent.append(text)
                model.charged[text] = 0
                assert await queue.put(text)
            elif action in ("handle", "fail", "retry"):
                await quiet()
                if not queue.items:
                    continue
                delivery = await taker.take(queue)
                text = str(delivery.message)
                assert text not in durable_acks, f"{text} delivered after its ack"
                assert text not in model.dead, f"{text} delivered after it died"
                is_suspect = model.out is not None
                if is_suspect:
                    assert text == model.out, "suspects come back one at a time, in order"
                if action == "handle":
                    queue.settle(delivery, MailboxEnding.HANDLED, None)
                    model.handled.add(text)
                    await run.store.flush()  # type: ignore[union-attr]
                    durable_acks.add(text)
                elif action == "fail":
                    queue.settle(delivery, MailboxEnding.FAILED, ValueError("no"))
                    if not is_suspect:
                        model.charged[text] += 1
                    if model.charged[text] >= MAX:
                        model.dead.add(text)
                else:
                    queue.settle(delivery, MailboxEnding.FAILED, Retry(after=value))
                    if is_suspect:
                        model.charged[text] -= 1
                if is_suspect:
                    model.settled_suspect()
            elif action == "wait":
                await trio.sleep(value)
            else:
                assert run.store is not None
                await run.store.flush()
                await quiet()
                held = sorted(
                    (d for d in queue.items if isinstance(d, Delivery)), key=lambda d: d.id
                )
                in_memory = [str(d.message) for d in held]  # suspects come back by id
                if action == "crash":
                    model.crashed(in_memory)
                else:
                    model.stopped_cleanly()
                await run.stop(crash=action == "crash")
                queue = await run.start()
                model.started()
        # Drain: everything still stored is handled, retries included.
        for _ in range(20):
            await trio.sleep(5)
            while queue.items:
                delivery = await taker.take(queue)
                text = str(delivery.message)
                assert text not in durable_acks
                is_suspect = model.out is not None
                if is_suspect:
                    assert text == model.out
                queue.settle(delivery, MailboxEnding.HANDLED, None)
                model.handled.add(text)
                if is_suspect:
                    model.settled_suspect()
        assert run.store is not None
        await run.store.flush()
        dead = {d.payload.decode() async for d in run.store.dead_letters()}
        await run.stop(crash=False)
    assert dead == model.dead
    assert model.handled | dead == set(model.sent), "a message was lost"
    assert not model.handled & dead


@settings(max_examples=60, deadline=None)
@given(plan=steps)
def test_queue_follows_the_model(plan: list[Step]) -> None:
    """No loss, no delivery after a durable ack, and the dead letters the model predicts."""
    with tempfile.TemporaryDirectory() as directory:
        trio.run(
            play,
            plan,
            Path(directory) / "s.db",
            clock=trio.testing.MockClock(autojump_threshold=0),
        )
