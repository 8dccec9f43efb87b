"""The engine's extension points (``runtime.lowlevel``): instruments, mailboxes, endpoints."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorRef, Address, Terminated, handler
from trouper.errors import HandlerError
from trouper.runtime.lowlevel import (
    Cell,
    HandlerOutcome,
    Instrument,
    Interception,
    MailboxEnding,
    MemoryMailbox,
    SendKind,
    Watcher,
    message_of,
)


@attrs.frozen
class Note:
    text: str


@attrs.frozen
class Boom:
    pass


@attrs.frozen
class Hang:
    pass


class Worker(Actor):
    def __init__(self, seen: list[object] | None = None) -> None:
        self.seen = seen if seen is not None else []

    @handler
    async def note(self, message: Note) -> str:
        self.seen.append(message)
        return message.text.upper()

    @handler
    async def boom(self, message: Boom) -> None:
        raise ValueError("boom")

    @handler
    async def hang(self, message: Hang) -> None:
        await trio.sleep_forever()


class Journal(Instrument):
    """Records every hook call as a tuple; carries a numbered context with each message."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.sent = 0

    def actor_started(self, actor: Cell) -> None:
        self.calls.append(("started", actor.address.path))

    def actor_failed(self, actor: Cell, error: BaseException) -> None:
        self.calls.append(("failed", actor.address.path, str(error)))

    def actor_restarted(self, actor: Cell, error: BaseException | None) -> None:
        self.calls.append(("restarted", actor.address.path))

    def actor_stopped(self, actor: Cell, reason: BaseException | None) -> None:
        self.calls.append(("stopped", actor.address.path))

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        self.sent += 1
        self.calls.append(("sent", kind.value, message, self.sent))
        return self.sent

    def message_delivered(self, actor: Cell, message: object) -> None:
        self.calls.append(("delivered", message))

    def handler_started(self, actor: Cell, message: object, context: object) -> None:
        self.calls.append(("handler_started", message, context))

    def handler_finished(
        self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
    ) -> None:
        result = outcome.value if outcome.ok else repr(outcome.error)
        self.calls.append(("handler_finished", message, context, result))

    def timer_fired(self, actor: Cell, target: ActorRef[object], message: object) -> None:
        self.calls.append(("timer", message))

    def dead_letter(self, letter: trouper.DeadLetter) -> None:
        self.calls.append(("dead_letter", letter.reason))


async def test_no_instrument_means_no_hook_to_call() -> None:
    """With only the event log installed, every message hook is empty: the hot path tests
    an empty tuple and nothing else."""
    async with trouper.open_runtime() as rt:
        instruments = rt.instruments
        assert (instruments.watch_sends, instruments.watch_messages) == (False, False)
        assert instruments.message_sent == instruments.handler_started == ()
        assert list(instruments) == [rt.events]


async def test_hooks_see_a_tell_and_an_ask_with_the_context_carried_through() -> None:
    """sent -> delivered -> handler started -> finished, with message_sent's context."""
    journal = Journal()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker, name="w")
        rt.instruments.add(journal)
        ref.tell_nowait(Note("a"))
        assert await ref.ask(Note("b")) == "B"
        rt.instruments.remove(journal)
    assert journal.calls == [
        ("sent", "tell_nowait", Note("a"), 1),
        ("delivered", Note("a")),
        ("sent", "ask", Note("b"), 2),
        ("delivered", Note("b")),
        ("handler_started", Note("a"), 1),
        ("handler_finished", Note("a"), 1, "A"),
        ("handler_started", Note("b"), 2),
        ("handler_finished", Note("b"), 2, "B"),
    ]


async def test_lifecycle_timer_and_dead_letter_hooks() -> None:
    """A failure, its restart, a timer and a stop reach the hooks in order."""
    journal = Journal()

    class Ticker(Worker):
        async def on_start(self) -> None:
            self.ctx.send_later(1, self.ctx.self_ref, Note("tick"))

    async with trouper.open_runtime() as rt:
        rt.instruments.add(journal)
        ref = await rt.spawn(Ticker, name="t")
        await ref.tell(Boom())
        await trio.sleep(2)
        await rt.stop(ref)
        await ref.tell(Note("late"))
    kinds = [call[0] for call in journal.calls if call[0] not in ("sent", "delivered")]
    assert kinds == [
        "started",
        "handler_started",
        "handler_finished",
        "dead_letter",  # the failed message
        "failed",
        "restarted",
        "started",
        "timer",
        "handler_started",
        "handler_finished",
        "stopped",
        "dead_letter",  # the late tell
    ]


