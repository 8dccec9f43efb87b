"""Review 26b: JetStreamStore timings too short to work are refused by the constructor.

``poll_expires=1e-6``: each long poll expired on the server before it was
served (the server answers an expired pull with a timeout and delivers
nothing), so a tell was never handled while the store polled without end.
``ack_wait=1e-7``: every message was redelivered while its handler ran (and
the keeper sent ``+WPI`` in a loop of 25 ns sleeps). Both are refused below
a floor, naming the option and the bound.
"""

from __future__ import annotations

import pytest

from trouper.durable import JetStreamStore

URL = "nats://127.0.0.1:4222"


@pytest.mark.parametrize("ack_wait", [1e-7, 0.05, 0.0999])
def test_an_ack_wait_under_a_tenth_of_a_second_is_refused(ack_wait: float) -> None:
    """The ValueError names ack_wait, its floor and the value given."""
    with pytest.raises(
        ValueError, match=rf"^ack_wait must be at least 0\.1 s .*, got {ack_wait!r}$"
    ):
        JetStreamStore(URL, ack_wait=ack_wait)


@pytest.mark.parametrize("poll_expires", [1e-6, 0.01, 0.999])
def test_a_poll_expires_under_a_second_is_refused(poll_expires: float) -> None:
    """The ValueError names poll_expires, its floor and the value given."""
    with pytest.raises(
        ValueError, match=rf"^poll_expires must be at least 1 s .*, got {poll_expires!r}$"
    ):
        JetStreamStore(URL, poll_expires=poll_expires, heartbeat=poll_expires / 4)


def test_the_floors_themselves_are_taken() -> None:
    """ack_wait=0.1 and poll_expires=1 make a store."""
    JetStreamStore(URL, ack_wait=0.1, poll_expires=1, heartbeat=0.5)
