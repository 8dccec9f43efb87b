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
        return _depth_first((self,))


@attrs.frozen
class ActorTree:
    """The live hierarchy; ``str()`` renders it as an indented tree."""

    root_strategy: str
    """How the root supervises top-level actors."""
    actors: tuple[ActorInfo, ...]
    """Top-level actors, in spawn order."""

    def walk(self) -> Iterator[ActorInfo]:
        """Every actor, depth first."""
        return _depth_first(self.actors)

    def find(self, path: str) -> ActorInfo | None:
        """The actor at ``path``, or ``None``."""
        return next((a for a in self.walk() if a.path == path), None)

    def render(self) -> str:
        """Render the tree as text, one actor per line."""
        lines = [f"/ (root, {self.root_strategy})"]
        _render(self.actors, lines)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


# Trees are built, walked and rendered with explicit stacks, not recursion: a chain of
# actors each spawning one child is as deep as it likes, Python's stack is not.


def _depth_first(actors: tuple[ActorInfo, ...]) -> Iterator[ActorInfo]:
    stack = list(reversed(actors))
    while stack:
        actor = stack.pop()
        yield actor
        stack.extend(reversed(actor.children))


def _render(actors: tuple[ActorInfo, ...], lines: list[str]) -> None:
    # (actor, what its line starts with, what its children's lines start with), next on top;
    # the last sibling goes in first, so the first comes out first.
    stack: list[tuple[ActorInfo, str, str]] = []
    siblings, prefix = actors, ""
    while True:
        if siblings:
            stack.append((siblings[-1], prefix + "└── ", prefix + "    "))
            if len(siblings) > 1:
                lead, inner = prefix + "├── ", prefix + "│   "
                for sibling in reversed(siblings[:-1]):
                    stack.append((sibling, lead, inner))
        if not stack:
            return
        actor, lead, prefix = stack.pop()
        strategy = f" [{actor.strategy}]" if actor.strategy else ""
        lines.append(
            f"{lead}{actor.path.rsplit('/', 1)[-1]} ({actor.actor_class}) "
            f"{actor.state.value}, mailbox {actor.mailbox_depth}, handled {actor.handled}, "
            f"restarts {actor.restart_count}{strategy}"
        )
        siblings = actor.children


def _infos(cells: tuple[Cell, ...]) -> tuple[ActorInfo, ...]:
    # Every cell under ``cells`` in pre-order with children taken last first, each with its
    # guardian and its children as read once. Built in reverse of that order, a cell comes
    # after all its descendants, its children on top of ``built`` in start order.
    order: list[tuple[Cell, Guardian | None, int]] = []
    stack = list(cells)
    while stack:
        cell = stack.pop()
        guardian = cell.children_guardian
        if guardian is None:
            order.append((cell, None, 0))
        else:
            kids = guardian.children
            order.append((cell, guardian, len(kids)))
            stack.extend(kids)
    built: list[ActorInfo] = []
    for cell, guardian, count in reversed(order):
        if count:
            children = tuple(built[-count:])
            del built[-count:]
        else:
            children = ()
        built.append(
            ActorInfo(
                path=cell.address.path,
                actor_class=class_label(cell.actor_class),
                state=cell.state,
                mailbox_depth=len(cell.mailbox) if cell.owns_mailbox else 0,
                handled=cell.handled,
                restart_count=cell.restart_count,
                strategy=None if guardian is None or not children else guardian.strategy.describe(),
                children=children,
            )
        )
    return tuple(built)


def build_tree(root: Guardian, strategy: Strategy) -> ActorTree:
    """Snapshot the hierarchy under ``root``."""
    return ActorTree(strategy.describe(), _infos(tuple(root.children)))
