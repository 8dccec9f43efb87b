"""Review 24: ``locate`` and ``Cluster.flush`` refuse a call from outside their runtime's thread.

Both used the node's NATS connection (a new inbox and subscription, a publish,
a flush) and its outbox from whatever Trio run awaited them, so a call from
another thread's run worked on another run's Trio objects (an ``await`` there
never returned, or failed inside Trio). They now raise ``RuntimeError`` naming
the portal, as ``spawn`` and ``tell`` do, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import pytest
import trio
from remote_threads import refused_outside_a, the_runtime, with_node_a_in_a_thread

import trouper
from trouper import Runtime
from trouper.remote import Nats, cluster_of

pytestmark = pytest.mark.real_clock


def test_locate_and_flush_refuse_another_thread(transport: Nats) -> None:
    """From another thread's Trio run: ``RuntimeError`` at once, the node unharmed."""
    after: list[object] = []
    outcomes: list[str] = []

    async def still_whole(a: Runtime) -> None:
        # Still whole: its own lookups and flushes work.
        after.append(await trouper.remote.locate(a, "nobody"))
        await cluster_of(a).flush()
        after.append("flushed")

    def check(a: Runtime) -> None:
        async def main() -> None:
            with trio.fail_after(10):
                calls: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                    ("locate", partial(trouper.remote.locate, a, "nobody")),
                    ("flush", cluster_of(a).flush),
                ]
                for what, call in calls:
                    try:
                        await call()
                    except RuntimeError as error:
                        outcomes.append(str(error))
                    else:
                        outcomes.append(f"{what} returned")

        trio.run(main)

    with_node_a_in_a_thread(transport, the_runtime, check, after=still_whole)
    assert outcomes == [refused_outside_a("locate"), refused_outside_a("flush")]
    assert after == [None, "flushed"]
