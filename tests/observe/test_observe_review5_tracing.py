"""Review 5: a handler cut off by a restart still ends its span."""

from __future__ import annotations

import trio
import trio.testing
from observe_actors import memory_tracing
from opentelemetry.trace import StatusCode

import trouper
from trouper import Actor, handler


class Stuck(Actor):
    """Never finishes handling an int."""

    @handler
    async def wait(self, message: int) -> None:
        await trio.sleep_forever()


async def test_a_handler_cut_off_by_a_restart_ends_its_span() -> None:
    """The span of a handler a restart cancelled is exported as failed, not lost."""
    tracing, exporter, _ = memory_tracing()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(tracing)
        ref = await rt.spawn(Stuck, name="stuck")
        await ref.tell(1)
        await trio.testing.wait_all_tasks_blocked()
        await rt.restart(ref)  # cuts the handler off after the actor's shutdown seconds
        await ref.tell(2)  # the new instance's handler: a span of its own
        await trio.testing.wait_all_tasks_blocked()
        ended = [span.status.status_code for span in exporter.get_finished_spans()]
        assert ended == [StatusCode.ERROR]
    # The second handler, cut off by the runtime's close, is ended by the actor's stop.
    assert len(exporter.get_finished_spans()) == 2
