"""JetStreamStore timings too long for the server's int64 nanoseconds are refused at once."""

from __future__ import annotations

import pytest

from trouper.durable import JetStreamStore

URL = "nats://127.0.0.1:4222"


def test_an_ack_wait_beyond_292_years_is_refused_by_the_constructor() -> None:
    """ack_wait=1e12 would make the server refuse the consumer and fail the store: refused here."""
    with pytest.raises(
        ValueError,
        match=(
            r"^ack_wait must be at most 9223372036 s \(the server's int64 nanoseconds\), "
            r"got 1000000000000\.0$"
        ),
    ):
        JetStreamStore(URL, ack_wait=1e12)


def test_a_poll_expires_beyond_292_years_is_refused_by_the_constructor() -> None:
    """poll_expires=1e12 would make the server refuse every pull (nothing delivered): refused."""
    with pytest.raises(
        ValueError,
        match=(
            r"^poll_expires must be at most 9223372036 s \(the server's int64 nanoseconds\), "
            r"got 1000000000000\.0$"
        ),
    ):
        JetStreamStore(URL, poll_expires=1e12)


def test_the_longest_ack_wait_the_server_holds_is_taken() -> None:
    """ack_wait=9e9 s (about 285 years) fits int64 nanoseconds: the store is made."""
    JetStreamStore(URL, ack_wait=9e9)
