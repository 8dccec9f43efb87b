"""Backpressure: senders wait on a full mailbox and come in, in order, once it has drained."""

from __future__ import annotations

import inspect

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorRef, MailboxFull, Terminated, handler


@attrs.frozen
class Put:
    value: int


@attrs.frozen
class Get:
    pass


@attrs.frozen
class Hold:
    pass


class Turnstile(Actor):
    """Handles one ``Put`` per permit the test releases."""

    def __init__(self, permits: trio.Semaphore) -> None:
        self.permits = permits
        self.seen: list[int] = []

    @handler
    async def put(self, message: Put) -> None:
        await self.permits.acquire()
        self.seen.append(message.value)

    @handler
    async def get(self, message: Get) -> list[int]:
        return list(self.seen)


async def _fill(ref: ActorRef[object], *values: int) -> None:
    await ref.tell(Put(values[0]))  # taken at once: its handler waits for a permit
    await trio.testing.wait_all_tasks_blocked()
    for value in values[1:]:
        ref.tell_nowait(Put(value))


async def _start_waiting_sender(
    nursery: trio.Nursery, ref: ActorRef[object], message: object
) -> trio.Event:
    """Start a task that tells ``message`` (it waits for room); its event is set once it is in."""
    done = trio.Event()

    async def sender() -> None:
        await ref.tell(message)
        done.set()

    nursery.start_soon(sender)
    await trio.testing.wait_all_tasks_blocked()
    return done


async def test_a_waiting_sender_comes_in_once_the_mailbox_has_drained() -> None:
    """Takes alone do not let a waiting sender in: the mailbox must drain first (hysteresis)."""
    permits = trio.Semaphore(0)
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Turnstile, permits, mailbox_size=3)
        await _fill(ref, 0, 1, 2, 3)
        async with trio.open_nursery() as nursery:
            done = await _start_waiting_sender(nursery, ref, Put(4))
            for _ in range(2):
                permits.release()  # 0, then 1 handled: the mailbox holds 2, then 1
                await trio.testing.wait_all_tasks_blocked()
                assert not done.is_set()
            permits.release()  # 2 handled, 3 taken: drained, so the sender comes in
            await trio.testing.wait_all_tasks_blocked()
            assert done.is_set()
            assert ref.tell_nowait(Put(5)) is True
        for _ in range(3):
            permits.release()
        assert await ref.ask(Get()) == [0, 1, 2, 3, 4, 5]


async def test_a_put_that_finds_room_lets_the_waiting_senders_in_first() -> None:
    """While a sender waits, a ``tell_nowait`` with room puts its message behind the waiting one."""
    permits = trio.Semaphore(0)
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Turnstile, permits, mailbox_size=3)
        await _fill(ref, 0, 1, 2, 3)
        async with trio.open_nursery() as nursery:
            done = await _start_waiting_sender(nursery, ref, Put(4))
            permits.release()  # 0 handled, 1 taken: [2, 3], one place free
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(MailboxFull):
                ref.tell_nowait(Put(98))  # the waiting 4 takes the place first
            await trio.testing.wait_all_tasks_blocked()
            assert done.is_set()
            permits.release()  # 1 handled, 2 taken: [3, 4]
            await trio.testing.wait_all_tasks_blocked()
            assert ref.tell_nowait(Put(5)) is True
        for _ in range(5):
            permits.release()
        assert await ref.ask(Get()) == [0, 1, 2, 3, 4, 5]


@attrs.frozen
class Step:
    value: int


