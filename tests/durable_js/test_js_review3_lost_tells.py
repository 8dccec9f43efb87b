"""Review: a durable_ref's tell_nowait the server refuses becomes a dead letter, not a log line."""

from __future__ import annotations

import re

import pytest
from js_support import Done, Job, eventually, store_for

import trouper
from trouper.durable import durable_ref
from trouper.errors import StoreFailed
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Listener(trouper.Actor):
    """Keeps the runtime's dead letters."""

    def __init__(self, heard: list[DeadLetter]) -> None:
        self.heard = heard

    @trouper.handler
    async def letter(self, message: DeadLetter) -> None:
        self.heard.append(message)


async def test_a_refused_tell_nowait_to_a_mailbox_hosted_elsewhere_is_a_dead_letter(
    js_server: NatsServer, prefix: str
) -> None:
    """Too large for the server: the staged tell is posted dead, saying why; the store goes on.

    Its ``tell_nowait`` had returned, so only the log said it was lost.
    """
    heard: list[DeadLetter] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        rt.topics.subscribe(await rt.spawn(Listener, heard), "trouper.system.dead_letters")
        ref = durable_ref(rt, "jobs")
        ref.tell_nowait(Done(1, "x" * 2_000_000))  # over the server's max_payload
        await rt.store.flush()
        await eventually(lambda: heard)
        await ref.tell(Job(1))  # the store goes on
        assert not rt.store.statistics().failed
    (letter,) = heard
    assert letter.message == Done(1, "x" * 2_000_000)
    assert letter.recipient == trouper.Address(rt.node, "/jobs")
    assert re.match(
        r"^not stored: ValueError: a message of \d+ bytes with its headers is too large "
        r"for a durable mailbox: at most \d+ bytes",
        letter.reason,
    )
    assert isinstance(letter.error, StoreFailed)
