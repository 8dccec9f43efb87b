"""Supervisors at work: strategies, intensity, escalation, restart kinds, backoff, stops."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import (
    Actor,
    ActorState,
    Backoff,
    ChildSpec,
    Directive,
    OneForAll,
    OneForOne,
    Restart,
    RestForOne,
    Strategy,
    Supervisor,
    handler,
)
from trouper.runtime import (
    ActorEvent,
    DeleteChild,
    EventKind,
    RestartChild,
    StartChild,
    StopChild,
    WhichChildren,
)
from trouper.runtime.lowlevel import Cell


@attrs.frozen
class Crash:
    error: type[Exception] = RuntimeError


@attrs.frozen
class Quit:
    pass


@attrs.frozen
class Hang:
    pass


@attrs.frozen
class Count:
    pass


class Worker(Actor):
    """Journals its hooks; crashes, quits or hangs on request; counts messages."""

    def __init__(self, journal: list[str], label: str, fail_starts: int = 0) -> None:
        self.journal = journal
        self.label = label
        self.count = 0
        self.fail_starts = fail_starts

    async def on_start(self) -> None:
        self.journal.append(f"start {self.label}")
        if self.fail_starts:
            raise OSError(f"{self.label} cannot start")

    async def on_stop(self) -> None:
        self.journal.append(f"stop {self.label}")

    async def on_restart(self, error: BaseException) -> None:
        self.journal.append(f"restart {self.label} after {type(error).__name__}")

    @handler
    async def crash(self, message: Crash) -> None:
        raise message.error(f"{self.label} crashed")

    @handler
    async def quit(self, message: Quit) -> None:
        self.ctx.stop()

    @handler
    async def hang(self, message: Hang) -> None:
        await trio.sleep_forever()

    @handler
    async def count_(self, message: Count) -> int:
        self.count += 1
        return self.count


def specs(
    journal: list[str], *labels: str, restart: Restart = Restart.PERMANENT
) -> list[ChildSpec]:
    return [ChildSpec(label, Worker, (journal, label), restart=restart) for label in labels]


async def child(rt: trouper.Runtime, path: str) -> trouper.ActorRef[object]:
    info = rt.tree().find(path)
    assert info is not None, path
    cell = next(c for c in _cells(rt) if c.address.path == path)
    return cell.ref


def _cells(rt: trouper.Runtime) -> list[Cell]:
    found: list[Cell] = []
    pending = list(rt.root.children)
    while pending:
        cell = pending.pop()
        found.append(cell)
        if cell.children_guardian is not None:
            pending.extend(cell.children_guardian.children)
    return found


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


async def run_strategy(strategy: Strategy, crash: str) -> list[str]:
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        await rt.spawn(
            Supervisor, specs(journal, "a", "b", "c", "d"), strategy=strategy, name="sup"
        )
        journal.clear()
        await (await child(rt, f"/sup/{crash}")).tell(Crash())
        await settle()
        result = list(journal)
        journal.clear()
    assert journal == ["stop d", "stop c", "stop b", "stop a"]  # then a clean shutdown
    return result


async def test_one_for_one_restarts_only_the_failed_child() -> None:
    """OneForOne: the failed child alone stops and starts again."""
    assert await run_strategy(OneForOne(), "b") == [
        "stop b",
        "restart b after RuntimeError",
        "start b",
    ]


async def test_one_for_all_restarts_every_child_stopping_in_reverse_starting_in_order() -> None:
    """OneForAll: all stop, last started first, then all start in order."""
    assert await run_strategy(OneForAll(), "b") == [
        "stop d",
        "stop c",
        "stop b",
        "stop a",
        "restart a after RuntimeError",
        "start a",
        "restart b after RuntimeError",
        "start b",
        "restart c after RuntimeError",
        "start c",
        "restart d after RuntimeError",
        "start d",
    ]


async def test_rest_for_one_restarts_the_failed_child_and_the_later_ones() -> None:
    """RestForOne: the failed child and those started after it, in order."""
    assert await run_strategy(RestForOne(), "b") == [
        "stop d",
        "stop c",
        "stop b",
        "restart b after RuntimeError",
        "start b",
        "restart c after RuntimeError",
        "start c",
        "restart d after RuntimeError",
        "start d",
    ]


async def test_children_start_in_spec_order_and_stop_in_reverse() -> None:
    """A supervisor starts specs in order and stops them in reverse."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Supervisor, specs(journal, "a", "b", "c"))
        assert journal == ["start a", "start b", "start c"]
        await rt.stop(ref)
    assert journal[3:] == ["stop c", "stop b", "stop a"]


