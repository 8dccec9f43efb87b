"""Random runs through closes and reopens: once everything settled, the depth is the store's."""

from __future__ import annotations

from pathlib import Path
from random import Random

import trio
import trio.testing
from durable_support import CODEC, make_store

from trouper.durable import Delivery, Durable, DurableQueue, GiveUp, Retry
from trouper.runtime.lowlevel import MailboxEnding

OPTIONS = Durable(max_deliveries=3, backoff=(1.0,), prefetch=3, capacity=8)
OPS = ("put", "put", "take", "settle", "settle", "reopen", "flush", "wait", "other")
ENDINGS = ("handled", "handled-with-a-send", "error", "retry", "give-up", "returned")


async def _run(seed: int, path: Path) -> None:
    """Random puts, takes, settlements (stale ones too), reopens and waits; then check."""
    rnd = Random(seed)
    async with make_store(path, threads=False) as store, trio.open_nursery() as nursery:
        queue = DurableQueue(store, "a", CODEC, OPTIONS, random=Random(seed))
        other = DurableQueue(store, "b", CODEC, OPTIONS, random=Random(seed + 1))
        for served in (queue, other):
            await nursery.start(served.serve)
        held: list[Delivery] = []
        for n in range(40):
            op = rnd.choice(OPS)
            if op == "put":
                queue.put_nowait(f"m{n}")
            elif op == "other":
                other.put_nowait(f"m{n}")
            elif op == "take" and queue.items:
                item = queue.items.popleft()
                assert isinstance(item, Delivery)
                held.append(item)
            elif op == "settle" and held:
                delivery = held.pop(rnd.randrange(len(held)))
                _settle(queue, other, delivery, rnd.choice(ENDINGS), n)
            elif op == "reopen":
                queue.close()
                queue.reopen()
            elif op == "flush":
                await store.flush()
            elif op == "wait":
                await trio.sleep(rnd.choice([0.0, 0.6, 1.5]))
            if queue.producers:
                queue.admit()
            await trio.testing.wait_all_tasks_blocked()
        for delivery in held:
            queue.settle(delivery, MailboxEnding.RETURNED, None)
        for _ in range(6):  # everything delivered and handled, retries included
            await store.flush()
            await trio.sleep(5)
            for served in (queue, other):
                while served.items:
                    served.settle(served.items.popleft(), MailboxEnding.HANDLED, None)
            await store.flush()
        stored = {stats.name: stats.depth for stats in await store.mailbox_statistics()}
        for served in (queue, other):
            assert served.depth == stored.get(served.name, 0), f"seed {seed}: {served.name}"
            served.close()
            await served.aclose()


def _settle(
    queue: DurableQueue, other: DurableQueue, delivery: Delivery, ending: str, n: int
) -> None:
    if ending.startswith("handled"):
        if ending == "handled-with-a-send":
            delivery.send(other, f"s{n}")
        queue.settle(delivery, MailboxEnding.HANDLED, None)
    elif ending == "returned":
        queue.settle(delivery, MailboxEnding.RETURNED, None)
    else:
        errors = {"error": ValueError("boom"), "retry": Retry(after=0.5), "give-up": GiveUp("no")}
        queue.settle(delivery, MailboxEnding.FAILED, errors[ending])


async def test_the_depth_is_the_stores_once_everything_settled(tmp_path: Path) -> None:
    """Through stale acks of several closed generations too, no room is made twice or kept."""
    for seed in range(100):
        await _run(seed, tmp_path / f"s{seed}.db")
