"""Errors that are no ``Exception`` (``pytest.fail``'s, a library's own) cross to the caller."""

from __future__ import annotations

import pytest
from aio_actors import Account, Balance, run

from trouper.aio import open_runtime

pytestmark = pytest.mark.real_clock


class Halt(BaseException):
    """A ``BaseException`` of a library's own (as ``pytest.fail`` raises)."""


def halt_now() -> None:
    raise Halt("halted in run_sync")


async def halt_later() -> None:
    raise Halt("halted in run")


def test_a_base_exception_from_run_sync_reaches_its_caller_and_the_runtime_lives() -> None:
    """``run_sync`` raises the callee's ``BaseException`` itself; the runtime goes on."""

    async def main() -> int:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 3)
            with pytest.raises(Halt, match=r"^halted in run_sync$"):
                await rt.run_sync(halt_now)
            assert not rt.closed
            return await account.ask(Balance())

    assert run(main) == 3


def test_a_base_exception_from_run_reaches_its_caller_and_the_runtime_lives() -> None:
    """``run`` raises the callee's ``BaseException``, not ``RuntimeClosed``; the runtime goes on."""

    async def main() -> int:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 4)
            with pytest.raises(Halt, match=r"^halted in run$"):
                await rt.run(halt_later)
            assert not rt.closed
            return await account.ask(Balance())

    assert run(main) == 4
