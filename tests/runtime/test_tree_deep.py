"""``tree()`` of a deep hierarchy: built, walked and rendered without recursion."""

from __future__ import annotations

import trouper
from trouper import Actor, handler

DEPTH = 1200


class Link(Actor):
    @handler
    async def grow(self, message: int) -> trouper.ActorRef[object]:
        return await self.ctx.spawn(Link, name=f"n{message}")


async def test_tree_of_a_deep_chain_builds_walks_and_renders() -> None:
    """A chain deeper than Python's recursion limit is still a tree, in order."""
    async with trouper.open_runtime() as rt:
        ref: trouper.ActorRef[object] = await rt.spawn(Link, name="n0")
        for depth in range(1, DEPTH):
            child = await ref.ask(depth)
            assert isinstance(child, trouper.ActorRef)
            ref = child
        tree = rt.tree()
        paths = [info.path for info in tree.walk()]
        assert paths == ["/" + "/".join(f"n{i}" for i in range(d + 1)) for d in range(DEPTH)]
        assert tree.find(paths[-1]) is not None
        lines = tree.render().split("\n")
        assert len(lines) == DEPTH + 1
        assert lines[1] == (
            "└── n0 (Link) running, mailbox 0, handled 1, restarts 0 [OneForOne(3 in 5s)]"
        )
        assert lines[-1] == (
            " " * 4 * (DEPTH - 1)
            + f"└── n{DEPTH - 1} (Link) running, mailbox 0, handled 0, restarts 0"
        )
