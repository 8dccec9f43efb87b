"""How bytes leave (the writer and the end-of-round send), and the synchronous subscribe calls."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
import trio.testing
from nats_fake import connected, fake_server, msg_frame, wait_for

from trouper.nats import ConnectionClosed, Msg, connect

pytestmark = pytest.mark.real_clock


def collector(seen: list[bytes]) -> Callable[[Msg], None]:
    """A callback that appends each message's data to ``seen``."""
    return lambda msg: seen.append(msg.data)


async def test_single_publishes_between_quiet_spells_arrive_in_order(nats_url: str) -> None:
    """Publishes sent on their own after a pause and in bursts keep the order they were made in."""
    seen: list[bytes] = []
    with trio.fail_after(10):
        async with connect(nats_url) as listener, connect(nats_url) as nc:
            await listener.subscribe("order", callback=lambda msg: seen.append(msg.data))
            await listener.flush()
            sent = 0
            for round_ in range(20):
                await nc.flush()  # a round trip: the next publish comes after a quiet spell
                for _ in range(round_ % 4 + 1):
                    await nc.publish("order", str(sent).encode())
                    sent += 1
            await nc.flush()
            await wait_for(lambda: len(seen) == sent)
    assert seen == [str(n).encode() for n in range(sent)]


async def test_a_publish_right_before_close_still_reaches_the_server(nats_url: str) -> None:
    """One publish after a quiet spell, then leaving the block: the message is written first."""
    with trio.fail_after(5):
        async with connect(nats_url) as listener:
            sub = await listener.subscribe("parting", max_msgs=1)
            await listener.flush()
            async with connect(nats_url) as nc:
                await nc.flush()
                await nc.publish("parting", b"bye")
            assert [msg.data async for msg in sub] == [b"bye"]


async def test_requests_after_quiet_spells_are_answered(nats_url: str) -> None:
    """Requests made one at a time, each after the last reply, all get their answers."""
    with trio.fail_after(5):
        async with connect(nats_url) as server, connect(nats_url) as nc:
            await server.subscribe("twice", callback=lambda msg: msg.respond_nowait(msg.data * 2))
            await server.flush()
            answers = [(await nc.request("twice", str(n).encode())).data for n in range(50)]
    assert answers == [str(n).encode() * 2 for n in range(50)]


async def test_a_publish_after_a_quiet_spell_leaves_before_the_publisher_yields() -> None:
    """The first bytes after a quiet spell are sent at once; what follows arrives after them."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            await trio.testing.wait_all_tasks_blocked()
            nc.publish_nowait("first", b"1")
            assert nc.statistics().buffered_bytes == 0
            # Within 50 µs of that send (unless this process was descheduled in
            # between), this one waits for the end of the scheduler round.
            nc.publish_nowait("second", b"22")
            lines = [await peer.read_line() for _ in range(4)]
            assert nc.statistics().buffered_bytes == 0
    assert lines == ["PUB first 1", "1", "PUB second 2", "22"]


async def test_the_end_of_round_send_works_again_after_idle_rounds() -> None:
    """After many rounds with nothing to send, a round's second publish still leaves at its end."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            await trio.testing.wait_all_tasks_blocked()
            for _ in range(2):
                nc.publish_nowait("first", b"1")
                assert nc.statistics().buffered_bytes == 0
                nc.publish_nowait("second", b"22")  # at the round's end (see above)
                lines = [await peer.read_line() for _ in range(4)]
                assert lines == ["PUB first 1", "1", "PUB second 2", "22"]
                for _ in range(200):  # idle rounds: the client drops its end-of-round hook
                    await trio.lowlevel.checkpoint()


async def test_subscribe_nowait_delivers_to_its_callback(nats_url: str) -> None:
    """A subscription made without waiting gets the messages published after it, in order."""
    seen: list[bytes] = []
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = nc.subscribe_nowait("now.*", callback=lambda msg: seen.append(msg.data))
            await nc.flush()
            for n in range(10):
                await nc.publish(f"now.{n}", str(n).encode())
            await wait_for(lambda: len(seen) == 10)
    assert seen == [str(n).encode() for n in range(10)]
    assert sub.subject == "now.*"


