"""A TCP stream driven by ``trio.lowlevel`` waits, without a scheduler round per call.

``trio.SocketStream`` makes every call a full checkpoint: a ``send`` or
``recv`` that succeeds at once still yields to the scheduler, and a receive
that has to wait first tries a ``recv`` that fails with ``EAGAIN``. The
client's reader and writer are the only users of their connection and yield
where it matters themselves (the writer parks between sends, the reader
yields after a receive that did not wait, see ``waited``), so this stream
skips those rounds: on a request/reply round trip it saves two system calls
and two scheduler rounds per side. A receive that follows one which emptied
the socket (it returned fewer bytes than asked) waits for the socket to be
readable before it reads, as an event loop does, instead of first trying a
``recv`` that would fail with ``EAGAIN``: one system call and one raised
exception fewer per message received after a quiet spell. It still waits
through Trio (``wait_readable``/``wait_writable``), so cancellation and
``aclose()`` from another task work as with any Trio stream.
"""

from __future__ import annotations

import socket

import trio
from trio.lowlevel import checkpoint, notify_closing, wait_readable, wait_writable

__all__ = ["SocketTransport", "open_transport"]


class SocketTransport(trio.abc.Stream):
    """A connected, non-blocking TCP socket as a ``trio.abc.Stream``.

    One task may send and another receive at the same time (the client's
    writer and reader); two tasks must not send (or receive) at once.
    """

    __slots__ = ("_drained", "_sock", "waited")

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        # The socket; closed (fileno -1) after aclose().
        self._sock = sock
        # Whether the last receive_some had to wait for data (it then yielded).
        self.waited = False
        # Whether the last recv returned fewer bytes than asked: the socket was
        # empty then, so the next receive waits for readability before reading.
        self._drained = False

    @property
    def socket(self) -> socket.socket:
        """The socket itself (for a non-blocking ``send`` while no task sends)."""
        return self._sock

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send every byte, waiting for room when the kernel's buffer is full."""
        sock = self._sock
        if sock.fileno() == -1:
            raise trio.ClosedResourceError("the connection was closed")
        with memoryview(data) as view:
            total = len(view)
            sent = 0
            while sent < total:
                try:
                    sent += sock.send(view[sent:])
                except BlockingIOError:
                    await wait_writable(sock)

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the socket can take more bytes."""
        await wait_writable(self._sock)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return the bytes available (at most ``max_bytes``), waiting for some; b"" at EOF."""
        sock = self._sock
        size = max_bytes or 65536
        if self._drained:
            self.waited = True
            await wait_readable(sock)
        else:
            self.waited = False
        while True:
            try:
                data = sock.recv(size)
            except BlockingIOError:
                self.waited = True
                await wait_readable(sock)
                continue
            self._drained = len(data) < size
            return data

    async def aclose(self) -> None:
        """Close the socket; tasks waiting on it get ``trio.ClosedResourceError``."""
        sock = self._sock
        if sock.fileno() != -1:
            notify_closing(sock)
            sock.close()
        await checkpoint()


async def open_transport(host: str, port: int) -> SocketTransport:
    """Connect with ``trio.open_tcp_stream`` (name resolution, happy eyeballs, TCP_NODELAY)."""
    stream = await trio.open_tcp_stream(host, port)
    fd = stream.socket.detach()
    return SocketTransport(socket.socket(fileno=fd))
