"""The view over real sockets: page, JSON API, server-sent updates, /metrics, control, safety."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing, asynccontextmanager

import httpx
import pytest
import trio
from observe_actors import Echo, Starting, crash

import trouper
from trouper import ChildSpec, Supervisor
from trouper.observe import CONTROL_HEADER, ServedView, open_view, serve

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""

Update = dict[str, object]


@asynccontextmanager
async def served(
    rt: trouper.Runtime, **options: object
) -> AsyncIterator[tuple[ServedView, httpx.AsyncClient]]:
    """The runtime's view on a free loopback port, and a client for it."""
    async with (
        open_view(rt, port=0, interval=0.05, **options) as view,  # type: ignore[arg-type]
        httpx.AsyncClient(base_url=view.url) as client,
    ):
        yield view, client


class Stream:
    """Reads one ``/api/events`` stream in a task; tests wait for the update they expect."""

    def __init__(self) -> None:
        self.updates: list[Update] = []
        self.ids: list[int] = []
        self.ended = trio.Event()
        self._changed = trio.Event()

    async def read(self, client: httpx.AsyncClient, params: Mapping[str, str | int]) -> None:
        try:
            async with client.stream("GET", "/api/events", params=params) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                async with aclosing(response.aiter_lines()) as lines:  # type: ignore[type-var]
                    async for line in lines:
                        if line.startswith("id: "):
                            self.ids.append(int(line[4:]))
                        elif line.startswith("data: "):
                            self.updates.append(json.loads(line[6:]))
                            self._changed.set()
                            self._changed = trio.Event()
        finally:
            self.ended.set()

    async def wait_for(self, done: Callable[[list[Update]], bool]) -> list[Update]:
        while not done(self.updates):
            await self._changed.wait()
        return self.updates


@asynccontextmanager
async def streaming(
    client: httpx.AsyncClient, params: Mapping[str, str | int]
) -> AsyncIterator[Stream]:
    """A ``Stream`` reading ``/api/events?params`` for the block; the block's end stops it."""
    stream = Stream()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stream.read, client, params)
        yield stream
        nursery.cancel_scope.cancel()


def _feed(updates: list[Update]) -> list[tuple[object, object]]:
    return [
        (item["kind"], item["path"])
        for update in updates
        for item in update.get("feed", {}).get("items", [])  # type: ignore[attr-defined]
    ]


def _rows(update: Update) -> dict[str, dict[str, object]]:
    tree = update["tree"]
    assert isinstance(tree, dict)
    return {row["path"]: row for row in tree["rows"] if row["kind"] == "actor"}


async def test_the_page_and_its_settings_are_served() -> None:
    """``/`` is the page (one HTML file); ``/api/config`` tells it how the view is set up."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            page = await client.get("/")
            config = (await client.get("/api/config")).json()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>trouper · live view</title>" in page.text
    assert config == {
        "allow_control": False,
        "interval": 0.05,
        "page_size": 50,
        "max_rows": 300,
        "node": "local",
    }


async def test_the_api_shows_the_tree_an_actors_details_and_a_missing_actor() -> None:
    """``/api/tree`` and ``/api/actor/{path}`` answer JSON; an unknown path is a 404."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            a = await rt.spawn(Echo, name="a")
            await crash(a)
            tree = (await client.get("/api/tree")).json()
            details = await client.get("/api/actor/a")
            missing = await client.get("/api/actor/a/b")
    assert [(row["path"], row["restarts"]) for row in tree["rows"]] == [("/a", 1)]
    assert details.json()["failures"][0]["error"] == "ValueError: boom"
    assert (missing.status_code, missing.json()) == (404, {"error": "no actor at /a/b"})


