"""Through actors: retries with backoff, max_deliveries, Retry, GiveUp, dead letters, dedup."""

from __future__ import annotations

import itertools
from pathlib import Path

import msgpack  # type: ignore[import-untyped]
import pytest
import trio
import trio.testing
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Delivery, Durable, ExponentialJitter, GiveUp, Retry, WriteBatch
from trouper.errors import HandlerError
from trouper.runtime import DeadLetter, EventKind
from trouper.supervision import OneForOne


class Failing(trouper.Actor):
    """Raises what ``plan`` gives for each delivery (None: handled); records the times."""

    def __init__(self, plan: dict[int, BaseException], times: list[tuple[int, float]]) -> None:
        self.plan = plan
        self.times = times

    async def on_restart(self, cause: BaseException) -> None:
        self.times.append((0, trio.current_time()))

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.times.append((delivery.attempt, trio.current_time()))
        error = self.plan.get(delivery.attempt)
        if error is not None:
            raise error


def attempts(times: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return [(attempt, at) for attempt, at in times if attempt]


async def test_failures_are_retried_after_the_explicit_delays(tmp_path: Path) -> None:
    """Failure n waits delay n, the last one repeating; the supervisor restarts each time."""
    times: list[tuple[int, float]] = []
    plan: dict[int, BaseException] = {n: ValueError("no") for n in (1, 2, 3)}
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Failing, plan, times, name="f", mailbox=Durable(backoff=(1, 5)))
        await ref.tell(Charge("a", 1))
        await trio.sleep(20)
    assert attempts(times) == [(1, 0.0), (2, 1.0), (3, 6.0), (4, 11.0)]
    assert [attempt for attempt, _ in times].count(0) == 3  # restarted after each failure


async def waits_with_seed(path: Path, seed: int) -> list[float]:
    """The waits between five failing deliveries under the default backoff."""
    times: list[tuple[int, float]] = []
    plan: dict[int, BaseException] = {n: ValueError("no") for n in range(1, 6)}
    patient = OneForOne(max_restarts=10, within=1.0)
    async with trouper.open_runtime(store=sqlite(path), seed=seed, root_strategy=patient) as rt:
        ref = await rt.spawn(
            Failing, plan, times, name=f"f{seed}", mailbox=Durable(max_deliveries=6)
        )
        await ref.tell(Charge("a", 1))
        await trio.sleep(100)
    done = attempts(times)
    return [b - a for (_, a), (_, b) in itertools.pairwise(done)]


async def test_default_backoff_is_exponential_full_jitter_from_the_runtime_seed(
    tmp_path: Path,
) -> None:
    """Failure n waits at most min(300, 2**(n-1)) s, drawn from ``open_runtime(seed=...)``."""
    first = await waits_with_seed(tmp_path / "a.db", 7)
    again = await waits_with_seed(tmp_path / "b.db", 7)
    other = await waits_with_seed(tmp_path / "c.db", 8)
    caps = [ExponentialJitter().cap(n) for n in range(1, 6)]
    assert len(first) == 5
    assert all(0 <= wait <= cap for wait, cap in zip(first, caps, strict=True))
    assert first == pytest.approx(again)
    assert first != pytest.approx(other)


async def test_max_deliveries_moves_the_message_to_the_dead_letter_queue(tmp_path: Path) -> None:
    """After max_deliveries failures: dead, with the error, its traceback, attempts and times."""
    times: list[tuple[int, float]] = []
    plan: dict[int, BaseException] = {n: KeyError("gone") for n in range(1, 10)}
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(
            Failing, plan, times, name="f", mailbox=Durable(max_deliveries=3, backoff=(2,))
        )
        await ref.tell(Charge("a", 1))
        await trio.sleep(20)
        (dead,) = [d async for d in rt.store.dead_letters("f")]
    assert attempts(times) == [(1, 0.0), (2, 2.0), (3, 4.0)]
    assert (dead.message, dead.reason, dead.attempts) == (
        Charge("a", 1),
        "KeyError: 'gone' (max_deliveries 3 reached)",
        3,
    )
    assert dead.traceback is not None
    assert "KeyError: 'gone'" in dead.traceback
    assert dead.last_delivered_at - dead.first_delivered_at == pytest.approx(4.0)  # type: ignore[operator]
    assert dead.dead_at - dead.last_delivered_at == pytest.approx(0.0)  # type: ignore[operator]


