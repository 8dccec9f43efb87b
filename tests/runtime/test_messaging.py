"""tell, tell_nowait and ask: ordering, backpressure, errors, dead letters."""

from __future__ import annotations

import math

import attrs
import cattrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorStopped, HandlerError, MailboxFull, UnhandledMessage, handler


@attrs.frozen
class Put:
    value: int


@attrs.frozen
class Get:
    pass


@attrs.frozen
class Boom:
    pass


@attrs.frozen
class Block:
    pass


class Recorder(Actor):
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.release = trio.Event()

    @handler
    async def put(self, message: Put) -> None:
        self.seen.append(message.value)

    @handler
    async def get(self, message: Get) -> list[int]:
        return list(self.seen)

    @handler
    async def boom(self, message: Boom) -> None:
        raise ValueError("boom")

    @handler
    async def block(self, message: Block) -> str:
        await self.release.wait()
        return "released"


async def test_ask_returns_the_handler_value_after_earlier_tells() -> None:
    """Tells from one sender are handled in order, before a later ask."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        for i in range(500):
            await ref.tell(Put(i))
        assert await ref.ask(Get()) == list(range(500))


async def test_order_holds_per_sender_with_many_senders() -> None:
    """Each sender's messages arrive in the order it sent them, however senders interleave."""
    async with trouper.open_runtime(mailbox_size=3) as rt:
        ref = await rt.spawn(Recorder)

        async def sender(base: int) -> None:
            for i in range(100):
                await ref.tell(Put(base + i))

        async with trio.open_nursery() as nursery:
            for base in (0, 1000, 2000):
                nursery.start_soon(sender, base)
        seen = await ref.ask(Get())
        assert isinstance(seen, list)
        for base in (0, 1000, 2000):
            assert [v for v in seen if base <= v < base + 1000] == list(range(base, base + 100))


async def test_tell_waits_while_the_mailbox_is_full() -> None:
    """A full mailbox makes ``tell`` wait until the actor takes a message."""
    async with trouper.open_runtime(mailbox_size=2) as rt:
        ref = await rt.spawn(Recorder)
        blocked = ref.ask(Block())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: blocked)
            await trio.testing.wait_all_tasks_blocked()
            await ref.tell(Put(1))
            await ref.tell(Put(2))
            done = trio.Event()

            async def third() -> None:
                await ref.tell(Put(3))
                done.set()

            nursery.start_soon(third)
            await trio.testing.wait_all_tasks_blocked()
            assert not done.is_set()
            instance = rt.root.children[0].instance
            assert isinstance(instance, Recorder)
            instance.release.set()
            await done.wait()
        assert await ref.ask(Get()) == [1, 2, 3]


async def test_tell_nowait_raises_mailbox_full() -> None:
    """``tell_nowait`` refuses with MailboxFull (a trio.WouldBlock) and sends nothing."""
    async with trouper.open_runtime(mailbox_size=2) as rt:
        ref = await rt.spawn(Recorder)
        ref.tell_nowait(Put(1))
        ref.tell_nowait(Put(2))
        with pytest.raises(
            MailboxFull, match=r"^mailbox of trouper://local/Recorder-1 is full"
        ) as info:
            ref.tell_nowait(Put(3))
        assert isinstance(info.value, trio.WouldBlock)
        assert await ref.ask(Get()) == [1, 2]


async def test_unbounded_mailbox_takes_everything() -> None:
    """``mailbox_size=math.inf`` never refuses."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder, mailbox_size=math.inf)
        for i in range(5000):
            ref.tell_nowait(Put(i))
        assert await ref.ask(Get()) == list(range(5000))


async def test_bad_mailbox_size_is_refused() -> None:
    """A mailbox size below 1 is a ValueError saying so."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            ValueError, match=r"^mailbox_size must be an int >= 1 or math.inf, got 0$"
        ):
            await rt.spawn(Recorder, mailbox_size=0)


