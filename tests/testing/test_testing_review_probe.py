"""Review: a probe's wait that is cancelled takes nothing: its messages stay receivable."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trouper
from trouper.testing import TestProbe


async def test_receive_n_cancelled_while_waiting_leaves_what_it_took(
    runtime: trouper.Runtime,
) -> None:
    """Cancelled before the n-th message came, ``receive_n`` puts back the ones it had."""
    p = TestProbe(runtime)
    p.tell_nowait("a")
    p.tell_nowait("b")
    with trio.move_on_after(1) as scope:
        await p.receive_n(3, within=10)
    assert scope.cancelled_caught
    p.tell_nowait("c")
    assert await p.receive_n(3) == ["a", "b", "c"]


async def test_receive_n_cancelled_at_its_last_checkpoint_leaves_what_it_took(
    runtime: trouper.Runtime,
) -> None:
    """Cancelled when all n were there already, ``receive_n`` takes none of them."""
    p = TestProbe(runtime)
    p.tell_nowait("a")
    p.tell_nowait("b")
    with trio.CancelScope() as scope:
        scope.cancel()
        await p.receive_n(2)
    assert scope.cancelled_caught
    assert await p.receive_n(2) == ["a", "b"]


async def test_fish_for_cancelled_leaves_the_messages_it_skipped(
    runtime: trouper.Runtime,
) -> None:
    """Cancelled before a match came, ``fish_for`` skipped nothing."""
    p = TestProbe(runtime)
    p.tell_nowait(1)
    p.tell_nowait(2)
    with trio.move_on_after(1):
        await p.fish_for(lambda m: m == 3, within=10)
    assert await p.receive_n(2) == [1, 2]


async def test_expect_whose_predicate_raises_leaves_the_message(
    runtime: trouper.Runtime,
) -> None:
    """A predicate that raises says nothing of the message: it stays first in line."""
    p = TestProbe(runtime)
    p.tell_nowait("a")

    def broken(message: object) -> bool:
        raise KeyError(message)

    with pytest.raises(KeyError):
        await p.expect(broken)
    assert await p.expect("a") == "a"


async def test_a_wait_that_ended_beside_another_does_not_keep_it_from_waking(
    runtime: trouper.Runtime,
) -> None:
    """Two tasks wait on one probe; the one that gave up first must not deafen the other."""
    p = TestProbe(runtime)
    got: list[object] = []

    async def expect_x() -> None:
        got.append(await p.expect("x", within=10))
        got.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(expect_x)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await p.expect_no_message(within=1)
        await trio.sleep(1)
        p.tell_nowait("x")
    assert got == ["x", start + 2]


async def test_expect_terminated_that_failed_stops_watching(runtime: trouper.Runtime) -> None:
    """An actor that did not stop in time: its later ``Terminated`` is not a stray message."""

    class Idle(trouper.Actor):
        @trouper.handler
        async def take(self, message: str) -> None:
            pass

    p = TestProbe(runtime)
    idle = await runtime.spawn(Idle)
    with pytest.raises(AssertionError, match=r"expected the Terminated of /"):
        await p.expect_terminated(idle, within=1)
    await runtime.stop(idle)
    await p.expect_no_message()
