"""The observer: tree, rates, paging and bounds, details, topics, pools, summary, control."""

from __future__ import annotations

import json
import time

import pytest
import trio
import trio.testing
from observe_actors import Echo, Parent, Spawn, Starting, crash

import trouper
from trouper import ChildSpec, Supervisor
from trouper.observe import ActorRow, LevelSummary, Observer, TreeView
from trouper.routing import Balancing


def _paths(view: TreeView) -> list[str]:
    return [row.path if isinstance(row, ActorRow) else f"<{row.parent}>" for row in view.rows]


def _row(view: TreeView, path: str) -> ActorRow:
    return next(r for r in view.rows if isinstance(r, ActorRow) and r.path == path)


async def test_tree_shows_a_small_system_whole_depth_first() -> None:
    """Every actor is a row, depth first in start order, with its facts."""
    async with trouper.open_runtime() as rt:
        top = await rt.spawn(Parent, name="top")
        await crash(top)  # before the child: a restart stops the children of the old instance
        await top.ask(Spawn("child"))
        await rt.spawn(Echo, name="other")
        with Observer(rt) as observer:
            view = observer.tree()
    assert _paths(view) == ["/top", "/top/child", "/other"]
    assert _row(view, "/top") == ActorRow(
        path="/top",
        actor_class="Parent",
        state="running",
        depth=1,
        mailbox=0,
        handled=2,
        rate=None,
        restarts=1,
        strategy="OneForOne(3 in 5s)",
        children=1,
        open=True,
        router=None,
    )
    assert (_row(view, "/top/child").depth, view.actors, view.truncated) == (2, 3, False)


async def test_rates_are_messages_handled_per_second_between_samples() -> None:
    """``rate`` is the change in ``handled`` over the time between the last two samples."""
    async with trouper.open_runtime() as rt:
        a = await rt.spawn(Echo, name="a")
        with Observer(rt) as observer:
            observer.sample()
            for _ in range(10):
                await a.ask("x")
            await trio.sleep(4)
            observer.sample()
            rate = _row(observer.tree(), "/a").rate
            summary = observer.summary()
    assert (rate, summary.rate) == (2.5, 2.5)


async def test_a_large_level_shows_one_page_and_a_summary_of_the_whole_level() -> None:
    """Past ``page_size`` children, a level shows one page after a summary by class and state."""
    async with trouper.open_runtime() as rt:
        for _ in range(7):
            await rt.spawn(Echo)
        for _ in range(3):
            await rt.spawn(Parent)
        with Observer(rt, page_size=4) as observer:
            first = observer.tree()
            third = observer.tree(pages={"/": 9})
    assert first.rows[0] == LevelSummary(
        parent="/",
        depth=1,
        count=10,
        offset=0,
        page_size=4,
        by_class={"Echo": 7, "Parent": 3},
        by_state={"running": 10},
        rate=0.0,
    )
    assert len(first.rows) == 5
    assert isinstance(third.rows[0], LevelSummary)
    assert third.rows[0].offset == 8
    assert _paths(third)[1:] == ["/Parent-9", "/Parent-10"]


async def test_a_page_past_the_end_shows_the_last_page() -> None:
    """An offset beyond the level is brought back to its last page."""
    async with trouper.open_runtime() as rt:
        for _ in range(5):
            await rt.spawn(Echo)
        with Observer(rt, page_size=2) as observer:
            view = observer.tree(pages={"/": 1000})
    assert isinstance(view.rows[0], LevelSummary)
    assert (view.rows[0].offset, _paths(view)[1:]) == (4, ["/Echo-5"])


async def test_closed_nodes_hide_their_children_and_open_ones_show_them() -> None:
    """A closed node keeps its row (with its child count); its children are not rows."""
    async with trouper.open_runtime() as rt:
        top = await rt.spawn(Parent, name="top")
        await top.ask(Spawn("a"))
        await top.ask(Spawn("b"))
        with Observer(rt) as observer:
            closed = observer.tree(closed=["/top"])
            reopened = observer.tree(closed=["/top"], open=["/top/a"])
    assert _paths(closed) == ["/top"]
    assert (_row(closed, "/top").open, _row(closed, "/top").children) == (False, 2)
    assert _paths(reopened) == ["/top"]


