"""Messages, actors and helpers that trouper.remote's tests share (node processes import it too)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import attrs
import trio

import trouper
from trouper import Actor, ActorRef, Reject, Runtime, Terminated, handler
from trouper.remote import Nats


@trouper.message("remote_test.deposit")
@attrs.frozen
class Deposit:
    amount: int


@trouper.message("remote_test.balance")
@attrs.frozen
class Balance(trouper.Request[int]):
    pass


@trouper.message("remote_test.explode")
@attrs.frozen
class Explode:
    text: str


@trouper.message("remote_test.refuse")
@attrs.frozen
class Refuse:
    kind: str


@trouper.message("remote_test.note")
@attrs.frozen
class Note:
    text: str


@trouper.message("remote_test.reply-to")
@attrs.frozen
class ReplyTo:
    """Asks the receiver to tell ``text`` to ``target``; it answers with ``target``."""

    target: ActorRef[object]
    text: str


@trouper.message("remote_test.forward")
@attrs.frozen
class Forward:
    """Asks the receiver to ask ``Balance()`` of ``name`` on ``node`` and answer with it."""

    node: str
    name: str


@trouper.message("remote_test.watch")
@attrs.frozen
class WatchIt:
    """Asks the receiver to watch ``target`` and tell ``report`` what becomes of it."""

    target: ActorRef[object]
    report: ActorRef[object]


@trouper.message("remote_test.watched")
@attrs.frozen
class Watched:
    """What a ``Watcher`` reports: the watched actor's address and the reason's type."""

    path: str
    node: str
    reason: str


@trouper.message("remote_test.stop")
@attrs.frozen
class StopNow:
    pass


@trouper.message("remote_test.slow")
@attrs.frozen
class Slow:
    n: int


class OutOfStock(Exception):
    """An error type only the test processes know (it cannot be rebuilt elsewhere)."""


class Account(Actor):
    """Keeps a balance; raises on ``Explode``; refuses on ``Refuse``; stops on ``StopNow``."""

    def __init__(self, balance: int) -> None:
        self.balance = balance

    @handler
    async def deposit(self, message: Deposit) -> None:
        self.balance += message.amount

    @handler
    async def get(self, message: Balance) -> int:
        return self.balance

    @handler
    async def explode(self, message: Explode) -> None:
        raise ValueError(message.text)

    @handler
    async def refuse(self, message: Refuse) -> Reject:
        if message.kind == "trouper":
            return Reject(trouper.NameTaken("taken"))
        if message.kind == "builtin":
            return Reject(KeyError("missing"))
        return Reject(OutOfStock("no more"))

    @handler
    async def stop(self, message: StopNow) -> None:
        self.ctx.stop()

    @handler
    async def reply_to(self, message: ReplyTo) -> ActorRef[object]:
        await message.target.tell(Note(message.text))
        return message.target

    @handler
    async def forward(self, message: Forward) -> int:
        return await self.ctx.runtime.remote(message.node, message.name).ask(Balance())


class Notes(Actor):
    """Appends the text of every ``Note`` (and every other message) to a shared list."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    @handler
    async def note(self, message: Note) -> None:
        self.seen.append(message.text)

    async def receive(self, message: object) -> None:
        self.seen.append(message)


class Gate(Actor):
    """Records ``Slow`` messages, each only once ``gate`` is set."""

    def __init__(self, gate: trio.Event, seen: list[int]) -> None:
        self.gate = gate
        self.seen = seen

    @handler
    async def slow(self, message: Slow) -> None:
        await self.gate.wait()
        self.seen.append(message.n)


class Watcher(Actor):
    """Watches what ``WatchIt`` names and tells its ``report`` a ``Watched`` when it stops."""

    def __init__(self) -> None:
        self.reports: dict[ActorRef[object], ActorRef[object]] = {}

    @handler
    async def watch_it(self, message: WatchIt) -> None:
        self.reports[message.target] = message.report
        self.ctx.watch(message.target)

    @handler
    async def terminated(self, message: Terminated) -> None:
        report = self.reports.pop(message.ref)
        reason = "" if message.reason is None else type(message.reason).__name__
        address = message.ref.address
        await report.tell(Watched(address.path, address.node, reason))


