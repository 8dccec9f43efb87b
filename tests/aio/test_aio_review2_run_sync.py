"""``run_sync`` given an async function refuses it instead of returning its unawaited coroutine."""

from __future__ import annotations

import pytest
from aio_actors import Account, Balance, run

from trouper.aio import open_runtime

pytestmark = pytest.mark.real_clock


def test_run_sync_of_an_async_function_raises_type_error_and_runs_nothing() -> None:
    """``run_sync(rt.runtime.stop, ref)`` raises ``TypeError`` naming ``run``; the actor lives."""

    async def main() -> int:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 7)
            with pytest.raises(
                TypeError,
                match=r"^run_sync expects a synchronous function, but Runtime\.stop returned "
                r"a coroutine: await it with run\(\) instead$",
            ):
                _ = await rt.run_sync(rt.runtime.stop, account.ref)
            return await account.ask(Balance())

    assert run(main) == 7
