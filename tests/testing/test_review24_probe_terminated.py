"""A failed ``expect_terminated`` names the actor whose ``Terminated`` it expected."""

from __future__ import annotations

import pytest

import trouper
from trouper import Actor, handler
from trouper.testing import TestProbe


class Echo(Actor):
    @handler
    async def echo(self, message: int) -> int:
        return message


async def test_a_terminated_that_never_comes_names_the_actor(runtime: trouper.Runtime) -> None:
    """The failure says whose ``Terminated`` was expected, not the name of an inner predicate."""
    p = TestProbe(runtime, "watcher")
    worker = await runtime.spawn(Echo, name="worker")
    with pytest.raises(AssertionError) as info:
        await p.expect_terminated(worker, within=1)
    assert str(info.value) == (
        "/probe/watcher expected the Terminated of /worker within 1s (now t=1.0000); "
        "arrived instead:\n  nothing"
    )


async def test_another_message_first_is_listed_against_the_actor(
    runtime: trouper.Runtime,
) -> None:
    """Another message arriving first fails it, naming the actor and listing that message."""
    p = TestProbe(runtime, "watcher")
    worker = await runtime.spawn(Echo, name="worker")
    await p.tell("other")
    with pytest.raises(AssertionError) as info:
        await p.expect_terminated(worker, within=1)
    assert str(info.value) == (
        "/probe/watcher expected the Terminated of /worker within 1s (now t=0.0000); "
        "arrived instead:\n  t=0.0000 'other'"
    )
