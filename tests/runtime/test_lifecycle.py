"""Spawning, names, hooks, and the runtime's shutdown."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorState, NameTaken, StartFailed, handler


@attrs.frozen
class Spawn:
    name: str


@attrs.frozen
class Hang:
    pass


class Node(Actor):
    """Records its hooks in a shared journal; can spawn children."""

    def __init__(self, journal: list[str], label: str) -> None:
        self.journal = journal
        self.label = label

    async def on_start(self) -> None:
        self.journal.append(f"start {self.label}")

    async def on_stop(self) -> None:
        self.journal.append(f"stop {self.label}")

    @handler
    async def spawn(self, message: Spawn) -> trouper.ActorRef[object]:
        return await self.ctx.spawn(Node, self.journal, message.name, name=message.name)

    @handler
    async def hang(self, message: Hang) -> None:
        await trio.sleep_forever()


async def test_spawn_returns_after_on_start() -> None:
    """``spawn`` returns once ``on_start`` has completed, and the actor is running."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        await rt.spawn(Node, journal, "a")
        assert journal == ["start a"]
        assert rt.tree().actors[0].state is ActorState.RUNNING


async def test_leaving_the_runtime_stops_children_before_parents() -> None:
    """Top-level actors stop last-spawned first; each one's children stop before it."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        first = await rt.spawn(Node, journal, "first")
        await rt.spawn(Node, journal, "second")
        child = await first.ask(Spawn("child"))
        assert isinstance(child, trouper.ActorRef)
        await child.ask(Spawn("grandchild"))
        journal.clear()
    assert journal == ["stop second", "stop grandchild", "stop child", "stop first"]


async def test_stop_waits_for_the_actor_and_frees_its_name() -> None:
    """``stop`` returns once the actor has stopped; its name can be taken again."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Node, journal, "a", name="a")
        with pytest.raises(NameTaken, match=r"^an actor named 'a' already exists$"):
            await rt.spawn(Node, journal, "b", name="a")
        await rt.stop(ref)
        assert journal == ["start a", "stop a"]
        assert rt.lookup("a") is None
        again = await rt.spawn(Node, journal, "a2", name="a")
        assert rt.lookup("a") == again
        await rt.stop(ref)  # stopping a stopped actor does nothing