async def test_default_max_deliveries_is_ten(tmp_path: Path) -> None:
    """Without options a message gets ten deliveries."""
    times: list[tuple[int, float]] = []
    plan: dict[int, BaseException] = {n: ValueError("no") for n in range(1, 20)}
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Failing, plan, times, name="f", mailbox=Durable(backoff=(10,)))
        await ref.tell(Charge("a", 1))
        await trio.sleep(200)
        (dead,) = [d async for d in rt.store.dead_letters("f")]
    assert (len(attempts(times)), dead.attempts) == (10, 10)


async def test_retry_is_not_a_failure(tmp_path: Path) -> None:
    """Retry(after) redelivers at exactly that delay, uncounted; the actor is not restarted."""
    times: list[tuple[int, float]] = []
    plan: dict[int, BaseException] = {1: Retry(after=5), 2: Retry(after=0.5), 3: Retry(after=1)}
    failures: list[object] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.events.listen(failures.append, kinds=[EventKind.FAILED, EventKind.RESTARTED])
        ref = await rt.spawn(Failing, plan, times, name="f", mailbox=Durable(max_deliveries=1))
        await ref.tell(Charge("a", 1))
        await trio.sleep(20)
        dead = [d async for d in rt.store.dead_letters()]
    assert (times, failures, dead) == ([(1, 0.0), (2, 5.0), (3, 5.5), (4, 6.5)], [], [])


async def test_an_ask_waits_through_a_retry(tmp_path: Path) -> None:
    """The asker gets the reply of the delivery that finally returned."""

    class Later(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> int:
            delivery = self.ctx.delivery
            assert isinstance(delivery, Delivery)
            if delivery.attempt == 1:
                raise Retry(after=3)
            return delivery.attempt

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Later, name="later", mailbox=Durable())
        assert (await ref.ask(Charge("a", 1)), trio.current_time()) == (2, 3.0)


