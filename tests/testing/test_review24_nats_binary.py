"""``NatsServer``: a binary that cannot run is a ``NatsServerError``; a bad port, a ValueError."""

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


@pytest.mark.parametrize("port", [-1, 0, 65536, "4222", True, 4222.0])
def test_a_port_that_is_not_one_is_refused_before_any_start(port: object) -> None:
    """``port=-1`` started a server on a random port whose url said ``:-1``; 0 and others failed."""
    with pytest.raises(
        ValueError,
        match=r"^port must be an int from 1 to 65535 \(None: a free one\), got "
        + re.escape(repr(port))
        + "$",
    ):
        NatsServer(port=port, jetstream=False)  # type: ignore[arg-type]
