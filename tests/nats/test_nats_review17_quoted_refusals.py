"""Review 17: the subject a permissions violation names is read as the server quotes it.

nats-server writes the refused subject with Go's ``%q``: a ``"`` or ``\\`` in
it is escaped, a vertical tab or form feed (which a subject may hold) is
``\\v`` or ``\\f``, a byte that is not UTF-8 is ``\\xff``. The client read the
text between the first two double quotes as it was, so the refusal of
``q"x`` named ``q\\`` and the refusal of ``a\\x0bb`` named ``a\\vb``: neither
matched the request or the subscription it refused, which went on waiting
(a request until its deadline, a subscription for ever) as if nothing had
been said.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import PermissionsViolation

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize(
    ("text", "operation", "subject"),
    [
        ('Permissions Violation for Publish to "q\\"x"', "publish", 'q"x'),
        ('Permissions Violation for Publish to "back\\\\slash"', "publish", "back\\slash"),
        ('Permissions Violation for Subscription to "a\\vb"', "subscription", "a\x0bb"),
        ('Permissions Violation for Subscription to "f\\f.>"', "subscription", "f\x0c.>"),
        ('Permissions Violation for Publish to "raw.\\xff"', "publish", "raw.\udcff"),
        ('Permissions Violation for Publish to "caf\u00e9"', "publish", "caf\u00e9"),
        ('Permissions Violation for Publish to "nb\\u00a0sp"', "publish", "nb\u00a0sp"),
        ("Permissions Violation for Publish to plain", "publish", "plain"),
        (
            'Permissions Violation for Subscription to "q\\"s" using queue "w\\"q" (sid "3")',
            "subscription",
            'q"s',
        ),
    ],
)
def test_the_refused_subject_is_unquoted(text: str, operation: str, subject: str) -> None:
    """operation and subject are those the server meant, escapes undone."""
    error = PermissionsViolation(text)
    assert (error.operation, error.subject) == (operation, subject)


async def test_a_request_to_a_quoted_subject_fails_with_its_refusal() -> None:
    """The refusal of 'q"x' fails the request to 'q"x' at once."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):

            async def refuse() -> None:
                await peer.read_until('PUB q"x ')
                await peer.send(b'-ERR \'Permissions Violation for Publish to "q\\"x"\'\r\n')

            nursery.start_soon(refuse)
            with pytest.raises(PermissionsViolation):
                await nc.request('q"x', b"?")


async def test_a_subscription_to_a_subject_with_a_vertical_tab_ends_with_its_refusal() -> None:
    """The refusal of "a\\vb" ends the subscription to "a\\x0bb" with it."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            sub = await nc.subscribe("a\x0bb")
            await peer.read_until("SUB a\x0bb")
            await peer.send(b"-ERR 'Permissions Violation for Subscription to \"a\\vb\"'\r\n")
            with pytest.raises(PermissionsViolation):
                await sub.next_msg()
