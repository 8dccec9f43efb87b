"""Review 26: ``JetStreamStore`` refuses options of the wrong type with an error saying which.

A timing given as a string (or None) raised a bare comparison ``TypeError``
(``'>' not supported between instances of 'str' and 'int'``), a bool was
taken as 1 second or 1 replica, and ``servers`` that is no URL failed in
``str.join``.
"""

from __future__ import annotations

import pytest

from trouper.durable import JetStreamStore

URL = "nats://127.0.0.1:4222"


@pytest.mark.parametrize("option", ["ack_wait", "poll_expires", "heartbeat"])
@pytest.mark.parametrize("value", ["5", None, True], ids=["str", "none", "bool"])
def test_a_timing_that_is_no_number_of_seconds_is_refused_by_name(
    option: str, value: object
) -> None:
    """``ValueError`` naming the option and the value."""
    with pytest.raises(ValueError, match=rf"^{option} must be seconds > 0, got {value!r}$"):
        JetStreamStore(URL, **{option: value})  # type: ignore[arg-type]


def test_replicas_given_as_a_bool_is_refused() -> None:
    """``replicas=True`` is not one replica."""
    with pytest.raises(ValueError, match=r"^replicas must be an int >= 1, got True$"):
        JetStreamStore(URL, replicas=True)


@pytest.mark.parametrize("servers", [5, [URL, 5], b"nats://x"], ids=["int", "mixed", "bytes"])
def test_servers_that_are_no_urls_are_refused(servers: object) -> None:
    """``TypeError`` saying what ``servers`` takes."""
    with pytest.raises(TypeError, match=r"^servers is a NATS URL or a sequence of them"):
        JetStreamStore(servers)  # type: ignore[arg-type]


def test_urls_as_a_tuple_are_taken() -> None:
    """A sequence of URLs other than a list is fine."""
    assert repr(JetStreamStore((URL, URL))) == f"<JetStreamStore '{URL},{URL}' new>"