async def test_ask_deadline_comes_from_the_cancel_scope() -> None:
    """An ask under ``fail_after`` times out on the caller's clock."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        start = trio.current_time()
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(2):
                await ref.ask(Block())
        assert trio.current_time() - start == 2


async def test_cancelled_ask_not_yet_taken_is_withdrawn() -> None:
    """An ask cancelled while still queued is never handled."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ref.ask, Block())
            await trio.testing.wait_all_tasks_blocked()
            with trio.move_on_after(1):
                await ref.ask(Put(7))
            instance = rt.root.children[0].instance
            assert isinstance(instance, Recorder)
            instance.release.set()
        assert await ref.ask(Get()) == []
        assert rt.dead_letters.count == 0


async def test_cancelled_ask_while_handled_leaves_nothing_behind() -> None:
    """Cancelling an ask whose handler runs discards the reply; the actor goes on."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        with trio.move_on_after(1):
            await ref.ask(Block())
        instance = rt.root.children[0].instance
        assert isinstance(instance, Recorder)
        instance.release.set()
        await ref.tell(Put(1))
        assert await ref.ask(Get()) == [1]
        assert rt.dead_letters.count == 0


async def test_ask_of_a_failing_handler_raises_handler_error() -> None:
    """The asker gets HandlerError with the handler's exception as ``__cause__``."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        with pytest.raises(
            HandlerError,
            match=r"^handler of trouper://local/Recorder-1 raised ValueError\('boom'\)$",
        ) as info:
            await ref.ask(Boom())
        assert isinstance(info.value.__cause__, ValueError)
        assert isinstance(info.value, RuntimeError)


async def test_ask_of_an_unhandled_type_raises_at_once() -> None:
    """An ask no handler takes raises UnhandledMessage and is a dead letter."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        with pytest.raises(
            UnhandledMessage, match=r"^actor trouper://local/Recorder-1 has no handler for str$"
        ):
            await ref.ask("hello")
        assert [(d.message, d.reason) for d in rt.dead_letters.recent] == [
            ("hello", "unhandled message")
        ]


async def test_tell_of_an_unhandled_type_is_a_dead_letter() -> None:
    """A told message no handler takes becomes a dead letter; the actor goes on."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        await ref.tell(3.5)
        await ref.tell(Put(1))
        assert await ref.ask(Get()) == [1]
        (letter,) = rt.dead_letters.recent
        assert (letter.message, letter.recipient, letter.reason) == (
            3.5,
            ref.address,
            "unhandled message",
        )


async def test_messages_to_a_stopped_actor_are_dead_letters() -> None:
    """After a stop, tell does not raise (dead letter) and ask raises ActorStopped."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        await rt.stop(ref)
        await ref.tell(Put(1))
        ref.tell_nowait(Put(2))
        with pytest.raises(ActorStopped, match=r"^actor trouper://local/Recorder-1 has stopped$"):
            await ref.ask(Get())
        assert [(d.message, d.reason) for d in rt.dead_letters.recent] == [
            (Put(1), "actor stopped"),
            (Put(2), "actor stopped"),
            (Get(), "actor stopped"),
        ]
        assert rt.dead_letters.count == 3


async def test_queued_messages_become_dead_letters_when_the_actor_stops() -> None:
    """Stopping lets the running handler finish; queued tells and asks die with reasons."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Recorder)
        results: list[str] = []

        async def ask_queued() -> None:
            with pytest.raises(ActorStopped):
                await ref.ask(Get())
            results.append("queued ask stopped")

        async def ask_blocked() -> None:
            results.append(str(await ref.ask(Block())))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_blocked)
            await trio.testing.wait_all_tasks_blocked()
            await ref.tell(Put(1))
            nursery.start_soon(ask_queued)
            await trio.testing.wait_all_tasks_blocked()
            cell = rt.root.children[0]
            instance = cell.instance
            assert isinstance(instance, Recorder)
            nursery.start_soon(rt.stop, ref)
            await trio.testing.wait_all_tasks_blocked()
            instance.release.set()
        # Two different askers wake in the same scheduler batch: no order between them.
        assert sorted(results) == ["queued ask stopped", "released"]
        assert [d.reason for d in rt.dead_letters.recent] == ["actor stopped", "actor stopped"]