class Seen(Actor):
    """Appends everything it receives to a shared list."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    async def receive(self, message: object) -> None:
        self.seen.append(message)


@asynccontextmanager
async def nodes(transport: Nats, *names: str) -> AsyncIterator[list[Runtime]]:
    """Runtimes joined as ``names`` to ``transport``'s cluster, all hearing each other."""
    async with AsyncExitStack() as stack:
        runtimes = [
            await stack.enter_async_context(trouper.open_runtime(node=name, transport=transport))
            for name in names
        ]
        with trio.fail_after(10):
            for runtime in runtimes:
                cluster = trouper.remote.cluster_of(runtime)

                def all_heard(cluster: trouper.remote.Cluster = cluster) -> bool:
                    return len(cluster.nodes()) == len(names)

                await wait_for(all_heard)
        yield runtimes


async def wait_for(condition: Callable[[], bool], *, step: float = 0.005) -> None:
    """Poll ``condition`` until it holds (bound it with ``trio.fail_after``).

    For state another node (or process, or the NATS client's own tasks) changes,
    which no event of this test signals.
    """
    while not condition():  # noqa: ASYNC110 - the state changes outside this task
        await trio.sleep(step)


async def watch_from(
    watching: Runtime, watched: Runtime, target: ActorRef[object], seen: list[object]
) -> None:
    """A new ``Watcher`` on ``watching`` watches ``target`` (on ``watched``), telling ``seen``.

    Returns once ``watched`` has the watch: the server has it, and ``watched``
    hears ``watching`` as its one peer.
    """
    watcher = await watching.spawn(Watcher)
    report = await watching.spawn(Seen, seen)
    await watcher.tell(WatchIt(target, report))
    await trouper.remote.cluster_of(watching).flush()
    await wait_for(lambda: trouper.remote.cluster_of(watched).statistics().peers == 1)


async def stop_watched(
    watching: Runtime, watched: Runtime, factory: type[Actor], name: str, seen: list[object]
) -> ActorRef[object]:
    """Start ``factory`` as ``name`` on ``watched``, watch it from ``watching``, fail it.

    It is told ``Explode``, which it answers by raising; started ``TEMPORARY``,
    it stops for good. Returns its remote ref once the watcher's report (the
    reason ``factory`` raised, as it crossed) is in ``seen``.
    """
    await watched.spawn(factory, name=name, restart=trouper.Restart.TEMPORARY)
    ref = watching.remote(watched.node, name)
    await watch_from(watching, watched, ref, seen)
    await ref.tell(Explode("x"))
    await wait_for(lambda: bool(seen))
    return ref


@trouper.message("remote_test.watchers")
@attrs.frozen
class CountWatchers(trouper.Request[int]):
    """Asks an ``Account`` how many watchers it has (local cells or other nodes)."""


@trouper.message("remote_test.stats")
@attrs.frozen
class Stats(trouper.Request["StatsReply"]):
    pass


@trouper.message("remote_test.stats-reply")
@attrs.frozen
class StatsReply:
    handled: int
    lost: int
    reconnects: int


@trouper.message("remote_test.hang")
@attrs.frozen
class Hang:
    """Asks an ``Account`` for an answer it never gives."""


class Counter(Actor):
    """Counts the ``Note``s it handles; answers ``Stats`` with that and its node's counters."""

    def __init__(self) -> None:
        self.handled = 0

    @handler
    async def note(self, message: Note) -> None:
        self.handled += 1

    @handler
    async def stats(self, message: Stats) -> StatsReply:
        counters = trouper.remote.cluster_of(self.ctx.runtime).statistics()
        return StatsReply(self.handled, counters.lost, counters.reconnects)


class Node(Account):
    """The ``Account`` of node processes, which also counts its watchers and can hang."""

    @handler
    async def watchers(self, message: CountWatchers) -> int:
        from trouper.runtime.lowlevel import cell_of

        return len(cell_of(self.ctx.self_ref).bonds.watchers)

    @handler
    async def hang(self, message: Hang) -> None:
        await trio.sleep_forever()
