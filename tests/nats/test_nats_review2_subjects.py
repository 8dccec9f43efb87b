"""Review 2: subjects are checked by the NATS rules: wildcards only where they mean one."""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats.protocol import check_subject


@pytest.mark.parametrize("subject", ["a.*", "a.>", "*", ">", "a.*.b", "*.>", "a*b", "a>.b"])
def test_patterns_are_valid_subscription_subjects(subject: str) -> None:
    """``*`` anywhere and ``>`` as the last token make a subscription pattern."""
    assert check_subject(subject) == subject


@pytest.mark.parametrize("subject", ["a.>.b", ">.a", "a.>.>"])
def test_a_full_wildcard_before_the_end_is_refused(subject: str) -> None:
    """``>`` matches the rest of a subject, so a token after it is an error."""
    with pytest.raises(ValueError, match=r"^a subject may hold '>' only as its last token, got "):
        check_subject(subject)


@pytest.mark.parametrize("subject", ["a.*", "a.>", "*", ">", "a.*.b"])
def test_wildcards_are_refused_where_a_literal_subject_is_needed(subject: str) -> None:
    """With ``wildcards=False`` a ``*`` or ``>`` token is refused."""
    with pytest.raises(ValueError, match=r"^a subject must not hold the wildcard tokens "):
        check_subject(subject, wildcards=False)


@pytest.mark.parametrize("subject", ["a*b", "a>", "a.b>c", "$JS.API.INFO"])
def test_wildcard_characters_inside_a_token_are_literal(subject: str) -> None:
    """Only a whole ``*`` or ``>`` token is a wildcard, as the server reads it."""
    assert check_subject(subject, wildcards=False) == subject


@pytest.mark.parametrize("subject", ["a\fb", "a\x0cb.c"])
def test_a_form_feed_is_whitespace(subject: str) -> None:
    """The server splits protocol arguments on form feeds too."""
    with pytest.raises(ValueError, match="subject must be non-empty dot-separated tokens"):
        check_subject(subject)


@pytest.mark.real_clock
@pytest.mark.parametrize(
    ("subject", "reply"),
    [("orders.*", None), ("orders.>", None), ("orders", "inbox.*"), ("orders", "inbox.>")],
)
async def test_publishing_to_a_wildcard_is_refused(subject: str, reply: str | None) -> None:
    """``publish`` refuses a wildcard subject or reply subject and buffers nothing."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, _peer):
            with pytest.raises(ValueError, match=r"subject must not hold the wildcard tokens"):
                await nc.publish(subject, b"x", reply=reply)
            with pytest.raises(ValueError, match=r"subject must not hold the wildcard tokens"):
                nc.publish_nowait(subject, b"x", reply=reply)
            assert nc.statistics().out_msgs == 0


@pytest.mark.real_clock
async def test_subscribing_with_a_misplaced_full_wildcard_is_refused() -> None:
    """``subscribe`` refuses ``>`` before the last token instead of sending a bad SUB."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, _peer):
            with pytest.raises(ValueError, match=r"^a subject may hold '>' only as its last"):
                await nc.subscribe("a.>.b")