async def test_a_handler_started_hook_that_raises_fails_the_handler_without_running_it() -> None:
    """An injected crash: the hook's error is the handler's failure; the handler never runs."""

    class Crasher(Instrument):
        def handler_started(self, actor: Cell, message: object, context: object) -> None:
            if message == Note("crash"):
                raise RuntimeError("injected")

    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker, seen)
        rt.instruments.add(Crasher())
        with pytest.raises(HandlerError, match=r"raised RuntimeError\('injected'\)$"):
            await ref.ask(Note("crash"))
        assert await ref.ask(Note("fine")) == "FINE"
    assert seen == [Note("fine")]


async def test_a_handler_started_hook_may_pause_the_actor() -> None:
    """An awaitable returned by handler_started is awaited before the handler runs."""

    class Pause(Instrument):
        def handler_started(
            self, actor: Cell, message: object, context: object
        ) -> Awaitable[None] | None:
            return self.pause()

        async def pause(self) -> None:
            await trio.sleep(3)

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        rt.instruments.add(Pause())
        start = trio.current_time()
        assert await ref.ask(Note("x")) == "X"
        assert trio.current_time() - start == 3


@pytest.mark.parametrize(
    ("fate", "expected", "elapsed"),
    [
        (Interception(drop=True), [], 0),
        (Interception(delay=2.5), [Note("n")], 2.5),
        (Interception(duplicate=True), [Note("n"), Note("n")], 0),
    ],
)
async def test_intercept_send_drops_delays_and_duplicates(
    fate: Interception, expected: list[object], elapsed: float
) -> None:
    """The first Interception decides a tell's fate; the sender returns at once."""

    class Net(Instrument):
        def intercept_send(
            self, actor: Cell, message: object, kind: SendKind
        ) -> Interception | None:
            return fate if message == Note("n") else None

    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker, seen)
        rt.instruments.add(Net())
        start = trio.current_time()
        await ref.tell(Note("n"))
        assert trio.current_time() == start
        if elapsed:
            await trio.sleep(elapsed - 0.1)
            assert seen == []  # not yet
        await trio.sleep(0.2)
        assert seen == expected


async def test_an_observing_hook_that_raises_is_logged_and_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A faulty instrument never breaks delivery; its error is logged."""

    class Faulty(Instrument):
        def message_delivered(self, actor: Cell, message: object) -> None:
            raise KeyError("oops")

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        rt.instruments.add(Faulty())
        with caplog.at_level(logging.ERROR, logger="trouper"):
            assert await ref.ask(Note("x")) == "X"
    assert any("instrument hook" in record.getMessage() for record in caplog.records)


async def test_an_instrument_added_while_an_actor_is_idle_sees_its_next_message() -> None:
    """Cells switch to the instrumented loop at their next idle moment, and back."""
    journal = Journal()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        await ref.ask(Note("before"))
        rt.instruments.add(journal)
        await ref.ask(Note("during"))
        rt.instruments.remove(journal)
        await ref.ask(Note("after"))
    handled = [call[1] for call in journal.calls if call[0] == "handler_finished"]
    assert handled == [Note("during")]


# --- mailboxes ----------------------------------------------------------------------


@attrs.define
class Settling(MemoryMailbox):
    """An in-memory mailbox that wants to know how each taken message ended."""

    endings: list[tuple[object, MailboxEnding, str | None]] = attrs.field(factory=list)

    settles = True

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        self.endings.append((message_of(item), ending, None if error is None else str(error)))
        return False


class SettlingMailboxes:
    """A mailbox factory: opens one ``Settling`` mailbox per actor and keeps them."""

    def __init__(self) -> None:
        self.opened: dict[str | None, Settling] = {}

    def open_mailbox(self, runtime: trouper.Runtime, name: str | None, size: float) -> Settling:
        mailbox = Settling.__new__(Settling)
        MemoryMailbox.__init__(mailbox, size)
        mailbox.endings = []
        self.opened[name] = mailbox
        return mailbox


async def test_a_settling_mailbox_learns_how_each_message_ended() -> None:
    """Handled, failed (with the error) and returned (its handler cancelled by a stop)."""
    factory = SettlingMailboxes()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker, name="w", mailbox=factory, shutdown=0)
        assert await ref.ask(Note("ok")) == "OK"
        await ref.tell(Boom())
        await trio.testing.wait_all_tasks_blocked()
        await ref.tell(Hang())
        await trio.testing.wait_all_tasks_blocked()
        await rt.stop(ref)
    assert factory.opened["w"].endings == [
        (Note("ok"), MailboxEnding.HANDLED, None),
        (Boom(), MailboxEnding.FAILED, "boom"),
        (Hang(), MailboxEnding.RETURNED, None),
    ]


async def test_an_actor_class_may_name_its_default_mailbox() -> None:
    """``default_mailbox`` on the class is used when spawn is given no mailbox."""
    factory = SettlingMailboxes()

    class Settled(Worker):
        default_mailbox = factory

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Settled, name="s")
        await ref.ask(Note("x"))
    assert factory.opened["s"].endings == [(Note("x"), MailboxEnding.HANDLED, None)]


async def test_a_mailbox_that_is_not_a_factory_is_refused() -> None:
    """spawn(mailbox=...) names what it needs."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(TypeError, match=r"^mailbox must be a mailbox factory"):
            await rt.spawn(Worker, mailbox=MemoryMailbox(3))  # type: ignore[arg-type]


