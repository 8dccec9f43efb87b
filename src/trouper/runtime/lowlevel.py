"""The engine's parts, for the layers built on it (topics, routing, testing, remote).

Like ``trio.lowlevel``: public so that sibling layers need not import private
modules, but not for applications. Everything here may change between
releases without notice.

- ``Cell``: the task that runs one actor; it is its refs' endpoint.
- ``Guardian``: the supervising half of an actor or of the root; ``Runtime.root``
  is the root's.
- ``Mailbox``: the bounded FIFO a cell consumes (shareable by a pool's cells).
- ``spawn_cell``: create and start a child cell under a guardian.
- ``cell_of``: the local cell behind a ref.
- ``Ask``: an ask in flight, as it sits in a mailbox.
- ``running``: run a ``Runtime`` built by hand (with ``cell_class=``) for a block.
"""

from trouper.runtime._cell import Ask, Cell
from trouper.runtime._guardian import Guardian
from trouper.runtime._instrument import HandlerOutcome, Instrument, Interception, SendKind
from trouper.runtime._mailbox import Mailbox
from trouper.runtime._runtime import cell_of, running, spawn_cell

__all__ = [
    "Ask",
    "Cell",
    "Guardian",
    "HandlerOutcome",
    "Instrument",
    "Interception",
    "Mailbox",
    "SendKind",
    "cell_of",
    "running",
    "spawn_cell",
]
