"""Durable actors: spawn(mailbox=Durable()), tell and ask, ctx.delivery, durable state."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from durable_support import Billing, Charge, Ledger, Orders, Place, sqlite

import trouper
from trouper.durable import Delivery, Durable
from trouper.errors import StartFailed
from trouper.runtime import Supervisor
from trouper.supervision import ChildSpec


async def test_the_issue_example_charges_each_order_once(tmp_path: Path) -> None:
    """A duplicate is dropped, a failing order is dead-lettered, a Retry waits, state persists."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "shop.db")) as rt:
        billing = await rt.spawn(Billing, name="billing", mailbox=Durable())
        orders = await rt.spawn(
            Orders, billing, name="orders", mailbox=Durable(max_deliveries=5, backoff=(1, 2, 4))
        )
        await orders.tell(Place("o-1", 30), msg_id="o-1")
        await orders.tell(Place("o-1", 30), msg_id="o-1")
        await orders.tell(Place("o-2", 0), msg_id="o-2")
        await orders.tell(Place("o-3", 2000), msg_id="o-3")
        await trio.sleep(20)
        dead = [letter async for letter in rt.store.dead_letters("orders")]
    assert [(d.message, d.reason, d.attempts) for d in dead] == [
        (Place("o-2", 0), "ValueError: empty order (max_deliveries 5 reached)", 5)
    ]
    assert dead[0].traceback is not None
    assert 'raise ValueError("empty order")' in dead[0].traceback
    charged: list[Ledger] = []

    class Peek(Billing):
        async def on_start(self) -> None:
            charged.append(self.state)

    async with trouper.open_runtime(store=sqlite(tmp_path / "shop.db")) as rt:
        await rt.spawn(Peek, name="billing", mailbox=Durable())
    assert charged == [Ledger({"o-1": 30, "o-3": 2000})]


class Gate(trouper.Actor):
    """Waits on ``gate`` in each handler, so that told messages stay stored."""

    def __init__(self, gate: trio.Event, seen: list[Charge]) -> None:
        self.gate = gate
        self.seen = seen

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.gate.wait()
        self.seen.append(message)


async def test_tell_returns_once_the_message_is_stored(tmp_path: Path) -> None:
    """When ``await tell`` returns, the message is committed: a reader of the file sees it."""
    gate, seen = trio.Event(), list[Charge]()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Gate, gate, seen, name="gate", mailbox=Durable())
        await ref.tell(Charge("a", 1))
        await ref.tell(Charge("b", 2))
        (box,) = await rt.store.mailbox_statistics()
        assert (box.name, box.depth) == ("gate", 2)
        gate.set()


async def test_tell_nowait_is_staged_until_the_flush(tmp_path: Path) -> None:
    """``tell_nowait`` stages the message; ``await rt.store.flush()`` makes it durable."""
    gate, seen = trio.Event(), list[Charge]()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Gate, gate, seen, name="gate", mailbox=Durable())
        await rt.store.flush()
        ref.tell_nowait(Charge("a", 1))
        assert rt.store.statistics().pending == 1
        await rt.store.flush()
        assert rt.store.statistics().pending == 0
        assert [box.depth for box in await rt.store.mailbox_statistics()] == [1]
        gate.set()


class Echo(trouper.Actor):
    @trouper.handler
    async def echo(self, message: Charge) -> int:
        return message.total * 2


async def test_ask_a_durable_actor(tmp_path: Path) -> None:
    """An ask is stored like a tell and answered with the handler's return value."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Echo, name="echo", mailbox=Durable())
        assert await ref.ask(Charge("a", 21)) == 42


async def test_an_unnamed_durable_actor_is_refused(tmp_path: Path) -> None:
    """An automatic name is not stable across processes: a durable mailbox needs a chosen one."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(ValueError, match=r"^a durable mailbox needs a chosen name"):
            await rt.spawn(Echo, mailbox=Durable())


