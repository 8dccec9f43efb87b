"""Review 12: a handler for an abstract class takes its registered (virtual) subclasses too.

``@handler`` promises messages of the annotated classes "or their subclasses".
``dict`` is a subclass of ``collections.abc.Mapping`` and ``float`` of
``numbers.Real`` for ``issubclass``, as for ``functools.singledispatch``, but
neither has the ABC in its MRO: such messages were unhandled.
"""

from __future__ import annotations

import abc
import numbers
from collections.abc import Mapping, Sequence

import pytest

from trouper import Actor, Runtime, handler
from trouper.errors import UnhandledMessage


class Shapes(Actor):
    """Names the abstract kind of each message."""

    @handler
    async def mapping(self, message: Mapping) -> str:  # type: ignore[type-arg]
        return "mapping"

    @handler
    async def sequence(self, message: Sequence) -> str:  # type: ignore[type-arg]
        return "sequence"

    @handler
    async def real(self, message: numbers.Real) -> str:
        return "real"

    @handler
    async def integral(self, message: numbers.Integral) -> str:
        return "integral"

    @handler
    async def text(self, message: str) -> str:
        return "text"


async def test_registered_subclasses_reach_the_abstract_handler(runtime: Runtime) -> None:
    """A dict, a list, a float: each to the handler of the ABC it is registered with."""
    shapes = await runtime.spawn(Shapes)
    assert await shapes.ask({"a": 1}) == "mapping"
    assert await shapes.ask([1]) == "sequence"
    assert await shapes.ask(1.5) == "real"


async def test_the_most_specific_abstract_class_wins(runtime: Runtime) -> None:
    """An int is Integral and Real: Integral is the nearer (as singledispatch picks)."""
    shapes = await runtime.spawn(Shapes)
    assert await shapes.ask(3) == "integral"


async def test_a_class_in_the_mro_still_wins_over_an_abstract_one(runtime: Runtime) -> None:
    """A str is also a Sequence: its own handler takes it."""
    shapes = await runtime.spawn(Shapes)
    assert await shapes.ask("x") == "text"


class OnlyMappings(Actor):
    @handler
    async def mapping(self, message: Mapping) -> str:  # type: ignore[type-arg]
        return "mapping"


async def test_what_no_abstract_class_takes_is_still_unhandled(runtime: Runtime) -> None:
    """A set is no Mapping: still ``UnhandledMessage``."""
    only = await runtime.spawn(OnlyMappings)
    assert OnlyMappings.handles(dict)
    assert not OnlyMappings.handles(set)
    with pytest.raises(UnhandledMessage):
        await only.ask({1})


class Fussy(abc.ABC):
    """An abstract class whose subclass check raises for anything it does not know."""

    @abc.abstractmethod
    def fuss(self) -> None:
        """What a fussy message does."""

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        raise RuntimeError("fussy")


class FussyOrNot(Actor):
    @handler
    async def fussy(self, message: Fussy) -> str:
        return "fussy"

    async def receive(self, message: object) -> str:
        return "receive"


async def test_an_abstract_class_whose_check_raises_matches_nothing(runtime: Runtime) -> None:
    """Its error is not the message's: the message goes on to ``receive``."""
    actor = await runtime.spawn(FussyOrNot)
    assert await actor.ask(3) == "receive"
