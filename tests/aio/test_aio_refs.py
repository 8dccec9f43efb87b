"""``AioRef`` from asyncio code: tell, tell_nowait, ask, their errors, order and cancellation."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from aio_actors import (
    Account,
    Balance,
    Deposit,
    Gates,
    Greet,
    Greeter,
    Hold,
    Holder,
    Introduce,
    Note,
    SlowStarter,
    Withdraw,
    run,
    until,
)

import trouper
from trouper.aio import AioRef, AioRuntime, open_runtime
from trouper.runtime.lowlevel import Cell, Instrument, SendKind

pytestmark = pytest.mark.real_clock


async def crossed(rt: AioRuntime) -> None:
    """Return once everything the loop queued before has crossed (jobs run in order)."""
    await rt.run_sync(lambda: None)


def _depth(rt: AioRuntime, ref: AioRef[object]) -> int:
    info = rt.tree().find(ref.address.path)
    assert info is not None
    return info.mailbox_depth


async def _held(
    rt: AioRuntime, journal: list[str], **options: object
) -> tuple[AioRef[object], Gates]:
    """A ``Holder`` busy with a ``Hold`` (asked in the background) until ``gates.open``."""
    gates = await Gates.make(rt)
    holder = await rt.spawn(Holder, gates.started, gates.gate, journal, **options)
    gates.held = asyncio.create_task(holder.ask(Hold()))
    await gates.wait_started(rt)
    return holder, gates


def test_ask_returns_the_handlers_reply() -> None:
    """``await ref.ask`` returns what the handler returned."""

    async def main() -> int:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 5)
            await account.tell(Deposit(2))
            account.tell_nowait(Deposit(3))
            return await account.ask(Balance())

    assert run(main) == 10


def test_a_failing_handler_raises_handler_error_with_its_cause() -> None:
    """A handler's exception reaches the asker as ``HandlerError``, with it as ``__cause__``."""

    async def main() -> BaseException | None:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 1)
            with pytest.raises(trouper.HandlerError, match=r"insufficient funds") as info:
                await account.ask(Withdraw(5))
            return info.value.__cause__

    assert isinstance(run(main), ValueError)


def test_asking_a_stopped_actor_raises_actor_stopped() -> None:
    """After ``rt.stop``, an ask raises ``ActorStopped`` and a tell becomes a dead letter."""

    async def main() -> int:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 1)
            await rt.stop(account)
            with pytest.raises(trouper.ActorStopped):
                await account.ask(Balance())
            await account.tell(Deposit(1))
            return rt.runtime.dead_letters.count

    assert run(main) == 2


def test_an_unhandled_message_raises_unhandled_message() -> None:
    """A message no handler takes raises ``UnhandledMessage`` at once."""

    async def main() -> None:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 1)
            with pytest.raises(trouper.UnhandledMessage):
                await account.ask(Note("nobody handles this"))

    run(main)


def test_an_asyncio_timeout_bounds_an_ask() -> None:
    """``asyncio.timeout`` is the ask's deadline: ``TimeoutError`` when it passes."""

    async def main() -> None:
        async with open_runtime() as rt:
            holder, gates = await _held(rt, [])
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01):
                    await holder.ask(Note("late"))
            await gates.open(rt)

    run(main)


def test_wait_for_bounds_an_ask() -> None:
    """``asyncio.wait_for`` works the same way."""

    async def main() -> None:
        async with open_runtime() as rt:
            holder, gates = await _held(rt, [])
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(holder.ask(Note("late")), 0.01)
            await gates.open(rt)

    run(main)


def test_a_cancelled_ask_not_yet_taken_is_withdrawn() -> None:
    """Cancelled while queued behind a busy handler, the ask is never handled."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime() as rt:
            holder, gates = await _held(rt, journal)
            late = asyncio.create_task(holder.ask(Note("late")))
            await until(lambda: _depth(rt, holder) == 1)
            late.cancel()
            with pytest.raises(asyncio.CancelledError):
                await late
            await gates.open(rt)
            assert await holder.ask(Note("after")) == "after"

    run(main)
    assert journal == ["hold", "released", "after"]


def test_a_cancelled_ask_already_taken_has_its_reply_discarded() -> None:
    """Cancelled while its handler runs, the handler finishes and its reply goes nowhere."""
    journal: list[str] = []

    async def main() -> int:
        async with open_runtime() as rt:
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, journal)
            held = asyncio.create_task(holder.ask(Hold()))
            await gates.wait_started(rt)
            held.cancel()
            with pytest.raises(asyncio.CancelledError):
                await held
            await gates.open(rt)
            assert await holder.ask(Note("after")) == "after"
            return rt.runtime.dead_letters.count

    assert run(main) == 0
    assert journal == ["hold", "released", "after"]


def test_tell_nowait_raises_mailbox_full_when_no_room_is_left() -> None:
    """What waits in the mailbox and what the loop has on its way count: the 4th of 3 fails."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=3) as rt:
            holder, gates = await _held(rt, journal)
            await holder.tell(Note("a"))
            for tag in "bc":
                holder.tell_nowait(Note(tag))
            with pytest.raises(trouper.MailboxFull, match=r"is full \(capacity 3 messages\)$"):
                holder.tell_nowait(Note("d"))
            await gates.open(rt)
            await holder.ask(Note("e"))

    run(main)
    assert journal == ["hold", "released", "a", "b", "c", "e"]


