"""Review: a message whose dead letter was refused is dead-lettered again, not run again."""

from __future__ import annotations

import attrs
import pytest
from js_support import Job, dead_letters, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp, durable_ref
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Refuser(trouper.Actor):
    """Gives every job up at its first run, counting its runs."""

    def __init__(self, runs: list[int]) -> None:
        self.runs = runs

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.runs.append(message.n)
        raise GiveUp(f"job {message.n} is refused")


class Listener(trouper.Actor):
    """Keeps the runtime's dead letters."""

    def __init__(self, heard: list[DeadLetter]) -> None:
        self.heard = heard

    @trouper.handler
    async def letter(self, message: DeadLetter) -> None:
        self.heard.append(message)


async def test_a_given_up_message_whose_dead_letter_was_refused_does_not_run_again(
    js_server: NatsServer, prefix: str
) -> None:
    """``GiveUp`` at the first of ten deliveries: the refused dead letter is stored later, as given.

    Released with its deliveries far from used up, the message would run
    again (and again) instead of being dead-lettered with its ``GiveUp``
    reason; the runtime posts its dead letter once, when it is stored.
    """
    runs: list[int] = []
    heard: list[DeadLetter] = []
    store = store_for(js_server.url, prefix, ack_wait=1.0)
    async with trouper.open_runtime(store=store) as rt:
        rt.topics.subscribe(await rt.spawn(Listener, heard), "trouper.system.dead_letters")
        js = store.client.jetstream()
        dead = (await js.stream_info(f"{prefix}_dead")).config
        await js.update_stream(attrs.evolve(dead, max_msg_size=64))  # no dead letter fits
        options = Durable(prefetch=1, backoff=(0.05,), max_deliveries=10)
        await rt.spawn(Refuser, runs, name="jobs", mailbox=options)
        await durable_ref(rt, "jobs").tell(Job(3))
        await eventually(lambda: store.statistics().batches >= 4)  # refused twice at least
        await rt.store.flush()
        assert heard == []
        await js.update_stream(dead)  # room again
        await eventually(lambda: dead_letters(rt, "jobs"), 10)
        (record,) = await dead_letters(rt, "jobs")
        await eventually(lambda: heard)
    assert runs == [3]
    assert record.message == Job(3)
    assert record.reason == "gave up: job 3 is refused"
    assert [(letter.message, letter.reason) for letter in heard] == [
        (Job(3), "gave up: job 3 is refused")
    ]
