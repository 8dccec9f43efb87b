"""Two runtimes joining under one node name at the same instant do not both get in.

Each asked whether the name was free before subscribing to it: asked at the
same time, neither had subscribed yet, both heard "no responders" and both
joined. A joiner now claims the name first, and one that hears another's
claim before it has subscribed gives way.
"""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper.errors import NodeNameTaken
from trouper.remote import Nats

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize("attempt", range(3))  # a race: one try may not show it
async def test_two_runtimes_joining_under_one_name_at_once_do_not_both_get_in(
    transport: Nats, attempt: int
) -> None:
    """At most one joins; the other's ``open_runtime`` raises ``NodeNameTaken`` (both may)."""
    outcomes: list[str] = []
    both_tried = trio.Event()

    def tried(outcome: str) -> None:
        outcomes.append(outcome)
        if len(outcomes) == 2:
            both_tried.set()

    async def join() -> None:
        try:
            async with trouper.open_runtime(node="bank", transport=transport):
                tried("joined")
                await both_tried.wait()  # still in the cluster while the other tries
        except NodeNameTaken:
            tried("refused")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(join)
            nursery.start_soon(join)
    assert outcomes.count("joined") <= 1
