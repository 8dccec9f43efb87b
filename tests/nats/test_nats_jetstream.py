"""The JetStream subset against a real server: streams, consumers, acked publishes, pulls, acks."""

from __future__ import annotations

import itertools
import json

import pytest
import trio

from trouper.nats import (
    AckPolicy,
    AlreadyAcknowledged,
    ConsumerConfig,
    DiscardPolicy,
    JetStream,
    JetStreamError,
    JsMsg,
    MsgMetadata,
    NoResponders,
    PubAck,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    connect,
)
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

_names = itertools.count()


def fresh(prefix: str = "S") -> str:
    """A stream name no other test uses (they share one server)."""
    return f"{prefix}{next(_names)}"


async def work_queue(js: JetStream, name: str, **config: object) -> StreamConfig:
    stream = StreamConfig(
        name,
        subjects=[f"{name}.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        **config,  # type: ignore[arg-type]
    )
    await js.add_stream(stream)
    return stream


async def test_stream_lifecycle(nats_url: str) -> None:
    """A stream can be created, read, updated and deleted; then it is not found."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            created = await js.add_stream(
                StreamConfig(name, subjects=[f"{name}.*"], storage=StorageType.MEMORY, max_age=600)
            )
            assert (created.config.name, created.config.subjects) == (name, (f"{name}.*",))
            assert created.config.max_age == 600.0
            await js.publish(f"{name}.a", b"1")
            info = await js.stream_info(name)
            assert (info.state.messages, info.state.last_seq) == (1, 1)
            updated = await js.update_stream(
                StreamConfig(name, subjects=[f"{name}.*"], storage=StorageType.MEMORY, max_msgs=10)
            )
            assert updated.config.max_msgs == 10
            assert await js.purge_stream(name) == 1
            await js.delete_stream(name)
            with pytest.raises(JetStreamError) as caught:
                await js.stream_info(name)
    assert (caught.value.code, caught.value.err_code) == (404, 10059)
    assert str(caught.value) == "JetStream error 404 (10059): stream not found"


async def test_discard_new_per_subject_refuses_a_message_to_a_full_subject_only(
    nats_url: str,
) -> None:
    """With discard NEW per subject, a full subject refuses more; other subjects still take."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            info = await work_queue(
                js,
                name,
                max_msgs_per_subject=1,
                discard=DiscardPolicy.NEW,
                discard_new_per_subject=True,
            )
            assert (await js.stream_info(name)).config == info
            await js.publish(f"{name}.a", b"1")
            with pytest.raises(JetStreamError) as caught:
                await js.publish(f"{name}.a", b"2")
            await js.publish(f"{name}.b", b"3")
            assert (await js.stream_info(name)).state.messages == 2
    assert caught.value.err_code == 10077  # maximum messages per subject exceeded


async def test_consumer_lifecycle(nats_url: str) -> None:
    """A durable consumer can be created, read and deleted."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            config = ConsumerConfig(
                durable_name="w", ack_wait=2.5, max_deliver=4, filter_subject=f"{name}.w"
            )
            info = await js.add_consumer(name, config)
            assert (info.stream_name, info.name) == (name, "w")
            assert (info.config.ack_wait, info.config.max_deliver) == (2.5, 4)
            backoff = ConsumerConfig(
                durable_name="b", max_deliver=4, backoff=(0.5, 2), filter_subject=f"{name}.b"
            )
            assert (await js.add_consumer(name, backoff)).config.backoff == (0.5, 2.0)
            assert (await js.consumer_info(name, "w")).config.ack_policy is AckPolicy.EXPLICIT
            await js.delete_consumer(name, "w")
            with pytest.raises(JetStreamError) as caught:
                await js.consumer_info(name, "w")
    assert caught.value.err_code == 10014


async def test_publish_ack_and_deduplication_by_msg_id(nats_url: str) -> None:
    """A second publish with the same Nats-Msg-Id is acked as a duplicate and not stored."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            first = await js.publish(f"{name}.x", b"once", msg_id="id-1")
            again = await js.publish(f"{name}.x", b"once", msg_id="id-1")
            other = await js.publish(f"{name}.x", b"twice", msg_id="id-2")
            assert (await js.stream_info(name)).state.messages == 2
    assert first == PubAck(name, 1)
    assert again == PubAck(name, 1, duplicate=True)
    assert other == PubAck(name, 2)


