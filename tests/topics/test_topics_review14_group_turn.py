"""Review 14: a member leaving a queue group does not cost the member whose turn was next."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from topic_actors import NamedGated

from trouper import Runtime


@pytest.mark.parametrize(("leaving", "after"), [(0, ["c", "b", "c"]), (2, ["a", "b", "a"])])
async def test_the_next_member_keeps_its_turn_when_another_leaves(
    runtime: Runtime, leaving: int, after: list[str]
) -> None:
    """a and b had one message each, then one member leaves: c (or a, wrapping round) is next."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    gate.set()
    subscriptions = [
        runtime.topics.subscribe(
            await runtime.spawn(NamedGated, name, gate, journal), "jobs", queue="w"
        )
        for name in "abc"
    ]
    for n in range(2):
        await runtime.topics.publish("jobs", n)
    subscriptions[leaving].cancel()
    for n in range(2, 5):
        await runtime.topics.publish("jobs", n)
    await trio.testing.wait_all_tasks_blocked()
    order = [name for n in range(5) for name, message in journal if message == n]
    assert order == ["a", "b", *after]
