"""The collector: a numbered feed of lifecycle reports and dead letters; failures per actor."""

from __future__ import annotations

import pytest
import trio
from observe_actors import Echo, cell

import trouper
from trouper import Address
from trouper.observe import Collector, FeedItem
from trouper.runtime import DeadLetter


def _raised(text: str) -> ValueError:
    try:
        raise ValueError(text)
    except ValueError as error:
        return error


async def test_feed_numbers_reports_in_order_and_returns_those_after_a_cursor() -> None:
    """Entries are numbered 1, 2, ...; ``feed(since)`` returns the ones after ``since``."""
    collector = Collector()
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        collector.actor_started(a)
        await trio.sleep(1)
        collector.actor_failed(a, _raised("boom"))
        collector.actor_restarted(a, _raised("boom"))
        start = trio.current_time()
        assert collector.feed(1).items == (
            FeedItem(2, start, "failed", "/a", "Echo", "ValueError: boom", None),
            FeedItem(3, start, "restarted", "/a", "Echo", "ValueError: boom", None),
        )
        assert (collector.feed(1).last, collector.feed(3).items, collector.last) == (3, (), 3)


async def test_feed_keeps_the_newest_entries_over_the_limit_and_counts_the_rest() -> None:
    """A reader behind by more than ``limit`` gets the newest entries and a count of the rest."""
    collector = Collector()
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        for _ in range(10):
            collector.actor_started(a)
        feed = collector.feed(0, limit=3)
    assert ([item.seq for item in feed.items], feed.skipped, feed.last) == ([8, 9, 10], 7, 10)


async def test_ring_is_bounded_and_entries_that_left_it_count_as_skipped() -> None:
    """Only ``keep`` entries are kept; a reader further behind learns how many it missed."""
    collector = Collector(keep=4)
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        for _ in range(10):
            collector.actor_started(a)
        feed = collector.feed(2)
    assert ([item.seq for item in feed.items], feed.skipped) == ([7, 8, 9, 10], 4)


async def test_a_cursor_from_another_collector_starts_over() -> None:
    """A cursor beyond the latest entry (a page that outlived its server) reads from the start."""
    collector = Collector()
    async with trouper.open_runtime() as rt:
        collector.actor_started(cell(await rt.spawn(Echo, name="a")))
        assert [item.seq for item in collector.feed(99).items] == [1]


async def test_dead_letters_show_reason_error_and_shortened_message() -> None:
    """A dead letter's entry has its reason (and error) and its message's ``repr``, cut short."""
    collector = Collector()
    async with trouper.open_runtime():
        collector.dead_letter(DeadLetter("x" * 500, Address("local", "/gone"), "actor stopped"))
        collector.dead_letter(
            DeadLetter(3, Address("local", "/a"), "handler failed", _raised("no"))
        )
        first, second = collector.feed().items
    assert (first.kind, first.path, first.reason, len(first.message or "")) == (
        "dead_letter",
        "/gone",
        "actor stopped",
        200,
    )
    assert (second.reason, second.message) == ("handler failed: ValueError: no", "3")


async def test_counts_reports_of_each_kind() -> None:
    """``counts`` has one total per feed kind."""
    collector = Collector()
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        collector.actor_started(a)
        collector.actor_failed(a, _raised("x"))
        collector.actor_failed(a, _raised("y"))
        collector.actor_stopped(a, None)
    assert collector.counts == {
        "started": 1,
        "failed": 2,
        "restarted": 0,
        "stopped": 1,
        "dead_letter": 0,
    }


async def test_failures_keep_the_latest_per_actor_with_their_traceback() -> None:
    """``failures(path)`` has the latest ``failures_per_actor``, oldest first, with tracebacks."""
    collector = Collector(failures_per_actor=2)
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        for text in ("one", "two", "three"):
            collector.actor_failed(a, _raised(text))
        failures = collector.failures("/a")
    assert [f.error for f in failures] == ["ValueError: two", "ValueError: three"]
    assert "in _raised" in failures[0].traceback
    assert "raise ValueError(text)" in failures[0].traceback
    assert collector.failures("/nobody") == ()


async def test_failures_are_kept_for_a_bounded_number_of_actors() -> None:
    """Beyond ``actors`` actors, the one that failed least recently is forgotten."""
    collector = Collector(actors=2)
    async with trouper.open_runtime() as rt:
        a, b, c = [cell(await rt.spawn(Echo, name=n)) for n in "abc"]
        collector.actor_failed(a, _raised("a1"))
        collector.actor_failed(b, _raised("b1"))
        collector.actor_failed(a, _raised("a2"))
        collector.actor_failed(c, _raised("c1"))
        kept = [len(collector.failures(path)) for path in ("/a", "/b", "/c")]
    assert kept == [2, 0, 1]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"keep": 0}, "keep must be an int >= 1, got 0"),
        ({"failures_per_actor": -1}, "failures_per_actor must be an int >= 1, got -1"),
        ({"actors": 1.5}, "actors must be an int >= 1, got 1.5"),
    ],
)
def test_bad_options_are_refused_by_name(option: dict[str, object], message: str) -> None:
    """Each option is checked and named in the error."""
    with pytest.raises(ValueError, match=rf"^{message}$"):
        Collector(**option)  # type: ignore[arg-type]
