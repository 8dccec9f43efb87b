"""Review 5: a view nobody follows does not walk the runtime; one that is followed still does."""

from __future__ import annotations

import httpx
import pytest
import trio
from observe_actors import read_updates

import trouper
from trouper import Actor
from trouper.observe import open_view


async def test_a_view_no_page_follows_does_not_sample_the_runtime() -> None:
    """Without an open update stream the view samples no more (a sample walks every actor)."""
    async with trouper.open_runtime() as rt, open_view(rt, port=0, interval=1.0) as view:
        samples = 0
        sample = view.observer.sample

        def counted() -> None:
            nonlocal samples
            samples += 1
            sample()

        view.observer.sample = counted  # type: ignore[method-assign]
        await trio.sleep(100.0)
    assert samples <= 1


@pytest.mark.real_clock
async def test_a_page_that_comes_after_an_idle_spell_is_followed_again() -> None:
    """Answers show what changed while nobody looked; updates come again at each sample."""
    with trio.fail_after(10.0):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, interval=0.02) as view,
            httpx.AsyncClient(base_url=view.url) as client,
        ):
            await trio.sleep(0.1)  # several intervals with nobody following
            await rt.spawn(Actor, name="late")
            assert (await client.get("/api/summary")).json()["actors"] == 1
            await rt.spawn(Actor, name="later")
            await trio.sleep(0.1)
            updates = await read_updates(view.port, 3)
            rows = [row["path"] for row in updates[0]["tree"]["rows"]]
            times = [update["summary"]["time"] for update in updates]
            assert (rows, times) == (["/late", "/later"], sorted(set(times)))