async def test_publish_to_no_stream_raises_no_responders(nats_url: str) -> None:
    """A subject no stream takes fails with NoResponders."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            with pytest.raises(NoResponders):
                await nc.jetstream().publish("no.stream.here", b"")


async def test_expectation_failure_is_a_jetstream_error(nats_url: str) -> None:
    """A failed Nats-Expected-Last-Sequence is refused with the server's error."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.x", b"1")
            with pytest.raises(JetStreamError) as caught:
                await js.publish(f"{name}.x", b"2", expected_last_seq=7)
    assert caught.value.code == 400
    assert "wrong last sequence" in caught.value.description


async def test_pipeline_keeps_in_flight_under_its_bound(nats_url: str) -> None:
    """Pipelined publishes never exceed max_in_flight and are acked in order."""
    name = fresh()
    highest = 0
    with trio.fail_after(10):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            async with js.publish_pipeline(max_in_flight=8) as pipe:
                for n in range(200):
                    await pipe.publish(f"{name}.p", str(n).encode(), msg_id=f"p{n}")
                    highest = max(highest, pipe.in_flight)
            assert (await js.stream_info(name)).state.messages == 200
    assert highest == 8
    assert [ack.seq for ack in pipe.acks if ack is not None] == list(range(1, 201))


async def test_pipeline_failure_leaves_the_block_as_an_error(nats_url: str) -> None:
    """A publish of the pipeline that fails makes the block raise that error."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            with pytest.raises(NoResponders):
                async with nc.jetstream().publish_pipeline() as pipe:
                    await pipe.publish("nowhere.at.all", b"")


async def test_fetch_takes_a_batch_with_metadata(nats_url: str) -> None:
    """fetch(3) returns three messages with their stream, consumer and sequences."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            for n in range(5):
                await js.publish(f"{name}.f", str(n).encode())
            consumer = await js.pull_subscribe(name, "reader")
            msgs = await consumer.fetch(3, expires=1)
    assert [m.data for m in msgs] == [b"0", b"1", b"2"]
    meta = msgs[2].metadata
    assert (meta.stream, meta.consumer, meta.num_delivered) == (name, "reader", 1)
    assert (meta.stream_seq, meta.consumer_seq, meta.num_pending) == (3, 3, 2)


async def test_fetch_no_wait_on_an_empty_consumer_returns_nothing(nats_url: str) -> None:
    """With no_wait and nothing stored, fetch returns an empty list at once."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            consumer = await js.pull_subscribe(name, "idle")
            assert await consumer.fetch(10, no_wait=True) == []


async def test_fetch_returns_what_came_when_it_expires(nats_url: str) -> None:
    """A batch larger than what is stored returns the rest when ``expires`` passes."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.e", b"only")
            consumer = await js.pull_subscribe(name, "partial")
            start = trio.current_time()
            msgs = await consumer.fetch(10, expires=0.3)
            assert trio.current_time() - start >= 0.25
    assert [m.data for m in msgs] == [b"only"]


async def test_pull_ended_by_a_409_raises_jetstream_error(nats_url: str) -> None:
    """A waiting pull whose consumer is deleted ends with JetStreamError 409."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            consumer = await js.pull_subscribe(name, "doomed")
            async with trio.open_nursery() as nursery:

                async def pull() -> None:
                    with pytest.raises(JetStreamError) as caught:
                        await consumer.fetch(1, expires=4)
                    assert (caught.value.code, caught.value.description) == (
                        409,
                        "Consumer Deleted",
                    )

                nursery.start_soon(pull)
                while (await consumer.info()).num_waiting == 0:  # noqa: ASYNC110
                    await trio.sleep(0.005)  # the server registers pulls on its own time
                await js.delete_consumer(name, "doomed")


async def test_acked_message_is_not_delivered_again(nats_url: str) -> None:
    """After ack() the message is gone from a work queue."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.a", b"job")
            consumer = await js.pull_subscribe(name, "acker", ConsumerConfig(ack_wait=0.3))
            (msg,) = await consumer.fetch(1, expires=1)
            await msg.ack_sync()
            assert await consumer.fetch(1, expires=0.5) == []
            assert (await js.stream_info(name)).state.messages == 0


