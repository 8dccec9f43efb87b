"""Review 10: a spawn that fails after its factory made the ref's endpoint tells the factory."""

from __future__ import annotations

import pytest

import trouper
from trouper import Actor
from trouper.runtime.lowlevel import Cell, Endpoint


class Unbuildable:
    """An endpoint factory whose actor cannot be built: it keeps what the engine told it."""

    def __init__(self) -> None:
        self.made: list[Endpoint[object]] = []
        self.failed: list[tuple[Cell, Endpoint[object]]] = []

    def __call__(self) -> Actor:
        raise ValueError("cannot build")

    def trouper_endpoint(self, cell: Cell) -> Endpoint[object]:
        self.made.append(cell)
        return cell

    def trouper_spawn_failed(self, cell: Cell, endpoint: Endpoint[object]) -> None:
        self.failed.append((cell, endpoint))


async def test_a_failed_spawn_hands_the_endpoint_back_to_its_factory() -> None:
    """The factory is told once, with the cell and the endpoint it made, that no actor runs."""
    factory = Unbuildable()
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=r"^cannot build$"):
            await rt.spawn(factory, name="routed")
        (made,) = factory.made
        assert factory.failed == [(made, made)]
