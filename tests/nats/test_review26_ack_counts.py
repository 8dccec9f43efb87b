"""Review 26: a JetStream ack subject's numbers are ASCII digits; anything else is refused.

``MsgMetadata.from_reply`` read its five numbers with ``int()``, which also
takes ``-1``, ``+1``, ``1_0``, `` 1`` and the digits of other scripts, so a
reply subject no server writes gave metadata with a negative delivery count
or a sequence read from underscores. Each number must now be ASCII digits;
another token is a ``ValueError`` naming it.
"""

from __future__ import annotations

import re

import pytest

from trouper.nats import MsgMetadata

GOOD = ["2", "10", "7", "1700000000500000000", "3"]


@pytest.mark.parametrize("bad", ["-1", "+1", "1_0", " 1", "\u0665", ""])
@pytest.mark.parametrize("position", range(5))
@pytest.mark.parametrize("long_form", [False, True], ids=["short", "long"])
def test_a_number_token_that_is_not_ascii_digits_is_refused(
    bad: str, position: int, long_form: bool
) -> None:
    """Each of the five numbers, in both forms of the subject, must be ASCII digits."""
    numbers = list(GOOD)
    numbers[position] = bad
    head = "$JS.ACK.hub.ACCHASH.ORDERS.w." if long_form else "$JS.ACK.ORDERS.w."
    reply = head + ".".join(numbers) + (".xyz" if long_form else "")
    with pytest.raises(
        ValueError,
        match=rf"^not a JetStream ack subject: {re.escape(repr(reply))} "
        rf"\(its numbers must be ASCII digits, got {re.escape(repr(bad))}\)$",
    ):
        MsgMetadata.from_reply(reply)


def test_ascii_digits_still_parse() -> None:
    """The subjects the server writes keep their meaning (leading zeros included)."""
    meta = MsgMetadata.from_reply("$JS.ACK.ORDERS.w.02.10.7.1700000000500000000.0")
    assert meta == MsgMetadata("ORDERS", "w", 2, 10, 7, 1700000000.5, 0)
