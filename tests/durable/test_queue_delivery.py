"""The durable mailbox core driven as a cell drives it: take, settle, redeliver, dead-letter."""

from __future__ import annotations

from pathlib import Path
from random import Random
from typing import cast

import pytest
import trio
from durable_support import Taker, drain, make_store, serving

from trouper.actors import ActorRef, Address, Endpoint, Terminated
from trouper.durable import (
    Durable,
    ExponentialJitter,
    GiveUp,
    Retry,
    retry_delay,
)
from trouper.runtime.lowlevel import MailboxEnding, WithMsgId


async def test_messages_are_delivered_in_order_once_durable(tmp_path: Path) -> None:
    """What ``put`` returned True for is handed over in put order, each attempt 1."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        for n in range(5):
            assert await queue.put(f"m{n}")
        taker = Taker()
        deliveries = [await taker.handle(queue) for _ in range(5)]
    assert [d.message for d in deliveries] == [f"m{n}" for n in range(5)]
    assert [(d.attempt, d.redelivered) for d in deliveries] == [(1, False)] * 5


async def test_put_nowait_is_handed_over_after_its_commit(tmp_path: Path) -> None:
    """A staged message reaches ``items`` only once its append has committed."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert queue.put_nowait("m")
        assert not queue.items
        await store.flush()
        assert [d.message for d in queue.items] == ["m"]  # type: ignore[attr-defined]


async def test_acknowledged_message_is_gone_for_good(tmp_path: Path) -> None:
    """A handled message is deleted: reopening the mailbox delivers nothing."""
    path = tmp_path / "s.db"
    async with make_store(path) as store, serving(store) as queue:
        assert await queue.put("m")
        await Taker().handle(queue)
    async with make_store(path) as store, serving(store) as queue:
        assert (await drain(queue, store), queue.depth) == ([], 0)


async def test_failure_redelivers_after_the_explicit_delays(tmp_path: Path) -> None:
    """With explicit delays, failure n waits delay n (the last repeating)."""
    options = Durable(backoff=(1.0, 5.0), max_deliveries=10)
    async with make_store(tmp_path / "s.db") as store, serving(store, options=options) as queue:
        assert await queue.put("m")
        taker = Taker()
        times = []
        for _ in range(4):
            delivery = await taker.fail(queue, ValueError("no"))
            times.append((delivery.attempt, trio.current_time()))
    assert times == [(1, 0.0), (2, 1.0), (3, 6.0), (4, 11.0)]


async def test_failure_waits_exponential_full_jitter_from_the_seeded_source(
    tmp_path: Path,
) -> None:
    """The default backoff draws uniform(0, min(maximum, initial * 2**(n-1))) from the seed."""
    backoff = ExponentialJitter(initial=1.0, maximum=300.0)
    expected_source = Random(42)
    expected = [retry_delay(backoff, n, expected_source) for n in (1, 2, 3)]
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, options=Durable(backoff=backoff), seed=42) as queue,
    ):
        assert await queue.put("m")
        taker = Taker()
        waits = []
        delivery = await taker.take(queue)
        for _ in range(3):
            failed_at = trio.current_time()
            queue.settle(delivery, MailboxEnding.FAILED, ValueError("no"))
            delivery = await taker.take(queue)
            waits.append(trio.current_time() - failed_at)
    assert waits == pytest.approx(expected)
    assert waits != pytest.approx([1.0, 2.0, 4.0])


