"""A probe expects a union of message types (an actor's protocol alias) as it expects a type."""

from __future__ import annotations

from typing import Optional, Union

import attrs
import pytest

import trouper
from trouper.testing import TestProbe


@attrs.frozen
class Deposit:
    """Money in."""

    amount: int


@attrs.frozen
class Withdraw:
    """Money out."""

    amount: int


AccountMsg = Deposit | Withdraw
"""The protocol alias STYLE.md recommends naming an actor's messages with."""


async def test_expect_a_union_alias_takes_a_message_of_one_of_its_types(
    runtime: trouper.Runtime,
) -> None:
    """``expect(Deposit | Withdraw)`` takes a ``Withdraw``, as ``isinstance`` would say."""
    p = TestProbe(runtime)
    await p.tell(Withdraw(3))
    assert await p.expect(AccountMsg) == Withdraw(3)


# The typing forms, on purpose (UP007, UP045).
@pytest.mark.parametrize("matcher", [Union[Deposit, Withdraw], Optional[Deposit]])  # noqa: UP007, UP045
async def test_expect_a_typing_union_takes_a_message_of_one_of_its_types(
    runtime: trouper.Runtime, matcher: object
) -> None:
    """``typing.Union`` and ``Optional`` are types to match too."""
    p = TestProbe(runtime)
    await p.tell(Deposit(1))
    assert await p.expect(matcher) == Deposit(1)


async def test_expect_a_union_says_which_types_it_wanted(runtime: trouper.Runtime) -> None:
    """A miss names the union's types as a type's name is said, not the union's repr."""
    p = TestProbe(runtime, "teller")
    await p.tell("not money")
    with pytest.raises(AssertionError) as failed:
        await p.expect(AccountMsg, within=1)
    assert str(failed.value) == (
        "/probe/teller expected a Deposit or a Withdraw within 1s (now t=0.0000); arrived "
        "instead:\n  t=0.0000 'not money'"
    )


@pytest.mark.parametrize("matcher", [Deposit, AccountMsg], ids=["type", "union"])
async def test_fish_for_a_type_or_union_skips_messages_of_other_types(
    runtime: trouper.Runtime, matcher: object
) -> None:
    """``fish_for`` matches a type or a union by ``isinstance``, as ``expect`` does.

    Called as a predicate, an attrs class of one field made a truthy instance of any
    message, so the first message was taken whatever it was (and a union raised).
    """
    p = TestProbe(runtime)
    await p.tell("noise")
    await p.tell(Deposit(5))
    assert await p.fish_for(matcher) == Deposit(5)
