"""Review: a ``NatsServer``'s credentials reach the server as given, whatever their characters."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from trouper.testing import NatsServer

# Each was written into the server's config as it is: ``\t`` became a tab (a password the
# client could never send), and a quote or another backslash made a config that does not parse.
AWKWARD = [r"a\tb", 'say "hi"', r"back\slash", "tab\there", "new\nline", "bell\x07", r"end\\"]


def connects(server: NatsServer, credentials: dict[str, str]) -> bytes:
    """CONNECT with ``credentials`` and PING: the server's first answer (``PONG`` when let in)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        replies = sock.makefile("rb")
        replies.readline()  # INFO
        connect = {"verbose": False, "pedantic": False, **credentials}
        sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        return replies.readline().strip()


@pytest.mark.parametrize("password", AWKWARD)
def test_a_password_with_quotes_backslashes_or_control_characters_lets_its_user_in(
    password: str,
) -> None:
    """The user connects with exactly the password the server was given."""
    with NatsServer(user='u"1', password=password, jetstream=False) as server:
        assert connects(server, {"user": 'u"1', "pass": password}) == b"PONG"


@pytest.mark.parametrize("token", AWKWARD)
def test_a_token_with_quotes_backslashes_or_control_characters_lets_its_client_in(
    token: str,
) -> None:
    """A client connects with exactly the token the server was given."""
    with NatsServer(token=token, jetstream=False) as server:
        assert connects(server, {"auth_token": token}) == b"PONG"


def test_a_password_without_a_user_is_refused_rather_than_ignored() -> None:
    """It made a server anyone could use, as if no password had been given."""
    with pytest.raises(ValueError, match=r"^a password needs a user \(user=\.\.\.\), got none$"):
        NatsServer(password="secret", jetstream=False)


def test_handshake_first_without_tls_is_refused_rather_than_ignored() -> None:
    """It made a plain server, as if the option had not been given."""
    with pytest.raises(ValueError, match=r"^tls_handshake_first needs tls=TlsFiles\(\.\.\.\)$"):
        NatsServer(tls_handshake_first=True, jetstream=False)


NON_ASCII = r"""
import json, socket
from trouper.testing import NatsServer

user, password = "j\u00fcrgen", "p\u00e4ssw\u00f6rd\u20ac"  # the command line stays ASCII
with NatsServer(user=user, password=password, jetstream=False) as server:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        replies = sock.makefile("rb")
        replies.readline()
        connect = {"verbose": False, "user": user, "pass": password}
        sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        print(replies.readline().strip().decode())
"""


def test_non_ascii_credentials_reach_the_server_whatever_the_locale_encoding() -> None:
    """The config is UTF-8, as the server reads it, not the locale's encoding (ASCII here)."""
    environment = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-c", NON_ASCII],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env=environment,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "PONG"), done.stderr[-2000:]
