"""Review: a ``NatsServer`` never outlives its interpreter, nor takes another for itself."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from trouper.testing import NatsServer, NatsServerError

FORGOTTEN = """
import gc
from trouper.testing import NatsServer

server = NatsServer(jetstream=False)
server.start()
print(server.log_file.read_text().split("]")[0].lstrip("["), flush=True)  # "[pid] ..."
del server  # a test that failed before its close(): nothing refers to it any more
gc.collect()
"""


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended and not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_running_server_nothing_refers_to_is_killed_when_the_interpreter_exits() -> None:
    """Dropping the last reference to a started server must not leave its process behind."""
    done = subprocess.run(
        [sys.executable, "-c", FORGOTTEN], capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    try:
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # real time: a real process ends
        assert not alive(pid), "nats-server still runs after the interpreter that started it exited"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_port_another_program_listens_on_is_not_taken_for_the_server() -> None:
    """The server could not bind its port: start() fails instead of answering for the other."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        server = NatsServer(jetstream=False, port=other.getsockname()[1])
        try:
            with pytest.raises(NatsServerError, match=r"^nats-server exited at start:\n"):
                server.start()
            assert not server.running
        finally:
            server.close()


def test_a_with_block_whose_start_fails_leaves_no_directory() -> None:
    """``with NatsServer()`` that cannot start removes the directory it made."""
    server = NatsServer(extra_args=["--no-such-flag"])
    with pytest.raises(NatsServerError, match=r"^nats-server exited at start:\n"), server:
        pass
    assert not server.directory.exists()


def test_starting_a_closed_server_says_it_was_closed() -> None:
    """Its directory is gone: a clear error, not a ``FileNotFoundError`` for its config."""
    server = NatsServer(jetstream=False)
    server.close()
    with pytest.raises(NatsServerError, match=r"^this NatsServer was closed: make a new one$"):
        server.start()


def test_a_port_chosen_for_the_server_and_taken_before_its_start_is_replaced() -> None:
    """No ``port=`` given: the server starts on another free port rather than failing."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        server = NatsServer(jetstream=False)
        taken = server.port
        other.bind(("127.0.0.1", taken))
        other.listen()
        try:
            server.start()
            assert server.running
            assert server.port != taken
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
                assert client.recv(5) == b"INFO "
            server.restart()
            assert server.port != taken
            assert server.running
        finally:
            server.close()
