"""A ``nats-server`` binary that cannot be run is a ``NatsServerError`` naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trouper.testing import NatsServer, NatsServerError

FAKE = """#!/bin/sh
if [ "$1" = --version ]; then echo "nats-server: v2.10.1"; exit 0; fi
exit 3
"""


def test_a_missing_binary_given_is_a_nats_server_error(tmp_path: Path) -> None:
    """``binary=`` a file that does not exist says so as a ``NatsServerError``."""
    missing = tmp_path / "nats-server"
    with pytest.raises(NatsServerError, match=rf"^cannot run {re.escape(str(missing))}: "):
        NatsServer(binary=missing)


def test_a_binary_that_is_not_executable_is_a_nats_server_error(tmp_path: Path) -> None:
    """``binary=`` a file without the execute permission says so as a ``NatsServerError``."""
    binary = tmp_path / "nats-server"
    binary.write_text(FAKE)
    with pytest.raises(NatsServerError, match=r"^cannot run .*nats-server: .*Permission denied"):
        NatsServer(binary=binary)


def test_a_binary_gone_before_the_start_is_a_nats_server_error(tmp_path: Path) -> None:
    """A binary removed after the server was made fails its start with a ``NatsServerError``."""
    binary = tmp_path / "nats-server"
    binary.write_text(FAKE)
    binary.chmod(0o755)
    server = NatsServer(binary=binary, jetstream=False)
    binary.unlink()
    try:
        with pytest.raises(NatsServerError, match=r"^cannot run .*nats-server: "):
            server.start()
        assert not server.running
    finally:
        server.close()
    assert not server.directory.exists()
