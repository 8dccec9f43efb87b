"""Review: an ``on_stop`` that raises was logged at ERROR twice, each with its traceback.

The cell logged "on_stop raised" with the traceback, then reported the FAILED to
the instruments, and the event log (the runtime's first instrument) logged that
event again at ERROR with the same traceback. One error gives one record now;
the FAILED still reaches the event log's listeners and every other instrument.
"""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

import trouper
from trouper.runtime import ActorEvent, EventKind
from trouper.runtime.lowlevel import Cell, Instrument


class BadStop(trouper.Actor):
    """Its ``on_stop`` raises."""

    async def on_stop(self) -> None:
        raise RuntimeError("could not flush")


class Failures(Instrument):
    """Remembers the failures the engine reports."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, BaseException]] = []

    def actor_failed(self, actor: Cell, error: BaseException) -> None:
        self.seen.append((actor.address.path, error))


async def test_an_on_stop_error_is_one_log_record_and_still_a_failed_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One ERROR record, with the traceback; the event log's listeners and instruments hear."""
    events: list[ActorEvent] = []
    failures = Failures()
    caplog.set_level(logging.DEBUG, logger="trouper")
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED])
        rt.instruments.add(failures)
        ref = await rt.spawn(BadStop, name="bad")
        await rt.stop(ref)
    records = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(records) == 1, [record.getMessage() for record in records]
    (record,) = records
    assert "on_stop raised" in record.getMessage()
    assert "/bad" in record.getMessage()
    assert getattr(record, "actor", None) == "/bad"  # as the FAILED record said
    assert record.exc_info is not None
    error = record.exc_info[1]
    assert isinstance(error, RuntimeError)
    assert str(error) == "could not flush"
    assert [(event.kind, event.address.path, event.reason) for event in events] == [
        (EventKind.FAILED, "/bad", error)
    ]
    assert failures.seen == [("/bad", error)]


async def test_a_handler_failure_is_still_logged_by_the_event_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only the on_stop path changed: a handler's failure is still the event log's record."""

    class Crashy(trouper.Actor):
        @trouper.handler
        async def crash(self, message: str) -> None:
            raise ValueError(message)

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Crashy, name="crashy")
        await ref.tell("boom")
        await trio.testing.wait_all_tasks_blocked()
    records = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(records) == 1
    assert "/crashy" in records[0].getMessage()
    assert records[0].exc_info is not None
