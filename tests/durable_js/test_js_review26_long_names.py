"""Review 26: a mailbox name too long for a stream's name is refused, and the runtime goes on.

The server keeps stream names to 255 bytes, and a mailbox's stream is named
``<prefix>_mailbox_<name escaped>``. Asked to open a longer one, it refused
the stream, and a mailbox that cannot be opened failed the whole store: the
runtime stopped over one bad name.
"""

from __future__ import annotations

import pytest
from js_support import Job, JobSink, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp
from trouper.errors import StartFailed
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Refuser(trouper.Actor):
    """Gives every job up."""

    @trouper.handler
    async def job(self, message: Job) -> None:
        raise GiveUp("not here")


@pytest.mark.parametrize("name", ["x" * 300, "é" * 60], ids=["ascii", "escaped"])
async def test_spawning_a_durable_actor_whose_stream_name_is_too_long_fails_that_spawn_alone(
    js_server: NatsServer, prefix: str, name: str
) -> None:
    """The spawn fails with a ValueError saying why; the store and the other actors go on."""
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        with pytest.raises(StartFailed) as raised:
            await rt.spawn(JobSink, got, name=name, mailbox=Durable())
        cause = raised.value.__cause__
        assert isinstance(cause, ValueError)
        assert "is too long for a JetStreamStore" in str(cause)
        assert "the server takes at most 255" in str(cause)
        assert not rt.store.statistics().failed
        sink = await rt.spawn(JobSink, got, name="fine", mailbox=Durable())
        await sink.tell(Job(1))

        async def handled() -> bool:
            return got == [1]

        await eventually(handled)


async def test_redriving_to_a_name_too_long_for_a_stream_is_refused_before_anything_moves(
    js_server: NatsServer, prefix: str
) -> None:
    """``redrive(to=...)`` with such a name raises ValueError and keeps the dead letters."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        refuser = await rt.spawn(Refuser, name="jobs", mailbox=Durable())
        await refuser.tell(Job(0))

        async def buried() -> bool:
            return len([r async for r in rt.store.dead_letters("jobs")]) == 1

        await eventually(buried)
        with pytest.raises(ValueError, match=r"is too long for a JetStreamStore"):
            await rt.store.redrive("jobs", to="z" * 300)
        assert len([r async for r in rt.store.dead_letters("jobs")]) == 1
        assert not rt.store.statistics().failed
