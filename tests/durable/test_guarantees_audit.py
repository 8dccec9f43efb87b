"""Promises of docs/durable.md that no other test pinned, each through the public API (SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs
import pytest
import trio
from durable_support import Charge, Ledger, sqlite

import trouper
from trouper.durable import Delivery, Durable, GiveUp, Retry, durable_ref
from trouper.errors import ActorStopped, StartFailed, UnregisteredMessageType
from trouper.routing import Balancing
from trouper.runtime import DeadLetter, EventKind, Supervisor
from trouper.supervision import ChildSpec, Restart


class Gate(trouper.Actor):
    """Holds each message until ``gate`` is set; records what it handled."""

    def __init__(self, gate: trio.Event, seen: list[Charge]) -> None:
        self.gate = gate
        self.seen = seen

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.gate.wait()
        self.seen.append(message)


def stored_rows(path: Path) -> int:
    """Messages a separate reader of the file sees committed (what another process would see)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        (count,) = connection.execute("SELECT count(*) FROM messages").fetchone()
    connection.close()
    return int(count)


async def test_each_await_tell_returns_only_once_its_message_is_committed(tmp_path: Path) -> None:
    """Guarantee 1: a reader of the file sees the message as soon as ``await tell`` returns."""
    gate, seen = trio.Event(), list[Charge]()
    path = tmp_path / "s.db"
    async with trouper.open_runtime(store=sqlite(path)) as rt:
        ref = await rt.spawn(Gate, gate, seen, name="gate", mailbox=Durable())
        counts = []
        for n in range(3):
            await ref.tell(Charge(f"c{n}", n))
            counts.append(stored_rows(path))
        gate.set()
    assert counts == [1, 2, 3]


@attrs.frozen
class Unregistered:
    """A message type no codec registry knows."""

    value: int


async def test_a_message_the_codec_cannot_encode_is_refused_by_its_tell(tmp_path: Path) -> None:
    """Using it: a message ``trouper.codec`` cannot encode is refused; nothing is stored."""
    gate, seen = trio.Event(), list[Charge]()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Gate, gate, seen, name="gate", mailbox=Durable())
        with pytest.raises(UnregisteredMessageType, match=r"is not a registered message type"):
            await ref.tell(Unregistered(1))
        with pytest.raises(UnregisteredMessageType, match=r"is not a registered message type"):
            ref.tell_nowait(Unregistered(2))
        await rt.store.flush()
        assert [box.depth for box in await rt.store.mailbox_statistics()] == [0]
        gate.set()


async def test_rt_store_without_a_store_says_how_to_give_one() -> None:
    """Using it: ``rt.store`` of a runtime opened without a store raises RuntimeError."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(RuntimeError, match=r"^this runtime has no store"):
            _ = rt.store


async def test_a_runtimes_mailbox_size_does_not_bound_a_durable_mailbox(tmp_path: Path) -> None:
    """Durable options: ``capacity`` bounds a durable mailbox, not the runtime's mailbox_size."""
    gate, seen = trio.Event(), list[Charge]()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db"), mailbox_size=1) as rt:
        ref = await rt.spawn(Gate, gate, seen, name="gate", mailbox=Durable(capacity=5))
        for n in range(5):
            ref.tell_nowait(Charge(f"c{n}", n))
        with pytest.raises(trouper.errors.MailboxFull):
            ref.tell_nowait(Charge("over", 9))
        await rt.store.flush()
        assert [box.depth for box in await rt.store.mailbox_statistics()] == [5]
        gate.set()


async def test_a_redriven_dead_letter_is_not_dropped_by_its_msg_id(tmp_path: Path) -> None:
    """Guarantee 16: redriven within the dedup window, a dead letter's msg_id is not checked."""
    handled: list[tuple[str | None, int]] = []

    class Picky(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            delivery = self.ctx.delivery
            assert isinstance(delivery, Delivery)
            handled.append((delivery.msg_id, delivery.attempt))
            if len(handled) == 1:
                raise GiveUp("not yet")

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Picky, name="picky", mailbox=Durable(dedup_window=None))
        await ref.tell(Charge("a", 1), msg_id="a")
        await trio.sleep(1)
        assert await rt.store.redrive("picky") == 1
        await trio.sleep(1)
        assert [d async for d in rt.store.dead_letters()] == []
    assert handled == [("a", 1), ("a", 1)]