BAD_NAMES = [
    ("", r"^an actor name must be a non-empty string, got ''$"),
    ("a/b", r"^an actor name is one path segment: it cannot hold '/', got 'a/b'$"),
    (" a", r"^an actor name cannot hold spaces or other whitespace, got ' a'$"),
    ("a b", r"^an actor name cannot hold spaces or other whitespace, got 'a b'$"),
    ("a*", r"^an actor name cannot hold '\*' or '>', the wildcards of subjects, got 'a\*'$"),
    ("a>", r"^an actor name cannot hold '\*' or '>', the wildcards of subjects, got 'a>'$"),
    ("..", r"^an actor name cannot be only dots, which paths reserve, got '\.\.'$"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_NAMES)
async def test_bad_names_are_refused_with_the_rule_they_break(bad: str, message: str) -> None:
    """A name is one path segment without spaces or wildcards, and not only dots."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=message):
            await rt.spawn(Node, [], "x", name=bad)
        assert rt.names == {}


async def test_failing_first_on_start_raises_start_failed_and_leaves_nothing() -> None:
    """If the first ``on_start`` raises, spawn raises StartFailed and nothing runs."""

    class Broken(Actor):
        async def on_start(self) -> None:
            await self.ctx.spawn(Node, [], "orphan", name="orphan")
            raise OSError("no disk")

    async with trouper.open_runtime() as rt:
        before = trio.lowlevel.current_statistics().tasks_living
        with pytest.raises(
            StartFailed,
            match=r"^actor trouper://local/broken failed to start: OSError\('no disk'\)$",
        ) as info:
            await rt.spawn(Broken, name="broken")
        assert isinstance(info.value.__cause__, OSError)
        await trio.testing.wait_all_tasks_blocked()
        assert trio.lowlevel.current_statistics().tasks_living == before
        assert rt.lookup("broken") is None
        assert rt.lookup("orphan") is None
        assert rt.tree().actors == ()


async def test_factory_errors_propagate_from_spawn() -> None:
    """A factory that raises raises out of ``spawn`` as itself; nothing is registered."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(TypeError):
            await rt.spawn(Node, name="n")  # missing arguments
        assert rt.lookup("n") is None
        with pytest.raises(TypeError, match=r"which is not an Actor$"):
            await rt.spawn(lambda: object())  # type: ignore[arg-type,return-value]


async def test_shutdown_deadline_cancels_what_does_not_stop() -> None:
    """A handler that never returns is cancelled when the actor's shutdown deadline passes."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Node, journal, "stuck", shutdown=3)
        await ref.tell(Hang())
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await rt.stop(ref)
        assert trio.current_time() - start == 3
        assert journal == ["start stuck"]  # on_stop was cancelled with the rest


async def test_runtime_shutdown_timeout_bounds_the_whole_shutdown() -> None:
    """What still runs when ``shutdown_timeout`` passes is cancelled."""
    journal: list[str] = []
    start = 0.0
    async with trouper.open_runtime(shutdown_timeout=2, shutdown=100) as rt:
        ref = await rt.spawn(Node, journal, "stuck")
        await ref.tell(Hang())
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
    assert trio.current_time() - start == 2


async def test_pending_asks_fail_with_actor_stopped_at_shutdown() -> None:
    """An ask still waiting when the runtime closes gets ActorStopped."""
    outcomes: list[str] = []

    async def asker(ref: trouper.ActorRef[object]) -> None:
        try:
            await ref.ask(Hang())
        except trouper.ActorStopped:
            outcomes.append("stopped")

    async with trio.open_nursery() as nursery, trouper.open_runtime(shutdown=1) as rt:
        ref = await rt.spawn(Node, [], "a")
        nursery.start_soon(asker, ref)
        nursery.start_soon(asker, ref)
        await trio.testing.wait_all_tasks_blocked()
    assert outcomes == ["stopped", "stopped"]


async def test_cancelling_the_runtime_from_outside_leaves_no_task() -> None:
    """An outside cancellation ends every actor task; nothing keeps running."""
    before = trio.lowlevel.current_statistics().tasks_living
    with trio.move_on_after(5):
        async with trouper.open_runtime() as rt:
            parent = await rt.spawn(Node, [], "p")
            await parent.ask(Spawn("c"))
            await parent.tell(Hang())
            await trio.sleep_forever()
    assert trio.current_time() == 5
    assert trio.lowlevel.current_statistics().tasks_living == before


async def test_body_error_leaves_the_block_after_shutdown() -> None:
    """An error in the block leaves it as itself, after every actor has stopped."""
    journal: list[str] = []

    async def scenario() -> None:
        async with trouper.open_runtime() as rt:
            await rt.spawn(Node, journal, "a")
            raise KeyError("oops")

    with pytest.raises(KeyError, match="oops"):
        await scenario()
    assert journal == ["start a", "stop a"]


class Interrupt(BaseException):
    """Stands for KeyboardInterrupt: a BaseException that is not an Exception."""


async def test_base_exception_in_a_handler_escapes_the_runtime() -> None:
    """A BaseException that is not an Exception is never caught: it leaves ``open_runtime``."""

    class Fatal(Actor):
        @handler
        async def hang(self, message: Hang) -> None:
            raise Interrupt

    async def scenario() -> None:
        async with trouper.open_runtime() as rt:
            ref = await rt.spawn(Fatal)
            await ref.tell(Hang())
            await trio.sleep_forever()

    with pytest.raises(Interrupt):
        await scenario()


async def test_failure_is_logged_with_the_path_and_the_actor_restarts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A handler error is logged at ERROR with the path; the actor restarts with fresh state."""

    @attrs.frozen
    class Add:
        n: int

    class Counter(Actor):
        def __init__(self, start: int) -> None:
            self.total = start

        @handler
        async def add(self, message: Add) -> int:
            if message.n < 0:
                raise ValueError("negative")
            self.total += message.n
            return self.total

    caplog.set_level(logging.WARNING, logger="trouper")
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Counter, 10, name="counter")
        assert await ref.ask(Add(5)) == 15
        await ref.tell(Add(-1))
        await ref.tell(Add(1))  # queued behind the failure: handled by the new instance
        assert await ref.ask(Add(0)) == 11
        assert rt.lookup("counter") == ref
        assert rt.tree().actors[0].restart_count == 1
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("ERROR", "/counter (Counter) failed: ValueError('negative')") in records
    assert ("WARNING", "/counter (Counter) restarted: ValueError('negative')") in records


async def test_default_policy_stops_after_three_restarts_in_five_seconds() -> None:
    """The fourth failure within 5 s stops the actor for good, and says so."""

    class Flaky(Actor):
        @handler
        async def hang(self, message: Hang) -> None:
            raise RuntimeError("flaky")

    events: list[tuple[str, str]] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(lambda e: events.append((e.kind.value, e.address.path)))
        ref = await rt.spawn(Flaky, name="flaky")
        for _ in range(4):
            await ref.tell(Hang())
        await trio.testing.wait_all_tasks_blocked()
        assert rt.lookup("flaky") is None
        with pytest.raises(trouper.ActorStopped):
            await ref.ask(Hang())
    kinds = [k for k, _ in events]
    assert kinds == [
        "started",
        *["failed", "restarted", "started"] * 3,
        "failed",
        "gave_up",
        "stopped",
    ]


