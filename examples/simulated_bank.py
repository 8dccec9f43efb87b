"""Transfers between accounts under crashes and message drops, explored over many seeds.

The careful teller keeps balances in a store that outlives restarts (a
stand-in for a database), makes debits and credits idempotent by transfer id,
and retries each step until it is confirmed: money is conserved whatever the
seed. The naive teller debits, then tells the credit without waiting for it
to be confirmed: ``explore`` finds a seed where a dropped credit loses money,
and replaying that seed gives the same trace. ``--replay SEED`` prints it.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import attrs
import trio

from trouper import Actor, ActorRef, HandlerError, handler
from trouper.testing import (
    Crash,
    Drop,
    FaultPlan,
    Simulation,
    SimulationResult,
    explore,
    run_simulation,
)

OPENING = {"alice": 100, "bob": 100, "carol": 100}
FAULTS = FaultPlan(Crash("/*", probability=0.05), Drop(("<main>", "/*"), probability=0.1))


@attrs.frozen
class Debit:
    transfer: int
    amount: int


@attrs.frozen
class Credit:
    transfer: int
    amount: int


class Account(Actor):
    def __init__(self, name: str, store: dict[str, int], done: set[tuple[str, int]]) -> None:
        self.name, self.store, self.done = name, store, done

    @handler
    async def debit(self, msg: Debit) -> bool:
        if ("debit", msg.transfer) not in self.done:
            if self.store[self.name] < msg.amount:
                return False
            self.store[self.name] -= msg.amount
            self.done.add(("debit", msg.transfer))
        return True

    @handler
    async def credit(self, msg: Credit) -> None:
        if ("credit", msg.transfer) not in self.done:
            self.store[self.name] += msg.amount
            self.done.add(("credit", msg.transfer))


async def confirmed(account: ActorRef[object], message: object) -> object:
    while True:  # safe to retry: both steps are idempotent
        try:
            with trio.fail_after(1):
                return await account.ask(message)
        except (trio.TooSlowError, HandlerError):
            continue


def bank(careful: bool) -> Callable[[Simulation], Awaitable[dict[str, int]]]:
    async def system(sim: Simulation) -> dict[str, int]:
        store, done = dict(OPENING), set[tuple[str, int]]()
        accounts = {n: await sim.runtime.spawn(Account, n, store, done, name=n) for n in store}
        for transfer in range(12):
            source, target = sim.random.sample(sorted(accounts), 2)
            amount = sim.random.randint(1, 40)
            if not await confirmed(accounts[source], Debit(transfer, amount)):
                continue
            if careful:
                await confirmed(accounts[target], Credit(transfer, amount))
            else:
                await accounts[target].tell(Credit(transfer, amount))
        await trio.sleep(1)  # let the last tells land
        return store

    system.__qualname__ = f"bank({careful})"
    return system


def conserved(result: SimulationResult[dict[str, int]]) -> None:
    assert result.value is not None
    total = sum(result.value.values())
    assert total == sum(OPENING.values()), f"money not conserved: {result.value}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--replay"]:
        print(run_simulation(bank(False), seed=int(sys.argv[2]), faults=FAULTS).trace)
    else:
        print(explore(bank(True), seeds=range(200), check=conserved, faults=FAULTS))
        report = explore(bank(False), seeds=range(200), check=conserved, faults=FAULTS)
        print(str(report).split("\ntrace")[0])
