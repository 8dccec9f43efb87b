"""``trouper.aio.open_runtime``: a Trio guest on the asyncio loop, from start to shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio
from aio_actors import Account, Balance, Deposit, Stubborn, Where, Withdraw, run, until

import trouper
from trouper import Directive, OneForOne
from trouper.aio import AioRuntime, open_runtime
from trouper.errors import RuntimeClosed

pytestmark = pytest.mark.real_clock


def test_actors_run_on_the_loops_own_thread() -> None:
    """Handlers run in the thread that runs the asyncio loop: no second scheduler thread."""

    async def main() -> tuple[int, int]:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            return threading.get_ident(), await account.ask(Where())

    loop_thread, handler_thread = run(main)
    assert handler_thread == loop_thread


def test_the_issue_example_runs_as_written() -> None:
    """Spawn, tell, and ask under ``asyncio.timeout``, as the issue shows it."""

    async def main() -> int:
        async with open_runtime() as rt:
            acct = await rt.spawn(Account, 10, name="acct-1")
            await acct.tell(Deposit(5))
            async with asyncio.timeout(1):
                return await acct.ask(Balance())

    assert run(main) == 15


def test_leaving_the_block_stops_every_actor_with_on_stop() -> None:
    """A normal exit shuts down as on Trio: each actor's ``on_stop`` has run when it returns."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime() as rt:
            for opening in (1, 2):
                await rt.spawn(Account, opening, journal)

    run(main)
    assert sorted(journal) == ["on_stop 1", "on_stop 2"]


def test_an_error_in_the_block_leaves_it_after_a_graceful_shutdown() -> None:
    """The block's own error leaves it as is, once every actor has stopped with ``on_stop``."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime() as rt:
            await rt.spawn(Account, 7, journal)
            raise KeyError("the application failed")

    with pytest.raises(KeyError, match="the application failed"):
        run(main)
    assert journal == ["on_stop 7"]


def test_an_escalation_past_the_root_leaves_the_block_as_that_error() -> None:
    """The failure cancels the block (an ``await`` in it) and is raised out of ``async with``."""
    strategy = OneForOne(directives={ValueError: Directive.ESCALATE})

    async def main() -> None:
        async with open_runtime(root_strategy=strategy) as rt:
            account = await rt.spawn(Account, 0, name="acct")
            account.tell_nowait(Withdraw(5))
            await asyncio.Event().wait()

    with pytest.raises(
        trouper.ChildFailed, match=r"^child trouper://local/acct failed and escalated"
    ) as info:
        run(main)
    assert isinstance(info.value.__cause__, ValueError)


def test_an_escalation_leaves_the_owner_task_uncancelled() -> None:
    """The cancellation the failure used is taken back: the task can go on awaiting."""
    strategy = OneForOne(directives={ValueError: Directive.ESCALATE})

    async def failing() -> None:
        async with open_runtime(root_strategy=strategy) as rt:
            (await rt.spawn(Account, 0)).tell_nowait(Withdraw(5))
            await asyncio.Event().wait()

    async def main() -> int:
        with pytest.raises(trouper.ChildFailed):
            await failing()
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0)
        return task.cancelling()

    assert run(main) == 0


def test_cancelling_the_owner_leaves_no_task_behind() -> None:
    """Cancelled from outside: every actor is cancelled, no asyncio task or Trio run is left."""
    journal: list[str] = []

    async def main() -> None:
        entered = asyncio.Event()

        async def owner() -> None:
            async with open_runtime() as rt:
                account = await rt.spawn(Account, 3, journal)
                await account.tell(Deposit(1))
                entered.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(owner())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert not trio.lowlevel.in_trio_run()

    run(main)
    assert journal == []  # cancelled at once, as a cancelled Trio block: no on_stop


def test_an_asyncio_timeout_around_the_block_cancels_it_cleanly() -> None:
    """``asyncio.timeout`` around the block turns into ``TimeoutError``, with nothing left."""

    async def forever() -> None:
        async with asyncio.timeout(0.05), open_runtime() as rt:
            await rt.spawn(Account, 0)
            await asyncio.Event().wait()

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await forever()
        assert not trio.lowlevel.in_trio_run()

    run(main)


def test_a_cancellation_during_the_shutdown_aborts_it() -> None:
    """Cancelled while an ``on_stop`` takes its time, the shutdown turns into an abort."""
    journal: list[str] = []

    async def main() -> None:
        async def owner() -> None:
            async with open_runtime(shutdown=3, shutdown_timeout=3) as rt:
                await rt.spawn(Stubborn, journal)

        task = asyncio.create_task(owner())
        await until(lambda: journal == ["stopping"])
        task.cancel()
        # Aborted, it ends at once; shut down gracefully it would take the 3 s.
        done, _ = await asyncio.wait({task}, timeout=1)
        assert done == {task}
        assert task.cancelled()
        assert not trio.lowlevel.in_trio_run()

    run(main)


def test_options_reach_the_trio_runtime() -> None:
    """``open_runtime(**options)`` takes ``trouper.open_runtime``'s options."""

    async def main() -> str:
        async with open_runtime(node="web") as rt:
            return str((await rt.spawn(Account, 0, name="a")).address)

    assert run(main) == "trouper://web/a"


