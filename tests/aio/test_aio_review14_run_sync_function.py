"""``rt.run`` given a synchronous function says to use ``run_sync`` (as run_sync says run)."""

from __future__ import annotations

import pytest
from aio_actors import Account, run

from trouper.aio import open_runtime

pytestmark = pytest.mark.real_clock


def test_run_of_a_synchronous_function_raises_type_error_naming_run_sync() -> None:
    """``run(rt.runtime.lookup, name)`` raises ``TypeError`` naming the function and run_sync."""

    async def main() -> None:
        async with open_runtime() as rt:
            await rt.spawn(Account, 7, name="a")
            with pytest.raises(
                TypeError,
                match=r"^run expects an async function, but Runtime\.lookup returned ActorRef, "
                r"which cannot be awaited: call a synchronous function with run_sync\(\)$",
            ):
                await rt.run(rt.runtime.lookup, "a")  # type: ignore[arg-type]

    run(main)