async def test_give_up_dead_letters_at_once_and_the_actor_goes_on(tmp_path: Path) -> None:
    """GiveUp: dead with its reason on the first delivery; no failure; an asker gets an error."""
    failures: list[object] = []

    class Picky(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> int:
            if message.total < 0:
                raise GiveUp("negative total")
            return message.total

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.events.listen(failures.append, kinds=[EventKind.FAILED])
        ref = await rt.spawn(Picky, name="picky", mailbox=Durable())
        with pytest.raises(HandlerError, match=r"gave up: negative total"):
            await ref.ask(Charge("a", -1))
        assert await ref.ask(Charge("b", 2)) == 2
        (dead,) = [d async for d in rt.store.dead_letters()]
    assert (dead.reason, dead.attempts, failures) == ("gave up: negative total", 1, [])


async def test_a_message_no_handler_takes_is_dead_at_once(tmp_path: Path) -> None:
    """A stored message of a type the actor does not handle goes to the dead-letter queue."""

    class OnlyInts(trouper.Actor):
        @trouper.handler
        async def number(self, message: int) -> None:
            pass

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(OnlyInts, name="ints", mailbox=Durable())
        await ref.tell(Charge("a", 1))
        await trio.sleep(1)
        (dead,) = [d async for d in rt.store.dead_letters()]
    assert (dead.message, dead.reason, dead.attempts) == (
        Charge("a", 1),
        "no handler for Charge",
        1,
    )


async def test_durable_dead_letters_are_published_on_the_system_topic(tmp_path: Path) -> None:
    """Each move to the dead-letter queue is a DeadLetter on trouper.system.dead_letters."""
    letters: list[DeadLetter] = []

    class Listener(trouper.Actor):
        @trouper.handler
        async def letter(self, message: DeadLetter) -> None:
            letters.append(message)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.topics.subscribe(await rt.spawn(Listener), "trouper.system.dead_letters")
        times: list[tuple[int, float]] = []
        ref = await rt.spawn(
            Failing, {1: GiveUp("bad")}, times, name="f", mailbox=Durable(max_deliveries=1)
        )
        await ref.tell(Charge("a", 1))
        await trio.sleep(1)
    assert [(d.message, d.recipient.path, d.reason) for d in letters] == [
        (Charge("a", 1), "/f", "gave up: bad")
    ]


async def test_a_stored_payload_that_no_longer_fits_is_dead_with_the_codecs_reason(
    tmp_path: Path,
) -> None:
    """A row whose fields no longer fit its class (a field renamed) becomes a dead letter."""
    store = sqlite(tmp_path / "s.db")
    async with store:
        batch = WriteBatch()
        batch.append("f", "test.durable.charge", msgpack.packb({"order": "a", "total": 1}))
        await store.submit(batch)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        times: list[tuple[int, float]] = []
        await rt.spawn(Failing, {}, times, name="f", mailbox=Durable())
        await trio.sleep(1)
        (dead,) = [d async for d in rt.store.dead_letters()]
    assert times == []
    assert dead.reason == (
        "payload for 'test.durable.charge' does not fit "
        "durable_support.Charge: missing field 'order_id'; unexpected field 'order'"
    )


# --- deduplication ----------------------------------------------------------------------


class Seen(trouper.Actor):
    def __init__(self, seen: list[Charge]) -> None:
        self.seen = seen

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.seen.append(message)


@pytest.mark.parametrize(
    ("window", "gap", "count"),
    [(120.0, 119.0, 1), (120.0, 121.0, 2), (10.0, 9.0, 1), (None, 10_000.0, 1)],
)
async def test_a_msg_id_told_again_within_the_window_is_dropped(
    tmp_path: Path, window: float | None, gap: float, count: int
) -> None:
    """Same id within the window (default 120 s): dropped; after it: stored; None: for good."""
    seen: list[Charge] = []
    options = Durable() if window == 120.0 else Durable(dedup_window=window)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Seen, seen, name="seen", mailbox=options)
        await ref.tell(Charge("a", 1), msg_id="a")
        await trio.sleep(gap)
        await ref.tell(Charge("a", 2), msg_id="a")
        await trio.sleep(1)
    assert len(seen) == count


async def test_dedup_holds_across_runtimes(tmp_path: Path) -> None:
    """The ids are in the store: a new process drops a message told again with the same id."""
    seen: list[Charge] = []
    for total in (1, 2):
        async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
            ref = await rt.spawn(Seen, seen, name="seen", mailbox=Durable())
            await ref.tell(Charge("a", total), msg_id="a")
            await trio.sleep(1)
    assert seen == [Charge("a", 1)]


# --- redrive and discard --------------------------------------------------------------------


async def test_redrive_gives_a_dead_letter_back_to_its_actor(tmp_path: Path) -> None:
    """Redriven, a dead letter is delivered again from attempt 1; discard drops one for good."""
    times: list[tuple[int, float]] = []
    plan: dict[int, BaseException] = {1: GiveUp("later")}
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Failing, plan, times, name="f", mailbox=Durable())
        await ref.tell(Charge("a", 1))
        await ref.tell(Charge("b", 2))
        await trio.sleep(1)
        first, second = [d async for d in rt.store.dead_letters("f")]
        plan.clear()
        assert await rt.store.discard("f", ids=[second.id]) == 1
        assert await rt.store.redrive("f") == 1
        await trio.sleep(1)
        assert [d async for d in rt.store.dead_letters()] == []
    assert attempts(times) == [(1, 0.0), (1, 0.0), (1, 1.0)]
    assert first.message == Charge("a", 1)
