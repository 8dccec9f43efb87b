"""Routers as values and the consistent-hash ring, as pure logic: no Trio, no runtime."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trouper import OneForOne
from trouper.routing import (
    Balancing,
    Broadcast,
    ConsistentHash,
    HashRing,
    Members,
    Resize,
    RoundRobin,
    key_hash,
)

member_counts = st.integers(min_value=1, max_value=12)
keys = st.one_of(st.text(max_size=20), st.binary(max_size=20), st.integers())


def ids(n: int) -> list[str]:
    return [f"member-{i}" for i in range(1, n + 1)]


def test_key_hash_is_pinned() -> None:
    """The key hash is a fixed function: these values never change between releases."""
    assert key_hash("a") == 3320656311
    assert key_hash(42) == 2339504796
    assert key_hash((1, "x")) == 3153551819


def test_key_hash_does_not_depend_on_pythonhashseed() -> None:
    """Two interpreters with different hash seeds place a key at the same point."""
    code = "from trouper.routing import key_hash; print(key_hash('user-7'), hash('user-7'))"
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for seed in ("1", "2")
    ]
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1] != outputs[1][1]


def test_key_hash_reads_str_as_utf8_bytes_and_others_by_repr() -> None:
    """A str and its UTF-8 bytes share a point; other keys are hashed by their repr."""
    assert key_hash("clé") == key_hash("clé".encode())
    assert key_hash(42) == key_hash("42")
    assert key_hash((1, "x")) == key_hash("(1, 'x')")


def test_ring_has_virtual_nodes_points_per_member_in_ascending_order() -> None:
    """``build`` places ``virtual_nodes`` points per id, sorted, each owned by its id."""
    ring = HashRing.build(ids(3), virtual_nodes=7)
    assert len(ring.points) == len(ring.owners) == 21
    assert list(ring.points) == sorted(ring.points)
    assert Counter(ring.owners) == {"member-1": 7, "member-2": 7, "member-3": 7}


def test_ring_spreads_keys_over_members() -> None:
    """With the default 100 virtual nodes, each of 4 members owns about a quarter of keys."""
    ring = HashRing.build(ids(4))
    owners = Counter(ring.owner(f"user-{i}") for i in range(10_000))
    assert sorted(owners) == ids(4)
    assert all(2000 <= count <= 3000 for count in owners.values()), owners


@given(n=member_counts, key=keys)
def test_a_key_always_has_the_same_owner(n: int, key: object) -> None:
    """Stickiness: rings built from the same ids agree on every key's owner."""
    assert HashRing.build(ids(n)).owner(key) == HashRing.build(ids(n)).owner(key)
    assert HashRing.build(ids(n)).owner(key) in ids(n)


@given(n=member_counts, key=keys)
def test_adding_a_member_moves_keys_only_to_it(n: int, key: object) -> None:
    """Growing from n to n+1 members: a key stays where it was or goes to the new member."""
    before = HashRing.build(ids(n)).owner(key)
    after = HashRing.build(ids(n + 1)).owner(key)
    assert after in (before, f"member-{n + 1}")


@given(n=member_counts, removed=st.integers(min_value=1, max_value=12), key=keys)
def test_removing_a_member_moves_only_its_keys(n: int, removed: int, key: object) -> None:
    """Removing one member: keys of the other members do not move."""
    everyone = ids(n + 1)
    gone = everyone[(removed - 1) % len(everyone)]
    before = HashRing.build(everyone).owner(key)
    after = HashRing.build([i for i in everyone if i != gone]).owner(key)
    assert after == before or before == gone


def test_ring_wraps_around_past_the_last_point() -> None:
    """A hash beyond the last point belongs to the owner of the first point."""
    ring = HashRing.build(ids(2), virtual_nodes=3)
    assert ring.owner_of_hash(ring.points[-1] + 1) == ring.owners[0]
    assert ring.owner_of_hash(ring.points[0]) == ring.owners[0]


def test_ring_needs_members() -> None:
    """An empty id list is refused."""
    with pytest.raises(ValueError, match=r"^a ring needs at least one member id$"):
        HashRing.build([])


def test_ring_refuses_duplicate_ids() -> None:
    """Ids on a ring are unique."""
    with pytest.raises(ValueError, match=r"^member ids must be unique, got \['a', 'a'\]$"):
        HashRing.build(["a", "a"])


def test_consistent_hash_needs_a_callable_key() -> None:
    """``ConsistentHash(key)`` refuses a key that is not callable."""
    with pytest.raises(TypeError, match=r"^key must be callable \(message -> key\), got 'id'$"):
        ConsistentHash("id")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -1, True, 2.0])
def test_consistent_hash_needs_positive_int_virtual_nodes(value: object) -> None:
    """``virtual_nodes`` is an int >= 1."""
    with pytest.raises(ValueError, match=rf"^virtual_nodes must be an int >= 1, got {value!r}$"):
        ConsistentHash(str, virtual_nodes=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("router", [RoundRobin, Balancing, Broadcast])
def test_router_strategy_must_be_a_strategy(router: type[RoundRobin]) -> None:
    """Every router's ``strategy`` is a ``Strategy`` or ``None``."""
    assert router(strategy=OneForOne()).strategy == OneForOne()
    with pytest.raises(ValueError, match=r"^strategy must be a Strategy or None, got 'one'$"):
        router(strategy="one")  # type: ignore[arg-type]


def test_routers_are_frozen_values() -> None:
    """Routers compare by value, so a pool's configuration can be checked and logged."""
    assert RoundRobin() == RoundRobin()
    assert ConsistentHash(str) == ConsistentHash(str)
    assert RoundRobin(strategy=OneForOne()) != RoundRobin()
    assert repr(Balancing()) == "Balancing(strategy=None)"


@pytest.mark.parametrize("size", [0, -3, True, 1.5, "2"])
def test_resize_needs_a_positive_int(size: object) -> None:
    """``Resize(size)`` refuses anything but an int >= 1 when it is built."""
    with pytest.raises(ValueError, match=rf"^size must be an int >= 1, got {size!r}$"):
        Resize(size)  # type: ignore[arg-type]


def test_control_messages_are_values() -> None:
    """``Resize`` and ``Members`` compare by value."""
    assert Resize(3) == Resize(3)
    assert Members() == Members()