# --- endpoints ------------------------------------------------------------------------


class Remote:
    """An endpoint standing for an actor elsewhere: it counts sends and keeps its watchers."""

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.watchers: list[Watcher] = []
        self.reachable = True

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        await trio.lowlevel.checkpoint()
        self.sent.append(message)
        return self.reachable

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        self.sent.append(message)
        return self.reachable

    async def ask(self, message: object) -> object:
        await trio.lowlevel.checkpoint()
        return ("remote", message)

    def watch(self, watcher: Watcher) -> None:
        self.watchers.append(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        self.watchers.remove(watcher)


@attrs.frozen
class WatchIt:
    ref: ActorRef[object]


@attrs.frozen
class LinkIt:
    ref: ActorRef[object]


class Watching(Actor):
    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    @handler
    async def watch(self, message: WatchIt) -> None:
        self.ctx.watch(message.ref)

    @handler
    async def link(self, message: LinkIt) -> None:
        self.ctx.link(message.ref)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append(message)


async def test_an_endpoint_of_its_own_is_watched_like_a_local_actor() -> None:
    """ctx.watch goes through the endpoint; the endpoint reports the stop as Terminated."""
    remote = Remote()
    far: ActorRef[object] = ActorRef(Address("elsewhere", "/far"), remote)
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Watching, seen)
        await watcher.ask(WatchIt(far))
        assert await far.ask("hi") == ("remote", "hi")
        (registered,) = remote.watchers
        registered.terminated(far, None)
        await trio.testing.wait_all_tasks_blocked()
    assert seen == [Terminated(far, None)]


async def test_links_to_an_actor_elsewhere_are_refused_clearly() -> None:
    """Links tie actors of one process: linking to another endpoint says to watch instead."""
    far: ActorRef[object] = ActorRef(Address("elsewhere", "/far"), Remote())
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Watching, [])
        with pytest.raises(HandlerError) as caught:
            await watcher.ask(LinkIt(far))
    assert "links tie actors of one process only" in str(caught.value.__cause__)


async def test_publish_counts_what_endpoints_say_reached_a_mailbox() -> None:
    """An endpoint that answers False (a dead letter) is not counted by publish."""
    reached, lost = Remote(), Remote()
    lost.reachable = False
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(ActorRef(Address("x", "/a"), reached), "news")
        rt.topics.subscribe(ActorRef(Address("x", "/b"), lost), "news")
        assert await rt.topics.publish("news", Note("n")) == 1
    assert reached.sent == lost.sent == [Note("n")]


async def test_ask_soon_replies_through_a_callback_without_a_task() -> None:
    """Cell.ask_soon queues an ask whose reply is a synchronous callback."""
    replies: list[object] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        cell = ref.endpoint
        assert isinstance(cell, Cell)
        cell.ask_soon(Note("cb"), lambda result: replies.append(result.unwrap()))
        withdrawn = cell.ask_soon(Note("never"), replies.append)
        withdrawn.abandon()
        await trio.testing.wait_all_tasks_blocked()
    assert replies == ["CB"]


