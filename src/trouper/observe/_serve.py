"""Serving the view: ``open_view`` and ``serve`` on Hypercorn's Trio worker, loopback by default."""

from __future__ import annotations

import errno
import logging
import math
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from typing import TYPE_CHECKING, cast

import attrs
import trio
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState

from trouper._groups import single_leaf
from trouper._validate import check_port, check_positive_int, check_seconds
from trouper.observe._app import Ticker, is_loopback_address, make_app
from trouper.observe._metrics import Metrics
from trouper.observe._observer import Observer
from trouper.runtime import Runtime

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

__all__ = ["ServedView", "check_host", "open_view", "serve"]

log = logging.getLogger("trouper.observe")

_SHUTDOWN = 1.0
"""Seconds open connections get to finish when the view closes, unless told otherwise."""

_STALLED = 5.0
"""Seconds a client may leave what was sent to it unread before its connection is cut.

Hypercorn writes to a socket under a shielded cancel scope, so a client that
stops reading (a stream piped into a pager, a frozen tab) once the buffers are
full would hold its task for ever: no cancellation reaches that write. The
kernel's ``TCP_USER_TIMEOUT`` (Linux; inherited by accepted sockets) aborts
such a connection, which ends the write. (The view's close does not wait for
it: ``_Server`` closes the sockets still open once ``shutdown`` has passed.)
"""


_REFUSING = 16
"""Connections past the cap answered 503 at once at most; more are closed without an answer."""

_REFUSE_WAIT = 1.0
"""Seconds a refused connection is given to send its request and read the 503."""

_ACCEPT_CAPACITY_ERRNOS = frozenset(
    code
    for code in (getattr(errno, name, None) for name in ("EMFILE", "ENFILE", "ENOMEM", "ENOBUFS"))
    if code is not None
)
"""``accept`` failing with these means the process or the system is out of room: wait, retry."""


@attrs.frozen
class ServedView:
    """A view being served: where to point a browser, and the observer behind it."""

    url: str
    """The page's address, such as ``http://127.0.0.1:8765/`` (the real port if 0 was asked)."""
    port: int
    """The port it listens on."""
    allow_control: bool
    """Whether the page may stop and restart actors."""
    observer: Observer = attrs.field(eq=False, repr=False)
    """What the page shows comes from here."""


def check_host(host: str, *, allow_remote: bool = False) -> str:
    """Return ``host`` if the view may listen there: loopback only, unless ``allow_remote``.

    Raises:
        ValueError: ``host`` is not a loopback address and ``allow_remote`` is false.
    """
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be an address such as '127.0.0.1', got {host!r}")
    if not allow_remote and not is_loopback_address(host):
        raise ValueError(
            f"host must be a loopback address (127.0.0.1, ::1 or localhost), got {host!r}: "
            "the view shows every actor and failure of this process and has no "
            "authentication; to listen elsewhere pass allow_remote=True and put an "
            "authenticating proxy in front of it"
        )
    return host


def _check(port: int, interval: float, max_connections: int, shutdown: float) -> None:
    check_port(port, lowest=0)
    check_positive_int("max_connections", max_connections)
    check_seconds("shutdown", shutdown)
    # Finite: an infinite one never updates the page, and JSON (``/api/config``) cannot carry it.
    if (
        not isinstance(interval, int | float)
        or isinstance(interval, bool)
        or not 0 < interval < math.inf
    ):
        raise ValueError(f"interval must be finite seconds > 0, got {interval!r}")


