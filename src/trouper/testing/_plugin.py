"""trouper's pytest plugin: ``runtime`` and ``probe`` fixtures on virtual time.

Registered through the ``pytest11`` entry point, so installing trouper (with
pytest-trio) is enough: no conftest. A test that uses ``runtime`` or
``probe`` runs under Trio on ``MockClock(autojump_threshold=0)``, even
without ``trio_mode``.

Options, per test with ``@pytest.mark.trouper(...)`` or for the whole suite
in the ini file:

- ``strict=True`` (ini ``trouper_strict = true``): fail the test if an actor
  failed or a dead letter appeared while it ran, or an actor failed while the
  fixture stopped the runtime after it (an ``on_stop`` that raised). Dead
  letters of that shutdown (messages still queued to the actors it stops)
  are the fixture's doing, not the test's: they do not fail it, and are
  listed in the test's report (section ``trouper``).
- any other keyword is an ``open_runtime`` option for that test's runtime
  (``mailbox_size=10``, ``root_strategy=...``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import weakref
from collections.abc import AsyncIterator, Callable

import pytest
import trio

from trouper.runtime import ActorEvent, DeadLetter, EventKind, Runtime, open_runtime
from trouper.testing._probe import TestProbe
from trouper.testing._virtual_time import SETTLE_STEPS, run_on_virtual_time, settle

_FIXTURES = frozenset({"runtime", "probe"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "trouper_strict",
        "fail tests whose actors failed or produced dead letters unexpectedly",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "trouper(strict=False, **runtime_options): options for trouper's runtime fixture",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not _FIXTURES & set(getattr(item, "fixturenames", ())):
            continue
        if not inspect.iscoroutinefunction(getattr(item, "obj", None)):
            continue
        if importlib.util.find_spec("pytest_trio") is None:
            raise pytest.UsageError(
                "trouper's runtime and probe fixtures need pytest-trio: "
                "pip install 'trouper[testing]'"
            )
        item.add_marker(pytest.mark.trio(run=run_on_virtual_time), append=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a synchronous test that uses the fixtures before pytest sets any of them up.

    pytest cannot set an async fixture up for a synchronous test; it fails in a
    way that leaves its fixture machinery broken for every test after it.
    """
    used = _FIXTURES & set(getattr(item, "fixturenames", ()))
    function = getattr(item, "obj", None)
    if used and function is not None and not inspect.iscoroutinefunction(function):
        fixture = "probe" if "probe" in used else "runtime"  # probe brings runtime with it
        pytest.fail(
            f"{item.name} uses trouper's {fixture} fixture, which runs on Trio: "
            "make it an async test (async def)",
            pytrace=False,
        )


