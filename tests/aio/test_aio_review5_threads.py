"""Threads reach an asyncio-hosted runtime through its portal, many at once, and never hang."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import trio
from aio_actors import Account, Balance, Deposit, Gates, Hold, Holder, run, until

import trouper
from trouper.aio import AioRuntime, open_runtime

pytestmark = pytest.mark.real_clock

THREADS = 8
TELLS = 25


def test_portal_calls_from_many_threads_at_once_all_land() -> None:
    """Eight threads telling and asking through the portal at once: no message is lost."""

    def deposit_all(rt: AioRuntime, account: trouper.ActorRef[object]) -> int:
        for _ in range(TELLS):
            rt.portal.tell(account, Deposit(1))
        balance = rt.portal.ask(account, Balance(), timeout=5)
        assert isinstance(balance, int)
        return balance

    async def main() -> tuple[int, list[int]]:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            replies = await asyncio.gather(
                *(asyncio.to_thread(deposit_all, rt, account.ref) for _ in range(THREADS))
            )
            return await account.ask(Balance()), replies

    balance, replies = run(main)
    assert balance == THREADS * TELLS
    assert max(replies) == THREADS * TELLS


def depth(rt: AioRuntime, ref: trouper.ActorRef[object]) -> int:
    """How many messages wait in ``ref``'s mailbox (as the runtime's tree shows it)."""
    info = rt.tree().find(ref.address.path)
    assert info is not None
    return info.mailbox_depth


async def park(entered: trio.Event) -> None:
    """Set ``entered``, then wait for ever (a portal call that only the runtime's end ends)."""
    entered.set()
    await trio.sleep_forever()


@pytest.mark.parametrize("ending", ["graceful", "abort"])
def test_threads_waiting_in_the_portal_when_the_block_ends_get_errors(ending: str) -> None:
    """Threads blocked in the portal as the block ends get ``ActorStopped`` or ``RuntimeClosed``."""

    async def main() -> tuple[list[object], object]:
        calls: list[asyncio.Task[object]] = []
        blocked = asyncio.Event()
        box: list[tuple[AioRuntime, trouper.ActorRef[object]]] = []

        async def owner() -> None:
            async with open_runtime(shutdown=0.01) as rt:
                gates = await Gates.make(rt)
                entered = await rt.run_sync(trio.Event)
                holder = await rt.spawn(Holder, gates.started, gates.gate, [])
                box.append((rt, holder.ref))
                calls.append(asyncio.create_task(asyncio.to_thread(rt.portal.run, park, entered)))
                calls.extend(
                    asyncio.create_task(asyncio.to_thread(rt.portal.ask, holder.ref, Hold()))
                    for _ in range(3)
                )
                await gates.wait_started(rt)
                # The other two asks are in the mailbox, not still on their threads'
                # way in (which would meet the closed runtime instead).
                await asyncio.wait_for(until(lambda: depth(rt, holder.ref) == 2), 5)
                await rt.run(entered.wait)
                blocked.set()
                if ending == "abort":
                    await asyncio.Event().wait()

        block = asyncio.create_task(owner())
        await blocked.wait()
        if ending == "abort":
            block.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await block
        done, _ = await asyncio.wait(calls, timeout=5)
        assert done == set(calls)
        errors: list[object] = [type(call.exception()) for call in calls]
        [(rt, holder)] = box
        try:
            await asyncio.to_thread(rt.portal.ask, holder, Hold())
        except Exception as error:
            return errors, type(error)
        raise AssertionError("the portal answered after the block")

    errors, after = run(main)
    assert errors == [trouper.RuntimeClosed] + [trouper.ActorStopped] * 3
    assert after is trouper.RuntimeClosed