async def test_a_runtime_without_a_store_refuses_durable_mailboxes() -> None:
    """``rt.store`` says how to give the runtime one."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(RuntimeError, match=r"^this runtime has no store"):
            await rt.spawn(Echo, name="echo", mailbox=Durable())


async def test_an_actor_class_may_default_to_a_durable_mailbox(tmp_path: Path) -> None:
    """``default_mailbox = Durable()`` makes every spawn of the class durable."""

    class Kept(Echo):
        default_mailbox = Durable()

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Kept, name="kept")
        await ref.tell(Charge("a", 1))
        assert [box.name for box in await rt.store.mailbox_statistics()] == ["kept"]


class Flaky(trouper.Actor):
    """Fails the first two deliveries of every message; records each delivery's facts."""

    def __init__(self, facts: list[tuple[str | None, int, bool]]) -> None:
        self.facts = facts

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.facts.append((delivery.msg_id, delivery.attempt, delivery.redelivered))
        if delivery.attempt < 3:
            raise ValueError("not yet")


async def test_ctx_delivery_gives_the_id_the_attempt_and_redelivery(tmp_path: Path) -> None:
    """Each delivery of a message has its msg_id, the attempt number, and whether it is again."""
    facts: list[tuple[str | None, int, bool]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Flaky, facts, name="flaky", mailbox=Durable(backoff=(1,)))
        await ref.tell(Charge("a", 1), msg_id="a-1")
        await trio.sleep(5)
    assert facts == [("a-1", 1, False), ("a-1", 2, True), ("a-1", 3, True)]


async def test_ctx_delivery_of_an_in_memory_actor_is_a_first_delivery_without_id() -> None:
    """In memory, every message is delivered once: attempt 1, no id, never redelivered."""
    seen: list[object] = []

    class Look(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            seen.append(self.ctx.delivery)

    async with trouper.open_runtime() as rt:
        await (await rt.spawn(Look)).ask(Charge("a", 1))
    assert seen == [trouper.actors.IN_MEMORY_DELIVERY]
    (delivery,) = seen
    assert isinstance(delivery, type(trouper.actors.IN_MEMORY_DELIVERY))
    assert (delivery.id, delivery.msg_id, delivery.attempt, delivery.redelivered) == (
        None,
        None,
        1,
        False,
    )


# --- durable state -----------------------------------------------------------------------


class Counter(trouper.Actor):
    """Counts charges in its durable state; fails on a total of 0 after counting it."""

    state: Ledger

    def __init__(self, starts: list[dict[str, int]]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(dict(self.state.charged))

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.state.charged[message.order_id] = self.state.charged.get(message.order_id, 0) + 1
        if message.total == 0:
            raise ValueError("zero")


async def test_state_is_loaded_before_on_start_and_after_a_restart(tmp_path: Path) -> None:
    """on_start sees the saved state, a restart sees it too, a failed handler's change is gone."""
    starts: list[dict[str, int]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Counter, starts, name="c", mailbox=Durable(max_deliveries=1))
        await ref.tell(Charge("a", 1))
        await ref.tell(Charge("b", 0))
        await trio.sleep(1)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Counter, starts, name="c", mailbox=Durable())
    assert starts == [{}, {"a": 1}, {"a": 1}]


async def test_a_failure_absorbed_or_resumed_rolls_the_state_back(tmp_path: Path) -> None:
    """A Retry keeps the actor; what its handler changed before raising is not kept."""
    seen: list[dict[str, int]] = []

    class Retrying(trouper.Actor):
        state: Ledger

        @trouper.handler
        async def charge(self, message: Charge) -> None:
            seen.append(dict(self.state.charged))
            self.state.charged["tries"] = self.state.charged.get("tries", 0) + 1
            delivery = self.ctx.delivery
            assert isinstance(delivery, Delivery)
            if delivery.attempt == 1:
                raise trouper.durable.Retry(after=1)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Retrying, name="r", mailbox=Durable())
        await ref.tell(Charge("a", 1))
        await trio.sleep(2)
        await ref.tell(Charge("b", 1))
        await trio.sleep(2)
    assert seen[:3] == [{}, {}, {"tries": 1}]


@attrs.define
class Needy:
    owner: str


class NeedsOwner(trouper.Actor):
    state: Needy


async def test_state_that_cannot_be_made_empty_is_refused(tmp_path: Path) -> None:
    """With nothing saved, the state class is built with no arguments, or the start fails."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(StartFailed, match=r"Needy\(\) cannot be made with no arguments"):
            await rt.spawn(NeedsOwner, name="n", mailbox=Durable())


class NotAttrs(trouper.Actor):
    state: dict[str, int]


async def test_state_must_be_an_attrs_class(tmp_path: Path) -> None:
    """The annotation names what durable state must be."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(StartFailed, match=r"state must be annotated with an attrs class"):
            await rt.spawn(NotAttrs, name="n", mailbox=Durable())


