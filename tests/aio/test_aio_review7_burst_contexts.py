"""Review 7: callers' contexts whose values do not compare never make ``tell_nowait`` raise.

Consecutive ``tell_nowait`` calls to one endpoint in one context share a job.
The contexts are compared with ``==``, which compares the values of the
variables that differ: a value whose ``==`` raised (or answered an array, as a
NumPy array's does) made ``tell_nowait`` raise, its message not sent and
counted on its way for ever. Such contexts are now simply not the same.
"""

from __future__ import annotations

import contextvars
import functools

import pytest
from aio_actors import Account, Balance, Deposit, run

from trouper.aio import open_runtime

pytestmark = pytest.mark.real_clock


class Incomparable:
    """A value whose ``==`` raises (as a NumPy array's truth value does)."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("the truth value is ambiguous")

    __hash__ = object.__hash__


PAYLOAD: contextvars.ContextVar[Incomparable] = contextvars.ContextVar("payload")


def test_tell_nowait_in_contexts_with_incomparable_values_delivers_each_message() -> None:
    """Two tells to a pool, the variable set anew between them: both delivered, in order."""

    async def main() -> int:
        async with open_runtime() as rt:
            spawn = functools.partial(rt.runtime.spawn_pool, Account, 1, 0)
            pool = rt.ref(await rt.run(spawn))
            PAYLOAD.set(Incomparable())
            pool.tell_nowait(Deposit(1))  # a job: a pool is never sent to directly
            PAYLOAD.set(Incomparable())
            pool.tell_nowait(Deposit(2))
            return await pool.ask(Balance())

    assert run(main) == 3
