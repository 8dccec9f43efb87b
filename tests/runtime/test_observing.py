"""Looking at a runtime: the tree, dead letters and events as they happen, the portal."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorState, handler
from trouper.runtime import ActorEvent, DeadLetter, EventKind


@attrs.frozen
class Spawn:
    name: str


class Parent(Actor):
    @handler
    async def spawn(self, message: Spawn) -> trouper.ActorRef[object]:
        return await self.ctx.spawn(Parent, name=message.name)

    @handler
    async def echo(self, message: str) -> str:
        if message == "fail":
            raise ValueError("asked to fail")
        return message


async def test_tree_is_the_live_hierarchy_as_data_and_text() -> None:
    """``tree()`` lists paths, classes, states, depths, counts; ``str`` renders it."""
    async with trouper.open_runtime() as rt:
        top = await rt.spawn(Parent, name="top")
        await rt.spawn(Parent, name="other")
        child = await top.ask(Spawn("child"))
        assert isinstance(child, trouper.ActorRef)
        await child.ask("hello")
        with pytest.raises(trouper.HandlerError):
            await child.ask("fail")
        await child.ask("again")
        tree = rt.tree()
        info = tree.find("/top/child")
        assert info is not None
        assert (info.actor_class, info.state, info.handled, info.restart_count) == (
            "Parent",
            ActorState.RUNNING,
            3,
            1,
        )
        assert [a.path for a in tree.walk()] == ["/top", "/top/child", "/other"]
        assert tree.find("/top") is not None
        assert str(tree) == (
            "/ (root, OneForOne(3 in 5s))\n"
            "├── top (Parent) running, mailbox 0, handled 1, restarts 0 [OneForOne(3 in 5s)]\n"
            "│   └── child (Parent) running, mailbox 0, handled 3, restarts 1\n"
            "└── other (Parent) running, mailbox 0, handled 0, restarts 0"
        )


async def test_tree_shows_mailbox_depth() -> None:
    """Messages waiting in a mailbox show as its depth."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Parent)
        for _ in range(3):
            ref.tell_nowait("queued")
        assert rt.tree().actors[0].mailbox_depth == 3


async def test_dead_letters_are_counted_kept_and_heard_as_they_happen() -> None:
    """Listeners see each dead letter at once; the office counts and keeps them."""
    heard: list[DeadLetter] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Parent)
        with rt.dead_letters.listen(heard.append):
            await ref.tell(42)
            await trio.testing.wait_all_tasks_blocked()
            assert [(d.message, d.reason) for d in heard] == [(42, "unhandled message")]
            await rt.stop(ref)
            await ref.tell("late")
        await ref.tell("unheard")
        assert len(heard) == 2
        assert rt.dead_letters.count == 3
        assert str(heard[1]) == "dead letter to trouper://local/Parent-1: actor stopped: 'late'"


async def test_a_failing_listener_is_logged_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A listener that raises is logged; the report and the sender are unaffected."""

    def broken(_: object) -> None:
        raise RuntimeError("listener bug")

    async with trouper.open_runtime() as rt:
        rt.dead_letters.listen(broken)
        ref = await rt.spawn(Parent)
        await ref.tell(42)
        await trio.testing.wait_all_tasks_blocked()
        assert rt.dead_letters.count == 1
    assert any("a trouper listener raised" in r.getMessage() for r in caplog.records)


async def test_events_report_lifecycle_with_paths_and_reasons() -> None:
    """Start, failure, restart and stop are events with the actor's path and reason."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        listener = rt.events.listen(events.append)
        ref = await rt.spawn(Parent, name="p")
        with pytest.raises(trouper.HandlerError):
            await ref.ask("fail")
        await ref.ask("ok")
        await rt.stop(ref)
        listener.cancel()
        await rt.spawn(Parent)
    assert [(e.kind, e.address.path) for e in events] == [
        (EventKind.STARTED, "/p"),
        (EventKind.FAILED, "/p"),
        (EventKind.RESTARTED, "/p"),
        (EventKind.STARTED, "/p"),
        (EventKind.STOPPED, "/p"),
    ]
    assert isinstance(events[1].reason, ValueError)
    assert events[4].reason is None
    assert str(events[1]) == "/p (Parent) failed: ValueError('asked to fail')"


@pytest.mark.real_clock
async def test_portal_lets_other_threads_tell_ask_and_spawn() -> None:
    """A plain thread reaches actors through the portal and gets replies and errors."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Parent)
        portal = rt.portal

        def from_thread() -> list[object]:
            results: list[object] = [portal.ask(ref, "hi"), portal.ask(ref, "hi", timeout=5)]
            portal.tell(ref, "told")
            spawned = portal.spawn(Parent, name="by-thread")
            results.append(portal.ask(spawned, "from spawned"))
            try:
                portal.ask(ref, "fail")
            except trouper.HandlerError as error:
                results.append(type(error.__cause__).__name__)
            return results

        assert await trio.to_thread.run_sync(from_thread) == [
            "hi",
            "hi",
            "from spawned",
            "ValueError",
        ]
        assert rt.lookup("by-thread") is not None


@pytest.mark.real_clock
async def test_portal_refuses_the_runtime_thread() -> None:
    """Calling the portal from the Trio thread itself is a RuntimeError."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Parent)
        with pytest.raises(RuntimeError):
            rt.portal.tell(ref, "x")