async def test_a_restart_keeps_the_ref_and_the_mailbox() -> None:
    """Messages queued behind the failing one are handled by the new instance."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        await rt.spawn(Supervisor, specs(journal, "a"), name="sup")
        a = await child(rt, "/sup/a")
        await a.ask(Count())
        await a.tell(Crash())
        await a.tell(Count())
        assert await a.ask(Count()) == 2
        (letter,) = rt.dead_letters.recent
        assert (letter.message, letter.reason) == (Crash(), "handler failed")
        assert isinstance(letter.error, RuntimeError)


async def test_intensity_exceeded_escalates_one_level_then_the_next() -> None:
    """A supervisor over its intensity fails; its parent restarts it; then gives up too."""
    journal: list[str] = []
    events: list[ActorEvent] = []
    inner_spec = ChildSpec(
        "inner",
        Supervisor,
        (specs(journal, "w"),),
        {"strategy": OneForOne(max_restarts=1, within=60)},
    )
    async with trouper.open_runtime(root_strategy=OneForOne(max_restarts=0)) as rt:
        rt.events.listen(events.append)
        outer = await rt.spawn(
            Supervisor, [inner_spec], strategy=OneForOne(max_restarts=1, within=60), name="outer"
        )
        for _ in range(2):
            await (await child(rt, "/outer/inner/w")).tell(Crash())
            await settle()
        # inner gave up after its second restart; outer restarted it.
        info = rt.tree().find("/outer/inner")
        assert info is not None
        assert info.restart_count == 1
        for _ in range(2):
            await (await child(rt, "/outer/inner/w")).tell(Crash())
            await settle()
        # inner gave up again: outer's second restart exceeds it, outer gives up; the root
        # (allowing no restarts here) gives up on outer and stops it; the runtime goes on.
        assert rt.lookup("outer") is None
        with pytest.raises(trouper.ActorStopped):
            await outer.ask(WhichChildren())
    gave_up = [
        (e.address.path, type(e.reason).__name__) for e in events if e.kind is EventKind.GAVE_UP
    ]
    assert gave_up == [
        ("/outer/inner", "RestartIntensityExceeded"),
        ("/outer/inner", "RestartIntensityExceeded"),
        ("/outer", "RestartIntensityExceeded"),
        ("/", "RestartIntensityExceeded"),  # the root gives up on /outer
    ]


async def test_restarted_supervisor_starts_with_a_fresh_history() -> None:
    """After its parent restarts it, a supervisor's restart count starts over."""
    journal: list[str] = []
    inner_spec = ChildSpec(
        "inner", Supervisor, (specs(journal, "w"),), {"strategy": OneForOne(max_restarts=1)}
    )
    async with trouper.open_runtime() as rt:
        await rt.spawn(Supervisor, [inner_spec], strategy=OneForOne(max_restarts=5), name="outer")
        for _ in range(2):
            await (await child(rt, "/outer/inner/w")).tell(Crash())
            await settle()
        await (await child(rt, "/outer/inner/w")).tell(Crash())
        await settle()
        inner = rt.tree().find("/outer/inner")
        assert inner is not None
        assert inner.restart_count == 1


