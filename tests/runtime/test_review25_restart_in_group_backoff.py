"""Review: ``rt.restart`` of a member whose group waits in a restart's backoff.

Under ``OneForAll`` (and ``RestForOne``) a failure restarts the group: every
member ends and the group waits its backoff stopped, then starts in start
order. An ``rt.restart`` of a later member during that wait started that
member at once, alone, while the members it depends on (started before it)
were still stopped, and they started only when the wait ended: the group ran
out of order, the restarted member without its dependencies. The group's
pending restart is carried out now instead, in start order; nothing starts
again when the wait would have ended.
"""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, Backoff, ChildSpec, OneForAll, RestForOne, handler
from trouper.runtime import Supervisor, WhichChildren
from trouper.supervision import Strategy

IN_ORDER_AT_ONCE = [
    "start x at 0",
    "start y at 0",
    "start x at 1",
    "start y at 1",
    "restart returned at 1",
]
"""The journal when the group's pending restart is carried out at t=1, x then y; no start at 5."""


@attrs.frozen
class Crash:
    pass


class Member(Actor):
    """Notes each start with its time."""

    def __init__(self, journal: list[str], label: str) -> None:
        self.journal = journal
        self.label = label

    async def on_start(self) -> None:
        self.journal.append(f"start {self.label} at {trio.current_time():g}")

    @handler
    async def crash(self, message: Crash) -> None:
        raise RuntimeError("crash")


async def _restart_the_second_during_the_wait(strategy: Strategy) -> tuple[list[str], int]:
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(
            Supervisor,
            [ChildSpec(x, Member, (journal, x)) for x in "xy"],
            strategy=strategy,
            name="sup",
        )
        kids = {child.id: child.ref for child in await sup.ask(WhichChildren())}
        await kids["x"].tell(Crash())  # the group ends, and waits 5 s
        await trio.sleep(1)
        await rt.restart(kids["y"])
        journal.append(f"restart returned at {trio.current_time():g}")
        await trio.sleep(10)  # past the end of the wait
        counts = {child.id: child.restart_count for child in await sup.ask(WhichChildren())}
    return journal, counts["y"]


async def test_one_for_all_restarts_the_group_in_order_at_once() -> None:
    """x then y at t=1, rt.restart returns then; no second start at t=5."""
    journal, y_restarts = await _restart_the_second_during_the_wait(
        OneForAll(backoff=Backoff(5, 10))
    )
    assert journal == IN_ORDER_AT_ONCE
    assert y_restarts == 2  # the group's restart, and the one asked for


async def test_rest_for_one_restarts_the_group_in_order_at_once() -> None:
    """The same under RestForOne, whose group is the failed child and the ones after it."""
    journal, _ = await _restart_the_second_during_the_wait(RestForOne(backoff=Backoff(5, 10)))
    assert journal == IN_ORDER_AT_ONCE
