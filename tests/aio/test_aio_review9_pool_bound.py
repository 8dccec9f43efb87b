"""Review: tell_nowait from asyncio to a balancing pool is bounded by the mailbox it goes into."""

from __future__ import annotations

import pytest
from aio_actors import Account, Deposit, run

import trouper
from trouper.aio import open_runtime
from trouper.routing import Balancing

pytestmark = pytest.mark.real_clock


def test_tell_nowait_to_a_balancing_pool_is_bounded_by_its_shared_mailbox() -> None:
    """The pool's own ``mailbox_size=`` bounds what the loop sends ahead, not the runtime's."""

    async def main() -> None:
        async with open_runtime(mailbox_size=50) as rt:
            pool = rt.ref(
                await rt.run(
                    lambda: rt.runtime.spawn_pool(Account, 2, 0, router=Balancing(), mailbox_size=3)
                )
            )
            for _ in range(3):
                pool.tell_nowait(Deposit(1))
            with pytest.raises(trouper.MailboxFull, match=r"is full \(capacity 3 messages\)$"):
                pool.tell_nowait(Deposit(1))

    run(main)