async def test_transient_and_temporary_rules() -> None:
    """Transient: a normal stop is final, listed as stopped. Temporary: gone after any exit."""
    journal: list[str] = []
    children = [
        ChildSpec("transient", Worker, (journal, "transient"), restart=Restart.TRANSIENT),
        ChildSpec("temporary", Worker, (journal, "temporary"), restart=Restart.TEMPORARY),
    ]
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, children, name="sup")
        await (await child(rt, "/sup/transient")).tell(Crash())
        await (await child(rt, "/sup/temporary")).tell(Crash())
        await settle()
        listed = await sup.ask(WhichChildren())
        assert [(c.id, c.state, c.restart_count) for c in listed] == [
            ("transient", ActorState.RUNNING, 1)
        ]
        await (await child(rt, "/sup/transient")).tell(Quit())
        await settle()
        listed = await sup.ask(WhichChildren())
        assert [(c.id, c.state) for c in listed] == [("transient", ActorState.STOPPED)]


async def test_permanent_child_is_restarted_after_stopping_itself() -> None:
    """A permanent child that stops itself is started again."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        await rt.spawn(Supervisor, specs(journal, "p"), name="sup")
        journal.clear()
        await (await child(rt, "/sup/p")).tell(Quit())
        await settle()
        assert journal == ["stop p", "start p"]


async def test_spawned_children_are_transient_by_default() -> None:
    """``ctx.spawn`` children restart after a failure; ``ctx.stop()`` is final."""
    journal: list[str] = []

    class Parent(Actor):
        async def on_start(self) -> None:
            await self.ctx.spawn(Worker, journal, "kid", name="kid")

    async with trouper.open_runtime() as rt:
        await rt.spawn(Parent, name="parent")
        kid = rt.lookup("kid")
        assert kid is not None
        await kid.tell(Crash())
        await settle()
        assert rt.lookup("kid") == kid
        await kid.tell(Quit())
        await settle()
        assert rt.lookup("kid") is None
        assert journal == [
            "start kid",
            "stop kid",
            "restart kid after RuntimeError",
            "start kid",
            "stop kid",
        ]


async def test_backoff_delays_restarts_on_the_virtual_clock() -> None:
    """Restarts wait initial, then multiplied waits up to the maximum; mail waits too."""
    journal: list[str] = []
    starts: list[float] = []

    class Timed(Worker):
        async def on_start(self) -> None:
            starts.append(trio.current_time())

    strategy = OneForOne(max_restarts=100, within=1, backoff=Backoff(1, 4))
    async with trouper.open_runtime() as rt:
        await rt.spawn(
            Supervisor, [ChildSpec("t", Timed, (journal, "t"))], strategy=strategy, name="s"
        )
        t = await child(rt, "/s/t")
        for _ in range(4):
            await t.tell(Crash())
            await t.tell(Count())  # arrives during the backoff and waits in the mailbox
            assert await t.ask(Count()) == 2
        base = starts[0]
        assert [round(s - base, 6) for s in starts[1:]] == [1, 3, 7, 11]


async def test_failing_on_start_during_restart_counts_and_multiplies_the_backoff() -> None:
    """A restart whose on_start fails is a new failure: it counts and backs off further."""
    journal: list[str] = []
    starts: list[float] = []
    attempts = iter([0, 1, 1, 0])

    class Fragile(Worker):
        async def on_start(self) -> None:
            starts.append(trio.current_time())
            if next(attempts):
                raise OSError("not yet")

    strategy = OneForOne(max_restarts=10, within=100, backoff=Backoff(1, 8))
    async with trouper.open_runtime() as rt:
        await rt.spawn(
            Supervisor, [ChildSpec("f", Fragile, (journal, "f"))], strategy=strategy, name="s"
        )
        await (await child(rt, "/s/f")).tell(Crash())
        await trio.sleep(60)
        assert [s - starts[0] for s in starts] == [0, 1, 3, 7]
        info = rt.tree().find("/s/f")
        assert info is not None
        assert (info.restart_count, info.state) == (3, ActorState.RUNNING)


async def test_a_child_that_cannot_start_at_all_fails_the_supervisor_start() -> None:
    """A supervisor whose child's first start fails raises StartFailed with the cause."""
    journal: list[str] = []
    children = [
        ChildSpec("ok", Worker, (journal, "ok")),
        ChildSpec("bad", Worker, (journal, "bad"), {"fail_starts": 1}),
        ChildSpec("never", Worker, (journal, "never")),
    ]
    async with trouper.open_runtime() as rt:
        with pytest.raises(trouper.StartFailed) as info:
            await rt.spawn(Supervisor, children, name="sup")
        cause = info.value.__cause__
        assert isinstance(cause, trouper.StartFailed)
        assert isinstance(cause.__cause__, OSError)
        assert journal == ["start ok", "start bad", "stop ok"]
        assert rt.tree().actors == ()


