"""What ``trouper.observe`` reads of the engine, in one place.

Theory of operation
-------------------
Everything the view, the metrics and the page know about a runtime comes
through the few functions below, so that a change in the engine is a change
here only:

- the live hierarchy is read from the cells (``trouper.runtime.lowlevel``):
  the root's children, each cell's ``children_guardian``, and the public
  attributes of a cell (``address``, ``actor_class``, ``state``, ``mailbox``,
  ``handled``, ``restarts``, ``ref``). Reading never changes anything and
  never waits; it runs in the runtime's Trio thread.
- what *happens* (starts, failures, restarts, stops, dead letters, and
  for timing instruments each message) reaches the ``Collector``, ``Metrics``
  and ``Tracing`` as the engine's instrument hooks; ``attach`` installs them
  (``runtime.instruments``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from trouper.actors import ActorState
from trouper.runtime import Runtime
from trouper.runtime.lowlevel import Cell, Guardian, Instrument
from trouper.supervision import Restart

__all__ = [
    "attach",
    "children",
    "find",
    "mailbox_depth",
    "restart_kind",
    "restartable_from_spec",
    "restarts",
    "router_of",
    "strategy_of",
    "top_level",
    "walk",
]


def top_level(runtime: Runtime) -> list[Cell]:
    """The runtime's top-level cells in start order (none once it has stopped)."""
    try:
        root = runtime.root
    except RuntimeError:  # not running yet
        return []
    return root.children


def children(cell: Cell) -> list[Cell]:
    """A cell's children in start order (a copy)."""
    guardian = cell.children_guardian
    return [] if guardian is None else guardian.children


def walk(runtime: Runtime) -> Iterator[tuple[Cell, int]]:
    """Every live cell with its depth (top level is 1), depth first, in start order."""
    stack = [(cell, 1) for cell in reversed(top_level(runtime))]
    while stack:
        cell, depth = stack.pop()
        yield cell, depth
        guardian = cell.children_guardian
        if guardian is not None:
            stack.extend((child, depth + 1) for child in reversed(guardian.children))


def find(runtime: Runtime, path: str) -> Cell | None:
    """The live cell at ``path`` (``/a/b``), or ``None``."""
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return None
    try:
        guardian: Guardian | None = runtime.root
    except RuntimeError:
        return None
    cell: Cell | None = None
    for segment in segments:
        if guardian is None:
            return None
        cell = guardian.find(segment)
        if cell is None:
            return None
        guardian = cell.children_guardian
    return cell


def mailbox_depth(cell: Cell) -> int:
    """Messages waiting for the cell (a pool member sharing a mailbox shows the shared queue)."""
    return len(cell.mailbox)


def strategy_of(cell: Cell) -> str | None:
    """How the cell supervises its children, if it has any."""
    guardian = cell.children_guardian
    if guardian is None or not guardian.children:
        return None
    return guardian.strategy.describe()


def restarts(cell: Cell) -> int:
    """How many times the cell's supervisor restarted it."""
    return cell.restart_count


def restart_kind(cell: Cell) -> str:
    """The cell's restart kind (``permanent``, ``transient``, ``temporary``)."""
    return cell.restart.value


def restartable_from_spec(cell: Cell) -> bool:
    """Whether the cell's supervisor can start it again from its spec (not ``TEMPORARY``).

    A child spawned without a spec, or from a ``TEMPORARY`` one, is refused
    by ``Supervisor``'s ``RestartChild``.
    """
    spec = cell.spec
    return spec is not None and spec.restart is not Restart.TEMPORARY


def router_of(cell: Cell) -> str | None:
    """The router's name if the cell is a pool (its ref routes through another endpoint)."""
    endpoint: object = cell.ref.endpoint
    if endpoint is cell:
        return None
    return type(endpoint).__name__.removesuffix("Endpoint")


def is_alive(cell: Cell) -> bool:
    """Whether the cell has not stopped for good."""
    return cell.state is not ActorState.STOPPED


def attach(runtime: Runtime, instrument: Instrument) -> Callable[[], None]:
    """Install ``instrument`` on ``runtime`` (``runtime.instruments``); return what uninstalls it.

    An instrument that was installed already stays installed after the
    returned function runs: whoever installed it uninstalls it.
    """
    instruments = runtime.instruments
    if instrument in instruments:
        return lambda: None
    instruments.add(instrument)
    return lambda: instruments.remove(instrument)
