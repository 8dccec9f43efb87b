"""Death watch (Terminated) and links (Exited, or failing together)."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, Exited, OneForOne, Restart, Terminated, handler
from trouper.runtime import ActorEvent, EventKind


@attrs.frozen
class Watch:
    ref: trouper.ActorRef[object]


@attrs.frozen
class Unwatch:
    ref: trouper.ActorRef[object]


@attrs.frozen
class Link:
    ref: trouper.ActorRef[object]


@attrs.frozen
class Crash:
    pass


@attrs.frozen
class Quit:
    pass


@attrs.frozen
class Seen:
    pass


class Observer(Actor):
    """Watches or links on request and records the notices it receives."""

    def __init__(self) -> None:
        self.notices: list[tuple[str, str, str | None]] = []

    @handler
    async def watch(self, message: Watch) -> None:
        self.ctx.watch(message.ref)

    @handler
    async def unwatch(self, message: Unwatch) -> None:
        self.ctx.unwatch(message.ref)

    @handler
    async def link(self, message: Link) -> None:
        self.ctx.link(message.ref)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.notices.append(("terminated", message.ref.address.path, _reason(message.reason)))

    @handler
    async def crash(self, message: Crash) -> None:
        raise RuntimeError("observer crashed")

    @handler
    async def quit(self, message: Quit) -> None:
        self.ctx.stop()

    @handler
    async def seen(self, message: Seen) -> list[tuple[str, str, str | None]]:
        return self.notices


class Trapper(Observer):
    trap_exits = True

    @handler
    async def exited(self, message: Exited) -> None:
        self.notices.append(("exited", message.ref.address.path, _reason(message.reason)))


def _reason(reason: BaseException | None) -> str | None:
    return None if reason is None else type(reason).__name__


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


async def test_watcher_learns_of_a_normal_stop_and_a_failure() -> None:
    """Terminated carries None for a normal stop and the error for a failure."""
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Observer)
        calm = await rt.spawn(Observer, name="calm")
        doomed = await rt.spawn(Observer, name="doomed", restart=Restart.TEMPORARY)
        await watcher.ask(Watch(calm))
        await watcher.ask(Watch(doomed))
        await rt.stop(calm)
        await doomed.tell(Crash())
        await settle()
        assert await watcher.ask(Seen()) == [
            ("terminated", "/calm", None),
            ("terminated", "/doomed", "RuntimeError"),
        ]


async def test_restarts_are_not_deaths() -> None:
    """A watched actor that restarts sends no Terminated; its give-up does."""
    async with trouper.open_runtime(root_strategy=OneForOne(max_restarts=1)) as rt:
        watcher = await rt.spawn(Observer)
        flaky = await rt.spawn(Observer, name="flaky")
        await watcher.ask(Watch(flaky))
        await flaky.tell(Crash())
        await settle()
        assert await watcher.ask(Seen()) == []
        await flaky.tell(Crash())
        await settle()
        assert await watcher.ask(Seen()) == [("terminated", "/flaky", "RuntimeError")]


async def test_watching_a_dead_actor_delivers_terminated_at_once() -> None:
    """Watching an actor that already stopped reports it immediately."""
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Observer)
        gone = await rt.spawn(Observer, name="gone")
        await rt.stop(gone)
        await watcher.ask(Watch(gone))
        assert await watcher.ask(Seen()) == [("terminated", "/gone", None)]


async def test_watching_twice_gives_one_terminated_and_unwatch_withdraws_it() -> None:
    """Double watches collapse; unwatch removes even a Terminated not yet handled."""
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Observer)
        a = await rt.spawn(Observer, name="a")
        b = await rt.spawn(Observer, name="b")
        for ref in (a, a, b):
            await watcher.ask(Watch(ref))
        await watcher.ask(Unwatch(b))
        await rt.stop(a)
        await rt.stop(b)
        assert await watcher.ask(Seen()) == [("terminated", "/a", None)]


async def test_unwatch_withdraws_a_queued_terminated() -> None:
    """A Terminated already in the mailbox is removed by unwatch."""
    gate = trio.Event()

    class Busy(Observer):
        @handler
        async def wait_then_unwatch(self, message: Unwatch) -> None:
            await gate.wait()
            self.ctx.unwatch(message.ref)

    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Busy)
        a = await rt.spawn(Observer, name="a")
        await watcher.ask(Watch(a))
        await watcher.tell(Unwatch(a))
        await settle()  # the watcher is inside the handler, waiting at the gate
        await rt.stop(a)
        assert [type(m).__name__ for m in rt.root.children[0].mailbox.items] == ["Terminated"]
        gate.set()
        assert await watcher.ask(Seen()) == []


async def test_link_failure_ends_the_other_side() -> None:
    """When a linked actor fails for good, the other fails with LinkedActorFailed."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append)
        partner = await rt.spawn(Observer, name="partner")
        doomed = await rt.spawn(Observer, name="doomed", restart=Restart.TEMPORARY)
        await partner.ask(Link(doomed))
        await doomed.tell(Crash())
        await settle()
    failures = [
        (e.address.path, type(e.reason).__name__) for e in events if e.kind is EventKind.FAILED
    ]
    assert failures == [("/doomed", "RuntimeError"), ("/partner", "LinkedActorFailed")]
    linked = next(e for e in events if e.address.path == "/partner" and e.kind is EventKind.FAILED)
    assert isinstance(linked.reason, trouper.LinkedActorFailed)
    assert isinstance(linked.reason.__cause__, RuntimeError)


async def test_link_is_both_ways_and_ignores_normal_stops() -> None:
    """Either side's failure ends the other; a normal stop ends nothing."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append)
        a = await rt.spawn(Observer, name="a", restart=Restart.TEMPORARY)
        b = await rt.spawn(Observer, name="b", restart=Restart.TEMPORARY)
        c = await rt.spawn(Observer, name="c")
        await b.ask(Link(a))  # linked by b, a fails: b is ended
        await c.ask(Link(b))
        await rt.stop(c)  # a normal stop of c: b is untouched
        await a.tell(Crash())
        await settle()
        assert rt.lookup("a") is None
        assert rt.lookup("b") is None
    assert [e.address.path for e in events if e.kind is EventKind.FAILED] == ["/a", "/b"]


async def test_trapping_exits_turns_every_stop_into_an_exited_message() -> None:
    """With ``trap_exits``, linked stops arrive as Exited, normal and failed alike."""
    async with trouper.open_runtime() as rt:
        trapper = await rt.spawn(Trapper)
        calm = await rt.spawn(Observer, name="calm")
        doomed = await rt.spawn(Observer, name="doomed", restart=Restart.TEMPORARY)
        await trapper.ask(Link(calm))
        await trapper.ask(Link(doomed))
        await calm.tell(Quit())
        await doomed.tell(Crash())
        await settle()
        assert await trapper.ask(Seen()) == [
            ("exited", "/calm", None),
            ("exited", "/doomed", "RuntimeError"),
        ]


async def test_system_messages_arrive_even_when_the_mailbox_is_full() -> None:
    """Terminated skips the capacity check: a full watcher still learns of a death."""
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Observer, mailbox_size=1)
        a = await rt.spawn(Observer, name="a")
        await watcher.ask(Watch(a))
        cell = rt.root.children[0]
        cell.mailbox.put_nowait(Seen())
        await rt.stop(a)
        assert await watcher.ask(Seen()) == [("terminated", "/a", None)]
