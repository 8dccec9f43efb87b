"""Review 12: ``AioRuntime.spawn_pool`` starts a pool from asyncio, as ``rt.runtime.spawn_pool``.

Cancelled once the pool started, it leaves none behind: see
``test_aio_review8_cancelled_spawn.py``, which covers actors and pools alike.
"""

from __future__ import annotations

import pytest
from aio_actors import Starts, run

from trouper.aio import AioRef, open_runtime
from trouper.routing import Balancing, members

pytestmark = pytest.mark.real_clock


def test_a_pool_spawned_from_asyncio_routes_and_takes_the_options() -> None:
    """Options pass through (router, name); the handle asks a member."""

    async def main() -> tuple[int, bool, object]:
        async with open_runtime() as rt:
            started: list[bool] = []
            pool = await rt.spawn_pool(Starts, 3, started, router=Balancing(), name="jobs")
            assert isinstance(pool, AioRef)
            refs = await rt.run(members, pool.ref)
            return len(refs), rt.lookup("jobs") == pool, await pool.ask("hi")

    assert run(main) == (3, True, "hi")


def test_a_pool_spawn_with_a_bad_size_raises_in_the_caller() -> None:
    """The pool's own refusal reaches the asyncio caller, and the runtime goes on."""

    async def main() -> str:
        async with open_runtime() as rt:
            with pytest.raises(ValueError, match=r"^size must be an int >= 1, got 0$"):
                await rt.spawn_pool(Starts, 0, [])
            return str(await (await rt.spawn(Starts, [])).ask("still"))

    assert run(main) == "still"
