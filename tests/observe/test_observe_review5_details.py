"""Review 5: an actor's details are those of its tree row, however its path is written."""

from __future__ import annotations

from observe_actors import Parent, Spawn

import trouper
from trouper.observe import ActorRow, Observer


async def test_details_give_the_actors_depth_whatever_slashes_the_path_has() -> None:
    """``/p//c/`` names ``/p/c``, at depth 2 as in the tree (the slashes were counted)."""
    async with trouper.open_runtime() as rt:
        parent = await rt.spawn(Parent, name="p")
        await parent.ask(Spawn("c"))
        with Observer(rt) as observer:
            rows = observer.tree().rows
            depths = {row.path: row.depth for row in rows if isinstance(row, ActorRow)}
            details = [observer.actor(path) for path in ("/p/c", "/p//c/", "p/c")]
    assert [(d.row.path, d.row.depth) for d in details if d is not None] == [("/p/c", 2)] * 3
    assert depths == {"/p": 1, "/p/c": 2}