async def test_a_confirmed_ack_or_term_has_been_applied_when_its_callback_runs(
    nats_url: str,
) -> None:
    """on_confirmed is called once the server applied the settlement: a full queue has room."""
    name = fresh()
    confirmed: list[object] = []
    with trio.fail_after(10):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name, max_msgs=1, discard=DiscardPolicy.NEW)
            consumer = await js.pull_subscribe(name, "w", ConsumerConfig())
            await js.publish(f"{name}.x", b"0")
            for n in range(1, 11):
                (msg,) = await consumer.fetch(1, expires=1)
                done = trio.Event()

                def on_confirmed(error: object, done: trio.Event = done) -> None:
                    confirmed.append(error)
                    done.set()

                settle = JsMsg.term_nowait if n % 2 else JsMsg.ack_nowait
                settle(msg, on_confirmed=on_confirmed)
                await done.wait()
                await js.publish(f"{name}.x", b"%d" % n)  # room: the queue held one
    assert confirmed == [None] * 10


async def test_nak_with_delay_redelivers_after_the_delay(nats_url: str) -> None:
    """nak(delay=0.3) brings the message back, delivered a second time, not before the delay."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.n", b"retry")
            consumer = await js.pull_subscribe(name, "naker", ConsumerConfig(ack_wait=5))
            (msg,) = await consumer.fetch(1, expires=1)
            start = trio.current_time()
            await msg.nak(delay=0.3)
            (again,) = await consumer.fetch(1, expires=2)
            waited = trio.current_time() - start
    assert again.data == b"retry"
    assert again.metadata.num_delivered == 2
    assert 0.25 <= waited < 2


async def test_in_progress_holds_back_redelivery(nats_url: str) -> None:
    """+WPI restarts the ack_wait clock: no redelivery while work is reported."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.w", b"long job")
            consumer = await js.pull_subscribe(name, "worker", ConsumerConfig(ack_wait=0.6))
            (msg,) = await consumer.fetch(1, expires=1)
            assert await consumer.fetch(1, expires=0.4) == []
            await msg.in_progress()
            assert await consumer.fetch(1, expires=0.4) == []
            await msg.ack()
            await nc.flush()


async def test_without_ack_the_message_comes_back_after_ack_wait(nats_url: str) -> None:
    """A message left unacked is delivered again after ack_wait."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.l", b"lost")
            consumer = await js.pull_subscribe(name, "forgetful", ConsumerConfig(ack_wait=0.3))
            await consumer.fetch(1, expires=1)
            (again,) = await consumer.fetch(1, expires=2)
    assert again.metadata.num_delivered == 2


async def test_term_stops_delivery_for_good(nats_url: str) -> None:
    """term() ends the message: it is never delivered again."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.t", b"poison")
            consumer = await js.pull_subscribe(name, "judge", ConsumerConfig(ack_wait=0.2))
            (msg,) = await consumer.fetch(1, expires=1)
            await msg.term(reason="cannot parse")
            assert await consumer.fetch(1, expires=0.5) == []


async def test_max_deliver_stops_after_that_many_deliveries(nats_url: str) -> None:
    """With max_deliver=2, a message naked twice is not delivered a third time."""
    name = fresh()
    deliveries: list[int] = []
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.m", b"flaky")
            consumer = await js.pull_subscribe(
                name, "limited", ConsumerConfig(max_deliver=2, ack_wait=5)
            )
            for _ in range(3):
                for msg in await consumer.fetch(1, expires=0.4):
                    deliveries.append(msg.metadata.num_delivered)
                    await msg.nak()
    assert deliveries == [1, 2]


