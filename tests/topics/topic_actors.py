"""Actors the topics tests share."""

from __future__ import annotations

import trio

from trouper import Actor


class Collector(Actor):
    """Appends every message to a list shared across its restarts; fails on ``"boom"``."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    async def receive(self, message: object) -> None:
        if message == "boom":
            raise ValueError("boom")
        self.seen.append(message)


class Gated(Actor):
    """Holds each message until ``gate`` is set, then appends it to ``seen``."""

    def __init__(self, gate: trio.Event, seen: list[object]) -> None:
        self.gate = gate
        self.seen = seen

    async def receive(self, message: object) -> None:
        await self.gate.wait()
        self.seen.append(message)