async def test_nodes_open_by_default_only_while_the_row_budget_lasts() -> None:
    """Breadth first, top levels open first; a node whose page would pass ``max_rows`` is shut."""
    async with trouper.open_runtime() as rt:
        first = await rt.spawn(Parent, name="first")
        second = await rt.spawn(Parent, name="second")
        for n in range(3):
            await first.ask(Spawn(f"a{n}"))
            await second.ask(Spawn(f"b{n}"))
        with Observer(rt, max_rows=6) as observer:
            view = observer.tree()
            asked = observer.tree(open=["/second"])
    assert _paths(view) == ["/first", "/first/a0", "/first/a1", "/first/a2", "/second"]
    assert (_row(view, "/second").open, view.truncated) == (False, False)
    assert _paths(asked)[-1] == "/second/b0"
    assert asked.truncated


async def test_ten_thousand_actors_give_a_bounded_view_in_bounded_time() -> None:
    """10,000 actors under one supervisor: a sample and a tree stay small and fast."""
    async with trouper.open_runtime() as rt:
        for _ in range(10_000):
            await rt.spawn(Echo)
        with Observer(rt) as observer:
            began = time.perf_counter()
            observer.sample()
            view = observer.tree(pages={"/": 5000})
            text = json.dumps(view.to_json())
            took = time.perf_counter() - began
    assert view.actors == 10_000
    assert len(view.rows) == 51
    assert isinstance(view.rows[0], LevelSummary)
    assert view.rows[0].by_state == {"running": 10_000}
    assert len(text) < 16_000
    assert took < 1.0, f"a sample and a tree of 10,000 actors took {took:.3f} s"


async def test_many_large_levels_stay_within_max_rows() -> None:
    """However the page opens nodes, a view never holds more than ``max_rows`` rows."""
    async with trouper.open_runtime() as rt:
        parents = [await rt.spawn(Parent, name=f"p{n}") for n in range(20)]
        for parent in parents:
            for n in range(20):
                await parent.ask(Spawn(f"{parent.address.path[1:]}-c{n}"))
        with Observer(rt, page_size=10, max_rows=50) as observer:
            view = observer.tree(open=[f"/p{n}" for n in range(20)])
    assert len(view.rows) == 50
    assert view.truncated


async def test_details_show_an_actor_with_its_recent_failures() -> None:
    """``actor(path)`` has the row's facts, the mailbox size, the parent and the failures."""
    async with trouper.open_runtime() as rt:
        top = await rt.spawn(Parent, name="top")
        child = await top.ask(Spawn("child"))
        assert isinstance(child, trouper.ActorRef)
        rt.topics.subscribe(child, "news.>")
        with Observer(rt) as observer:
            await crash(child)
            details = observer.actor("/top/child")
            missing = observer.actor("/top/nobody")
    assert details is not None
    assert (details.row.restarts, details.parent, details.restart, details.mailbox_size) == (
        1,
        "/top",
        "transient",
        1000,
    )
    assert (details.qualified_class, details.subscriptions) == ("observe_actors.Echo", ("news.>",))
    assert [failure.error for failure in details.failures] == ["ValueError: boom"]
    assert "in echo" in details.failures[0].traceback
    assert missing is None


async def test_feed_reports_what_happens_while_attached_and_nothing_after() -> None:
    """The observer's feed follows the runtime while attached; leaving the block detaches it."""
    async with trouper.open_runtime() as rt:
        a = await rt.spawn(Echo, name="a")
        with Observer(rt) as observer:
            await crash(a)
            await a.tell(3)
            await trio.testing.wait_all_tasks_blocked()
        await crash(a)
        kinds = [(item.kind, item.reason) for item in observer.feed().items]
    assert kinds == [
        ("dead_letter", "handler failed: ValueError: boom"),
        ("failed", "ValueError: boom"),
        ("restarted", "ValueError: boom"),
        ("started", None),
        ("dead_letter", "unhandled message"),
    ]