def test_tell_nowait_to_a_pool_is_bounded_by_the_runtimes_mailbox_size() -> None:
    """A ref with no mailbox of its own (a pool) gets ``mailbox_size`` messages on their way."""

    async def main() -> None:
        async with open_runtime(mailbox_size=2) as rt:
            pool = rt.ref(await rt.run(rt.runtime.spawn_pool, Account, 2, 0))
            pool.tell_nowait(Deposit(1))
            pool.tell_nowait(Deposit(1))
            with pytest.raises(trouper.MailboxFull):
                pool.tell_nowait(Deposit(1))

    run(main)


def test_messages_keep_their_order_behind_a_full_mailbox() -> None:
    """Told nowait, then told and asked while the mailbox is full: all arrive, in order."""
    journal: list[str] = []

    async def main() -> str:
        async with open_runtime(mailbox_size=2) as rt:
            holder, gates = await _held(rt, journal)
            holder.tell_nowait(Note("1"))
            holder.tell_nowait(Note("2"))
            waiting = asyncio.create_task(holder.tell(Note("3")))
            asked = asyncio.create_task(holder.ask(Note("4")))
            await crossed(rt)
            assert _depth(rt, holder) == 2
            await gates.open(rt)
            await waiting
            return await asked

    assert run(main) == "4"
    assert journal == ["hold", "released", "1", "2", "3", "4"]


def test_messages_told_nowait_wait_their_turn_when_they_find_no_room() -> None:
    """Sent nowait to a full pool, messages wait for room in order, before a later ask.

    Eight rounds, each with a pool of its own: Trio runs a batch of tasks in
    either order, so an order that held by chance once would not hold eight times.
    """

    async def round_of(rt: AioRuntime) -> list[str]:
        journal: list[str] = []
        gates = await Gates.make(rt)
        pool = rt.ref(
            await rt.run(rt.runtime.spawn_pool, Holder, 1, gates.started, gates.gate, journal)
        )
        gates.held = asyncio.create_task(pool.ask(Hold()))
        await gates.wait_started(rt)
        for tag in "12":
            pool.tell_nowait(Note(tag))
        await crossed(rt)  # in the member's mailbox: the loop's bound is free again
        for tag in "34":
            pool.tell_nowait(Note(tag))  # the member's mailbox is full: they wait
        asked = asyncio.create_task(pool.ask(Note("5")))
        await crossed(rt)
        await gates.open(rt)
        assert await asked == "5"
        for tag in "67":
            pool.tell_nowait(Note(tag))  # delivered, the waiting ones freed the bound
        await pool.ask(Note("8"))
        return journal

    async def main() -> list[list[str]]:
        async with open_runtime(mailbox_size=2) as rt:
            return [await round_of(rt) for _ in range(8)]

    expected = ["hold", "released", "1", "2", "3", "4", "5", "6", "7", "8"]
    assert run(main) == [expected] * 8


def test_a_cancelled_tell_waiting_for_room_is_not_sent() -> None:
    """``await tell`` cancelled while the mailbox is full: the message is not sent."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=1) as rt:
            holder, gates = await _held(rt, journal)
            await holder.tell(Note("1"))
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01):
                    await holder.tell(Note("never"))
            await gates.open(rt)
            assert await holder.ask(Note("2")) == "2"

    run(main)
    assert journal == ["hold", "released", "1", "2"]


def test_a_cancelled_ask_queued_behind_a_full_mailbox_is_withdrawn() -> None:
    """An ask waiting in the loop's queue behind a full mailbox, cancelled, is never sent."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=1) as rt:
            holder, gates = await _held(rt, journal)
            await holder.tell(Note("1"))
            waiting = asyncio.create_task(holder.tell(Note("2")))
            late = asyncio.create_task(holder.ask(Note("late")))
            await asyncio.sleep(0)
            late.cancel()
            with pytest.raises(asyncio.CancelledError):
                await late
            await gates.open(rt)
            await waiting
            assert await holder.ask(Note("3")) == "3"

    run(main)
    assert journal == ["hold", "released", "1", "2", "3"]


