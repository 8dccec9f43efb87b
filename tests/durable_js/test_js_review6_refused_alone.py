"""Review 6: the first tell over a ``max_msg_size`` the store has not seen is refused alone.

The store follows a stream's ``max_msg_size`` from the server's advisories;
a connection not allowed to read them learns it from the first message the
server refuses. That refusal came at the commit and failed the whole batch
the tells of the scheduler pass shared: the other senders' tells were not
stored and their awaited ``tell`` raised about a message not theirs. Their
batch is separable: the server's refusal of one tell now refuses it alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
import trio
from js_support import Done, Job, eventually

import trouper
from trouper.durable import Durable, JetStreamStore
from trouper.errors import StoreRefused
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

LARGE = "x" * 500
"""Over the lowered limit of 300 bytes, far below the server's max_payload."""


@pytest.fixture(scope="module")
def blind_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A syncing JetStream server whose user may not read JetStream's advisories."""
    directory = tmp_path_factory.mktemp("js")
    config = (
        f'jetstream {{ store_dir: "{directory}", sync_interval: always }}\n'
        'authorization { users = [ { user: "app", password: "pw", permissions: '
        '{ subscribe: { deny: ["$JS.EVENT.>"] } } } ] }'
    )
    with NatsServer(jetstream=False, config=config) as server:
        yield server


def blind_store(server: NatsServer, prefix: str) -> JetStreamStore:
    """A store on ``server`` as its user, with test-sized timings."""
    return JetStreamStore(
        f"nats://app:pw@127.0.0.1:{server.port}",
        prefix=prefix,
        ack_wait=2.0,
        poll_expires=2.0,
        heartbeat=0.5,
    )


class Keeper(trouper.Actor):
    """Keeps what it is told."""

    def __init__(self, got: list[object]) -> None:
        self.got = got

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.got.append(message)

    @trouper.handler
    async def done(self, message: Done) -> None:
        self.got.append(message)


class Letters(trouper.Actor):
    """Notes the dead letters posted."""

    def __init__(self, heard: list[tuple[object, str]]) -> None:
        self.heard = heard

    @trouper.handler
    async def letter(self, message: DeadLetter) -> None:
        self.heard.append((message.message, message.reason))


async def lower_the_limit(store: JetStreamStore) -> None:
    """Set the mailbox's stream's ``max_msg_size`` to 300, as an operator would."""
    js = store.client.jetstream()
    info = await js.stream_info(store.stream_name("jobs"))
    await js.update_stream(attrs.evolve(info.config, max_msg_size=300))


async def test_a_tell_sharing_a_pass_with_the_first_refused_one_is_stored(
    blind_server: NatsServer, prefix: str
) -> None:
    """The large tell_nowait is refused at the commit; the awaited tell after it returns."""
    got: list[object] = []
    store = blind_store(blind_server, prefix)
    async with trouper.open_runtime(store=store) as rt:
        ref = await rt.spawn(Keeper, got, name="jobs", mailbox=Durable())
        await lower_the_limit(store)
        with trio.fail_after(5):
            ref.tell_nowait(Done(2, LARGE))  # the store has not seen the limit
            await ref.tell(Job(3))  # staged in the same pass: no checkpoint in between
            await eventually(lambda: got)
            await rt.store.flush()
        assert not rt.store.statistics().failed
    assert got == [Job(3)]


async def test_the_first_refused_awaited_tell_raises_alone_naming_the_servers_refusal(
    blind_server: NatsServer, prefix: str
) -> None:
    """The awaited large tell raises the server's refusal and is the one dead letter."""
    got: list[object] = []
    heard: list[tuple[object, str]] = []
    store = blind_store(blind_server, prefix)
    async with trouper.open_runtime(store=store) as rt:
        rt.topics.subscribe(await rt.spawn(Letters, heard), "trouper.system.dead_letters")
        ref = await rt.spawn(Keeper, got, name="jobs", mailbox=Durable())
        await lower_the_limit(store)
        with trio.fail_after(5):
            ref.tell_nowait(Job(1))
            with pytest.raises(
                StoreRefused, match=r"^.*a message for the durable mailbox 'jobs': .*size.*$"
            ):
                await ref.tell(Done(2, LARGE))  # staged in the same pass as Job(1)
            await eventually(lambda: got and heard)
            await rt.store.flush()
        assert not rt.store.statistics().failed
    assert got == [Job(1)]
    assert [(message, reason[:11]) for message, reason in heard] == [
        (Done(2, LARGE), "not stored:")
    ]


class Relay(trouper.Actor):
    """Tells ``target`` a small and a large message per job, noting each delivery's attempt."""

    def __init__(self, target: trouper.ActorRef[object], attempts: list[int]) -> None:
        self.target = target
        self.attempts = attempts

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.attempts.append(self.ctx.delivery.attempt)
        await self.target.tell(Job(message.n + 100))
        await self.target.tell(Done(message.n, LARGE))


async def test_a_handlers_sends_refused_at_the_commit_fail_whole_with_its_ack(
    blind_server: NatsServer, prefix: str
) -> None:
    """A handler's large send refused by the server is not refused alone: its message comes back."""
    got: list[object] = []
    attempts: list[int] = []
    store = blind_store(blind_server, prefix)
    async with trouper.open_runtime(store=store) as rt:
        ref = await rt.spawn(Keeper, got, name="jobs", mailbox=Durable())
        await lower_the_limit(store)
        relay = await rt.spawn(Relay, ref, attempts, name="relay", mailbox=Durable(backoff=(0.01,)))
        with trio.fail_after(5):
            await relay.tell(Job(1))
            await eventually(lambda: len(attempts) >= 2)
        assert not rt.store.statistics().failed
    assert attempts[:2] == [1, 2]