async def test_restart_order_is_on_stop_then_children_then_on_restart_and_on_start() -> None:
    """The failed instance's on_stop runs, its children stop, then the new instance starts."""
    journal: list[str] = []

    class Parent(Worker):
        async def on_start(self) -> None:
            await super().on_start()
            await self.ctx.spawn(Worker, self.journal, f"{self.label}'s kid")

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Parent, journal, "p")
        journal.clear()
        await ref.tell(Crash())
        await settle()
    assert journal[:5] == [
        "stop p",
        "stop p's kid",
        "restart p after RuntimeError",
        "start p",
        "start p's kid",
    ]


async def test_errors_in_on_stop_are_logged_and_the_stop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An on_stop that raises is logged; the restart and the final stop still happen."""
    journal: list[str] = []

    class Sloppy(Worker):
        async def on_stop(self) -> None:
            await super().on_stop()
            raise ValueError("cleanup failed")

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Sloppy, journal, "s")
        await ref.tell(Crash())
        assert await ref.ask(Count()) == 1
        await rt.stop(ref)
    assert journal == ["start s", "stop s", "restart s after RuntimeError", "start s", "stop s"]
    logged = [r for r in caplog.records if "on_stop raised" in r.getMessage()]
    assert len(logged) == 2


async def test_resume_keeps_the_instance_and_drops_the_message() -> None:
    """RESUME: state survives; the failing message is a dead letter."""
    journal: list[str] = []

    class Resilient(Actor):
        supervisor_strategy = OneForOne(directives={KeyError: Directive.RESUME})

        async def on_start(self) -> None:
            await self.ctx.spawn(Worker, journal, "w", name="w")

    async with trouper.open_runtime() as rt:
        await rt.spawn(Resilient)
        w = rt.lookup("w")
        assert w is not None
        assert await w.ask(Count()) == 1
        await w.tell(Crash(KeyError))
        assert await w.ask(Count()) == 2
        assert journal == ["start w"]
        assert rt.dead_letters.recent[-1].message == Crash(KeyError)


async def test_stop_directive_stops_the_child_for_good() -> None:
    """STOP: the child stops; watchers learn the error."""
    journal: list[str] = []
    sup_strategy = OneForOne(directives={PermissionError: Directive.STOP})
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs(journal, "a"), strategy=sup_strategy)
        a = await child(rt, f"{sup.address.path}/a")
        await a.tell(Crash(PermissionError))
        await settle()
        listed = await sup.ask(WhichChildren())
        assert [(c.id, c.state) for c in listed] == [("a", ActorState.STOPPED)]


async def test_escalate_directive_fails_the_supervisor_with_child_failed() -> None:
    """ESCALATE: the supervisor stops its children and fails with ChildFailed."""
    journal: list[str] = []
    events: list[ActorEvent] = []
    inner = ChildSpec(
        "inner",
        Supervisor,
        (specs(journal, "x", "y"),),
        {"strategy": OneForOne(directives={LookupError: Directive.ESCALATE})},
    )
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append)
        await rt.spawn(Supervisor, [inner], name="outer")
        journal.clear()
        await (await child(rt, "/outer/inner/x")).tell(Crash(KeyError))
        await settle()
        info = rt.tree().find("/outer/inner")
        assert info is not None
        assert info.restart_count == 1
    assert journal[:4] == ["stop y", "stop x", "start x", "start y"]
    failed = [e for e in events if e.kind is EventKind.FAILED and e.address.path == "/outer/inner"]
    assert len(failed) == 1
    assert isinstance(failed[0].reason, trouper.ChildFailed)
    assert isinstance(failed[0].reason.__cause__, KeyError)


async def test_shutdown_deadline_cancels_a_child_that_ignores_its_stop() -> None:
    """A child stuck past its shutdown deadline is cancelled; the supervisor goes on."""
    journal: list[str] = []
    children = [
        ChildSpec("a", Worker, (journal, "a")),
        ChildSpec("stuck", Worker, (journal, "stuck"), shutdown=2),
        ChildSpec("c", Worker, (journal, "c")),
    ]
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, children)
        await (await child(rt, f"{sup.address.path}/stuck")).tell(Hang())
        await settle()
        journal.clear()
        start = trio.current_time()
        await rt.stop(sup)
        assert trio.current_time() - start == 2
    assert journal == ["stop c", "stop a"]


async def test_zero_shutdown_cancels_at_once() -> None:
    """``shutdown=0`` cancels the actor without waiting (on_stop does not run)."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker, journal, "quick", shutdown=0)
        await ref.tell(Hang())
        await settle()
        start = trio.current_time()
        await rt.stop(ref)
        assert trio.current_time() == start
    assert journal == ["start quick"]


