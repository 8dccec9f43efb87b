"""The asyncio bridge: the runtime as a Trio guest on a running asyncio loop, for asyncio code.

Imports ``trouper.runtime`` and ``trouper.topics`` only (with the actors and errors beneath them).
"""

from trouper.aio._ref import AioRef
from trouper.aio._runtime import AioRuntime, open_runtime

__all__ = ["AioRef", "AioRuntime", "open_runtime"]

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