async def test_the_api_lists_topics_pools_the_feed_and_a_summary() -> None:
    """``/api/topics``, ``/api/pools``, ``/api/feed`` and ``/api/summary`` answer JSON."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (view, client):
            rt.topics.subscribe(await rt.spawn(Echo, name="a"), "news.>")
            await rt.spawn_pool(Echo, 2, name="pool")
            await rt.lookup("a").tell(3)  # type: ignore[union-attr]
            view.observer.sample()  # topics, pools and the summary are as of the last sample
            topics = (await client.get("/api/topics")).json()
            pools = (await client.get("/api/pools")).json()
            feed = (await client.get("/api/feed", params={"since": 0, "limit": 1})).json()
            summary = (await client.get("/api/summary")).json()
    assert [(t["pattern"], t["shown"]) for t in topics] == [("news.>", ["/a"])]
    assert [(p["path"], p["router"], p["members"]) for p in pools] == [("/pool", "RoundRobin", 2)]
    assert [item["kind"] for item in feed["items"]] == ["dead_letter"]
    assert summary["actors"] == 4


async def test_updates_stream_the_tree_then_crashes_restarts_and_dead_letters_as_they_happen() -> (
    None
):
    """The first update has everything; later ones bring the feed and the changed tree."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            await rt.spawn(Echo, name="a")
            async with streaming(client, {}) as stream:
                first = (await stream.wait_for(lambda updates: bool(updates)))[0]
                crashy = await rt.spawn(Echo, name="crashy")
                await crash(crashy)
                await crashy.tell(3)
                await stream.wait_for(
                    lambda updates: (
                        _feed(updates).count(("dead_letter", "/crashy")) == 2
                        and _rows(next(u for u in reversed(updates) if "tree" in u))
                        .get("/crashy", {})
                        .get("restarts")
                        == 1
                    )
                )
    assert set(first) >= {"summary", "tree", "topics", "pools"}
    assert list(_rows(first)) == ["/a"]
    assert [kind for kind, path in _feed(stream.updates) if path == "/crashy"] == [
        "started",
        "dead_letter",
        "failed",
        "restarted",
        "started",
        "dead_letter",
    ]


async def test_an_update_leaves_out_what_did_not_change() -> None:
    """Once the rates have settled, a quiet system's updates carry the summary only."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            await rt.spawn(Echo, name="a")
            async with streaming(client, {}) as stream:
                updates = await stream.wait_for(lambda updates: len(updates) >= 6)
    assert {"summary", "tree", "topics", "pools"} <= set(updates[0])
    # A new actor has a rate from its second sample on; after that nothing changes.
    assert [sorted(update) for update in updates[4:6]] == [["summary"], ["summary"]]


async def test_a_stream_resumes_after_the_feed_entry_it_names() -> None:
    """``since=N`` (or ``Last-Event-ID``) sends only the feed entries after N."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            await rt.spawn(Echo, name="a")
            await rt.spawn(Echo, name="b")
            async with streaming(client, {"since": 1}) as stream:
                await stream.wait_for(lambda updates: bool(updates))
    assert _feed(stream.updates[:1]) == [("started", "/b")]
    assert stream.ids[0] == 2


async def test_updates_stay_small_for_a_large_system() -> None:
    """With 2,000 actors the first update carries one page of the tree, not 2,000 rows."""
    with trio.fail_after(DEADLINE * 3):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            for _ in range(2_000):
                await rt.spawn(Echo)
            async with streaming(client, {"page": "/:1000"}) as stream:
                first = (await stream.wait_for(lambda updates: bool(updates)))[0]
    rows = first["tree"]["rows"]  # type: ignore[index]
    assert (len(rows), rows[0]["kind"], rows[0]["offset"], rows[1]["path"]) == (
        51,
        "level",
        1000,
        "/Echo-1001",
    )
    assert len(json.dumps(first)) < 40_000


async def test_metrics_are_served_as_prometheus_text() -> None:
    """``/metrics`` answers the text exposition format."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            a = await rt.spawn(Echo, name="a")
            await a.ask("x")
            response = await client.get("/metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'trouper_messages_handled_total{actor_class="Echo"} 1' in response.text.splitlines()


async def test_control_is_refused_when_the_view_is_read_only() -> None:
    """Without ``allow_control`` the control endpoints answer 403, and nothing stops."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            await rt.spawn(Echo, name="a")
            response = await client.post("/api/stop/a", headers={CONTROL_HEADER: "1"})
            alive = rt.lookup("a") is not None
    assert (response.status_code, response.json()["error"], alive) == (
        403,
        "control is off: the view is read-only (serve it with allow_control=True)",
        True,
    )


