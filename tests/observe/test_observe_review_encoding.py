"""Review: odd text in names, errors and messages reaches the page as JSON, never as a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import httpx
import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.observe import ServedView, open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""

LONE = "x\udcff"
"""A name with a lone surrogate, as ``os.fsdecode`` makes of an undecodable file name."""


@asynccontextmanager
async def served(rt: trouper.Runtime) -> AsyncIterator[tuple[ServedView, httpx.AsyncClient]]:
    """The runtime's view on a free loopback port, and a client for it."""
    async with (
        open_view(rt, port=0, interval=0.05) as view,
        httpx.AsyncClient(base_url=view.url) as client,
    ):
        yield view, client


async def first_update(client: httpx.AsyncClient) -> dict[str, object]:
    """The first update of ``/api/events`` (the stream is cut once it is read)."""
    updates: list[dict[str, object]] = []

    async def read(cancel_scope: trio.CancelScope) -> None:
        async with (
            client.stream("GET", "/api/events") as response,
            aclosing(response.aiter_lines()) as lines,  # type: ignore[type-var]
        ):
            async for line in lines:
                if line.startswith("data: "):
                    updates.append(json.loads(line[6:]))
                    cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read, nursery.cancel_scope)
    assert updates, "the stream ended before its first update"
    return updates[0]


class Raises(Actor):
    """Fails with an error whose text holds a lone surrogate."""

    @handler
    async def fail(self, message: str) -> None:
        raise ValueError(f"cannot open {LONE}")


async def test_an_actor_name_with_a_lone_surrogate_is_sent_escaped() -> None:
    """The tree, the actor's details and the stream answer, with the name as JSON escapes it."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            await rt.spawn(Actor, name=LONE)
            tree = await client.get("/api/tree")
            details = await client.get("/api/actor/x%ED%B3%BF")  # not a path: a 404, not a 500
            update = await first_update(client)
    assert tree.status_code == 200
    assert [row["name"] for row in tree.json()["rows"]] == [LONE]
    assert details.status_code == 404
    assert [row["name"] for row in update["tree"]["rows"]] == [LONE]  # type: ignore[index]


async def test_an_error_whose_text_holds_a_lone_surrogate_reaches_the_feed() -> None:
    """A failure's text is sent escaped in ``/api/feed``, the actor's details and the stream."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            ref = await rt.spawn(Raises, name="r")
            with pytest.raises(trouper.HandlerError):
                await ref.ask("go")
            await trio.testing.wait_all_tasks_blocked()
            feed = await client.get("/api/feed")
            details = await client.get("/api/actor/r")
            update = await first_update(client)
    reason = f"ValueError: cannot open {LONE}"
    assert feed.status_code == 200
    assert [i["reason"] for i in feed.json()["items"] if i["kind"] == "failed"] == [reason]
    assert [f["error"] for f in details.json()["failures"]] == [reason]
    items = update["feed"]["items"]  # type: ignore[index]
    assert [i["reason"] for i in items if i["kind"] == "failed"] == [reason]


async def test_metrics_with_a_lone_surrogate_in_a_label_are_served_escaped() -> None:
    """A class name or a dead letter's reason with a lone surrogate: ``/metrics`` answers.

    The exposition is UTF-8 text, where a lone surrogate has no form: the
    answer was a 500. It is written as JSON writes it, ``\\udcff``, its
    backslash escaped as Prometheus escapes one in a label value.
    """
    odd = type("Odd", (Actor,), {})
    odd.__qualname__ = LONE  # as a class made from a file's name might be shown
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            ref = await rt.spawn(odd, name="odd")
            rt.dead_letters.post(trouper.DeadLetter("m", ref.address, f"lost {LONE}"))
            response = await client.get("/metrics")
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert 'trouper_actors_alive{actor_class="x\\\\udcff"} 1' in lines
    assert 'trouper_dead_letters_total{reason="lost x\\\\udcff"} 1' in lines