async def test_dynamic_children_start_stop_restart_delete_and_list() -> None:
    """A supervisor's children can be managed at run time, with clear errors."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs(journal, "a"), name="sup")
        b = await sup.ask(StartChild(ChildSpec("b", Worker, (journal, "b"))))
        assert isinstance(b, trouper.ActorRef)
        with pytest.raises(
            trouper.DuplicateChild, match=r"^trouper://local/sup already has a child with id 'b'$"
        ):
            await sup.ask(StartChild(ChildSpec("b", Worker, (journal, "b"))))
        with pytest.raises(
            trouper.ChildNotFound, match=r"^trouper://local/sup has no child with id 'zz'$"
        ):
            await sup.ask(StopChild("zz"))

        await sup.ask(StopChild("b"))
        listed = await sup.ask(WhichChildren())
        assert [(c.id, c.state) for c in listed] == [
            ("a", ActorState.RUNNING),
            ("b", ActorState.STOPPED),
        ]
        again = await sup.ask(RestartChild("b"))
        assert again == b
        assert await b.ask(Count()) == 1  # the same ref reaches the new life

        journal.clear()
        await sup.ask(RestartChild("a"))  # a running child is stopped and started
        assert journal == ["stop a", "start a"]

        await sup.ask(DeleteChild("b"))
        listed = await sup.ask(WhichChildren())
        assert [c.id for c in listed] == ["a"]
        with pytest.raises(trouper.ChildNotFound):
            await sup.ask(RestartChild("b"))
        assert rt.tree().actors[0].restart_count == 0  # rejected requests never failed it


async def test_supervisor_shows_its_strategy_in_the_tree() -> None:
    """``tree()`` shows each supervisor's strategy and each child's restarts and state."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        await rt.spawn(
            Supervisor, specs(journal, "a", "b"), strategy=RestForOne(max_restarts=2), name="s"
        )
        await (await child(rt, "/s/b")).tell(Crash())
        await settle()
        assert str(rt.tree()).splitlines() == [
            "/ (root, OneForOne(3 in 5s))",
            "└── s (Supervisor) running, mailbox 0, handled 0, restarts 0 [RestForOne(2 in 5s)]",
            "    ├── a (Worker) running, mailbox 0, handled 0, restarts 0",
            "    └── b (Worker) running, mailbox 0, handled 1, restarts 1",
        ]