async def test_topics_list_patterns_with_their_subscribers() -> None:
    """Each pattern with its subscriber count and paths, most subscribed first."""
    async with trouper.open_runtime() as rt:
        a = await rt.spawn(Echo, name="a")
        b = await rt.spawn(Echo, name="b")
        rt.topics.subscribe(a, "prices.>")
        rt.topics.subscribe(b, "prices.>")
        rt.topics.subscribe(b, "news.*")
        with Observer(rt) as observer:
            topics = [(t.pattern, t.subscribers, t.shown) for t in observer.topics()]
            count = observer.summary().topics
    assert topics == [("prices.>", 2, ("/a", "/b")), ("news.*", 1, ("/b",))]
    assert count == 3


async def test_pools_list_their_router_and_members() -> None:
    """A pool shows its router, its members and the messages queued for them."""
    async with trouper.open_runtime() as rt:
        await rt.spawn_pool(Echo, 3, name="pool", router=Balancing())
        with Observer(rt) as observer:
            (pool,) = observer.pools()
            row = _row(observer.tree(), "/pool")
    assert (pool.path, pool.router, pool.members, pool.queued) == ("/pool", "Balancing", 3, 0)
    assert [member.path for member in pool.shown] == [f"/pool/member-{n}" for n in (1, 2, 3)]
    assert row.router == "Balancing"


async def test_summary_counts_actors_failures_restarts_and_dead_letters() -> None:
    """The summary totals the last sample and the feed's counts."""
    async with trouper.open_runtime() as rt:
        a = await rt.spawn(Echo, name="a")
        await rt.spawn(Echo, name="b")
        with Observer(rt) as observer:
            await crash(a)
            observer.sample()
            await trio.sleep(1)
            observer.sample()
            summary = observer.summary()
    assert (summary.actors, summary.by_state, summary.failures, summary.restarts) == (
        2,
        {"running": 2},
        1,
        1,
    )
    assert (summary.dead_letters, summary.pools) == (1, 0)


async def test_stop_stops_the_actor_at_a_path() -> None:
    """``stop(path)`` stops that actor for good; an unknown path is a ``LookupError``."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Echo, name="a")
        with Observer(rt) as observer:
            await observer.stop("/a")
            with pytest.raises(LookupError, match=r"^no actor at /a$"):
                await observer.stop("/a")
        assert rt.lookup("a") is None


async def test_restart_starts_a_supervisors_child_anew() -> None:
    """``restart(path)`` stops a ``Supervisor``'s child and starts it again from its spec."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Supervisor, [ChildSpec("a", Starting, name="a")], name="sup")
        before = rt.lookup("a")
        with Observer(rt) as observer:
            await observer.restart("/sup/a")
            kinds = [item.kind for item in observer.feed().items]
        after = rt.lookup("a")
        assert after is not None
        assert await after.ask("still here") == "still here"
    assert (after, kinds) == (before, ["stopped", "started"])


async def test_restart_restarts_an_actor_without_a_supervisor_parent() -> None:
    """An actor whose parent is not a ``Supervisor`` is restarted as ``Runtime.restart`` does."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Starting, name="a")
        with Observer(rt) as observer:
            await observer.restart("/a")
            kinds = [item.kind for item in observer.feed().items]
        assert rt.lookup("a") == ref
        assert await ref.ask("still here") == "still here"
    assert kinds == ["restarted", "started"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"page_size": 0}, "page_size must be an int >= 1, got 0"),
        ({"max_rows": "9"}, "max_rows must be an int >= 1, got '9'"),
    ],
)
async def test_bad_observer_options_are_refused_by_name(
    option: dict[str, object], message: str
) -> None:
    """Each option is checked and named in the error."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=rf"^{message}$"):
            Observer(rt, **option)  # type: ignore[arg-type]