@asynccontextmanager
async def open_view(
    runtime: Runtime,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    allow_control: bool = False,
    allow_remote: bool = False,
    metrics: Metrics | None = None,
    interval: float = 0.5,
    page_size: int = 50,
    max_rows: int = 300,
    max_connections: int = 64,
    shutdown: float = _SHUTDOWN,
) -> AsyncIterator[ServedView]:
    """Serve the live view of ``runtime`` for the duration of an ``async with`` block.

    The page and its JSON API are served by Hypercorn's Trio worker in the
    runtime's own Trio thread, on ``host:port`` (port 0 picks a free one; the
    ``ServedView`` says which). Leaving the block closes the streams and the
    listening socket, and detaches the observer. Open it inside the
    runtime's block (it must close before the runtime does)::

        async with trouper.open_runtime() as rt, trouper.observe.open_view(rt) as view:
            print("open", view.url)

    Args:
        runtime: the runtime to show.
        host: a loopback address (``127.0.0.1``, ``::1``, ``localhost``).
        port: the port to listen on.
        allow_control: let the page stop and restart actors (``POST``
            endpoints, which answer 403 otherwise). Never expose that beyond
            loopback without an authenticating proxy.
        allow_remote: allow a non-loopback ``host`` (and any ``Host``
            header). The view has no authentication of its own.
        metrics: a ``Metrics`` to install and serve at ``/metrics``; by
            default one that counts without timing handlers.
        interval: seconds between updates of the page (the sampling rate).
        page_size: children of one tree level shown at a time.
        max_rows: rows of the tree sent to the page at most.
        max_connections: connections served at once at most (each open page
            holds one for its updates, a browser a few more), each serving
            one request at a time (HTTP/2 included). A connection
            past the cap is answered ``503`` and closed; past the cap and 16
            being refused, it is closed unanswered. So the view never holds
            more than ``max_connections + 16`` connections open, however many
            a client opens.
        shutdown: seconds a connection still busy gets to finish once the
            block is left, after which it is cut. The update streams end and
            the idle connections close at once; an answer being written to a
            slow client may need them.

    Raises:
        ValueError: a bad option, or a non-loopback ``host`` without ``allow_remote``.
        OSError: the address cannot be listened on (the port is taken).
    """
    check_host(host, allow_remote=allow_remote)
    _check(port, interval, max_connections, shutdown)
    observer = Observer(runtime, metrics=metrics, page_size=page_size, max_rows=max_rows)
    ticker = Ticker(observer, interval)
    app = make_app(observer, ticker, allow_control=allow_control, loopback_only=not allow_remote)
    config = Config()
    config.accesslog = None
    config.errorlog = log
    config.graceful_timeout = shutdown
    # One request at a time on a connection, whatever its protocol: HTTP/2 (which Hypercorn
    # speaks to a client that opens with its preface, or asks for h2c) would carry up to 100
    # update streams on each connection, and max_connections would bound nothing.
    config.h2_max_concurrent_streams = 1
    sock = _bound(host, port)
    server = _Server(cast("ASGIFramework", app), config, sock, max_connections, shutdown)
    with observer, closing(sock):  # (closed by the server once it runs; twice does no harm)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ticker.run)
                try:
                    url = await nursery.start(server.run)
                except BaseException:
                    ticker.close()
                    server.close()  # (if it started: only close() ends it)
                    raise
                try:
                    yield ServedView(
                        url, int(url.rsplit(":", 1)[1].rstrip("/")), allow_control, observer
                    )
                finally:
                    ticker.close()
                    server.close()
        except BaseExceptionGroup as group:
            # One error (the body's, or the socket's) leaves as itself, as from the runtime.
            single = single_leaf(group)
            if single is None:
                raise
            raise single from None