class Looper(Actor):
    """On ``Step(2)``, tells itself ``Step(100)`` and waits for that tell to return."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate
        self.seen: list[int] = []

    @handler
    async def step(self, message: Step) -> None:
        await self.gate.wait()
        self.seen.append(message.value)
        if message.value == 2:
            await self.ctx.self_ref.tell(Step(100))

    @handler
    async def get(self, message: Get) -> list[int]:
        return list(self.seen)


async def test_a_handler_telling_its_own_actor_with_room_does_not_wait_for_a_drain() -> None:
    """A tell that finds room never waits, even while another sender waits for the drain."""
    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Looper, gate, mailbox_size=3)
        await ref.tell(Step(0))  # taken at once; its handler waits on the gate
        await trio.testing.wait_all_tasks_blocked()
        for value in (1, 2, 3):
            ref.tell_nowait(Step(value))
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ref.tell, Step(4))  # waits for room
                await trio.testing.wait_all_tasks_blocked()
                gate.set()  # in 2's handler the mailbox holds [3]: room, with 4 waiting
            assert await ref.ask(Get()) == [0, 1, 2, 3, 4, 100]


async def test_waiting_senders_come_in_in_order_and_at_most_a_mailbox_at_a_time() -> None:
    """Three senders wait on a mailbox of 2: the first two come in, the third on the next drain."""
    permits = trio.Semaphore(0)
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Turnstile, permits, mailbox_size=2)
        await _fill(ref, 0, 1, 2)
        arrived: list[int] = []

        async def sender(value: int) -> None:
            await ref.tell(Put(value))
            arrived.append(value)

        async with trio.open_nursery() as nursery:
            for value in (10, 11, 12):
                nursery.start_soon(sender, value)
                await trio.testing.wait_all_tasks_blocked()
            for _ in range(2):  # 0 and 1 handled, 2 taken: drained
                permits.release()
            await trio.testing.wait_all_tasks_blocked()
            assert sorted(arrived) == [10, 11]  # (woken together, they return in any order)
            for _ in range(2):  # 2 and 10 handled, 11 taken: drained again
                permits.release()
            await trio.testing.wait_all_tasks_blocked()
            assert sorted(arrived) == [10, 11, 12]
        for _ in range(3):
            permits.release()
        assert await ref.ask(Get()) == [0, 1, 2, 10, 11, 12]


async def test_a_cancelled_waiting_sender_gives_the_mailbox_back_to_tell_nowait() -> None:
    """Once no sender waits any more, ``tell_nowait`` takes whatever room there is again."""
    permits = trio.Semaphore(0)
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Turnstile, permits, mailbox_size=2)
        await _fill(ref, 0, 1, 2)
        with trio.move_on_after(1):
            await ref.tell(Put(99))  # waits, then gives up
        permits.release()  # 0 handled, 1 taken: one place free
        await trio.testing.wait_all_tasks_blocked()
        assert ref.tell_nowait(Put(3)) is True
        for _ in range(4):
            permits.release()
        assert await ref.ask(Get()) == [0, 1, 2, 3]


class Watching(Actor):
    """Watches ``target``; a ``Hold`` unwatches it once ``gate`` is set."""

    def __init__(self, target: ActorRef[object], gate: trio.Event) -> None:
        self.target = target
        self.gate = gate
        self.seen: list[object] = []

    async def on_start(self) -> None:
        self.ctx.watch(self.target)

    @handler
    async def hold(self, message: Hold) -> None:
        await self.gate.wait()
        self.ctx.unwatch(self.target)  # withdraws the queued Terminated

    @handler
    async def put(self, message: Put) -> None:
        self.seen.append(message.value)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append("terminated")

    @handler
    async def get(self, message: Get) -> list[object]:
        return list(self.seen)


async def test_a_sender_waiting_on_a_mailbox_emptied_by_unwatch_comes_in() -> None:
    """A mailbox emptied without a take (a withdrawn ``Terminated``) still lets its sender in."""
    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        target = await rt.spawn(Turnstile, trio.Semaphore(0))
        ref = await rt.spawn(Watching, target, gate, mailbox_size=1)
        await ref.tell(Hold())
        await rt.stop(target)  # its Terminated fills the mailbox
        await trio.testing.wait_all_tasks_blocked()
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ref.tell, Put(1))
                await trio.testing.wait_all_tasks_blocked()
                gate.set()
        assert await ref.ask(Get()) == [1]


async def test_tell_and_tell_nowait_say_whether_the_message_reached_a_mailbox() -> None:
    """``True`` when the message is in the mailbox, ``False`` when it became a dead letter."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Turnstile, trio.Semaphore(0))
        assert await ref.tell(Get()) is True
        assert ref.tell_nowait(Get()) is True
        await ref.ask(Get())  # both handled: the stop below finds nothing queued
        await rt.stop(ref)
        assert await ref.tell(Get()) is False
        assert ref.tell_nowait(Get()) is False
        assert rt.dead_letters.count == 2


def test_tell_and_tell_nowait_are_documented() -> None:
    """``help(ActorRef.tell)`` explains the operation, though it is the endpoint's own."""
    tell, tell_nowait = vars(ActorRef)["tell"], vars(ActorRef)["tell_nowait"]
    assert (inspect.getdoc(tell) or "").startswith("Send ``message`` without waiting")
    assert (inspect.getdoc(tell_nowait) or "").startswith("Send ``message`` now")


def test_a_ref_subclass_cannot_override_tell() -> None:
    """``tell`` is the endpoint's own ``send``: overriding it in a subclass is refused clearly."""
    with pytest.raises(
        TypeError,
        match=r"^Custom overrides ActorRef\.tell, which is its endpoint's own send: "
        r"give the ref an endpoint \(runtime\.lowlevel\.Endpoint\) instead$",
    ):

        class Custom(ActorRef[object]):
            async def tell(self, message: object, *, msg_id: str | None = None) -> bool:  # type: ignore[override]
                return False