def test_full_jitter_stays_under_its_growing_cap() -> None:
    """Each wait lies in [0, cap(n)], and the caps double up to the maximum."""
    backoff = ExponentialJitter(initial=0.5, maximum=4.0)
    source = Random(7)
    assert [backoff.cap(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    for n in range(1, 50):
        assert 0.0 <= retry_delay(backoff, n, source) <= backoff.cap(n)


async def test_max_deliveries_moves_the_message_to_the_dead_letter_queue(tmp_path: Path) -> None:
    """After max_deliveries failures the message is dead with reason, traceback and attempts."""
    options = Durable(backoff=(1.0,), max_deliveries=3)
    async with make_store(tmp_path / "s.db") as store, serving(store, options=options) as queue:
        assert await queue.put("order o-2")
        taker = Taker()
        for _ in range(3):
            await taker.fail(queue, ValueError("empty order"))
        await store.flush()
        await trio.sleep(10)
        assert not queue.items
        dead = [d async for d in store.dead_letters("box")]
    (letter,) = dead
    assert letter.payload == b"order o-2"
    assert letter.attempts == 3
    assert letter.reason == "ValueError: empty order (max_deliveries 3 reached)"
    assert letter.traceback is not None
    assert "ValueError: empty order" in letter.traceback
    assert (letter.first_delivered_at, letter.last_delivered_at) is not None
    assert letter.first_delivered_at < letter.last_delivered_at <= letter.dead_at  # type: ignore[operator]


async def test_retry_redelivers_at_its_delay_without_counting(tmp_path: Path) -> None:
    """``Retry(after)`` redelivers after exactly ``after``, and does not use up deliveries."""
    options = Durable(max_deliveries=2, backoff=(1.0,))
    async with make_store(tmp_path / "s.db") as store, serving(store, options=options) as queue:
        assert await queue.put("charge")
        taker = Taker()
        for n in range(3):
            delivery = await taker.fail(queue, Retry(after=5.0))
            assert (delivery.attempt, trio.current_time()) == (n + 1, 5.0 * n)
        failed = await taker.fail(queue, ValueError("down"))
        with trio.fail_after(60):  # dead-lettered by mistake: no redelivery ever comes
            last = await taker.handle(queue)
        await store.flush()
        dead = [d async for d in store.dead_letters()]
    assert (failed.attempt, last.attempt, last.redelivered) == (4, 5, True)
    assert (trio.current_time(), dead) == (16.0, [])


async def test_give_up_dead_letters_at_once(tmp_path: Path) -> None:
    """``GiveUp(reason)`` moves the message to the dead-letter queue on its first delivery."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put("bad order")
        await Taker().fail(queue, GiveUp("customer unknown"))
        await store.flush()
        (letter,) = [d async for d in store.dead_letters()]
    assert (letter.reason, letter.attempts) == ("gave up: customer unknown", 1)


async def test_undecodable_payload_becomes_a_dead_letter(tmp_path: Path) -> None:
    """A stored payload the codec cannot read is dead-lettered with the codec's reason."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put(b"from an older version")
        assert await queue.put("fine")
        await store.flush()
        queue.close()
        queue.reopen()
        assert (await Taker().handle(queue)).message == "fine"
        await store.flush()
        (letter,) = [d async for d in store.dead_letters()]
    assert letter.reason == "cannot decode broken: ValueError: no message type named 'broken'"


async def test_returned_message_comes_back_first_and_uncounted(tmp_path: Path) -> None:
    """A message returned by a restart is taken again next, with the same attempt."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        for text in ("a", "b"):
            assert await queue.put(text)
        taker = Taker()
        first = await taker.take(queue)
        queue.settle(first, MailboxEnding.RETURNED, None)
        again = await taker.take(queue)
    assert (again is first, again.attempt) == (True, 1)


async def test_put_waits_while_the_mailbox_is_full(tmp_path: Path) -> None:
    """At capacity ``put_nowait`` refuses and ``put`` waits until an ack makes room."""
    options = Durable(capacity=2)
    async with make_store(tmp_path / "s.db") as store, serving(store, options=options) as queue:
        assert await queue.put("a")
        assert await queue.put("b")
        assert not queue.put_nowait("c")
        done: list[str] = []

        async def sender() -> None:
            assert await queue.put("c")
            done.append("c")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            assert (done, bool(queue.producers)) == ([], True)
            await Taker().handle(queue)
        assert (done, queue.depth) == (["c"], 2)


async def test_a_put_waiting_for_room_when_the_mailbox_closes_is_stored_beyond_capacity(
    tmp_path: Path,
) -> None:
    """A sender waiting for room when the mailbox closes is stored for the next incarnation."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, options=Durable(capacity=1)) as queue,
    ):
        assert await queue.put("a")
        async with trio.open_nursery() as nursery:
            results: list[bool] = []

            async def sender() -> None:
                results.append(await queue.put("b"))

            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            queue.close()
        await store.flush()
        assert results == [True]
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await drain(queue, store) == ["a", "b"]


async def test_more_messages_than_prefetch_arrive_in_order(tmp_path: Path) -> None:
    """With a small prefetch window, messages beyond it wait on disk and come in order."""
    options = Durable(prefetch=4)
    async with make_store(tmp_path / "s.db") as store, serving(store, options=options) as queue:
        for n in range(30):
            queue.put_nowait(f"m{n:02}")
        await store.flush()
        assert len(queue.items) <= 4
        taker = Taker()
        seen = [(await taker.handle(queue)).message for _ in range(30)]
    assert seen == [f"m{n:02}" for n in range(30)]


async def test_messages_put_before_the_consumer_are_fetched(tmp_path: Path) -> None:
    """A mailbox opened on stored messages delivers them, then new ones, in order."""
    path = tmp_path / "s.db"
    async with make_store(path) as store:
        async with serving(store) as queue:
            for n in range(3):
                queue.put_nowait(f"old{n}")
            await store.flush()
        async with serving(store) as queue:
            queue.put_nowait("new")
            taker = Taker()
            seen = [(await taker.handle(queue)).message for _ in range(4)]
    assert seen == ["old0", "old1", "old2", "new"]


async def test_handled_message_commits_its_sends_with_its_ack(tmp_path: Path) -> None:
    """Sends staged by a handler are appended in the ack's transaction, not before."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, "orders") as orders,
        serving(store, "billing") as billing,
    ):
        assert await orders.put("place o-1")
        delivery = await Taker().take(orders)
        delivery.send(billing, "charge o-1", msg_id="o-1")
        await store.flush()
        assert billing.depth == 0
        orders.settle(delivery, MailboxEnding.HANDLED, None)
        await store.flush()
        charge = await Taker().take(billing)
        assert (orders.depth, charge.message, charge.msg_id) == (0, "charge o-1", "o-1")


async def test_in_memory_sends_are_released_after_the_commit(tmp_path: Path) -> None:
    """A callback staged by a handler runs only once the ack is durable."""
    released: list[int] = []
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put("m")
        delivery = await Taker().take(queue)
        delivery.after_commit(lambda: released.append(store.statistics().commits))
        commits = store.statistics().commits
        queue.settle(delivery, MailboxEnding.HANDLED, None)
        assert released == []
        await store.flush()
    assert released == [commits + 1]


async def test_failed_handler_drops_its_staged_sends_and_state(tmp_path: Path) -> None:
    """Nothing a failing handler staged is committed or released."""
    released: list[str] = []
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, "orders") as orders,
        serving(store, "billing") as billing,
    ):
        assert await orders.put("place")
        delivery = await Taker().take(orders)
        delivery.send(billing, "charge")
        delivery.after_commit(lambda: released.append("sent"))
        delivery.save_state(b"changed")
        orders.settle(delivery, MailboxEnding.FAILED, ValueError("no"))
        await store.flush()
        assert (billing.depth, released, await orders.load_state()) == (0, [], None)


async def test_state_saved_with_an_ack_is_loaded_after_reopening(tmp_path: Path) -> None:
    """The state staged with an ack is what the next incarnation loads."""
    path = tmp_path / "s.db"
    async with make_store(path) as store, serving(store, "billing") as queue:
        assert await queue.load_state() is None
        assert await queue.put("charge")
        delivery = await Taker().take(queue)
        delivery.save_state(b'{"o-1": 30}')
        queue.settle(delivery, MailboxEnding.HANDLED, None)
        assert await queue.load_state() == b'{"o-1": 30}'
    async with make_store(path) as store, serving(store, "billing") as queue:
        assert await queue.load_state() == b'{"o-1": 30}'


async def test_delivery_carries_the_msg_id(tmp_path: Path) -> None:
    """The sender's msg_id travels with the message to its delivery."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put(WithMsgId("m", "k-1"))
        assert (await Taker().take(queue)).msg_id == "k-1"


class Gone:
    """The endpoint of an actor that is no more (only its ref is needed)."""

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        return False

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        return False

    async def ask(self, message: object) -> object:
        raise NotImplementedError

    def watch(self, watcher: object) -> None:
        pass

    def unwatch(self, watcher: object) -> None:
        pass


async def test_close_returns_system_notices_and_keeps_messages_stored(tmp_path: Path) -> None:
    """Closing hands back in-memory notices; stored messages wait for ``reopen``."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put("m")
        gone = ActorRef(Address("local", "/gone"), cast(Endpoint[object], Gone()))
        notice = Terminated(gone, None)
        queue.put_system(notice)
        assert queue.close() == [notice]
        assert not queue.put_nowait("refused")
        queue.reopen()
        assert (await Taker().handle(queue)).message == "m"


def test_options_are_checked() -> None:
    """Bad options are refused with the rule they break."""
    with pytest.raises(ValueError, match=r"^max_deliveries must be an int >= 1, got 0$"):
        Durable(max_deliveries=0)
    with pytest.raises(ValueError, match=r"^backoff delays must not be empty$"):
        Durable(backoff=())
    with pytest.raises(ValueError, match=r"^dedup_window must be None or a finite"):
        Durable(dedup_window=-1)
    with pytest.raises(ValueError, match=r"^after must be a finite number >= 0, got -1$"):
        Retry(after=-1)
    assert Durable(backoff=[1, 2]).backoff == (1.0, 2.0)
