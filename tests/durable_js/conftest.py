"""Fixtures for durable mailboxes on JetStream: one server per module, a fresh prefix per test.

The servers sync every JetStream write to disk (``sync_interval: always``, the
configuration docs/durable.md asks for). Each test's stores use a prefix of
its own, so tests sharing a server never see each other's mailboxes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from js_support import syncing_server

from trouper.testing import NatsServer

_prefixes = itertools.count()


@pytest.fixture(scope="module")
def js_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One syncing JetStream server for the module."""
    with syncing_server(tmp_path_factory.mktemp("js")) as server:
        yield server


@pytest.fixture
def own_js_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A syncing JetStream server of the test's own, to restart or kill."""
    with syncing_server(tmp_path / "js") as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A stream prefix no other test of the session uses."""
    return f"t{next(_prefixes)}"
