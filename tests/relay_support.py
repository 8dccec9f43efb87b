"""A TCP relay in front of a NATS server, for tests that fail a client's connection on purpose."""

from __future__ import annotations

import trio


class Relay:
    """Relays TCP connections to a server; it can drop, hold and cut what clients write.

    ``cut()`` closes every relayed connection and refuses new ones (counted in
    ``refused``) until ``heal()``. ``swallow_from(marker)`` drops what clients
    write from the first write that holds ``marker`` on (``swallow()``: from
    now on); ``swallowed`` is set at the first drop; ``heal()`` relays again.
    ``hold()`` holds what clients write (while the sockets' buffers fill)
    until ``release()``.
    """

    def __init__(self, url: str) -> None:
        # The server's port.
        self.port = int(url.rpartition(":")[2])
        # One scope per relayed connection; cancelling it closes both sides.
        self.scopes: list[trio.CancelScope] = []
        # Whether new connections are closed at once, and how many were.
        self.refusing = False
        self.refused = 0
        # The bytes from which on what clients write is dropped, or None.
        self.marker: bytes | None = None
        # Set once something a client wrote was dropped.
        self.swallowed = trio.Event()
        # Set while what clients write is relayed (not held).
        self.flowing = trio.Event()
        self.flowing.set()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Accept connections; report the relay's port once listening."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self.relay, listeners)

    async def relay(self, near: trio.SocketStream) -> None:
        """Relay one client's connection to the server, both ways."""
        async with near:
            if self.refusing:
                self.refused += 1
                return
            async with await trio.open_tcp_stream("127.0.0.1", self.port) as far:
                with trio.CancelScope() as scope:
                    self.scopes.append(scope)
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self.pump, near, far, True)
                        nursery.start_soon(self.pump, far, near, False)

    async def pump(self, source: trio.SocketStream, sink: trio.SocketStream, out: bool) -> None:
        """Copy ``source`` to ``sink``; what clients write (``out``) may be held or dropped."""
        async for data in source:
            if out and not self.flowing.is_set():
                await self.flowing.wait()
            if out and self.marker is not None and (self.swallowed.is_set() or self.marker in data):
                self.swallowed.set()
                continue
            await sink.send_all(data)

    def swallow_from(self, marker: bytes) -> None:
        """Drop what clients write, from the first write that holds ``marker``."""
        self.marker = marker
        self.swallowed = trio.Event()

    def swallow(self) -> None:
        """Drop what clients write from now on."""
        self.swallow_from(b"")

    def cut(self) -> None:
        """Close every relayed connection, and refuse new ones until ``heal``."""
        self.refusing = True
        for scope in self.scopes:
            scope.cancel()
        self.scopes.clear()

    def heal(self) -> None:
        """Accept connections again and relay all that clients write."""
        self.refusing = False
        self.marker = None

    def hold(self) -> None:
        """Hold what clients write until ``release``."""
        self.flowing = trio.Event()

    def release(self) -> None:
        """Relay what clients write again."""
        self.flowing.set()