# --- order and asks ---------------------------------------------------------------------


class Log(trouper.Actor):
    """Records each charge's id; fails a charge whose total is negative on its first try."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        if message.total < 0 and delivery.attempt == 1:
            raise ValueError("later")
        self.seen.append(message.order_id)


async def test_messages_are_handled_in_the_order_they_were_told(tmp_path: Path) -> None:
    """One sender's messages, beyond the prefetch window, are handled in order."""
    seen: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Log, seen, name="log", mailbox=Durable(prefetch=8))
        for n in range(50):
            ref.tell_nowait(Charge(f"c{n:02}", n))
        await trio.sleep(1)
    assert seen == [f"c{n:02}" for n in range(50)]


async def test_a_retried_message_comes_after_those_delivered_meanwhile(tmp_path: Path) -> None:
    """A message waiting out its backoff does not hold the others back: retries reorder."""
    seen: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Log, seen, name="log", mailbox=Durable(backoff=(1,)))
        await ref.tell(Charge("a", -1))
        await ref.tell(Charge("b", 1))
        await trio.sleep(2)
    assert seen == ["b", "a"]


class Stuck(trouper.Actor):
    """Hangs on its first run of each message; on a later run, records and replies."""

    def __init__(self, runs: list[int]) -> None:
        self.runs = runs

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.runs.append(message.total)
        if len(self.runs) == 1:
            await trio.sleep_forever()
        return message.total


async def test_an_asks_reply_is_at_most_once(tmp_path: Path) -> None:
    """The asker is not stored: stopped first, it gets ActorStopped; the message runs later."""
    runs: list[int] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db"), shutdown=1) as rt:
        ref = await rt.spawn(Stuck, runs, name="stuck", mailbox=Durable())
        async with trio.open_nursery() as nursery:

            async def asker() -> None:
                with pytest.raises(trouper.errors.ActorStopped):
                    await ref.ask(Charge("a", 7))

            nursery.start_soon(asker)
            await trio.sleep(1)
            await rt.stop(ref)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Stuck, runs, name="stuck", mailbox=Durable())
        await trio.sleep(1)
    assert runs == [7, 7]  # handled again (at least once); its reply went to no one


async def test_a_supervisor_child_spec_may_be_durable(tmp_path: Path) -> None:
    """``ChildSpec(..., name=..., mailbox=Durable())`` makes a supervised child durable."""
    spec = ChildSpec("log", Log, args=([],), name="log", mailbox=Durable())
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Supervisor, [spec], name="sup")
        log = rt.lookup("log")
        assert log is not None
        await log.tell(Charge("a", 1))
        assert [box.name for box in await rt.store.mailbox_statistics()] == ["log"]


@trouper.message("test.durable.reply-to")
@attrs.frozen
class ReplyTo:
    """A stored message holding a ref."""

    order_id: str
    to: trouper.ActorRef[object]


class Replier(trouper.Actor):
    """Waits ``delay`` seconds, then tells the ref in the message a Charge."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    @trouper.handler
    async def reply(self, message: ReplyTo) -> None:
        await trio.sleep(self.delay)
        await message.to.tell(Charge(message.order_id, 1))


async def test_a_ref_in_a_stored_message_finds_its_actor_when_used(tmp_path: Path) -> None:
    """Read back by a new runtime before its actor lives, a ref resolves when it is used."""
    got: list[Charge] = []

    class Collect(trouper.Actor):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            got.append(message)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db"), shutdown=0.5) as rt:
        collector = await rt.spawn(Collect, name="collector")
        replier = await rt.spawn(Replier, 100.0, name="replier", mailbox=Durable())
        await replier.tell(ReplyTo("a", collector))  # stays stored: the handler never ends
        await trio.sleep(0.1)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Replier, 1.0, name="replier", mailbox=Durable())  # decodes the ref now
        await rt.spawn(Collect, name="collector")
        await trio.sleep(2)
    assert got == [Charge("a", 1)]
