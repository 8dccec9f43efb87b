"""A child added while its supervisor restarts a group starts once the group is back.

OTP's supervisor starts a child and carries out a restart in one process, one after the
other; a ``OneForAll`` or ``RestForOne`` child depends on those started before it.
"""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper import (
    Actor,
    Backoff,
    ChildSpec,
    OneForAll,
    OneForOne,
    RestForOne,
    Strategy,
    Supervisor,
)
from trouper.runtime import WhichChildren


class First(Actor):
    """Fails once, half a second after its first start."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append("start first")
        if self.log.count("start first") == 1:
            self.ctx.send_later(0.5, self.ctx.self_ref, "boom")

    async def on_stop(self) -> None:
        self.log.append("stop first")

    @trouper.handler
    async def boom(self, message: str) -> None:
        raise ValueError(message)


class Slow(Actor):
    """Takes a second to start."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        await trio.sleep(1)
        self.log.append("start slow")

    async def on_stop(self) -> None:
        self.log.append("stop slow")


class Last(Actor):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append("start last")


@pytest.mark.parametrize(
    "strategy",
    [
        OneForAll(),
        RestForOne(),
        OneForAll(backoff=Backoff(3, 3)),
        RestForOne(backoff=Backoff(3, 3)),
    ],
)
async def test_a_child_started_while_a_group_restarts_starts_after_the_group(
    strategy: Strategy,
) -> None:
    """``first`` fails while the supervisor is still starting ``slow``: ``last`` waits for both."""
    log: list[str] = []
    specs = [
        ChildSpec(name, factory, (log,))
        for name, factory in (("first", First), ("slow", Slow), ("last", Last))
    ]
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs, strategy=strategy)
        await trio.sleep(10)
        children = await sup.ask(WhichChildren())
        assert [(c.id, c.state.value) for c in children] == [
            ("first", "running"),
            ("slow", "running"),
            ("last", "running"),
        ]
        # (it was started while first and slow were stopped, and outside the restart)
        assert log.index("start last") > len(log) - 1 - log[::-1].index("start slow"), log
        assert log.index("start last") > len(log) - 1 - log[::-1].index("start first")


class SlowToEnd(First):
    """Fails once, and takes two seconds to end."""

    async def on_stop(self) -> None:
        await trio.sleep(2)
        self.log.append("stop first")


class Timed(Actor):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start last at {trio.current_time():g}")


async def test_one_for_one_starts_the_next_child_without_waiting_for_a_restart() -> None:
    """Under ``OneForOne`` a child depends on no sibling: it starts at once."""
    log: list[str] = []
    specs = [
        ChildSpec("first", SlowToEnd, (log,)),  # fails at 0.5, ends until 2.5
        ChildSpec("slow", Slow, (log,)),  # started until 1
        ChildSpec("last", Timed, (log,)),
    ]
    async with trouper.open_runtime() as rt:
        await rt.spawn(Supervisor, specs, strategy=OneForOne())
        await trio.sleep(5)
    assert log[:3] == ["start first", "start slow", "start last at 1"]
    assert log.count("start first") == 2
