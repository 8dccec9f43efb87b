"""``tree()``: the live actor hierarchy as data, and as text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from trouper._text import class_label
from trouper.actors import ActorState
from trouper.supervision import Strategy

if TYPE_CHECKING:
    from trouper.runtime._cell import Cell
    from trouper.runtime._guardian import Guardian

__all__ = ["ActorInfo", "ActorTree", "build_tree"]


@attrs.frozen
class ActorInfo:
    """One actor in the tree, as it was when ``tree()`` was called."""

    path: str
    """Its path, such as ``/bank/acct-1``."""
    actor_class: str
    """Its class name."""
    state: ActorState
    """Where it is in its life."""
    mailbox_depth: int
    """Messages waiting in its mailbox."""
    handled: int
    """Messages it has handled, across restarts."""
    restart_count: int
    """How many times its supervisor restarted it."""
    strategy: str | None
    """How it supervises its children, if it has any; else ``None``."""
    children: tuple[ActorInfo, ...]
    """Its children, in start order."""

    def walk(self) -> Iterator[ActorInfo]:
        """This actor, then its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@attrs.frozen
class ActorTree:
    """The live hierarchy; ``str()`` renders it as an indented tree."""

    root_strategy: str
    """How the root supervises top-level actors."""
    actors: tuple[ActorInfo, ...]
    """Top-level actors, in spawn order."""

    def walk(self) -> Iterator[ActorInfo]:
        """Every actor, depth first."""
        for actor in self.actors:
            yield from actor.walk()

    def find(self, path: str) -> ActorInfo | None:
        """The actor at ``path``, or ``None``."""
        return next((a for a in self.walk() if a.path == path), None)

    def render(self) -> str:
        """Render the tree as text, one actor per line."""
        lines = [f"/ (root, {self.root_strategy})"]
        _render(self.actors, "", lines)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def _render(actors: tuple[ActorInfo, ...], prefix: str, lines: list[str]) -> None:
    for index, actor in enumerate(actors):
        last = index == len(actors) - 1
        branch, extend = ("└── ", "    ") if last else ("├── ", "│   ")
        strategy = f" [{actor.strategy}]" if actor.strategy else ""
        lines.append(
            f"{prefix}{branch}{actor.path.rsplit('/', 1)[-1]} ({actor.actor_class}) "
            f"{actor.state.value}, mailbox {actor.mailbox_depth}, handled {actor.handled}, "
            f"restarts {actor.restart_count}{strategy}"
        )
        _render(actor.children, prefix + extend, lines)


def _info(cell: Cell) -> ActorInfo:
    guardian = cell.children_guardian
    children = () if guardian is None else tuple(_info(c) for c in guardian.children)
    return ActorInfo(
        path=cell.address.path,
        actor_class=class_label(cell.actor_class),
        state=cell.state,
        mailbox_depth=len(cell.mailbox) if cell.owns_mailbox else 0,
        handled=cell.handled,
        restart_count=cell.restart_count,
        strategy=None if guardian is None or not children else guardian.strategy.describe(),
        children=children,
    )


def build_tree(root: Guardian, strategy: Strategy) -> ActorTree:
    """Snapshot the hierarchy under ``root``."""
    return ActorTree(strategy.describe(), tuple(_info(c) for c in root.children))