@pytest.fixture
async def runtime(request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
    """A fresh runtime on virtual time, stopped and checked after the test.

    After the test, every actor has stopped and no task started while it ran
    may remain: the failure names each one, whose it is (the runtime's, or the
    test's), and whether it never waits (still stepping after ``SETTLE_STEPS``
    steps, which ends the check instead of hanging it). With ``strict`` (marker
    or ini), the test also fails if an actor failed or a dead letter appeared
    while it ran, or an actor failed while the runtime stopped after it; the
    dead letters of that shutdown do not fail it (they are listed in the
    report's ``trouper`` section).
    """
    marker = request.node.get_closest_marker("trouper")
    if marker is not None and marker.args:
        pytest.fail(
            "trouper marker takes keywords only (strict=..., open_runtime options), "
            f"got {marker.args!r}",
            pytrace=False,
        )
    options = dict(marker.kwargs) if marker is not None else {}
    strict = options.pop("strict", request.config.getini("trouper_strict"))
    if not isinstance(strict, bool):
        pytest.fail(f"trouper marker: strict must be True or False, got {strict!r}", pytrace=False)
    failures: list[ActorEvent] = []
    dead_letters: list[DeadLetter] = []
    tasks_before = _tasks()
    starts = _Starts(trio.lowlevel.current_task())
    trio.lowlevel.add_instrument(starts)
    try:
        async with open_runtime(**options) as rt:
            rt.events.listen(failures.append, kinds=[EventKind.FAILED])
            rt.dead_letters.listen(dead_letters.append)
            yield rt
            # The test has ended; what comes after is the runtime's shutdown, whose dead
            # letters (messages still queued to the actors it stops) are not the test's.
            in_test = len(dead_letters)
            failed_in_test = len(failures)
        spinning = await settle()
    finally:
        trio.lowlevel.remove_instrument(starts)
    # New tasks, not a difference of counts: the test's task, which ended meanwhile,
    # would hide one leaked task.
    leaked = sorted(_tasks() - tasks_before, key=lambda task: task.name)
    if leaked:
        reports = [
            f"{task.name!r}, started by {starts.owner(task)}"
            + (
                f" (it never waits: still ran after {SETTLE_STEPS} steps)"
                if task in spinning
                else ""
            )
            for task in leaked
        ]
        pytest.fail(
            f"{len(leaked)} task(s) still run after the runtime stopped: " + "; ".join(reports)
        )
    if not strict:
        return
    if len(dead_letters) > in_test:
        request.node.add_report_section(
            "call",
            "trouper",
            "dead letters of the runtime's shutdown (not counted by strict):\n  "
            + "\n  ".join(str(letter) for letter in dead_letters[in_test:]),
        )
    if failures or dead_letters[:in_test]:
        lines = [f"failed: {event}" for event in failures[:failed_in_test]]
        lines += [
            f"failed while the runtime stopped: {event}" for event in failures[failed_in_test:]
        ]
        lines += [str(letter) for letter in dead_letters[:in_test]]
        pytest.fail("unexpected actor failures or dead letters (strict):\n  " + "\n  ".join(lines))


def _tasks() -> set[trio.lowlevel.Task]:
    """Every living task of this run, except those of the test and its other fixtures.

    pytest-trio runs the test and each fixture as siblings of this fixture's
    task; what they start is theirs to clean up, not a leak of the runtime.
    """
    me = trio.lowlevel.current_task()
    siblings = set(me.parent_nursery.child_tasks) - {me} if me.parent_nursery else set()
    tasks: set[trio.lowlevel.Task] = set()
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        if task is None or task in siblings:
            continue
        tasks.add(task)
        stack.extend(child for nursery in task.child_nurseries for child in nursery.child_tasks)
    return tasks


class _Starts(trio.abc.Instrument):
    """Notes which task started each task while the ``runtime`` fixture lasts (Trio instrument).

    ``spawn_system_task`` puts a task under Trio's system nursery, whoever
    called it: only the caller, noted here, says whose the task is.
    """

    def __init__(self, fixture: trio.lowlevel.Task) -> None:
        self.fixture = fixture
        # The fixture's task: the runtime runs in it, so what it starts is the runtime's.
        self.starters: weakref.WeakKeyDictionary[trio.lowlevel.Task, trio.lowlevel.Task] = (
            weakref.WeakKeyDictionary()
        )
        # The task that started each task (a dead starter is kept while its task lives).

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        with contextlib.suppress(RuntimeError):  # started by the run loop, not a task
            self.starters[task] = trio.lowlevel.current_task()

    def owner(self, task: trio.lowlevel.Task) -> str:
        """Whose ``task`` is: the runtime's, the test's (or another fixture's), or not known.

        A task in a nursery is whose nursery holds it; a system task is whose
        task started it.
        """
        first = task
        home = self.fixture.parent_nursery
        while True:
            line = [task, *_ancestors(task)]
            where = f", in its task {task.name!r}" if task is not first else ""
            if self.fixture in line:
                return "the runtime" + where
            if home is not None and any(t.parent_nursery is home for t in line):
                # pytest-trio runs the test and each fixture as siblings of this one.
                return "the test (or another fixture)" + where
            starter = self.starters.get(task)
            if starter is None:
                return "a task the runtime fixture did not see start"
            task = starter


def _ancestors(task: trio.lowlevel.Task) -> list[trio.lowlevel.Task]:
    """The tasks whose nurseries hold ``task``, nearest first."""
    found = []
    nursery = task.parent_nursery
    while nursery is not None:
        found.append(nursery.parent_task)
        nursery = nursery.parent_task.parent_nursery
    return found


@pytest.fixture
def probe(runtime: Runtime) -> Callable[..., TestProbe]:
    """Make test probes: ``p = probe()`` or ``probe("client")``."""

    def make(name: str | None = None) -> TestProbe:
        return TestProbe(runtime, name)

    return make