class _Server:
    """Hypercorn's HTTP connections behind an accept loop of ours, which caps them.

    Hypercorn's own ``serve`` accepts every connection it can (each one a file
    descriptor of the application's process), so the view accepts them itself
    and hands each one under the cap to Hypercorn's ``TCPServer``, as
    Hypercorn's worker does. ``close()`` stops accepting (the listening socket
    closes at once: a connection the kernel would queue is refused instead) and
    drops the connections being refused; the ones served then close once their
    answer is complete (Hypercorn's graceful shutdown; a request a client sent
    behind it is not answered), within ``shutdown`` seconds, after which they
    are cancelled, and the sockets of any still open are closed under them (a
    cancel does not reach Hypercorn's writes, which are shielded). Only ``close()`` (or a failure)
    ends ``run()``: a cancel from outside does not reach the connections, so
    that they close as on ``close()``, streams ended with their last chunk.
    """

    def __init__(
        self,
        app: ASGIFramework,
        config: Config,
        sock: socket.socket,
        max_connections: int,
        shutdown: float,
    ) -> None:
        self._app = ASGIWrapper(app)  # the app, as Hypercorn's protocols call it
        self._config = config  # Hypercorn's options (timeouts, logs)
        self._context = WorkerContext(None)  # tells connections the server is closing
        self._socket = sock  # bound, not yet listening; the listener owns it once run
        self._max_connections = max_connections  # connections served at once at most
        # The connections being served now (at most _max_connections), each removed once its
        # task has closed it; _served_less is set (and replaced) whenever one is removed.
        self._served: set[trio.SocketStream] = set()
        self._served_less = trio.Event()
        # The cancel scopes of the connections being answered 503 now (at most _REFUSING),
        # each a refusal's deadline; close() cancels them.
        self._refusals: set[trio.CancelScope] = set()
        self._busy = _busy_answer(max_connections)  # the whole 503 answer
        self._accepting = trio.CancelScope()  # the accept loop's, cancelled by close()
        self._shutdown = shutdown  # seconds connections get to finish after close()

    def close(self) -> None:
        """Stop accepting; connections being served get ``shutdown`` seconds to finish."""
        self._accepting.cancel()
        for refusal in self._refusals:  # (nothing more to tell them: the server is going)
            refusal.cancel()

    async def run(self, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, report the page's URL, and serve until ``close()``."""
        sock = self._socket
        try:
            sock.listen(self._config.backlog)
            address = sock.getsockname()
        except BaseException:
            sock.close()
            raise
        host = f"[{address[0]}]" if sock.family == socket.AF_INET6 else address[0]
        listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
        async with listener:
            # Shielded: a cancel from outside (serve() stopped by its caller's scope) neither
            # cuts the connections short nor ends the streams without their last chunk. The
            # server closes as when the view's block is left, from close() (which open_view
            # calls either way), within its own deadline (shutdown).
            with trio.CancelScope(shield=True):
                await self._serve_all(listener, f"http://{host}:{address[1]}/", task_status)

    async def _serve_all(
        self, listener: trio.SocketListener, url: str, task_status: trio.TaskStatus[str]
    ) -> None:
        """Accept and serve connections until ``close()``, then close them."""
        async with trio.open_nursery() as connections:
            try:
                task_status.started(url)
                with self._accepting:
                    await self._accept(listener, connections)
            finally:
                # Told before the streams end (ticker.close() woke them with this task, and
                # the set has no checkpoint), each connection closes once its answer is
                # complete: a request the client sent behind it is never answered, rather
                # than answered or cut by chance (Hypercorn's idle close racing with it).
                # (_Served ends the task of such a connection, whose reader Hypercorn
                # leaves parked on that request.)
                await self._context.terminated.set()
                # No connection is taken from now on: one the kernel queued would wait
                # unserved through the shutdown grace, then be reset.
                await listener.aclose()
                deadline = trio.current_time() + self._shutdown
                connections.cancel_scope.deadline = deadline
                connections.start_soon(self._cut_late, deadline)

    async def _cut_late(self, deadline: float) -> None:
        """Close the sockets of the connections still served at ``deadline``.

        Their tasks are cancelled then, but a task in Hypercorn's write to a
        client that reads nothing (shielded) would not see it before the
        kernel gives up on the client (``_STALLED``, and only on Linux): closing
        the socket ends that write at once.
        """
        with trio.CancelScope(shield=True):  # (the connections' nursery is being cancelled)
            with trio.move_on_at(deadline):
                while self._served:
                    await self._served_less.wait()
            for stream in self._served:
                stream.socket.close()

    async def _accept(self, listener: trio.SocketListener, connections: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in _ACCEPT_CAPACITY_ERRNOS:
                    raise
                log.error("trouper.observe cannot accept a connection (%s); retrying", error)
                await trio.sleep(0.1)
                continue
            if len(self._served) < self._max_connections:
                self._served.add(stream)
                connections.start_soon(self._serve, stream)
            elif len(self._refusals) < _REFUSING:
                refusal = trio.CancelScope(deadline=trio.current_time() + _REFUSE_WAIT)
                self._refusals.add(refusal)
                connections.start_soon(self._refuse, stream, refusal)
            else:
                await trio.aclose_forcefully(stream)

    async def _serve(self, stream: trio.SocketStream) -> None:
        try:
            with trio.CancelScope() as connection:
                await TCPServer(
                    self._app,
                    self._config,
                    self._context,
                    ConnectionState({}),
                    # (typed for TLS streams; a plain one is served as a socket's)
                    _Served(stream, connection, self._context),  # type: ignore[arg-type]
                )
        finally:
            try:
                # (as trio.serve_listeners: TCPServer's own close is lost if cancelled)
                await trio.aclose_forcefully(stream)
            finally:  # (which re-raises a cancel from outside, having closed the stream)
                self._served.discard(stream)
                self._served_less.set()
                self._served_less = trio.Event()

    async def _refuse(self, stream: trio.SocketStream, refusal: trio.CancelScope) -> None:
        """Answer 503 and close: after the request's head, so the close resets nothing unread.

        ``refusal`` bounds the whole answer (``_REFUSE_WAIT``, or the view's close).
        """
        try:
            with refusal:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 16384:
                    chunk = await stream.receive_some(4096)
                    if not chunk:
                        break
                    head += chunk
                await stream.send_all(self._busy)
                await stream.send_eof()
                while await stream.receive_some(4096):  # until the client closes its side
                    pass
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            self._refusals.discard(refusal)
            await trio.aclose_forcefully(stream)


class _Served:
    """A served connection's stream, which ends the connection's task if closed in the close.

    Hypercorn 0.18 closes a connection whose answer completes once the server
    terminates, but if its client sent a request behind that answer, leaves the
    connection's reader parked on it (h11 paused, waiting to be told it may read)
    until it is cancelled: that held the view's close for its whole grace. Nothing
    more can be sent or read on a closed socket, so its task is cancelled then.
    (Before the server terminates, Hypercorn closes a connection only once its
    answers are done with, or its client is gone; its task ends by itself.)
    It has what Hypercorn uses of a plain ``trio.SocketStream`` (no TLS).
    """

    def __init__(
        self, stream: trio.SocketStream, connection: trio.CancelScope, context: WorkerContext
    ) -> None:
        self._stream = stream  # the accepted connection; the server closes it again after
        self._connection = connection  # the scope of the connection's task
        self._context = context  # says whether the server terminates

    @property
    def socket(self) -> trio.socket.SocketType:
        """The connection's socket, where Hypercorn reads the addresses of both ends."""
        return self._stream.socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Receive from the client, as ``trio.SocketStream.receive_some``."""
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes) -> None:
        """Send to the client, as ``trio.SocketStream.send_all``."""
        await self._stream.send_all(data)

    async def send_eof(self) -> None:
        """Close the sending side, as ``trio.SocketStream.send_eof``."""
        await self._stream.send_eof()

    async def aclose(self) -> None:
        """Close the connection; once the server terminates, end its task too."""
        try:
            await self._stream.aclose()
        finally:
            if self._context.terminated.is_set():
                self._connection.cancel()


def _busy_answer(max_connections: int) -> bytes:
    """The whole HTTP answer of a connection past the cap."""
    body = (
        f"busy: the view already serves max_connections={max_connections} connections; "
        "try again later\n"
    ).encode()
    return (
        b"HTTP/1.1 503 Service Unavailable\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"X-Content-Type-Options: nosniff\r\n"
        b"Retry-After: 1\r\n"
        b"Connection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _bound(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening), closed again if that fails."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(_STALLED * 1000))
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def serve(
    runtime: Runtime,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    allow_control: bool = False,
    allow_remote: bool = False,
    metrics: Metrics | None = None,
    interval: float = 0.5,
    page_size: int = 50,
    max_rows: int = 300,
    max_connections: int = 64,
    shutdown: float = _SHUTDOWN,
    task_status: trio.TaskStatus[ServedView] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the live view of ``runtime`` until cancelled (for ``nursery.start``).

    Takes the options of ``open_view``; ``nursery.start(serve, rt)`` returns
    the ``ServedView`` once the socket listens::

        async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
            view = await nursery.start(trouper.observe.serve, rt)
            ...
            nursery.cancel_scope.cancel()
    """
    async with open_view(
        runtime,
        host,
        port,
        allow_control=allow_control,
        allow_remote=allow_remote,
        metrics=metrics,
        interval=interval,
        page_size=page_size,
        max_rows=max_rows,
        max_connections=max_connections,
        shutdown=shutdown,
    ) as view:
        task_status.started(view)
        await trio.sleep_forever()