async def _jammed(rt: trouper.Runtime) -> tuple[ActorRef[object], Cell]:
    """A worker stuck in a handler, its mailbox of one full: its ref and its cell."""
    ref = await rt.spawn(Worker, mailbox_size=1)
    cell = ref.endpoint
    assert isinstance(cell, Cell)
    ref.tell_nowait(Hang())
    await trio.testing.wait_all_tasks_blocked()
    ref.tell_nowait(Note("queued"))
    return ref, cell


async def test_ask_when_room_waits_for_room_then_replies_through_its_callback() -> None:
    """Cell.ask_when_room waits while the mailbox is full, then queues; the reply is a callback."""
    replies: list[object] = []
    async with trouper.open_runtime() as rt:
        ref, cell = await _jammed(rt)
        with trio.move_on_after(5):
            await cell.ask_when_room(Note("never"), replies.append)
        assert trio.current_time() == 5  # it waited, and its cancellation queued nothing
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                cell.ask_when_room, Note("later"), lambda result: replies.append(result.unwrap())
            )
            await trio.testing.wait_all_tasks_blocked()
            assert replies == []
            await rt.restart(ref)  # the hung handler is cancelled: room again
        await trio.testing.wait_all_tasks_blocked()
    assert replies == ["LATER"]


async def test_ask_when_room_raises_actor_stopped_if_the_actor_stops_while_it_waits() -> None:
    """An actor that stops while an ask waits for room fails that ask with ActorStopped."""
    replies: list[object] = []
    async with trouper.open_runtime() as rt:
        ref, cell = await _jammed(rt)

        async def stop_soon() -> None:
            await trio.testing.wait_all_tasks_blocked()
            await rt.stop(ref)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_soon)
            with pytest.raises(trouper.ActorStopped):
                await cell.ask_when_room(Note("late"), replies.append)
    assert replies == []


async def test_find_returns_the_living_actor_at_a_path() -> None:
    """Runtime.find walks the tree by path; stopped actors and other paths find nothing."""

    class Parent(Actor):
        async def on_start(self) -> None:
            await self.ctx.spawn(Worker, name="kid")

    async with trouper.open_runtime() as rt:
        parent = await rt.spawn(Parent, name="parent")
        await trio.testing.wait_all_tasks_blocked()
        kid = rt.find("/parent/kid")
        assert kid is not None
        assert kid.address.path == "/parent/kid"
        assert await kid.ask(Note("hi")) == "HI"
        assert rt.find("/parent") == parent
        assert rt.find("/parent/nobody") is None
        assert rt.find("/parent/kid/deeper") is None
        assert rt.find("parent") is None
        await rt.stop(kid)
        assert rt.find("/parent/kid") is None


def test_intercept_values_are_frozen() -> None:
    """Interception is a value: hashable, immutable, with defaults that deliver normally."""
    assert Interception() == Interception(drop=False, delay=0.0, duplicate=False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Interception().drop = True  # type: ignore[misc]
    assert math.isfinite(Interception(delay=1.5).delay)


async def test_an_instrument_that_samples_sees_handlers_only_for_what_it_carried() -> None:
    """With only_carried, handler hooks run only for messages given a context in message_sent."""

    class Sampler(Instrument):
        only_carried = True

        def __init__(self) -> None:
            self.seen: list[object] = []

        def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
            return "sampled" if message == Note("b") else None

        def handler_started(self, actor: Cell, message: object, context: object) -> None:
            self.seen.append(("started", message, context))

        def handler_finished(
            self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
        ) -> None:
            self.seen.append(("finished", message, context, outcome.value))

    sampler = Sampler()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        rt.instruments.add(sampler)
        for text in "abc":
            await ref.ask(Note(text))
    assert sampler.seen == [
        ("started", Note("b"), "sampled"),
        ("finished", Note("b"), "sampled", "B"),
    ]


async def test_ask_soon_goes_through_the_instruments_like_ask() -> None:
    """A callback ask is sent, delivered and handled under the hooks, context included."""
    journal = Journal()
    replies: list[object] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        rt.instruments.add(journal)
        cell = ref.endpoint
        assert isinstance(cell, Cell)
        cell.ask_soon(Note("cb"), lambda result: replies.append(result.unwrap()))
        await trio.testing.wait_all_tasks_blocked()
        rt.instruments.remove(journal)
    assert replies == ["CB"]
    assert journal.calls == [
        ("sent", "ask", Note("cb"), 1),
        ("delivered", Note("cb")),
        ("handler_started", Note("cb"), 1),
        ("handler_finished", Note("cb"), 1, "CB"),
    ]