async def test_restarts_spread_over_time_do_not_exhaust_the_policy() -> None:
    """Failures further apart than the window keep being restarted."""

    class Flaky(Actor):
        @handler
        async def hang(self, message: Hang) -> None:
            raise RuntimeError("flaky")

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Flaky, name="flaky")
        for _ in range(10):
            await ref.tell(Hang())
            await trio.sleep(2)
        assert rt.lookup("flaky") == ref
        assert rt.tree().actors[0].restart_count == 10


async def test_started_runtime_lives_in_an_existing_nursery() -> None:
    """``start_runtime`` runs inside the application's nursery until ``aclose``."""
    journal: list[str] = []
    async with trio.open_nursery() as nursery:
        rt = await trouper.start_runtime(nursery, node="embedded")
        ref = await rt.spawn(Node, journal, "a")
        assert ref.address.node == "embedded"
        await rt.aclose()
    assert journal == ["start a", "stop a"]


async def test_stop_called_by_the_actor_on_itself_takes_effect_after_the_handler() -> None:
    """``ctx.stop()`` and ``runtime.stop(self)`` from a handler end the actor after it returns."""
    journal: list[str] = []

    class Quitter(Node):
        @handler
        async def quit(self, message: str) -> str:
            if message == "ctx":
                self.ctx.stop()
            else:
                await self.ctx.runtime.stop(self.ctx.self_ref)
            self.journal.append("handler returned")
            return "bye"

    async with trouper.open_runtime() as rt:
        for how in ("ctx", "runtime"):
            journal.clear()
            ref = await rt.spawn(Quitter, journal, how)
            assert await ref.ask(how) == "bye"
            await trio.testing.wait_all_tasks_blocked()
            assert journal == [f"start {how}", "handler returned", f"stop {how}"]
            assert rt.tree().find(ref.address.path) is None


class _StepMarks(trio.abc.Instrument):
    """Marks the end of every task step in a journal (a Trio instrument)."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        self.journal.append("|")


@pytest.mark.parametrize("throughput", [1, 7, 10])
async def test_fairness_a_busy_actor_yields_after_exactly_throughput_messages(
    throughput: int,
) -> None:
    """A flooded actor handles exactly ``throughput`` messages per turn of the scheduler."""
    journal: list[str] = []

    class Worker(Actor):
        def __init__(self, label: str) -> None:
            self.label = label

        @handler
        async def work(self, message: int) -> None:
            journal.append(self.label)

    async with trouper.open_runtime(throughput=throughput, mailbox_size=1000) as rt:
        a = await rt.spawn(Worker, "a")
        b = await rt.spawn(Worker, "b")
        for i in range(10 * throughput):
            a.tell_nowait(i)
            b.tell_nowait(i)
        marks = _StepMarks(journal)
        trio.lowlevel.add_instrument(marks)
        try:
            await trio.testing.wait_all_tasks_blocked()
        finally:
            trio.lowlevel.remove_instrument(marks)
    steps = [len(list(run)) for label, run in itertools.groupby(journal) if label != "|"]
    assert steps == [throughput] * 20


def _names(journal: list[str], predicate: Callable[[str], bool]) -> list[str]:
    return [entry for entry in journal if predicate(entry)]


async def test_restart_replaces_the_instance_and_keeps_the_ref() -> None:
    """rt.restart: on_stop of the old instance, on_start of a new one, same ref and mailbox."""
    journal: list[str] = []
    async with trouper.open_runtime(root_strategy=trouper.OneForOne(max_restarts=0)) as rt:
        ref = await rt.spawn(Node, journal, "n", name="n")
        await rt.restart(ref)
        await rt.restart(ref)  # not counted toward the intensity (0 allowed)
        info = rt.tree().find("/n")
        assert info is not None
        assert (info.state, info.restart_count) == (ActorState.RUNNING, 2)
        assert rt.lookup("n") == ref
    assert journal == ["start n", "stop n", "start n", "stop n", "start n", "stop n"]


async def test_restart_of_a_stopped_actor_raises_actor_stopped() -> None:
    """A stopped actor cannot be restarted."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Node, [], "n")
        await rt.stop(ref)
        with pytest.raises(trouper.ActorStopped):
            await rt.restart(ref)
