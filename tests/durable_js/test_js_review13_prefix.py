"""Review: a JetStreamStore refuses a prefix or server list it cannot work with, saying why.

A prefix that is not a string raised Python's own error from deep inside
(``'int' object has no attribute 'isascii'``); a prefix too long for any of
its streams' names was taken, the store then failing to open with the
server's words; an empty server list failed only when opened.
"""

from __future__ import annotations

import pytest

from trouper.durable import JetStreamStore


@pytest.mark.parametrize("prefix", [b"jobs", 5, None, ["a"]])
def test_a_prefix_that_is_not_a_string_is_refused(prefix: object) -> None:
    """A bytes, int, None or list prefix raises ValueError naming it."""
    with pytest.raises(ValueError, match=r"^prefix must be letters, digits and '-', got "):
        JetStreamStore("nats://127.0.0.1:4222", prefix=prefix)  # type: ignore[arg-type]


def test_a_prefix_too_long_for_a_stream_name_is_refused() -> None:
    """The server keeps stream names to 255 bytes: a prefix that leaves no room is refused."""
    JetStreamStore("nats://127.0.0.1:4222", prefix="p" * 245)
    with pytest.raises(
        ValueError,
        match=r"^prefix must be at most 245 characters \(its streams' names, "
        r"<prefix>_mailbox_<name>, are limited to 255\), got 246$",
    ):
        JetStreamStore("nats://127.0.0.1:4222", prefix="p" * 246)


@pytest.mark.parametrize("servers", ["", []])
def test_an_empty_server_list_is_refused(servers: str | list[str]) -> None:
    """No URL at all is refused when the store is made, not when it is opened."""
    with pytest.raises(ValueError, match=r"^give JetStreamStore at least one server URL, got "):
        JetStreamStore(servers)
