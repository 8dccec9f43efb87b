"""Serving the view: ``open_view`` and ``serve`` on Hypercorn's Trio worker, loopback by default."""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, cast

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from trouper.observe._app import Ticker, is_loopback_address, make_app
from trouper.observe._metrics import Metrics
from trouper.observe._observer import Observer
from trouper.runtime import Runtime

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

__all__ = ["ServedView", "check_host", "open_view", "serve"]

_GRACE = 1.0
"""Seconds open connections get to finish when the view closes."""

_STALLED = 5.0
"""Seconds a client may leave what was sent to it unread before its connection is cut.

Hypercorn writes to a socket under a shielded cancel scope, so a client that
stops reading (a stream piped into a pager, a frozen tab) once the buffers are
full would hold its task, and the view's close, for ever: no cancellation
reaches that write. The kernel's ``TCP_USER_TIMEOUT`` (Linux; inherited by
accepted sockets) aborts such a connection, which ends the write.
"""


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


def _check(port: int, interval: float) -> None:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
    # Finite: an infinite one never updates the page, and JSON (``/api/config``) cannot carry it.
    if not isinstance(interval, int | float) or not 0 < interval < math.inf:
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

    Raises:
        ValueError: a bad option, or a non-loopback ``host`` without ``allow_remote``.
        OSError: the address cannot be listened on (the port is taken).
    """
    check_host(host, allow_remote=allow_remote)
    _check(port, interval)
    observer = Observer(runtime, metrics=metrics, page_size=page_size, max_rows=max_rows)
    ticker = Ticker(observer, interval)
    app = make_app(observer, ticker, allow_control=allow_control, loopback_only=not allow_remote)
    config = Config()
    # Hypercorn would leave its socket open if the bind failed: bind here, hand it the fd.
    config.bind = [f"fd://{_bound(host, port).detach()}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("trouper.observe")
    config.graceful_timeout = _GRACE
    closing = trio.Event()
    with observer:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ticker.run)
                try:
                    binds: list[str] = await nursery.start(
                        partial(
                            hypercorn_serve,
                            cast("ASGIFramework", app),
                            config,
                            shutdown_trigger=closing.wait,
                        )
                    )
                except BaseException:
                    ticker.close()
                    raise
                url = binds[0] + "/"
                try:
                    yield ServedView(
                        url, int(url.rsplit(":", 1)[1].rstrip("/")), allow_control, observer
                    )
                finally:
                    ticker.close()
                    closing.set()
        except BaseExceptionGroup as group:
            # One error (the body's, or the socket's) leaves as itself, as from the runtime.
            single = _single_leaf(group)
            if single is None:
                raise
            raise single from None


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


def _single_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception inside nested one-member groups, or ``None``."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        if len(error.exceptions) != 1:
            return None
        error = error.exceptions[0]
    return error


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
    ) as view:
        task_status.started(view)
        await trio.sleep_forever()
