"""Logging: the actor's path on every record, from the task the record was made in."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import trio
from observe_actors import Echo, Log

import trouper
from trouper.observe import ActorLogFilter, current_actor


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(ActorLogFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    handler = _Records()
    logger = logging.getLogger("observe.tests")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


async def test_a_record_logged_by_an_actor_carries_its_path(
    records: list[logging.LogRecord],
) -> None:
    """A handler's log record gets ``record.actor``, the actor's path."""
    async with trouper.open_runtime() as rt:
        a = await rt.spawn(Echo, name="a")
        await a.ask(Log("from a"))
        logging.getLogger("observe.tests").warning("from the test")
    assert [(r.getMessage(), r.actor) for r in records] == [  # type: ignore[attr-defined]
        ("from a", "/a"),
        ("from the test", None),
    ]


async def test_a_record_with_its_own_actor_keeps_it(records: list[logging.LogRecord]) -> None:
    """``extra={"actor": ...}`` wins over the task the record was made in."""
    async with trouper.open_runtime():
        logging.getLogger("observe.tests").warning("x", extra={"actor": "/elsewhere"})
    assert records[0].actor == "/elsewhere"  # type: ignore[attr-defined]


async def test_current_actor_is_none_in_plain_tasks() -> None:
    """Only an actor's own task has a current actor."""
    seen: list[str | None] = []

    async def plain() -> None:
        seen.append(current_actor())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(plain)
    assert seen == [None]


def test_current_actor_is_none_outside_trio() -> None:
    """Called with no Trio run in the thread, there is no current actor."""
    assert current_actor() is None
