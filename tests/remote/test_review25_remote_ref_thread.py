"""Review 25: ``rt.remote`` and ``Cluster.ref`` refuse a call from outside their runtime's thread.

``Cluster.ref`` (what ``rt.remote`` returns) had no thread check, unlike
``locate`` and ``flush``: called from another thread it filled the node's
endpoint and peer caches from there, racing its own Trio thread, and handed
back a ref whose every use from that thread was refused anyway. Both now
raise the ``RuntimeError`` naming the portal before touching anything.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
from remote_threads import refused_outside_a, the_runtime, with_node_a_in_a_thread

from trouper import ActorRef, Runtime
from trouper.remote import Nats, cluster_of

pytestmark = pytest.mark.real_clock


def test_remote_and_cluster_ref_refuse_another_thread(transport: Nats) -> None:
    """From a plain thread and from another thread's Trio run: ``RuntimeError``, nothing cached."""
    peers_after: list[int] = []
    made_after: list[ActorRef[object]] = []
    outcomes: list[str] = []

    async def nothing_cached(a: Runtime) -> None:
        # Nothing was cached from the other thread: node "c" is still unknown here.
        peers_after.append(cluster_of(a).statistics().peers)
        made_after.append(a.remote("c", "sink"))  # its own thread still makes refs

    def check(a: Runtime) -> None:
        calls: list[tuple[str, Callable[[], ActorRef[object]]]] = [
            ("remote", lambda: a.remote("c", "sink")),
            ("ref", lambda: cluster_of(a).ref("c", "sink")),
        ]

        def attempt() -> None:
            for what, call in calls:
                try:
                    call()
                except RuntimeError as error:
                    outcomes.append(str(error))
                else:
                    outcomes.append(f"{what} returned")

        attempt()  # a thread with no Trio run

        async def main() -> None:
            attempt()

        trio.run(main)  # another thread's Trio run

    with_node_a_in_a_thread(transport, the_runtime, check, after=nothing_cached)
    assert outcomes == [refused_outside_a("remote"), refused_outside_a("ref")] * 2
    assert peers_after == [0]
    assert [str(ref.address) for ref in made_after] == ["trouper://c/sink"]
