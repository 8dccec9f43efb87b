"""Review 26: a tree view counts the actors alive when it is made, as its rows show them."""

from __future__ import annotations

from observe_actors import Echo

import trouper
from trouper.observe import ActorRow, Observer


async def test_the_tree_counts_actors_spawned_and_stopped_since_the_last_sample() -> None:
    """``TreeView.actors`` agrees with the rows, not with the sample taken before a spawn."""
    async with trouper.open_runtime() as rt:
        first = await rt.spawn(Echo, name="first")
        with Observer(rt) as observer:
            observer.sample()
            await rt.spawn(Echo, name="second")
            await rt.spawn(Echo, name="third")
            grown = observer.tree()
            await rt.stop(first)
            shrunk = observer.tree()
            summary = observer.summary()
    assert [row.path for row in grown.rows if isinstance(row, ActorRow)] == [
        "/first",
        "/second",
        "/third",
    ]
    assert grown.actors == 3
    assert [row.path for row in shrunk.rows if isinstance(row, ActorRow)] == ["/second", "/third"]
    assert shrunk.actors == 2
    assert summary.actors == 1  # the summary is the last sample's, as documented
