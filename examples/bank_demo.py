"""A small bank: accounts are actors under a supervisor; tellers ask them questions.

Shows the runtime at work: several actors, tell and ask, a request refused
with ``Reject`` (the account keeps its state), a crash and the supervisor's
restart (a fresh instance behind the same ref), lifecycle events as they
happen, and the actor tree.
"""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, ChildSpec, Reject, Request, Supervisor, handler


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Withdraw(Request[int]):
    amount: int


@attrs.frozen
class Balance(Request[int]):
    pass


class Account(Actor):
    def __init__(self, opening: int) -> None:
        self.balance = opening

    @handler
    async def deposit(self, msg: Deposit) -> None:
        if msg.amount <= 0:
            raise ValueError(f"a deposit must be positive, got {msg.amount}")
        self.balance += msg.amount

    @handler
    async def withdraw(self, msg: Withdraw) -> int | Reject:
        if msg.amount > self.balance:
            return Reject(ValueError(f"insufficient funds: {self.balance} < {msg.amount}"))
        self.balance -= msg.amount
        return self.balance

    @handler
    async def report(self, msg: Balance) -> int:
        return self.balance


def show(event: trouper.ActorEvent) -> None:
    if event.kind is not trouper.EventKind.STARTED:
        print(f"  event: {event}")


async def main() -> None:
    accounts = [
        ChildSpec(name, Account, (opening,), name=name)
        for name, opening in [("alice", 100), ("bob", 50), ("carol", 0)]
    ]
    async with trouper.open_runtime() as rt:
        rt.events.listen(show)
        await rt.spawn(Supervisor, accounts, name="bank")
        alice, bob = rt.lookup("alice"), rt.lookup("bob")
        assert alice is not None
        assert bob is not None

        print("alice withdraws 30 ->", await alice.ask(Withdraw(30)))
        await bob.tell(Deposit(25))
        print("bob's balance ->", await bob.ask(Balance()))
        try:
            await bob.ask(Withdraw(500))
        except ValueError as refused:
            print("bob withdraws 500 -> refused:", refused)
        print("bob's balance after the refusal ->", await bob.ask(Balance()))

        print("bob deposits -5 (a bug in the caller: the handler raises)")
        await bob.tell(Deposit(-5))
        print("bob's balance after the restart ->", await bob.ask(Balance()))
        print("same ref, same name:", rt.lookup("bob") == bob)
        print()
        print(rt.tree())


if __name__ == "__main__":
    trio.run(main)