async def test_subscribe_nowait_from_a_callback_sees_what_follows(nats_url: str) -> None:
    """A callback can subscribe (a queue group join); the SUB goes out before later publishes."""
    joined: list[bytes] = []
    with trio.fail_after(5):
        async with connect(nats_url) as nc:

            def on_join(msg: Msg) -> None:
                nc.subscribe_nowait("work", queue="g", callback=lambda m: joined.append(m.data))
                msg.respond_nowait(b"joined")

            await nc.subscribe("join", callback=on_join)
            assert (await nc.request("join")).data == b"joined"
            await nc.publish("work", b"job")
            await wait_for(lambda: joined == [b"job"])


async def test_subscribe_nowait_with_a_queue_gives_each_message_to_one_member(
    nats_url: str,
) -> None:
    """Queue members made without waiting share the messages: each arrives once in all."""
    got: list[list[bytes]] = [[], [], []]
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            for seen in got:
                nc.subscribe_nowait("share", queue="q", callback=collector(seen))
            await nc.flush()
            for n in range(200):
                await nc.publish("share", str(n).encode())
            await wait_for(lambda: sum(map(len, got)) == 200)
    assert sorted(int(d) for seen in got for d in seen) == list(range(200))


async def test_subscribe_nowait_on_a_closed_client_raises(nats_url: str) -> None:
    """A closed client refuses a synchronous subscription as it refuses subscribe()."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            await nc.close()
            with pytest.raises(ConnectionClosed):
                nc.subscribe_nowait("x", callback=lambda msg: None)


async def test_unsubscribe_nowait_stops_delivery_of_messages_already_sent() -> None:
    """A callback that unsubscribes gets no message after that, even ones already received."""
    seen: list[bytes] = []
    marked: list[bytes] = []
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):

            def on_msg(msg: Msg) -> None:
                seen.append(msg.data)
                sub.unsubscribe_nowait()

            sub = nc.subscribe_nowait("s", callback=on_msg)
            nc.subscribe_nowait("m", callback=lambda msg: marked.append(msg.data))
            assert await peer.read_until("SUB") == "SUB s 1"
            frames = [msg_frame("s", 1, str(n).encode()) for n in range(5)]
            await peer.send(b"".join([*frames, msg_frame("m", 2, b"end")]))
            assert await peer.read_until("UNSUB") == "UNSUB 1"
            await wait_for(lambda: marked == [b"end"])
    assert seen == [b"0"]
    assert not sub.active


async def test_unsubscribe_nowait_twice_sends_one_unsub() -> None:
    """Unsubscribing again does nothing: one UNSUB is written."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            sub = nc.subscribe_nowait("twice", callback=lambda msg: None)
            sub.unsubscribe_nowait()
            sub.unsubscribe_nowait()
            await nc.publish("marker")
            lines = [await peer.read_line() for _ in range(4)]
    assert lines == ["SUB twice 1", "UNSUB 1", "PUB marker 0", ""]


async def test_the_reader_yields_at_least_once_per_128_callback_deliveries() -> None:
    """A large receive is handed to callbacks in slices: other tasks run between them."""
    count = 2000
    delivered = 0
    gaps: list[int] = []

    def on_msg(msg: Msg) -> None:
        nonlocal delivered
        delivered += 1

    async def watch() -> None:
        last = 0
        while delivered < count:
            await trio.lowlevel.checkpoint()
            gaps.append(delivered - last)
            last = delivered

    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nc.subscribe_nowait("bulk", callback=on_msg)
            assert await peer.read_until("SUB") == "SUB bulk 1"
            nursery.start_soon(watch)
            await peer.send(b"".join(msg_frame("bulk", 1, b"x") for _ in range(count)))
    # Two reader steps at most fall between two steps of the watcher (tasks of a
    # scheduler round run in no fixed order).
    assert delivered == count
    assert max(gaps) <= 2 * 128