async def test_ask_to_itself_from_a_handler_is_refused() -> None:
    """An actor asking itself inside a handler would wait forever: RuntimeError instead."""

    class Narcissus(Actor):
        @handler
        async def ask_me(self, message: Get) -> str:
            try:
                await self.ctx.self_ref.ask(Put(1))
            except RuntimeError as error:
                return str(error)
            return "no error"

        @handler
        async def put(self, message: Put) -> None:
            pass

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Narcissus)
        reply = await ref.ask(Get())
        assert isinstance(reply, str)
        assert reply.startswith("/Narcissus-1 asked itself from inside its own handler")


async def test_refs_compare_by_address_and_addresses_convert() -> None:
    """Refs equal and hash by address; an address is a value cattrs round-trips."""
    async with trouper.open_runtime(node="n1") as rt:
        ref = await rt.spawn(Recorder, name="rec")
        again = rt.lookup("rec")
        assert again == ref
        assert hash(again) == hash(ref)
        assert len({ref, again}) == 1
        assert repr(ref) == "<ActorRef trouper://n1/rec>"
        converter = cattrs.Converter()
        data = converter.unstructure(ref.address)
        assert data == {"node": "n1", "path": "/rec"}
        assert converter.structure(data, trouper.Address) == ref.address


async def test_typed_request_is_an_ordinary_message() -> None:
    """``Request[R]`` only types ``ask``; the message is handled like any other."""

    @attrs.frozen
    class Count(trouper.Request[int]):
        pass

    class Counter(Actor):
        @handler
        async def count(self, message: Count) -> int:
            return 42

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Counter)
        assert await ref.ask(Count()) == 42


async def test_reject_answers_an_ask_with_an_error_without_failing() -> None:
    """A handler returning Reject makes the ask raise that error; state is kept."""

    class Guarded(Actor):
        def __init__(self) -> None:
            self.total = 0

        @handler
        async def put(self, message: Put) -> int | trouper.Reject:
            if message.value < 0:
                return trouper.Reject(ValueError("negative"))
            self.total += message.value
            return self.total

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Guarded)
        assert await ref.ask(Put(5)) == 5
        with pytest.raises(ValueError, match=r"^negative$"):
            await ref.ask(Put(-1))
        await ref.tell(Put(-2))
        assert await ref.ask(Put(1)) == 6
        assert rt.tree().actors[0].restart_count == 0
        (letter,) = rt.dead_letters.recent
        assert (letter.message, letter.reason, str(letter.error)) == (
            Put(-2),
            "rejected",
            "negative",
        )


async def test_a_sender_waiting_on_a_full_mailbox_when_the_actor_stops_makes_one_dead_letter() -> (
    None
):
    """A blocked tell is dead-lettered once (by its sender), a blocked ask fails once."""
    async with trouper.open_runtime(mailbox_size=1) as rt:
        ref = await rt.spawn(Recorder)
        outcomes: list[str] = []

        async def blocked_ask() -> None:
            with pytest.raises(ActorStopped):
                await ref.ask(Get())
            outcomes.append("ask stopped")

        async def running_ask() -> None:
            with pytest.raises(ActorStopped):  # its handler is cancelled at the deadline
                await ref.ask(Block())
            outcomes.append("running ask stopped")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(running_ask)
            await trio.testing.wait_all_tasks_blocked()
            ref.tell_nowait(Put(1))  # fills the mailbox
            nursery.start_soon(ref.tell, Put(2))
            nursery.start_soon(blocked_ask)
            await trio.testing.wait_all_tasks_blocked()
            await rt.stop(ref)
        assert sorted(outcomes) == ["ask stopped", "running ask stopped"]
        assert sorted(str(d.message) for d in rt.dead_letters.recent) == [
            "Get()",
            "Put(value=1)",
            "Put(value=2)",
        ]
        assert rt.dead_letters.count == 3
