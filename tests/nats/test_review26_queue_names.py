"""Review 26: a queue group name is what the server takes for one, no more and no less.

The client checked a queue group as a subject: ``a..b``, ``.a``, ``a.>.b``,
or one holding a form feed or NUL was refused, though nats-server takes any
argument of the SUB line as the queue group (its ``splitArg`` cuts only at
spaces, tabs, CR and LF) and groups members by those bytes. Now only what the
server cannot read as one queue group is refused: an empty name, one holding
a space, tab, CR or LF, ``_sys_`` (the server refuses it to clients), and a
string with no UTF-8 form.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import trio
from nats_fake import wait_for

from trouper.nats import Msg, connect

pytestmark = pytest.mark.real_clock

SEPARATORS = "a queue group must be a non-empty string without spaces, tabs, CR or LF, got "
ACCEPTED = ["a..b", ".a", "a.", "a.>.b", ">", "*", "a\x0cb", "a\x0bb", "a\x00b", "wörk", "q:1"]


def _collector(seen: list[bytes]) -> Callable[[Msg], None]:
    def collect(msg: Msg) -> None:
        seen.append(msg.data)

    return collect


@pytest.mark.parametrize("queue", ACCEPTED, ids=repr)
async def test_a_name_the_server_takes_makes_one_queue_group(nats_url: str, queue: str) -> None:
    """Two members with the name share 20 messages: each arrives once, both stay subscribed."""
    first: list[bytes] = []
    second: list[bytes] = []
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            one = await nc.subscribe("rv26.q", queue=queue, callback=_collector(first))
            two = await nc.subscribe("rv26.q", queue=queue, callback=_collector(second))
            await nc.flush()
            for n in range(20):
                await nc.publish("rv26.q", str(n).encode())
            await nc.flush()
            await wait_for(lambda: len(first) + len(second) >= 20)
            await nc.flush()
            assert one.active
            assert two.active
    assert sorted(int(data) for data in first + second) == list(range(20))


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        ("", SEPARATORS + "''"),
        ("a b", SEPARATORS + "'a b'"),
        ("a\tb", SEPARATORS + "'a\\tb'"),
        ("a\rb", SEPARATORS + "'a\\rb'"),
        ("a\nb", SEPARATORS + "'a\\nb'"),
        (1, SEPARATORS + "1"),
        ("_sys_", "the queue group '_sys_' is reserved by the server for its own subscriptions"),
        ("a\ud800", "a queue group must be encodable as UTF-8, got 'a\\ud800'"),
    ],
    ids=repr,
)
async def test_a_name_the_server_cannot_take_is_refused(
    nats_url: str, queue: object, message: str
) -> None:
    """subscribe() and subscribe_nowait() raise ValueError saying why; nothing is sent."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
                await nc.subscribe("rv26.q", queue=queue)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
                nc.subscribe_nowait("rv26.q", queue=queue, callback=print)  # type: ignore[arg-type]
            # The client is still whole: nothing half-registered went on the wire.
            sub = await nc.subscribe("rv26.q", queue="fine")
            await nc.publish("rv26.q", b"x")
            assert (await sub.next_msg()).data == b"x"
