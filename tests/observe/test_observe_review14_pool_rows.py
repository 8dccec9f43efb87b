"""A pool's members, as ``pools()`` lists them, are the rows the tree shows for them."""

from __future__ import annotations

from observe_actors import Echo

import trouper
from trouper.observe import ActorRow, Observer


async def test_a_pools_members_have_their_depth_in_the_tree() -> None:
    """``PoolInfo.shown`` rows carry the members' own depth (2 under a top-level pool)."""
    async with trouper.open_runtime() as rt:
        await rt.spawn_pool(Echo, 2, name="top")
        with Observer(rt) as observer:
            (pool,) = observer.pools()
            tree = {row.path: row for row in observer.tree().rows if isinstance(row, ActorRow)}
    assert [(member.path, member.depth) for member in pool.shown] == [
        ("/top/member-1", 2),
        ("/top/member-2", 2),
    ]
    assert [member.depth for member in pool.shown] == [
        tree[member.path].depth for member in pool.shown
    ]
