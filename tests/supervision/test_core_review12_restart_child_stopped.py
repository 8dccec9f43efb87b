"""Review: ``RestartChild`` begins the new life only once the old life's task has ended.

A child stopped at once (idle, nothing to wait for) is finalized in its
stopper's task; its own task ends a moment later. ``restart_child`` reset
the cell and started a new task for it at once, so when the old task ran
after that, it saw a live actor and parked on the mailbox in the new life's
name: mail or a stop that came while the new instance's ``on_start`` ran
woke the new task in the middle of it ("Should never have been
rescheduled!"), and the child failed. Trio orders the two tasks at random,
so each test repeats the restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

import trouper
from trouper import Actor, ChildSpec, Supervisor, handler
from trouper.errors import ActorStopped
from trouper.runtime import ActorEvent, EventKind, RestartChild, WhichChildren


class SlowLaterStarts(Actor):
    """Starts at once the first time, takes a minute each later time; numbers its instances."""

    made = 0

    async def on_start(self) -> None:
        type(self).made += 1
        self.number = type(self).made
        if self.number > 1:
            await trio.sleep(60)

    @handler
    async def which(self, message: str) -> int:
        return self.number


async def supervisors_of_slow(
    rt: trouper.Runtime, failures: list[ActorEvent]
) -> AsyncIterator[tuple[int, trouper.ActorRef[object]]]:
    """Eight times, a new supervisor of a new "slow", stopped after; ``failures`` hears FAILED."""
    rt.events.listen(failures.append, kinds=[EventKind.FAILED])
    for attempt in range(8):
        SlowLaterStarts.made = 0
        sup = await rt.spawn(Supervisor, [ChildSpec("slow", SlowLaterStarts)])
        yield attempt, sup
        await rt.stop(sup)


async def test_mail_during_the_new_on_start_of_a_restart_child_waits_for_it() -> None:
    """A message told while the new instance starts is handled by it, once it has started."""
    failures: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        async for attempt, sup in supervisors_of_slow(rt, failures):
            child = rt.find(f"{sup.address.path}/slow")
            assert child is not None

            async def tell_it_while_it_starts(child: trouper.ActorRef[object] = child) -> None:
                await trio.sleep(1)
                await child.tell("which?")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(tell_it_while_it_starts)
                await sup.ask(RestartChild("slow"))
            assert await child.ask("which?") == 2, attempt
    assert failures == []


async def test_a_child_stopped_during_its_restart_child_start_is_rejected() -> None:
    """Stopped while its new ``on_start`` runs: ``RestartChild`` is rejected, nothing fails."""
    failures: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        async for attempt, sup in supervisors_of_slow(rt, failures):

            async def stop_it_while_it_starts(path: str = f"{sup.address.path}/slow") -> None:
                await trio.sleep(1)
                child = rt.find(path)
                assert child is not None
                await rt.stop(child)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(stop_it_while_it_starts)
                with pytest.raises(ActorStopped):
                    await sup.ask(RestartChild("slow"))
            [info] = await sup.ask(WhichChildren())
            assert info.state is trouper.ActorState.STOPPED, attempt
    assert failures == []
