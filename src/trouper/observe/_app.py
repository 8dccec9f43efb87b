"""The web app: the page, its JSON API, its stream of updates, ``/metrics``, and control.

Theory of operation
-------------------
A Starlette app over one ``Observer``; Hypercorn's Trio worker runs it in
the runtime's own Trio thread (``_serve``), so handlers read the live cells
directly and never need a lock.

Updates reach the page as server-sent events (``/api/events``): a
``Ticker`` samples the observer at a fixed rate (2 per second by default)
while some stream follows (a sample walks every actor: a view nobody
follows idles, and answers that read the last sample refresh it first)
and wakes every open stream, which sends one ``update`` event with only the
sections that changed since it last sent them (summary, tree, topics, pools)
and the feed entries after its cursor, at most ``FEED_LIMIT`` of them. A
section is made once per sample and shared (``Ticker.sections``): streams with
the same view cost one tree between them. So an update is bounded in size
(the tree by ``max_rows``) and a page gets at most one per tick, however many
messages the actors handle. The page's view
state (open nodes, pages) is in the stream's query: changing it reopens the
stream, with the feed cursor (``since``) so that nothing is missed.
Closing the view closes the ticker, which ends every stream with its last
chunk (as does an error in a stream's body, which is then logged); the server
has told Hypercorn that it terminates, so each connection closes once its
answer is complete.

Safety: the page and the API only read. ``POST /api/stop/{path}`` and
``/api/restart/{path}`` answer 403 unless the view was served with
``allow_control=True``; even then they require the ``X-Trouper-Control``
header (a page from another origin cannot send it without a CORS preflight,
which this app never grants) and refuse an ``Origin`` that is not the
view's own. On loopback, a request whose ``Host`` is not a loopback name is
refused (DNS rebinding). Every answer forbids framing by another site (whose
visitor could be tricked into clicking Stop) and content sniffing.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
from collections.abc import Awaitable, Callable
from importlib import resources
from urllib.parse import urlsplit

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trouper._text import cut
from trouper.errors import ActorError
from trouper.observe._observer import Observer

__all__ = [
    "CONTROL_HEADER",
    "FEED_LIMIT",
    "Ticker",
    "host_is_loopback",
    "is_loopback_address",
    "make_app",
]

log = logging.getLogger("trouper.observe")

CONTROL_HEADER = "X-Trouper-Control"
"""The header a control request must carry (the page sets it)."""

FEED_LIMIT = 100
"""Feed entries one update carries at most (the rest are counted as skipped)."""

_VIEW_LIMIT = 200
"""Open or closed paths, or pages, one request may name at most (the last ones are taken)."""

_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def is_loopback_address(name: str) -> bool:
    """Whether ``name`` (no port, no brackets) is ``localhost`` or a loopback IP address.

    A name such as ``127.0.0.1.evil.example`` is not an address: refused.
    """
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_is_loopback(host: str) -> bool:
    """Whether a ``Host`` header names the loopback: ``localhost``, ``127.x.y.z`` or ``[::1]``.

    The port, if any, is ignored.
    """
    host = host.strip().lower()
    if host.startswith("["):
        name = host[1:].partition("]")[0]
    else:
        name = host.rpartition(":")[0] if host.count(":") == 1 else host
    return is_loopback_address(name)


class Ticker:
    """Samples the observer at a fixed rate while a page follows, and wakes the streams waiting.

    A sample walks every actor, so nobody following costs nothing: once a
    sample finds no stream waiting for the next one, the ticker idles until a
    stream waits again (and no sooner than an interval after the last sample).
    ``refresh()`` samples at once for an answer that reads the last sample, if
    that is older than an interval. ``close()`` ends the streams.
    """

    def __init__(self, observer: Observer, interval: float) -> None:
        self.observer = observer  # what it samples
        self.interval = interval  # seconds between samples
        self.closed = False  # set once: streams end, the ticker stops
        # The sections (JSON text) the streams computed since the last sample, by what they
        # show: the streams with one view share one tree per sample. Emptied at each sample.
        self.sections: dict[object, str] = {}
        self._tick = trio.Event()  # set (and replaced) at each sample
        self._scope = trio.CancelScope()  # the running loop's scope, cancelled by close()
        self._wanted = trio.Event()  # set when a stream waits (the idle ticker resumes)
        self._sampled_at = -math.inf  # Trio's clock at the last sample

    async def run(self) -> None:
        """Sample every ``interval`` seconds while a stream waits, until closed."""
        with self._scope:
            while True:
                self._sample()
                await trio.sleep(self.interval)
                if not self._tick.statistics().tasks_waiting:  # no stream waits now
                    self._wanted = trio.Event()
                    await self._wanted.wait()
                    await trio.sleep_until(self._sampled_at + self.interval)

    def _sample(self) -> None:
        try:
            self.observer.sample()
        except Exception:  # a bug of the view must not take the application down
            log.exception("trouper.observe could not sample the runtime (will retry)")
        self._sampled_at = trio.current_time()
        self.sections = {}
        tick, self._tick = self._tick, trio.Event()
        tick.set()

    def refresh(self) -> None:
        """Sample now if the last sample is older than an interval (the ticker idled)."""
        if not self.closed and trio.current_time() - self._sampled_at >= self.interval:
            self._sample()

    async def next(self) -> bool:
        """Wait for the next sample; ``False`` once the ticker is closed."""
        if self.closed:
            return False
        self._wanted.set()
        await self._tick.wait()
        return not self.closed

    def close(self) -> None:
        """Stop sampling and release every waiting stream."""
        self.closed = True
        self._scope.cancel()
        self._tick.set()


class _LoopbackOnly:
    """ASGI middleware: refuse requests whose ``Host`` is not a loopback name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next(
                (value.decode("latin-1") for key, value in scope["headers"] if key == b"host"),
                "",
            )
            if not host_is_loopback(host):
                response = PlainTextResponse(
                    f"refused: the host {host!r} is not a loopback name (this view is served "
                    "on loopback only)",
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


_HEADERS = (
    # No other site may frame the page: a framed page's Stop button could be
    # clicked by a visitor tricked into it (clickjacking), and its request
    # would come from the view's own origin.
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    # Answers are what their type says: text that holds actor names, messages
    # or a refused Host is never taken for a page.
    (b"x-content-type-options", b"nosniff"),
)


class _Hardened:
    """ASGI middleware: every answer carries ``_HEADERS``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_hardened)


def _dumps(value: object) -> str:
    # ASCII with escapes: a lone surrogate (a name or an error text made with
    # ``surrogateescape``) has no UTF-8 form and would fail the response.
    return json.dumps(value, separators=(",", ":"))


class _JSON(JSONResponse):
    """A JSON answer as ASCII, escapes included, as ``_dumps`` writes it."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, separators=(",", ":"), allow_nan=False).encode("ascii")


def _error(status: int, text: str) -> JSONResponse:
    return _JSON({"error": text}, status_code=status)


class _BadQuery(Exception):
    """A query value (or header) the API cannot read; answered 400 with this text."""


async def _bad_query(request: Request, error: Exception) -> Response:
    return _error(400, str(error))


_SHOWN_TEXT = 60
"""Characters of a value read from a request that an error repeats at most."""


def _count(what: str, text: str) -> int:
    """``text`` as an int >= 0 written in at most 18 ASCII digits; else ``_BadQuery`` on ``what``.

    ``int`` would also read ``-1``, ``+1``, ``1_0``, spaces and other scripts'
    digits, and ``str.isdigit`` alone lets ``²`` through; 18 digits hold any
    cursor, limit or offset and keep ``int`` from reading thousands of them.
    """
    if not (text.isascii() and text.isdigit()):
        raise _BadQuery(
            f"{what} must be a whole number >= 0 in ASCII digits, got {cut(text, _SHOWN_TEXT)!r}"
        )
    if len(text) > 18:
        raise _BadQuery(f"{what} must have at most 18 digits, got {len(text)} digits")
    return int(text)


def _single(request: Request, name: str) -> str | None:
    """The query's one value of ``name`` (``None`` if absent); given twice is refused."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise _BadQuery(f"{name} is given {len(values)} times: give it once")
    return values[0] if values else None


class _ViewQuery:
    """The page's view state, from a request's query: open and closed paths, pages.

    Raises:
        _BadQuery: a ``page`` is not ``PATH:N`` with ``N`` a count.
    """

    __slots__ = ("closed", "key", "open", "pages")

    def __init__(self, request: Request) -> None:
        params = request.query_params
        # The page sends its choices oldest first (paths of actors gone since included):
        # past the limit, the latest are the ones kept.
        self.open = params.getlist("open")[-_VIEW_LIMIT:]  # paths the page opened
        self.closed = params.getlist("closed")[-_VIEW_LIMIT:]  # paths the page closed
        self.pages: dict[str, int] = {}  # per parent path, the first child shown
        for page in params.getlist("page")[-_VIEW_LIMIT:]:
            path, _, offset = page.rpartition(":")
            if not path:
                raise _BadQuery(
                    f"page must be PATH:N (N the first child shown), got {cut(page, _SHOWN_TEXT)!r}"
                )
            self.pages[path] = _count(f"page {cut(page, _SHOWN_TEXT)}: the offset", offset)
        # Equal for two queries that show the same tree.
        self.key = (frozenset(self.open), frozenset(self.closed), frozenset(self.pages.items()))


def _since(request: Request) -> int:
    """The feed cursor a request resumes after: the later of ``since`` and ``Last-Event-ID``.

    A browser reopens a stream by itself at the same address (whose ``since``
    is the cursor of when the page opened it), saying in ``Last-Event-ID`` the
    last update it received since.

    Raises:
        _BadQuery: either is given but is not a count.
    """
    since = _single(request, "since")
    header = request.headers.get("last-event-id")
    cursors = [0]
    if since is not None:
        cursors.append(_count("since", since))
    if header is not None:
        cursors.append(_count("the Last-Event-ID header", header))
    return max(cursors)


def make_app(
    observer: Observer, ticker: Ticker, *, allow_control: bool, loopback_only: bool
) -> ASGIApp:
    """Build the ASGI app of the view over ``observer``."""
    page = (resources.files("trouper.observe") / "static" / "index.html").read_bytes()
    config = {
        "allow_control": allow_control,
        "interval": ticker.interval,
        "page_size": observer.page_size,
        "max_rows": observer.max_rows,
        "node": observer.runtime.node,
    }

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    async def get_config(request: Request) -> Response:
        return _JSON(config)

    async def summary(request: Request) -> Response:
        ticker.refresh()
        return _JSON(observer.summary().to_json())

    async def tree(request: Request) -> Response:
        ticker.refresh()
        view = _ViewQuery(request)
        return _JSON(observer.tree(open=view.open, closed=view.closed, pages=view.pages).to_json())

    async def actor(request: Request) -> Response:
        path = "/" + request.path_params["path"]
        ticker.refresh()
        details = observer.actor(path)
        if details is None:
            return _error(404, f"no actor at {path}")
        return _JSON(details.to_json())

    async def topics(request: Request) -> Response:
        ticker.refresh()
        return _JSON([topic.to_json() for topic in observer.topics()])

    async def pools(request: Request) -> Response:
        ticker.refresh()
        return _JSON([pool.to_json() for pool in observer.pools()])

    async def feed(request: Request) -> Response:
        limit = _single(request, "limit")
        since = _since(request)
        return _JSON(
            observer.feed(
                since, limit=FEED_LIMIT if limit is None else _count("limit", limit)
            ).to_json()
        )

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(observer.metrics.exposition(), media_type=_PROMETHEUS)

    async def events(request: Request) -> Response:
        # HEAD (``curl -I``) gets the stream's head alone: the updates never end, and the
        # connection would serve nothing after them.
        # The query is read (and a bad one refused) for a HEAD too: it answers as the GET would.
        view, since = _ViewQuery(request), _since(request)
        updates = (
            _NoUpdates() if request.method == "HEAD" else _Updates(observer, ticker, view, since)
        )
        return _EventStream(
            updates,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def control(
        action: Callable[[str], Awaitable[None]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            refusal = _refusal(request, allow_control)
            if refusal is not None:
                return _error(403, refusal)
            path = "/" + request.path_params["path"]
            try:
                await action(path)
            except LookupError as error:
                return _error(404, str(error))
            except (ValueError, ActorError) as error:
                # ActorError: the restarted child failed to start, or it (or its
                # supervisor) stopped meanwhile: an answer, not a crash of the view.
                return _error(409, str(error))
            return _JSON({"ok": True, "path": path})

        return endpoint

    app: ASGIApp = Starlette(
        routes=[
            Route("/", index),
            Route("/api/config", get_config),
            Route("/api/summary", summary),
            Route("/api/tree", tree),
            Route("/api/actor/{path:path}", actor),
            Route("/api/topics", topics),
            Route("/api/pools", pools),
            Route("/api/feed", feed),
            Route("/api/events", events),
            Route("/metrics", metrics),
            Route("/api/stop/{path:path}", control(observer.stop), methods=["POST"]),
            Route("/api/restart/{path:path}", control(observer.restart), methods=["POST"]),
        ],
        exception_handlers={_BadQuery: _bad_query},
    )
    return _Hardened(_LoopbackOnly(app) if loopback_only else app)


def _refusal(request: Request, allow_control: bool) -> str | None:
    """Why a control request is refused, or ``None`` if it may go ahead."""
    if not allow_control:
        return "control is off: the view is read-only (serve it with allow_control=True)"
    if request.headers.get(CONTROL_HEADER) != "1":
        return (
            f"a control request must carry the header '{CONTROL_HEADER}: 1' "
            "(a guard against requests from other sites)"
        )
    origin = request.headers.get("origin")
    if origin is not None and not _same_origin(origin, request.headers.get("host")):
        return f"refused a control request from another origin ({origin})"
    return None


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether an ``Origin`` header names ``host``; not if it cannot be read (``http://[x``)."""
    try:
        return host is not None and urlsplit(origin).netloc == host
    except ValueError:
        return False


class _EventStream(StreamingResponse):
    """A streamed answer that the client's leaving cuts, but whose own end nothing cuts.

    Starlette's ``StreamingResponse`` (for a server of ASGI spec below 2.4, as
    Hypercorn is) sends the body beside a listener for ``http.disconnect``, and
    whichever ends first cancels the other. When the stream ends from our side
    (the view closing), its last send is where Hypercorn, its answer complete,
    tells the app ``http.disconnect`` and, once the server is closing, closes the
    socket: the listener's cancel then cut that close short, and the connection
    stayed open until the view's shutdown grace ran out. Here the listener is
    stopped before the last send. An error of the body ends the answer as well,
    with its last chunk, and is raised then.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._stream(receive, send)
        except BaseExceptionGroup as group:
            # An error of a send (or of the client's side) leaves as itself, as from any
            # other answer, so that it is logged as the error it is, not as a group of one.
            error = group.exceptions[0] if len(group.exceptions) == 1 else None
            if not isinstance(error, Exception) or isinstance(error, BaseExceptionGroup):
                raise
            raise error from None

    async def _stream(self, receive: Receive, send: Send) -> None:
        ended = False  # the body ran to its end, or raised (the client did not leave first)
        failure: Exception | None = None  # what the body raised, raised again once ended
        async with trio.open_nursery() as nursery:

            async def until_the_client_leaves() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                nursery.cancel_scope.cancel()

            nursery.start_soon(until_the_client_leaves)
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            chunks = aiter(self.body_iterator)
            while True:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except Exception as error:
                    # The answer still ends as an answer (its last chunk): a client sees a
                    # finished stream and reconnects, not a protocol error. The error is
                    # raised once it has, to be logged as any other answer's.
                    failure = error
                    break
                body = chunk.encode(self.charset) if isinstance(chunk, str) else bytes(chunk)
                await send({"type": "http.response.body", "body": body, "more_body": True})
            ended = True
            nursery.cancel_scope.cancel()
        if ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        if failure is not None:
            raise failure


class _NoUpdates:
    """The body of a ``HEAD`` answer to ``/api/events``: no update at all."""

    def __aiter__(self) -> _NoUpdates:
        return self

    async def __anext__(self) -> str:
        raise StopAsyncIteration


class _Updates:
    """The server-sent events of one page: an update per sample, with only what changed.

    An iterator object rather than an async generator, so that a stream cut
    by a disconnecting page leaves no generator to finalize.
    """

    def __init__(self, observer: Observer, ticker: Ticker, view: _ViewQuery, since: int) -> None:
        self.observer = observer  # where updates come from
        self.ticker = ticker  # when they are due
        self.view = view  # the page's open nodes and pages
        self.cursor = since  # the number of the last feed entry sent
        self.sent: dict[str, str] = {}  # each section as last sent (JSON text)
        self.first = True  # the first update goes out at once, later ones at each sample

    def __aiter__(self) -> _Updates:
        return self

    async def __anext__(self) -> str:
        while True:
            if self.first:
                self.first = False
                await trio.lowlevel.checkpoint()
                self.ticker.refresh()  # the ticker may have idled: nobody followed
            elif not await self.ticker.next():
                raise StopAsyncIteration
            update = self._update()
            if update is not None:
                return update

    def _tree(self) -> dict[str, object]:
        view = self.view
        tree = self.observer.tree(open=view.open, closed=view.closed, pages=view.pages).to_json()
        del tree["time"]  # so that an unchanged tree is not sent again
        return tree

    def _update(self) -> str | None:
        observer, shared = self.observer, self.ticker.sections
        parts = []
        for name, key, make in (
            ("summary", "summary", lambda: observer.summary().to_json()),
            ("tree", ("tree", self.view.key), self._tree),
            ("topics", "topics", lambda: [topic.to_json() for topic in observer.topics()]),
            ("pools", "pools", lambda: [pool.to_json() for pool in observer.pools()]),
        ):
            text = shared.get(key)
            if text is None:
                text = shared[key] = _dumps(make())
            if self.sent.get(name) != text:
                self.sent[name] = text
                parts.append(f'"{name}":{text}')
        feed = observer.feed(self.cursor, limit=FEED_LIMIT)
        if feed.items or feed.skipped:
            parts.append(f'"feed":{_dumps(feed.to_json())}')
        self.cursor = feed.last
        if not parts:
            return None
        # The summary carries the sample's time, so every sample sends at least that:
        # the stream's heartbeat.
        return f"id: {self.cursor}\nevent: update\ndata: {{{','.join(parts)}}}\n\n"
