"""A probe refuses a parameterized generic as a matcher, instead of calling it as a predicate."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

import attrs
import pytest
import trio

import trouper
from trouper.testing import TestProbe

T = TypeVar("T")


@attrs.frozen
class Box(Generic[T]):
    item: T


async def test_expect_refuses_a_parameterized_builtin(runtime: trouper.Runtime) -> None:
    """``expect(list[int])`` does not take a str (``list[int]("ab")`` is a truthy list)."""
    p = TestProbe(runtime)
    await p.tell("ab")
    with pytest.raises(
        TypeError,
        match=r"^expect\(list\[int\]\): list\[int\] is a parameterized generic, which cannot be "
        r"matched \(isinstance cannot check its parameters\): expect list, or pass a predicate$",
    ):
        await p.expect(list[int])
    assert await p.expect("ab", within=0) == "ab"


async def test_expect_refuses_a_parameterized_message_class(runtime: trouper.Runtime) -> None:
    """``expect(Box[int])`` does not build a ``Box`` of the message and take anything."""
    p = TestProbe(runtime)
    await p.tell("not a box")
    with pytest.raises(TypeError, match=r"expect Box, or pass a predicate$"):
        await p.expect(Box[int])
    assert p.history[0].message == "not a box"
    assert await p.expect(str, within=0) == "not a box"


async def test_fish_for_refuses_a_generic_at_once(runtime: trouper.Runtime) -> None:
    """``fish_for`` refuses it before waiting (no virtual time passes) or skipping anything."""
    p = TestProbe(runtime)
    await p.tell(Box(1))
    with pytest.raises(
        TypeError, match=r"^fish_for\(typing\.Union\[.*Box\[int\], str\]\): .*Box\[int\] is a param"
    ):
        await p.fish_for(Box[int] | str, within=10)
    assert trio.current_time() == 0
    assert await p.expect(Box, within=0) == Box(1)


async def test_a_literal_is_refused_with_a_predicate_to_use(runtime: trouper.Runtime) -> None:
    """A ``Literal`` has no class to expect: the error says to pass a predicate (or the value)."""
    p = TestProbe(runtime)
    with pytest.raises(TypeError, match=r"cannot check its parameters\): pass a predicate$"):
        await p.expect(Literal["a"], within=0)