async def test_escalation_past_the_root_leaves_open_runtime() -> None:
    """An ESCALATE at the root cancels the block and raises the error out of it."""
    journal: list[str] = []
    strategy = OneForOne(directives={ValueError: Directive.ESCALATE})

    async def scenario() -> None:
        async with trouper.open_runtime(root_strategy=strategy) as rt:
            ref = await rt.spawn(Worker, journal, "w", name="w")
            await ref.tell(Crash(ValueError))
            await trio.sleep_forever()

    with pytest.raises(
        trouper.ChildFailed, match=r"^child trouper://local/w failed and escalated"
    ) as info:
        await scenario()
    assert isinstance(info.value.__cause__, ValueError)
    assert journal == ["start w", "stop w"]


async def test_escalation_past_the_root_can_be_logged_instead(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With ``on_escalation="log"`` the actor is stopped, logged, and the runtime goes on."""
    strategy = OneForOne(directives={ValueError: Directive.ESCALATE})
    caplog.set_level(logging.ERROR, logger="trouper")
    async with trouper.open_runtime(root_strategy=strategy, on_escalation="log") as rt:
        ref = await rt.spawn(Worker, [], "w", name="w")
        await ref.tell(Crash(ValueError))
        await settle()
        assert rt.lookup("w") is None
        other = await rt.spawn(Worker, [], "v")
        assert await other.ask(Count()) == 1
    assert any("/w escalated past the root" in r.getMessage() for r in caplog.records)


async def test_root_give_up_can_fail_the_runtime() -> None:
    """With ``on_root_give_up="escalate"`` a top-level give-up leaves ``open_runtime``."""

    async def scenario() -> None:
        async with trouper.open_runtime(
            root_strategy=OneForOne(max_restarts=1), on_root_give_up="escalate"
        ) as rt:
            ref = await rt.spawn(Worker, [], "w")
            await ref.tell(Crash())
            await ref.tell(Crash())
            await trio.sleep_forever()

    with pytest.raises(trouper.RestartIntensityExceeded) as info:
        await scenario()
    assert isinstance(info.value.__cause__, RuntimeError)


async def test_bad_runtime_options_are_refused() -> None:
    """Unknown policies and bad strategies are ValueErrors."""
    with pytest.raises(ValueError, match=r"^on_root_give_up must be 'stop' or 'escalate'"):
        async with trouper.open_runtime(on_root_give_up="ignore"):  # type: ignore[arg-type]
            pass
    with pytest.raises(ValueError, match=r"^strategy must be a Strategy, got 'one'$"):
        Supervisor([], strategy="one")  # type: ignore[arg-type]


def _labels(journal: Sequence[str]) -> list[str]:
    return list(journal)


async def test_a_resumed_actor_is_running_again() -> None:
    """After RESUME the actor shows as running and still fails with its links."""
    journal: list[str] = []
    strategy = OneForOne(directives={KeyError: Directive.RESUME})
    async with trouper.open_runtime() as rt:
        await rt.spawn(Supervisor, specs(journal, "a"), strategy=strategy, name="s")
        a = await child(rt, "/s/a")
        await a.tell(Crash(KeyError))
        assert await a.ask(Count()) == 1
        info = rt.tree().find("/s/a")
        assert info is not None
        assert (info.state, info.restart_count) == (ActorState.RUNNING, 0)


async def test_temporary_children_are_stopped_not_restarted_in_a_group() -> None:
    """OneForAll restarts its permanent children; a temporary sibling just stops (OTP)."""
    journal: list[str] = []
    children = [
        ChildSpec("a", Worker, (journal, "a")),
        ChildSpec("t", Worker, (journal, "t"), restart=Restart.TEMPORARY),
        ChildSpec("c", Worker, (journal, "c")),
    ]
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, children, strategy=OneForAll(), name="s")
        journal.clear()
        await (await child(rt, "/s/c")).tell(Crash())
        await settle()
        assert journal == [
            "stop c",
            "stop t",
            "stop a",
            "restart a after RuntimeError",
            "start a",
            "restart c after RuntimeError",
            "start c",
        ]
        listed = await sup.ask(WhichChildren())
        assert [c.id for c in listed] == ["a", "c"]


async def test_ending_an_instance_for_a_restart_is_bounded_by_shutdown() -> None:
    """A slow on_stop during a restart is cancelled at the shutdown deadline."""
    journal: list[str] = []
    starts: list[float] = []

    class Slow(Worker):
        async def on_start(self) -> None:
            starts.append(trio.current_time())

        async def on_stop(self) -> None:
            await trio.sleep(100)

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Slow, journal, "slow", shutdown=2)
        await ref.tell(Crash())
        await trio.sleep(10)
        assert [s - starts[0] for s in starts] == [0, 2]


async def test_start_child_rejects_a_taken_name_without_failing() -> None:
    """StartChild with a taken name or a broken factory is rejected; the supervisor goes on."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs(journal, "a"), name="s")
        await rt.spawn(Worker, journal, "other", name="taken")
        with pytest.raises(trouper.NameTaken):
            await sup.ask(StartChild(ChildSpec("b", Worker, (journal, "b"), name="taken")))
        with pytest.raises(TypeError):
            await sup.ask(StartChild(ChildSpec("c", Worker, ())))
        assert rt.tree().find("/s") is not None
        assert rt.tree().actors[0].restart_count == 0


async def test_child_spec_shutdown_defaults_to_the_runtime() -> None:
    """A spec without ``shutdown`` takes the runtime's; names are checked when built."""
    journal: list[str] = []
    async with trouper.open_runtime(shutdown=3) as rt:
        sup = await rt.spawn(Supervisor, [ChildSpec("h", Worker, (journal, "h"))], name="s")
        await (await child(rt, "/s/h")).tell(Hang())
        await settle()
        start = trio.current_time()
        await rt.stop(sup)
        assert trio.current_time() - start == 3
    with pytest.raises(ValueError, match=r"^name is one path segment: it cannot hold '/'"):
        ChildSpec("x", Worker, name="a/b")


async def test_restarted_is_reported_when_decided_for_groups_too() -> None:
    """With a backoff, RESTARTED comes at the decision and STARTED after the wait."""
    journal: list[str] = []
    events: list[ActorEvent] = []
    strategy = OneForAll(backoff=Backoff(2, 2))
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.RESTARTED, EventKind.STARTED])
        await rt.spawn(Supervisor, specs(journal, "a", "b"), strategy=strategy, name="s")
        events.clear()
        start = trio.current_time()
        await (await child(rt, "/s/a")).tell(Crash())
        await trio.sleep(5)
    assert [(e.kind.value, e.address.path, e.time - start) for e in events] == [
        ("restarted", "/s/a", 0),
        ("restarted", "/s/b", 0),
        ("started", "/s/a", 2),
        ("started", "/s/b", 2),
    ]


async def test_restart_child_of_a_running_child_without_hooks_starts_it_again() -> None:
    """RestartChild on a running spec child whose class has no on_start: stopped, started anew."""

    class Plain(Actor):
        @handler
        async def count(self, message: Count) -> str:
            return "ok"

    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, [ChildSpec("a", Plain), ChildSpec("b", Plain, name="b")])
        with trio.fail_after(1):
            for child_id in ("a", "b"):
                ref = await sup.ask(RestartChild(child_id))
                assert await ref.ask(Count()) == "ok"
