"""Review 26c: what the NATS client drops unsent (over a lowered max_payload) is not lost silently.

A frame handed to the connection but not yet written when the server lowers
its ``max_payload`` below the frame's size is dropped by the client, which
reported only ``AsyncError(MaxPayloadExceeded(size, limit))``: the ask the
frame carried waited until its deadline (forever without one), and its tells
were lost with no dead letter and not counted unsent. The ask now fails with
that ``MaxPayloadExceeded``, each tell becomes a dead letter saying why, and
both are counted unsent. An answer to another node's ask, dropped so, left
its asker waiting: the asker now gets that error instead.

Web's writes go through a relay that holds them; the relay then sends web
INFOs of its own, as the server does after a configuration reload.
"""

from __future__ import annotations

import re

import pytest
import trio
import trio.testing
from remote_support import Note
from test_remote_review6_watch_behind_backlog import settle
from test_review26b_lost_in_outbox import (
    GHOST,
    InjectingRelay,
    bank_and_ghost,
    fill_write_buffer,
)

import trouper
import trouper.nats
from trouper import DeadLetter
from trouper.errors import NodeUnreachable, RemoteError
from trouper.nats import MaxPayloadExceeded
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.testing import NatsServer


async def test_an_ask_and_a_tell_dropped_by_the_connection_say_so(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """The ask fails with ``MaxPayloadExceeded``, the tell's dead letter says it was not sent and
    why, both are counted unsent; the connection stays up (a later ask is answered)."""
    url = cluster_server.url
    outcomes: list[BaseException] = []
    answered: list[object] = []
    letters: list[DeadLetter] = []
    relay = InjectingRelay(url)
    async with bank_and_ghost(url, prefix, relay) as (_, relayed, _bank, ghost, seen):
        near = Nats(relayed, prefix=prefix, heartbeat=1.0)
        async with (
            trouper.open_runtime(node="web", transport=near) as web,
            trio.open_nursery() as tasks,
        ):
            cluster = cluster_of(web)
            await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["up", GHOST, 1.0]))
            await settle(lambda: cluster.nodes() == ("bank", "ghost", "web"))
            relay.hold()
            try:  # (released whatever happens: leaving would wait for the server)
                await fill_write_buffer(web, ghost, prefix)
                # The tells to ghost still in the connection's write buffer are over this:
                # dropped, they leave it with room, the writer still stuck on the held socket.
                await relay.inject(b'INFO {"max_payload":4096}\r\n')
                await trio.testing.wait_all_tasks_blocked(0.2)
                web.dead_letters.listen(letters.append)
                acct = web.remote("bank", "acct")
                before = cluster.statistics()

                async def tell_and_ask(text: str) -> None:
                    assert acct.tell_nowait(Note("told"))  # the ask joins its batch
                    try:
                        answered.append(await acct.ask(Note(text)))
                    except (MaxPayloadExceeded, NodeUnreachable) as error:
                        outcomes.append(error)

                tasks.start_soon(tell_and_ask, "x" * 2000)
                await trio.testing.wait_all_tasks_blocked(0.2)  # written to the connection
                assert (outcomes, letters) == ([], [])
                assert cluster.statistics().sent == before.sent + 2
                await relay.inject(b'INFO {"max_payload":1024}\r\n')
                await trio.testing.wait_all_tasks_blocked(0.2)
                assert [type(error) for error in outcomes] == [MaxPayloadExceeded]
                (refused,) = outcomes
                assert re.fullmatch(
                    r"message of \d+ bytes exceeds the server's max_payload of 1024", str(refused)
                )
                assert [(letter.message, str(letter.error)) for letter in letters] == [
                    (
                        Note("told"),
                        f"actor trouper://bank/acct is unreachable: it was not sent: {refused} "
                        "(lowered before the connection wrote it)",
                    )
                ]
                assert cluster.statistics().unsent == before.unsent + 2
                tasks.start_soon(acct.tell, Note("small tell"))
                await trio.testing.wait_all_tasks_blocked(0.2)
            finally:
                relay.release()
            await settle(lambda: "small tell" in seen)
            answered.append(await acct.ask(Note("small")))
        assert answered == [None]
        assert seen == ["small tell", "small"]


class Echo(trouper.Actor):
    """Answers a ``Note`` with itself."""

    @trouper.handler
    async def note(self, message: Note) -> Note:
        return message


@pytest.mark.parametrize("waiting_in", ["connection", "outbox"])
async def test_an_answer_over_a_lowered_max_payload_is_replaced_by_why(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock, waiting_in: str
) -> None:
    """The asker gets an error saying the answer exceeded the lowered ``max_payload`` (it waited
    until its deadline, or until the answering node reconnected); the answering node counts the
    answer unsent. The answer waited in the connection's write buffer, or in the outbox."""
    url = cluster_server.url
    outcomes: list[object] = []
    letters: list[DeadLetter] = []
    relay = InjectingRelay(url)
    async with trio.open_nursery() as outer:
        port = await outer.start(relay.serve)
        relayed = f"nats://127.0.0.1:{port}"
        async with (
            trouper.open_runtime(node="web", transport=Nats(url, prefix=prefix)) as web,
            trouper.open_runtime(node="bank", transport=Nats(relayed, prefix=prefix)) as bank,
            trouper.nats.connect(url) as ghost,
            trio.open_nursery() as tasks,
        ):
            await bank.spawn(Echo, name="echo")
            cluster = cluster_of(bank)
            await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["up", GHOST, 1.0]))
            await settle(lambda: cluster.nodes() == ("bank", "ghost", "web"))
            await settle(lambda: cluster_of(web).nodes() == ("bank", "ghost", "web"))
            echo = web.remote("bank", "echo")
            relay.hold()
            try:
                await fill_write_buffer(bank, ghost, prefix)
                if waiting_in == "connection":
                    # The tells to ghost in the write buffer are dropped: it has room again.
                    await relay.inject(b'INFO {"max_payload":4096}\r\n')
                    await trio.testing.wait_all_tasks_blocked(0.2)
                before = cluster.statistics()
                bank.dead_letters.listen(letters.append)  # (tells to ghost dropped meanwhile)

                async def ask() -> None:
                    try:
                        outcomes.append(await echo.ask(Note("x" * 2000)))
                    except Exception as error:
                        outcomes.append(error)

                tasks.start_soon(ask)
                await trio.testing.wait_all_tasks_blocked(0.2)  # answered, not written
                assert outcomes == []
                await relay.inject(b'INFO {"max_payload":1024}\r\n')
                await trio.testing.wait_all_tasks_blocked(0.2)
            finally:
                relay.release()
            await settle(lambda: outcomes != [])
            assert {letter.recipient.node for letter in letters} <= {"ghost"}
            assert cluster.statistics().unsent == before.unsent + 1 + len(letters)
        outer.cancel_scope.cancel()
    (error,) = outcomes
    assert isinstance(error, RemoteError)
    assert error.args[:2] == ("bank", "trouper.nats.MaxPayloadExceeded")
    assert re.fullmatch(
        r"message of \d+ bytes exceeds the server's max_payload of 1024", error.args[2]
    )
