"""Review 5: a probe's ``within=`` and ``receive_n``'s ``n`` are checked, and say what was wrong."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import pytest

import trouper
from trouper import Actor, handler
from trouper.testing import TestProbe


class Idle(Actor):
    """Handles nothing of interest."""

    @handler
    async def anything(self, message: str) -> None:
        pass


WAITS: list[
    tuple[str, Callable[[TestProbe, trouper.ActorRef[object], object], Awaitable[object]]]
] = [
    ("expect", lambda p, ref, within: p.expect(int, within=within)),  # type: ignore[arg-type]
    ("expect_no_message", lambda p, ref, within: p.expect_no_message(within=within)),  # type: ignore[arg-type]
    ("receive_n", lambda p, ref, within: p.receive_n(1, within=within)),  # type: ignore[arg-type]
    ("fish_for", lambda p, ref, within: p.fish_for(bool, within=within)),  # type: ignore[arg-type]
    ("expect_terminated", lambda p, ref, within: p.expect_terminated(ref, within=within)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("within", [-1, math.nan, "3", None, True])
@pytest.mark.parametrize(("name", "wait"), WAITS, ids=[name for name, _ in WAITS])
async def test_a_within_that_is_not_seconds_is_refused(
    runtime: trouper.Runtime,
    name: str,
    wait: Callable[[TestProbe, trouper.ActorRef[object], object], Awaitable[object]],
    within: object,
) -> None:
    """Not a number of seconds >= 0: a ValueError naming it, not a failed expectation."""
    p = TestProbe(runtime)
    await p.tell(1)
    ref = await runtime.spawn(Idle)
    with pytest.raises(ValueError, match=rf"^within must be seconds >= 0, got {within!r}$"):
        await wait(p, ref, within)
    assert await p.receive_n(1, within=0) == [1]  # nothing taken


@pytest.mark.parametrize("n", [-1, 1.5, "2", True, None])
async def test_receive_n_of_a_count_that_is_not_an_int_is_refused(
    runtime: trouper.Runtime, n: object
) -> None:
    """``receive_n(1.5)`` took two messages, ``receive_n(True)`` one; now both are refused."""
    p = TestProbe(runtime)
    await p.tell(1)
    await p.tell(2)
    with pytest.raises(ValueError, match=rf"^n must be an int >= 0, got {n!r}$"):
        await p.receive_n(n, within=1)  # type: ignore[arg-type]
    assert await p.receive_n(2, within=0) == [1, 2]  # nothing taken


async def test_within_zero_and_infinity_are_seconds(runtime: trouper.Runtime) -> None:
    """0 looks at what waits now; infinity waits as long as it takes."""
    p = TestProbe(runtime)
    await p.tell(1)
    assert await p.expect(1, within=0) == 1
    await p.tell(2)
    assert await p.expect(2, within=math.inf) == 2
