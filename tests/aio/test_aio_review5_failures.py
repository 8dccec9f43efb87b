"""Failures crossing the bridge: the runtime's own, and a withdrawn call's, reach someone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
from aio_actors import Account, Balance, run

import trouper
from trouper import Actor, Request, handler
from trouper.aio import open_runtime

pytestmark = pytest.mark.real_clock


class Halt(BaseException):
    """An error that is no ``Exception`` (as ``KeyboardInterrupt`` and ``SystemExit`` are)."""


@attrs.frozen
class Crash(Request[None]):
    """Makes a ``Crasher`` raise ``Halt``."""


class Crasher(Actor):
    """Raises ``Halt`` from its handler: an error that is no ``Exception``."""

    @handler
    async def crash(self, message: Crash) -> None:
        raise Halt("halted in a handler")


class FailsWhileAttaching:
    """A transport whose attach fails the runtime before the block's first line."""

    @asynccontextmanager
    async def attach(self, runtime: trouper.Runtime) -> AsyncIterator[None]:
        runtime.fail(ValueError("the cluster refused this node"))
        yield


def test_a_failure_before_the_block_starts_leaves_it_as_that_error() -> None:
    """A runtime failed as it starts raises its error from ``async with``, not a cancellation."""
    reached: list[str] = []

    async def block() -> None:
        async with open_runtime(transport=FailsWhileAttaching()):
            reached.append("body")
            await asyncio.Event().wait()

    async def main() -> int:
        with pytest.raises(ValueError, match=r"^the cluster refused this node$"):
            await block()
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    assert run(main) == 0
    assert reached == []


def test_an_error_that_is_no_exception_escalating_leaves_the_block_as_itself() -> None:
    """A handler's ``BaseException`` past the root leaves the block as itself, as on Trio."""

    async def main() -> None:
        async with open_runtime() as rt:
            crasher = await rt.spawn(Crasher)
            with pytest.raises(trouper.ActorStopped):
                await crasher.ask(Crash())
            await asyncio.Event().wait()

    with pytest.raises(Halt, match=r"^halted in a handler$"):
        run(main)


async def fails_when_cancelled(started: trio.Event) -> None:
    """Wait forever in a nursery whose child raises as it is cancelled."""

    async def child() -> None:
        try:
            await trio.sleep_forever()
        finally:
            raise ValueError("cleanup failed")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(child)
        started.set()
        await trio.sleep_forever()


def test_a_withdrawn_run_that_fails_leaves_the_runtime_running_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A ``run`` whose function raises as its cancelled caller withdraws it: logged, not fatal."""

    async def main() -> int:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 5)
            started = await rt.run_sync(trio.Event)
            call = asyncio.create_task(rt.run(fails_when_cancelled, started))
            await rt.run(started.wait)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            assert not rt.closed
            return await account.ask(Balance())

    with caplog.at_level(logging.ERROR, logger="trouper.aio"):
        assert run(main) == 5
    [record] = caplog.records
    assert record.getMessage() == "a call from asyncio failed after its caller gave up"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ExceptionGroup)
    [error] = record.exc_info[1].exceptions
    assert isinstance(error, ValueError)
    assert error.args == ("cleanup failed",)
