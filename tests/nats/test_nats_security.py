"""Credentials and TLS against real servers; nothing received is ever unpickled."""

from __future__ import annotations

import pickle
import ssl
from collections.abc import Iterator

import pytest
import trio
import trustme

from trouper.nats import AuthorizationError, ConnectError, connect
from trouper.testing import NatsServer, TlsFiles

pytestmark = pytest.mark.real_clock


@pytest.fixture(scope="module")
def password_server() -> Iterator[NatsServer]:
    with NatsServer(user="alice", password="s3cret", jetstream=False) as server:
        yield server


@pytest.fixture(scope="module")
def token_server() -> Iterator[NatsServer]:
    with NatsServer(token="t0ken", jetstream=False) as server:
        yield server


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def round_trip(url: str, **options: object) -> bytes:
    async with connect(url, **options) as nc:  # type: ignore[arg-type]
        sub = await nc.subscribe("sec")
        await nc.publish("sec", b"ok")
        return (await sub.next_msg()).data


async def test_user_and_password_as_arguments(password_server: NatsServer) -> None:
    """user= and password= authenticate."""
    with trio.fail_after(5):
        assert await round_trip(password_server.url, user="alice", password="s3cret") == b"ok"


async def test_user_and_password_in_the_url(password_server: NatsServer) -> None:
    """nats://user:password@host authenticates."""
    url = f"nats://alice:s3cret@127.0.0.1:{password_server.port}"
    with trio.fail_after(5):
        assert await round_trip(url) == b"ok"


async def test_bad_password_raises_authorization_error(password_server: NatsServer) -> None:
    """A wrong password makes connect() raise AuthorizationError with the server's text."""
    with trio.fail_after(5), pytest.raises(AuthorizationError, match="Authorization Violation"):
        await round_trip(password_server.url, user="alice", password="wrong")


async def test_missing_credentials_raise_authorization_error(password_server: NatsServer) -> None:
    """No credentials for a server that wants them: AuthorizationError."""
    with trio.fail_after(5), pytest.raises(AuthorizationError):
        await round_trip(password_server.url)


async def test_token_as_argument_and_in_the_url(token_server: NatsServer) -> None:
    """token= and nats://token@host both authenticate."""
    with trio.fail_after(5):
        assert await round_trip(token_server.url, token="t0ken") == b"ok"
        assert await round_trip(f"nats://t0ken@127.0.0.1:{token_server.port}") == b"ok"


async def test_bad_token_raises_authorization_error(token_server: NatsServer) -> None:
    """A wrong token is refused with AuthorizationError."""
    with trio.fail_after(5), pytest.raises(AuthorizationError):
        await round_trip(token_server.url, token="nope")


async def test_tls_upgrade_after_info(
    tls_files: TlsFiles, certificate_authority: trustme.CA
) -> None:
    """A TLS server (INFO says tls_required) is reached through trio.SSLStream."""
    with NatsServer(tls=tls_files, jetstream=False) as server, trio.fail_after(10):
        assert await round_trip(server.url, tls=client_context(certificate_authority)) == b"ok"


async def test_tls_handshake_first(tls_files: TlsFiles, certificate_authority: trustme.CA) -> None:
    """With handshake_first the TLS handshake comes before the server's INFO."""
    with (
        NatsServer(tls=tls_files, tls_handshake_first=True, jetstream=False) as server,
        trio.fail_after(10),
    ):
        context = client_context(certificate_authority)
        assert await round_trip(server.url, tls=context, tls_handshake_first=True) == b"ok"


async def test_untrusted_certificate_is_refused(tls_files: TlsFiles) -> None:
    """A certificate from a CA the client does not trust fails the connection."""
    with (
        NatsServer(tls=tls_files, jetstream=False) as server,
        trio.fail_after(10),
        pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        await round_trip(server.url, tls=client_context(trustme.CA()))


async def test_received_pickles_are_just_bytes(nats_url: str) -> None:
    """A pickle published by someone else arrives as bytes; nothing is unpickled."""
    payload = pickle.dumps(object())
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("pickled")
            await nc.publish("pickled", payload)
            msg = await sub.next_msg()
    assert type(msg.data) is bytes
    assert msg.data == payload