async def test_a_redriven_message_is_stored_beyond_capacity(tmp_path: Path) -> None:
    """Guarantee 17: redrive into a full mailbox is never refused; it is stored beyond capacity."""
    gate, seen = trio.Event(), list[Charge]()
    plan = {"dead": GiveUp("later")}

    class Held(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            if message.order_id in plan:
                raise plan.pop(message.order_id)
            await gate.wait()
            seen.append(message)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Held, name="held", mailbox=Durable(capacity=2))
        await ref.tell(Charge("dead", 0))
        await trio.sleep(1)
        await ref.tell(Charge("a", 1))
        await ref.tell(Charge("b", 2))
        with trio.move_on_after(5) as waited:
            assert await rt.store.redrive("held") == 1
        assert not waited.cancelled_caught
        assert [box.depth for box in await rt.store.mailbox_statistics()] == [3]
        gate.set()
        await trio.sleep(1)
    assert [c.order_id for c in seen] == ["a", "b", "dead"]


async def test_a_durable_ref_stores_for_the_next_start_and_cannot_ask_an_absent_actor(
    tmp_path: Path,
) -> None:
    """SQLite: a ``durable_ref`` tell waits for the actor's next start; its ask: ActorStopped."""
    got: list[Charge] = []

    class Collect(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> int:
            got.append(message)
            return message.total

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = durable_ref(rt, "later")
        await ref.tell(Charge("a", 1))
        with pytest.raises(ActorStopped):
            await ref.ask(Charge("b", 2))
    assert got == []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Collect, name="later", mailbox=Durable())
        await trio.sleep(1)
        assert await durable_ref(rt, "later").ask(Charge("c", 3)) == 3
    assert got == [Charge("a", 1), Charge("c", 3)]


class Flaky(trouper.Actor):
    """Fails every delivery of a Charge; counts its runs."""

    def __init__(self, runs: list[int]) -> None:
        self.runs = runs

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.runs.append(message.total)
        raise ValueError("flaky")


async def test_a_durable_actor_its_supervisor_stops_keeps_its_message_for_the_next_start(
    tmp_path: Path,
) -> None:
    """Supervision: a handler error fails the actor; stopped, it leaves its message stored."""
    runs: list[int] = []
    events: list[EventKind] = []
    spec = ChildSpec(
        "flaky",
        Flaky,
        args=(runs,),
        name="flaky",
        mailbox=Durable(backoff=(100,)),
        restart=Restart.TEMPORARY,
    )
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.events.listen(lambda e: events.append(e.kind), kinds=[EventKind.FAILED])
        await rt.spawn(Supervisor, [spec], name="sup")
        flaky = rt.lookup("flaky")
        assert flaky is not None
        await flaky.tell(Charge("a", 1))
        await trio.sleep(1)
        assert rt.lookup("flaky") is None
        assert [box.depth for box in await rt.store.mailbox_statistics()] == [1]
    assert (runs, events) == ([1], [EventKind.FAILED])
    attempts: list[int] = []

    class Steady(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            delivery = self.ctx.delivery
            assert isinstance(delivery, Delivery)
            attempts.append(delivery.attempt)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Steady, name="flaky", mailbox=Durable())
        await trio.sleep(101)
    assert attempts == [2]


async def test_every_kind_of_durable_dead_letter_is_published_on_the_system_topic(
    tmp_path: Path,
) -> None:
    """Guarantee 14: GiveUp, max_deliveries and a type no handler takes each post a DeadLetter."""
    letters: list[DeadLetter] = []

    class Listener(trouper.Actor):
        @trouper.handler
        async def letter(self, message: DeadLetter) -> None:
            letters.append(message)

    class OnlyCharges(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            if message.total < 0:
                raise GiveUp("negative")
            if message.total == 0:
                raise ValueError("empty")

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.topics.subscribe(await rt.spawn(Listener), "trouper.system.dead_letters")
        ref = await rt.spawn(OnlyCharges, name="c", mailbox=Durable(max_deliveries=1))
        await ref.tell(Charge("a", -1))
        await ref.tell(Charge("b", 0))
        await ref.tell(7)
        await trio.sleep(1)
        stored = {d.message: d.reason async for d in rt.store.dead_letters("c")}
    assert stored == {
        Charge("a", -1): "gave up: negative",
        Charge("b", 0): "ValueError: empty (max_deliveries 1 reached)",
        7: "no handler for int",
    }
    posted = [(d.recipient.path, d.message) for d in letters]
    assert sorted(posted, key=repr) == sorted((("/c", m) for m in stored), key=repr)


async def test_retries_do_not_count_toward_max_deliveries_when_an_error_follows(
    tmp_path: Path,
) -> None:
    """Guarantee 11: after two Retries, one error with max_deliveries=2 is a first failure."""
    plan: dict[int, BaseException] = {1: Retry(after=1), 2: Retry(after=1), 3: KeyError("once")}
    attempts: list[int] = []

    class Later(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            delivery = self.ctx.delivery
            assert isinstance(delivery, Delivery)
            attempts.append(delivery.attempt)
            error = plan.get(delivery.attempt)
            if error is not None:
                raise error

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        options = Durable(max_deliveries=2, backoff=(1,))
        ref = await rt.spawn(Later, name="later", mailbox=options)
        await ref.tell(Charge("a", 1))
        await trio.sleep(10)
        dead = [d async for d in rt.store.dead_letters()]
    assert (attempts, dead) == ([1, 2, 3, 4], [])


async def test_a_retry_stays_uncounted_in_the_next_runtime(tmp_path: Path) -> None:
    """Guarantee 11: the Retry count is stored; a later runtime does not charge it as a failure."""
    attempts: list[int] = []

    class Once(trouper.Actor):
        def __init__(self, error: BaseException) -> None:
            self.error = error

        @trouper.handler
        async def charge(self, message: Charge) -> None:
            delivery = self.ctx.delivery
            assert isinstance(delivery, Delivery)
            attempts.append(delivery.attempt)
            if len(attempts) <= 2:
                raise self.error

    options = Durable(max_deliveries=2, backoff=(1,))
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Once, Retry(after=1000), name="once", mailbox=options)
        await ref.tell(Charge("a", 1))
        await trio.sleep(1)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Once, KeyError("once"), name="once", mailbox=options)
        await trio.sleep(1010)
        dead = [d async for d in rt.store.dead_letters()]
    assert (attempts, dead) == ([1, 2, 3], [])


