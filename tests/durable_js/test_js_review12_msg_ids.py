"""Review: a msg_id JetStream cannot carry in a header is refused by its own tell, alone."""

from __future__ import annotations

import pytest
from js_support import Job, JobSink, eventually, store_for

import trouper
from trouper.durable import Durable
from trouper.errors import StoreRefused
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

REFUSED = (
    r"^store '.+' refused a message for the durable mailbox 'jobs': a msg_id goes in a header, "
    r"which cannot hold CR or LF: 'b\\nc'; nothing of it was stored, and the store goes on$"
)


async def test_a_msg_id_with_a_line_break_is_refused_by_its_tell_and_sinks_no_other(
    js_server: NatsServer, prefix: str
) -> None:
    """``tell_nowait(..., msg_id="b\\nc")`` raises ``StoreRefused``; its neighbours are stored.

    It was staged, and its header refused at the commit with the batch the
    tells of that scheduler pass share: the other senders' messages were
    never stored (only "not stored" dead letters), for one sender's bad id.
    """
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        jobs = await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        jobs.tell_nowait(Job(1), msg_id="a")
        with pytest.raises(StoreRefused, match=REFUSED):
            jobs.tell_nowait(Job(2), msg_id="b\nc")
        jobs.tell_nowait(Job(3), msg_id="d")
        await rt.store.flush()
        await eventually(lambda: sorted(got) == [1, 3])
        with pytest.raises(StoreRefused, match=REFUSED):
            await jobs.tell(Job(4), msg_id="b\nc")
