"""The host loop's signal handling outlives the runtime it hosted."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from aio_actors import run

from trouper.aio import open_runtime

pytestmark = [
    pytest.mark.real_clock,
    pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs POSIX signals"),
]


def test_a_signal_handler_added_while_the_runtime_ran_still_works_after_it() -> None:
    """``loop.add_signal_handler`` inside the block: the signal still reaches it after the block."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        received = asyncio.Event()
        try:
            async with open_runtime():
                loop.add_signal_handler(signal.SIGUSR1, received.set)
            os.kill(os.getpid(), signal.SIGUSR1)
            async with asyncio.timeout(2):
                await received.wait()
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    run(main)


def test_a_signal_handler_added_while_the_runtime_ran_works_during_it() -> None:
    """``loop.add_signal_handler`` in the block: the signal reaches it while the runtime runs."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        received = asyncio.Event()
        try:
            async with open_runtime():
                loop.add_signal_handler(signal.SIGUSR1, received.set)
                os.kill(os.getpid(), signal.SIGUSR1)
                async with asyncio.timeout(2):
                    await received.wait()
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    run(main)