def test_durable_options_are_keyword_only_and_all_checked() -> None:
    """Durable options: keyword only, each refused with the rule it breaks."""
    with pytest.raises(TypeError, match=r"positional argument"):
        Durable(5)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"^capacity must be an int >= 1, got 0$"):
        Durable(capacity=0)
    with pytest.raises(ValueError, match=r"^prefetch must be an int >= 1, got 0$"):
        Durable(prefetch=0)
    with pytest.raises(
        ValueError, match=r"^dedup_window must be None or a finite number >= 0, got 'x'$"
    ):
        Durable(dedup_window="x")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^dedup_window must be None or a finite number >= 0, got inf$"
    ):
        Durable(dedup_window=float("inf"))


async def test_a_handler_telling_its_own_full_mailbox_is_stored_beyond_capacity(
    tmp_path: Path,
) -> None:
    """Guarantee 17: a handler's sends are never refused for room: a self-send cannot deadlock."""
    handled: list[int] = []
    all_handled = trio.Event()

    class Countdown(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            handled.append(message.total)
            if len(handled) == 7:
                all_handled.set()
            if message.total > 0:
                for _ in range(2):  # two sends into a mailbox of capacity 1
                    await self.ctx.self_ref.tell(Charge("a", message.total - 1))

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Countdown, name="countdown", mailbox=Durable(capacity=1))
        with trio.fail_after(10):
            await ref.tell(Charge("a", 2))
            await all_handled.wait()
    assert sorted(handled) == [0, 0, 0, 0, 1, 1, 2]


async def test_a_durable_pool_of_actors_with_durable_state_is_refused(tmp_path: Path) -> None:
    """Guarantee 19: the members of a pool share a mailbox and cannot have durable state."""

    class Keeper(trouper.Actor):
        state: Ledger

        @trouper.handler
        async def charge(self, message: Charge) -> None:
            self.state.charged[message.order_id] = message.total

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(StartFailed, match=r"durable state needs an actor of its own"):
            await rt.spawn_pool(Keeper, 2, router=Balancing(), name="keepers", mailbox=Durable())


async def test_the_store_stays_open_until_the_last_actor_stopped(tmp_path: Path) -> None:
    """Using it: the store closes after the last actor stopped, so an ``on_stop`` may still tell."""

    class Leaving(trouper.Actor):
        async def on_stop(self) -> None:
            await durable_ref(self.ctx.runtime, "log").tell(Charge("bye", 1))

        @trouper.handler
        async def charge(self, message: Charge) -> None:
            pass

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Leaving, name="leaving", mailbox=Durable())
    got: list[Charge] = []

    class Log(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            got.append(message)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Log, name="log", mailbox=Durable())
        await trio.sleep(1)
    assert got == [Charge("bye", 1)]


async def test_state_is_written_with_an_ack_only_when_its_bytes_changed(tmp_path: Path) -> None:
    """Guarantee 19: a handler that leaves the state as it was writes no state with its ack."""

    class Keeper(trouper.Actor):
        state: Ledger

        @trouper.handler
        async def charge(self, message: Charge) -> None:
            if message.total:
                self.state.charged[message.order_id] = message.total

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Keeper, name="keeper", mailbox=Durable())
        rows = []
        for charge in (Charge("a", 1), Charge("b", 0), Charge("c", 2), Charge("c", 2)):
            before = rt.store.statistics().rows
            await ref.ask(charge)
            await rt.store.flush()
            rows.append(rt.store.statistics().rows - before)
    assert rows[1] == rows[3] == rows[0] - 1 == rows[2] - 1  # a state row with a change only