async def test_control_requires_the_pages_header_and_its_origin() -> None:
    """With control on, a request without the header, or from another origin, is refused."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt, allow_control=True) as (_view, client):
            await rt.spawn(Echo, name="a")
            bare = await client.post("/api/stop/a")
            foreign = await client.post(
                "/api/stop/a", headers={CONTROL_HEADER: "1", "Origin": "http://evil.example"}
            )
            alive = rt.lookup("a") is not None
    assert (bare.status_code, foreign.status_code, alive) == (403, 403, True)
    assert bare.json()["error"].startswith(
        f"a control request must carry the header '{CONTROL_HEADER}"
    )
    assert foreign.json()["error"] == (
        "refused a control request from another origin (http://evil.example)"
    )


async def test_control_stops_and_restarts_actors() -> None:
    """With control on: stop any actor, restart a ``Supervisor``'s child or any other actor."""
    headers = {CONTROL_HEADER: "1"}
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt, allow_control=True) as (_view, client):
            await rt.spawn(Echo, name="a")
            await rt.spawn(Supervisor, [ChildSpec("b", Starting, name="b")], name="sup")
            stopped = await client.post("/api/stop/a", headers=headers)
            restarted = await client.post("/api/restart/sup/b", headers=headers)
            top = await client.post("/api/restart/sup", headers=headers)
            missing = await client.post("/api/stop/a", headers=headers)
            names = (rt.lookup("a"), rt.lookup("b") is not None)
    assert (stopped.status_code, stopped.json()) == (200, {"ok": True, "path": "/a"})
    assert (restarted.status_code, names) == (200, (None, True))
    assert (top.status_code, top.json()) == (200, {"ok": True, "path": "/sup"})
    assert (missing.status_code, missing.json()) == (404, {"error": "no actor at /a"})


async def test_a_request_for_another_host_name_is_refused() -> None:
    """On loopback, a ``Host`` that is not a loopback name is refused (DNS rebinding)."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            refused = await client.get("/api/tree", headers={"Host": "evil.example:8765"})
            local = await client.get("/api/tree", headers={"Host": "localhost:8765"})
    assert (refused.status_code, local.status_code) == (403, 200)


async def test_serve_runs_in_a_nursery_until_cancelled() -> None:
    """``nursery.start(serve, rt, ...)`` returns the served view; cancelling closes the socket."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
            view: ServedView = await nursery.start(serve, rt, "127.0.0.1", 0)
            async with httpx.AsyncClient(base_url=view.url) as client:
                assert (await client.get("/api/summary")).status_code == 200
                nursery.cancel_scope.cancel()
    with pytest.raises(OSError, match=r"^all attempts to connect to 127.0.0.1:\d+ failed$"):
        await trio.open_tcp_stream("127.0.0.1", view.port)


async def test_closing_the_view_ends_the_open_streams() -> None:
    """Leaving ``open_view`` while a page is streaming ends its stream and returns promptly."""
    stream = Stream()
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
            async with open_view(rt, port=0, interval=0.05) as view:
                client = httpx.AsyncClient(base_url=view.url)
                nursery.start_soon(stream.read, client, {})
                await stream.wait_for(lambda updates: bool(updates))
            await stream.ended.wait()
            await client.aclose()


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com"])
async def test_a_host_beyond_loopback_is_refused_with_the_reason(host: str) -> None:
    """Only loopback addresses are served unless ``allow_remote=True`` says otherwise."""
    async with trouper.open_runtime() as rt:
        refused = (
            rf"^host must be a loopback address \(127\.0\.0\.1, ::1 or localhost\), got '{host}'"
        )
        with pytest.raises(ValueError, match=refused):
            async with open_view(rt, host, 0):
                pass


async def test_a_port_in_use_is_an_oserror() -> None:
    """A second view on a port already taken fails to open with ``OSError``."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, open_view(rt, port=0) as view:
            with pytest.raises(OSError, match=r"Address already in use"):
                async with open_view(rt, port=view.port):
                    pass
