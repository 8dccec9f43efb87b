"""A live view of a running system: a bank, a worker pool and a price topic, served on loopback.

Shows ``trouper.observe.open_view``: the page and its JSON API served from
inside the runtime, and what they show as it happens: a crash and its
restart, a dead letter, a pool's members, a topic's subscribers. Run with
``--serve`` to keep it running (with a little traffic) and open the printed
address in a browser; without it, the example reads its own API once and exits.
"""

from __future__ import annotations

import sys

import attrs
import httpx
import trio

import trouper
from trouper import Actor, ChildSpec, Supervisor, handler
from trouper.observe import open_view


@attrs.frozen
class Withdraw:
    amount: int


class Account(Actor):
    def __init__(self, balance: int) -> None:
        self.balance = balance

    @handler
    async def withdraw(self, msg: Withdraw) -> int:
        if msg.amount > self.balance:
            raise ValueError(f"overdrawn: {self.balance} < {msg.amount}")
        self.balance -= msg.amount
        return self.balance


class Worker(Actor):
    @handler
    async def work(self, job: int) -> int:
        return job * 2


async def traffic(rt: trouper.Runtime, rounds: float) -> None:
    """Some work every tenth of a second: jobs, prices, now and then a crash."""
    workers, alice = rt.lookup("workers"), rt.lookup("alice")
    assert workers is not None
    assert alice is not None
    n = 0
    while n < rounds:
        n += 1
        for job in range(20):
            await workers.tell(job)
        await rt.topics.publish("prices.nyse.ACME", 100 + n % 7)
        if n % 50 == 0:
            await alice.tell(Withdraw(10_000))  # a crash, then a restart
        await trio.sleep(0.1)


async def main(serve: bool) -> None:
    accounts = [ChildSpec(n, Account, (100,), name=n) for n in ("alice", "bob", "carol")]
    async with trouper.open_runtime() as rt, open_view(rt, port=8765 if serve else 0) as view:
        await rt.spawn(Supervisor, accounts, name="bank")
        await rt.spawn_pool(Worker, 4, name="workers")
        rt.topics.subscribe(await rt.spawn(Worker, name="ticker"), "prices.>")
        bob = rt.lookup("bob")
        assert bob is not None
        print("bob withdraws 30 ->", await bob.ask(Withdraw(30)))
        await bob.tell(Withdraw(500))  # bob crashes; the bank restarts him
        await bob.tell("hello")  # no handler takes a str: a dead letter
        await traffic(rt, 3)
        if serve:
            print(f"open {view.url} in a browser (Ctrl-C to stop)")
            await traffic(rt, float("inf"))
        await trio.sleep(1)  # one sample later, rates and the feed are on the page
        async with httpx.AsyncClient(base_url=view.url) as client:
            tree = (await client.get("/api/tree")).json()
            feed = (await client.get("/api/feed")).json()
        for row in tree["rows"]:
            print(
                f"{row['path']:<20} {row['class']:<10} {row['state']:<8} restarts {row['restarts']}"
            )
        for item in feed["items"]:
            if item["kind"] in ("failed", "restarted", "dead_letter"):
                print(f"{item['kind']:<12} {item['path']:<12} {item['reason']}")


if __name__ == "__main__":
    trio.run(main, "--serve" in sys.argv[1:])
