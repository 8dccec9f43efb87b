"""Review 12: a hash key whose repr shows its id is refused, not scattered over the members.

``key_hash`` reads a key that is not ``str``, ``bytes`` by its ``repr()``. An
instance of a class with no ``__repr__`` of its own shows ``object.__repr__``,
its type and its id: two equal keys (the same account, read twice) then
landed on different members, silently breaking the pool's one promise.
"""

from __future__ import annotations

import re

import attrs
import pytest

import trouper
from trouper import Actor, handler
from trouper.routing import ConsistentHash, key_hash


class Account:
    """A key that compares and hashes by value but has no repr of its own."""

    def __init__(self, number: int) -> None:
        self.number = number

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Account) and other.number == self.number

    def __hash__(self) -> int:
        return hash(self.number)


@attrs.frozen
class Deposit:
    account: Account


def account_of(message: object) -> object:
    assert isinstance(message, Deposit)
    return message.account


class Ledger(Actor):
    @handler
    async def deposit(self, message: Deposit) -> str:
        return self.ctx.self_ref.address.path


REFUSED = (
    "key_hash cannot place a test_routing_review12_unstable_keys.Account: its repr is "
    "object.__repr__, which shows its id, so equal keys would land on different members; "
    "return a str, bytes, int or a value with a repr of its own (a frozen attrs class)"
)


def test_key_hash_refuses_a_key_whose_repr_is_its_id() -> None:
    """Equal keys would hash apart: a TypeError that says what to return instead."""
    with pytest.raises(TypeError, match=f"^{re.escape(REFUSED)}$"):
        key_hash(Account(7))


def test_key_hash_still_reads_values_with_a_repr_of_their_own() -> None:
    """An attrs value, a tuple, None: equal values, equal positions."""

    @attrs.frozen
    class Key:
        number: int

    assert key_hash(Key(7)) == key_hash(Key(7))
    assert key_hash((1, "x")) == key_hash((1, "x"))
    assert key_hash(None) == key_hash(None)


async def test_a_hash_pool_refuses_the_tell_instead_of_scattering_the_key() -> None:
    """The tell raises the key's error, as for a key function that raises."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Ledger, 4, router=ConsistentHash(account_of))
        with pytest.raises(TypeError, match=f"^{re.escape(REFUSED)}$"):
            await pool.tell(Deposit(Account(7)))
        with pytest.raises(TypeError, match=f"^{re.escape(REFUSED)}$"):
            await pool.ask(Deposit(Account(7)))