async def test_second_ack_raises_already_acknowledged(nats_url: str) -> None:
    """Settling a message twice raises AlreadyAcknowledged; WPI after settling too."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            await js.publish(f"{name}.d", b"x")
            consumer = await js.pull_subscribe(name, "twice")
            (msg,) = await consumer.fetch(1, expires=1)
            await msg.ack()
            with pytest.raises(AlreadyAcknowledged, match=r"already acknowledged \(ack\)$"):
                await msg.nak()
            with pytest.raises(AlreadyAcknowledged):
                await msg.in_progress()


async def test_streams_survive_a_server_restart(own_server: NatsServer) -> None:
    """File-stored messages are still there after the server restarts on the same store."""
    with trio.fail_after(20):
        async with connect(own_server.url, reconnect_wait=0.02) as nc:
            js = nc.jetstream()
            await work_queue(js, "KEPT")
            await js.publish("KEPT.x", b"durable")
            await own_server.arestart()
            await nc.flush()
            while True:
                try:
                    info = await js.stream_info("KEPT")
                    break
                except (JetStreamError, NoResponders):
                    await trio.sleep(0.02)  # JetStream recovers its streams after the restart
    assert info.state.messages == 1


def test_metadata_parses_both_reply_forms() -> None:
    """The short and the domain-and-account forms of $JS.ACK subjects give the same facts."""
    short = MsgMetadata.from_reply("$JS.ACK.ORDERS.w.2.10.7.1700000000500000000.3")
    long = MsgMetadata.from_reply("$JS.ACK.hub.ACCHASH.ORDERS.w.2.10.7.1700000000500000000.3.xyz")
    assert short == MsgMetadata("ORDERS", "w", 2, 10, 7, 1700000000.5, 3)
    assert long == MsgMetadata("ORDERS", "w", 2, 10, 7, 1700000000.5, 3, domain="hub")
    with pytest.raises(ValueError, match="not a JetStream ack subject"):
        MsgMetadata.from_reply("_INBOX.abc")


async def test_configs_go_to_the_wire_in_nanoseconds_without_nones(nats_url: str) -> None:
    """A consumer config reaches the JetStream API with durations in ns, enums as text, no None."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc, connect(nats_url) as watcher:
            js = nc.jetstream()
            await work_queue(js, name)
            requests = await watcher.subscribe(f"$JS.API.CONSUMER.CREATE.{name}.>")
            await watcher.flush()
            info = await js.add_consumer(
                name, ConsumerConfig(durable_name="d", ack_wait=1.5, backoff=(0.5, 1.0))
            )
            wire = json.loads((await requests.next_msg()).data)["config"]
    assert wire["ack_wait"] == 1_500_000_000
    assert wire["backoff"] == [500_000_000, 1_000_000_000]
    assert wire["ack_policy"] == "explicit"
    assert "filter_subject" not in wire
    # And back, in seconds (the server makes ack_wait the first backoff delay).
    assert (info.config.backoff, info.config.ack_wait) == ((0.5, 1.0), 0.5)


async def test_consume_hands_messages_over_as_they_arrive(nats_url: str) -> None:
    """A message published while consume() waits arrives at once, not at the pull's end."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            consumer = await js.pull_subscribe(name, "stream")
            async with consumer.consume(batch=10, expires=30) as messages:
                await js.publish(f"{name}.c", b"now")
                start = trio.current_time()
                msg = await messages.next_msg()
                assert trio.current_time() - start < 2
                await msg.ack()
    assert msg.data == b"now"


async def test_consume_keeps_pulling_past_one_batch(nats_url: str) -> None:
    """Three batches' worth of messages all come through, in order, none twice."""
    name = fresh()
    seen: list[int] = []
    with trio.fail_after(10):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            async with js.publish_pipeline() as pipe:
                for n in range(30):
                    await pipe.publish(f"{name}.k", str(n).encode())
            consumer = await js.pull_subscribe(name, "keeper")
            async with consumer.consume(batch=10, expires=5) as messages:
                async for msg in messages:
                    seen.append(int(msg.data))
                    await msg.ack()
                    if len(seen) == 30:
                        break
    assert seen == list(range(30))


async def test_consume_renews_a_pull_that_expired(nats_url: str) -> None:
    """After a pull expires with nothing, the next message still arrives."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            consumer = await js.pull_subscribe(name, "patient")
            async with (
                consumer.consume(batch=5, expires=0.2) as messages,
                trio.open_nursery() as nursery,
            ):

                async def later() -> None:
                    await trio.sleep(0.5)  # outlive two pulls
                    await js.publish(f"{name}.r", b"late")

                nursery.start_soon(later)
                msg = await messages.next_msg()
    assert msg.data == b"late"


async def test_consume_ends_with_409_when_the_consumer_is_deleted(nats_url: str) -> None:
    """Deleting the consumer under a consume() makes its reader raise JetStreamError 409."""
    name = fresh()
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await work_queue(js, name)
            consumer = await js.pull_subscribe(name, "gone")
            async with (
                consumer.consume(batch=5, expires=4) as messages,
                trio.open_nursery() as nursery,
            ):

                async def read() -> None:
                    with pytest.raises(JetStreamError) as caught:
                        await messages.next_msg()
                    assert caught.value.code == 409

                nursery.start_soon(read)
                while (await consumer.info()).num_waiting == 0:  # noqa: ASYNC110
                    await trio.sleep(0.005)  # the server registers pulls on its own time
                await js.delete_consumer(name, "gone")
