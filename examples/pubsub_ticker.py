"""A price ticker over topics: quotes published on ``prices.<exchange>.<symbol>``.

Shows subscription patterns (``*`` for one token, ``>`` for the rest), the
count ``publish`` returns, ``with_subject=True`` for a subscriber that needs
to know where a message came from, a subscriber matched by two patterns
getting each quote once, and the runtime watched through ``trouper.system.>``.
"""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, ActorEvent, Request, handler
from trouper.topics import Published


@attrs.frozen
class Quote:
    symbol: str
    price: float


@attrs.frozen
class Report(Request[list[str]]):
    pass


class Board(Actor):
    """Keeps a line per message it receives; answers ``Report`` with the lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    @handler
    async def quote(self, message: Quote) -> None:
        self.lines.append(f"{message.symbol} {message.price:.2f}")

    @handler
    async def published(self, message: Published) -> None:
        quote = message.message
        assert isinstance(quote, Quote)
        self.lines.append(f"{quote.price:8.2f}  on {message.subject}")

    @handler
    async def event(self, message: ActorEvent) -> None:
        self.lines.append(f"{message.kind.value} {message.address.path}")

    @handler
    async def report(self, message: Report) -> list[str]:
        return self.lines


QUOTES = [("nyse", "ACME", 101.5), ("lse", "ACME", 80.25), ("nyse", "GLOBX", 12.0)]


async def main() -> None:
    async with trouper.open_runtime() as rt:
        acme = await rt.spawn(Board, name="acme-watcher")
        nyse = await rt.spawn(Board, name="nyse-desk")
        system = await rt.spawn(Board, name="system")
        rt.topics.subscribe(acme, "prices.*.ACME")
        rt.topics.subscribe(nyse, "prices.nyse.>", with_subject=True)
        rt.topics.subscribe(nyse, "prices.*.ACME", with_subject=True)  # overlaps: still once
        rt.topics.subscribe(system, "trouper.system.>")
        for exchange, symbol, price in QUOTES:
            reached = await rt.topics.publish(f"prices.{exchange}.{symbol}", Quote(symbol, price))
            print(f"prices.{exchange}.{symbol}: {reached} subscriber(s)")
        await rt.stop(await rt.spawn(Board, name="short-lived"))
        for board in (acme, nyse, system):
            print(f"\n{board.address.path}:")
            for line in await board.ask(Report()):
                print(f"  {line}")


if __name__ == "__main__":
    trio.run(main)