def test_refs_are_equal_to_their_actor_refs() -> None:
    """An ``AioRef`` equals (and hashes like) its ``ActorRef``; ``ref()`` and ``.ref`` convert."""

    async def main() -> None:
        async with open_runtime() as rt:
            greeter = await rt.spawn(Greeter, name="greeter")
            actor_ref = greeter.ref
            assert isinstance(actor_ref, trouper.ActorRef)
            assert greeter == actor_ref
            assert actor_ref == greeter
            by_ref: dict[object, int] = {actor_ref: 1}
            assert by_ref[greeter] == 1
            assert rt.ref(actor_ref) == greeter
            assert rt.ref(greeter) is greeter
            assert rt.lookup("greeter") == greeter
            assert rt.lookup("nobody") is None

    run(main)


def test_refs_travel_in_messages_and_replies() -> None:
    """An ``ActorRef`` goes into a message, comes back in a reply, and ``ref()`` makes it usable."""

    async def main() -> str:
        async with open_runtime() as rt:
            friend = await rt.spawn(Greeter)
            greeter = await rt.spawn(Greeter, friend.ref)
            friend_ref = await greeter.ask(Introduce())
            introduced = rt.ref(friend_ref)
            assert introduced == friend
            return await introduced.ask(Greet("ada"))

    assert run(main) == "hello ada"


def test_spawn_takes_the_options_of_runtime_spawn() -> None:
    """Factory keyword arguments and spawn options reach ``Runtime.spawn``."""

    async def main() -> None:
        async with open_runtime() as rt:
            journal: list[str] = []
            account = await rt.spawn(Account, 1, journal=journal, name="acct", mailbox_size=7)
            assert str(account.address) == "trouper://local/acct"
            with pytest.raises(trouper.NameTaken):
                await rt.spawn(Account, 0, name="acct")
            await rt.stop(account)
            assert journal == ["on_stop 1"]

    run(main)


def test_a_spawn_cancelled_before_on_start_returns_is_undone() -> None:
    """Cancelled while ``on_start`` runs, the spawn leaves nothing: the name is free again."""

    async def main() -> None:
        async with open_runtime() as rt:
            gates = await Gates.make(rt)
            spawning = asyncio.create_task(
                rt.spawn(SlowStarter, gates.started, gates.gate, name="slow")
            )
            await gates.wait_started(rt)
            spawning.cancel()
            with pytest.raises(asyncio.CancelledError):
                await spawning
            await until(lambda: rt.lookup("slow") is None)  # once its cell has finalized
            account = await rt.spawn(Account, 1, name="slow")
            assert await account.ask(Balance()) == 1

    run(main)


def test_calls_carry_the_callers_context() -> None:
    """What runs in Trio for an asyncio caller sees the caller's ``contextvars``."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    async def main() -> str:
        async with open_runtime() as rt:
            request_id.set("r-17")
            return await rt.run_sync(request_id.get)

    assert run(main) == "r-17"


class SentWith(Instrument):
    """Records, for each ``Note`` sent, the ``request_id`` of the context it was sent in."""

    def __init__(self, seen: list[tuple[str, str]]) -> None:
        self.seen = seen

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        if isinstance(message, Note):
            self.seen.append((message.tag, REQUEST_ID.get("-")))
        return None


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def test_sends_run_in_their_callers_context() -> None:
    """Instruments see each tell, tell_nowait and ask in the context of the task that sent it."""
    seen: list[tuple[str, str]] = []

    async def sender(rt: AioRuntime, holder: AioRef[object], request: str) -> None:
        REQUEST_ID.set(request)
        holder.tell_nowait(Note(f"{request} nowait"))
        REQUEST_ID.set(f"{request}+")  # a change between two tells of one burst
        holder.tell_nowait(Note(f"{request}+ nowait"))
        await holder.tell(Note(f"{request}+ tell"))
        await holder.ask(Note(f"{request}+ ask"))

    async def main() -> None:
        async with open_runtime() as rt:
            await rt.run_sync(rt.runtime.instruments.add, SentWith(seen))
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, [])
            await asyncio.gather(sender(rt, holder, "r1"), sender(rt, holder, "r2"))

    run(main)
    assert sorted(seen) == sorted(
        (f"{request}{suffix}", request + ("" if suffix == " nowait" else "+"))
        for request in ("r1", "r2")
        for suffix in (" nowait", "+ nowait", "+ tell", "+ ask")
    )


def test_many_concurrent_asks_are_all_answered() -> None:
    """A thousand asks from a hundred tasks at once: each gets its own reply."""

    async def main() -> list[str]:
        async with open_runtime() as rt:
            greeter = await rt.spawn(Greeter)

            async def asker(n: int) -> list[str]:
                return [await greeter.ask(Greet(f"{n}-{i}")) for i in range(10)]

            replies = await asyncio.gather(*(asker(n) for n in range(100)))
            return [reply for batch in replies for reply in batch]

    replies = run(main)
    assert sorted(replies) == sorted(f"hello {n}-{i}" for n in range(100) for i in range(10))
