"""Review 26: ``ConsistentHash`` refuses an async ``key`` when it is built.

An ``async def`` key returned a coroutine for each message, which
``key_hash`` placed by its repr (``<coroutine object key at 0x...>``, a new
id each time): every message went to a member at random, so one key's
messages were neither kept on one member nor in order, and each left a
"coroutine was never awaited" warning. ``key`` must map a message to its key
at once: an async one is now a ``TypeError`` naming it.
"""

from __future__ import annotations

import functools
import re

import attrs
import pytest

from trouper.routing import ConsistentHash


@attrs.frozen
class Visit:
    user: str


async def user_of(message: Visit) -> str:
    return message.user


class AsyncKey:
    """A callable object whose ``__call__`` is async."""

    async def __call__(self, message: Visit) -> str:
        return message.user


class PlainKey:
    """A callable object whose ``__call__`` is a plain method."""

    def __call__(self, message: object) -> object:
        return message


def refusal(key: object) -> str:
    return (
        "^"
        + re.escape(
            f"key must map a message to its key at once, got the async function {key!r}: "
            "a coroutine has no stable key (its repr holds its id); make key a plain function"
        )
        + "$"
    )


@pytest.mark.parametrize(
    "key",
    [user_of, functools.partial(user_of), AsyncKey()],
    ids=["async-def", "partial", "async-call"],
)
def test_an_async_key_is_refused_when_the_router_is_built(key: object) -> None:
    """``TypeError`` at ``ConsistentHash(key)``, before any pool starts."""
    with pytest.raises(TypeError, match=refusal(key)):
        ConsistentHash(key)  # type: ignore[arg-type]


def test_a_plain_key_is_still_taken() -> None:
    """A plain function and a callable object are keys as before."""
    assert ConsistentHash(lambda message: message).virtual_nodes == 100
    plain = PlainKey()
    assert ConsistentHash(plain).key is plain