def test_bad_options_are_raised_by_async_with() -> None:
    """A bad option is raised by ``__aenter__``, and no Trio run is left behind."""

    async def main() -> None:
        with pytest.raises(ValueError, match=r"mailbox_size"):
            async with open_runtime(mailbox_size=-1):
                pass
        assert not trio.lowlevel.in_trio_run()

    run(main)


def test_one_runtime_per_event_loop() -> None:
    """A second runtime on the same loop is refused: one Trio run per thread."""

    async def main() -> None:
        async with open_runtime():
            with pytest.raises(RuntimeError, match=r"^a Trio run is already active"):
                async with open_runtime():
                    pass

    run(main)


def test_calls_after_the_block_raise_runtime_closed() -> None:
    """Once the block is left, every call raises ``RuntimeClosed`` (nothing is swallowed)."""

    async def main() -> None:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
        assert rt.closed
        with pytest.raises(RuntimeClosed, match=r"^the runtime of node 'local' is closed"):
            account.tell_nowait(Deposit(1))
        with pytest.raises(RuntimeClosed, match=r"^the runtime of node 'local' is closed"):
            await account.ask(Balance())
        with pytest.raises(RuntimeClosed, match=r"^the runtime of node 'local' is closed"):
            await rt.spawn(Account, 0)

    run(main)


def test_calls_from_another_thread_are_refused() -> None:
    """Another thread gets a ``RuntimeError`` naming the portal, and the portal works."""

    def from_thread(rt: AioRuntime, account: trouper.aio.AioRef[object]) -> object:
        with pytest.raises(RuntimeError, match=r"portal"):
            account.tell_nowait(Deposit(1))
        rt.portal.tell(account.ref, Deposit(2))
        return rt.portal.ask(account.ref, Balance(), timeout=5)

    async def main() -> object:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            return await asyncio.to_thread(from_thread, rt, account)

    assert run(main) == 2


def test_the_portal_refuses_the_loops_own_thread() -> None:
    """From asyncio code the portal would wait for its own thread: it raises, naming trouper.aio."""

    async def main() -> None:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            with pytest.raises(RuntimeError, match=r"trouper\.aio from asyncio code"):
                rt.portal.tell(account.ref, Deposit(1))

    run(main)


def test_the_trio_runtime_is_reachable_for_trio_code() -> None:
    """``rt.runtime`` is the Trio ``Runtime``; ``rt.run`` runs its async API in Trio."""

    async def main() -> int:
        async with open_runtime() as rt:
            assert isinstance(rt.runtime, trouper.Runtime)
            ref = await rt.run(rt.runtime.spawn, Account, 4)
            return await rt.ref(ref).ask(Balance())

    assert run(main) == 4
