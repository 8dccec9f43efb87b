"""Review 5q: a store's refusal of one tell fails that tell alone, not its batch's other tells.

The tells of one scheduler pass share a write batch. A store that refused
one of its messages for good at the commit (JetStream's stream limits) could
only fail the whole batch: another sender's awaited tell raised for a
message not its own, and a ``tell_nowait`` was lost with a log line. A
``TellBatch`` lets the store refuse one append alone (``refused``) and
commit the rest: the refused sender's tell raises, its message is posted
as a dead letter ``not stored: ...``, an ask's asker gets the error.

The store here is a ``SqliteStore`` behind a commit of its own that refuses
a message to ``keeper`` holding ``refuse``, as a broker refuses one over a limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import outcome
import pytest
import trio
from durable_support import sqlite

import trouper
from trouper.durable import Append, Durable, MailboxListener, SqliteStore, WriteBatch
from trouper.errors import StoreRefused
from trouper.runtime import DeadLetter

_REFUSAL = (
    r"^store 'refusing' refused a message for the durable mailbox 'keeper': too large; "
    r"nothing of it was stored, and the store goes on$"
)


class RefusingStore:
    """A SqliteStore that refuses, at the commit, an append to ``keeper`` holding ``refuse``.

    Alone in a ``separable`` batch (``TellBatch``), with the whole batch otherwise.
    """

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.staged: list[WriteBatch] = []
        self.wake = trio.Event()
        self.listeners: dict[str, MailboxListener] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def __aenter__(self) -> RefusingStore:
        await self.inner.open()
        trio.lowlevel.spawn_system_task(self._committer)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.flush()
        await self.inner.aclose()

    def attach(self, mailbox: str, listener: MailboxListener) -> None:
        self.listeners[mailbox] = listener

    def detach(self, mailbox: str, listener: MailboxListener) -> None:
        if self.listeners.get(mailbox) is listener:
            del self.listeners[mailbox]

    def stage(self, batch: WriteBatch) -> None:
        self.staged.append(batch)
        self.wake.set()

    async def stage_and_wait(self, batch: WriteBatch) -> None:
        self.stage(batch)
        await self.durable(batch)

    async def submit(self, batch: WriteBatch) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        await self.stage_and_wait(batch)

    async def durable(self, batch: WriteBatch) -> None:
        if batch.waiters is None:
            batch.waiters = []
        batch.waiters.append(trio.lowlevel.current_task())
        self.wake.set()
        await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)

    async def flush(self) -> None:
        await self.stage_and_wait(WriteBatch())
        await self.inner.flush()

    async def _committer(self) -> None:
        while True:
            await self.wake.wait()
            self.wake = trio.Event()
            taken, self.staged = self.staged, []
            for batch in taken:
                batch.sealed = True
            for batch in taken:
                await self._commit(batch)

    async def _commit(self, batch: WriteBatch) -> None:
        inner = WriteBatch()
        kept: list[tuple[Append, Append]] = []
        refused: list[tuple[Append, StoreRefused]] = []
        for record in batch.appends:
            if record.mailbox == "keeper" and b"refuse" in record.payload:
                what = f"a message for the durable mailbox {record.mailbox!r}: too large"
                refused.append((record, StoreRefused("refusing", what)))
                continue
            copy = inner.append(
                record.mailbox,
                record.type_name,
                record.payload,
                msg_id=record.msg_id,
                dedup_until=record.dedup_until,
                claim=record.claim,
            )
            kept.append((record, copy))
        inner.acks, inner.nacks, inner.dead = batch.acks, batch.nacks, batch.dead
        inner.states, inner.releases, inner.tried = batch.states, batch.releases, batch.tried
        if refused and not batch.separable:
            self._fail(batch, refused[0][1])
            return
        try:
            await self.inner.submit(inner)
        except StoreRefused as error:  # pragma: no cover - SQLite refuses nothing alone
            self._fail(batch, error)
            return
        for record, copy in kept:
            record.id, record.accepted = copy.id, copy.accepted
        if refused:
            batch.refused = refused
        by_mailbox: dict[str, list[Append]] = {}
        for record in batch.appends:
            by_mailbox.setdefault(record.mailbox, []).append(record)
        for mailbox, records in by_mailbox.items():
            listener = self.listeners.get(mailbox)
            if listener is not None:
                listener.appended(records)
                mine = [(r, e) for r, e in refused if r.mailbox == mailbox]
                if mine:
                    listener.refused(mine)
        for callback in batch.callbacks():
            callback()
        for task in batch.waiters or ():
            trio.lowlevel.reschedule(task, outcome.Value(None))
        batch.waiters = None

    def _fail(self, batch: WriteBatch, error: StoreRefused) -> None:
        listeners = {r.mailbox: self.listeners.get(r.mailbox) for r in batch.appends}
        for mailbox, listener in listeners.items():
            if listener is not None:
                listener.appended([r for r in batch.appends if r.mailbox == mailbox])
        for callback in batch.failure_callbacks():
            callback(error)
        for task in batch.waiters or ():
            trio.lowlevel.reschedule(task, outcome.Error(StoreRefused(*error.args)))
        batch.waiters = None


class Keeper(trouper.Actor):
    """Keeps what it is told; answers an ask with it."""

    def __init__(self, got: list[str]) -> None:
        self.got = got

    @trouper.handler
    async def text(self, message: str) -> str:
        self.got.append(message)
        return message


class Letters(trouper.Actor):
    """Notes the dead letters posted."""

    def __init__(self, heard: list[tuple[object, str]]) -> None:
        self.heard = heard

    @trouper.handler
    async def letter(self, message: DeadLetter) -> None:
        self.heard.append((message.message, message.reason))


def _store(tmp_path: Path) -> Any:
    return RefusingStore(sqlite(tmp_path / "s.db"))


async def test_a_refused_tell_fails_alone_and_the_tells_of_its_batch_are_stored(
    tmp_path: Path,
) -> None:
    """Two tells in one pass: the refused one raises and is a dead letter, the other returns."""
    got: list[str] = []
    heard: list[tuple[object, str]] = []
    results: dict[str, object] = {}
    async with trouper.open_runtime(store=_store(tmp_path)) as rt:
        rt.topics.subscribe(await rt.spawn(Letters, heard), "trouper.system.dead_letters")
        ref = await rt.spawn(Keeper, got, name="keeper", mailbox=Durable())

        async def tell(message: str) -> None:
            try:
                await ref.tell(message)
            except StoreRefused as error:
                results[message] = error
            else:
                results[message] = "stored"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(tell, "refuse me")
            nursery.start_soon(tell, "keep me")
            nursery.start_soon(tell, "keep me too")
        await trio.sleep(1)
    assert results["keep me"] == results["keep me too"] == "stored"
    refused = results["refuse me"]
    assert isinstance(refused, StoreRefused)
    with pytest.raises(StoreRefused, match=_REFUSAL):
        raise refused
    assert sorted(got) == ["keep me", "keep me too"]  # trio runs new tasks in no set order
    assert heard == [
        (
            "refuse me",
            "not stored: StoreRefused: store 'refusing' refused a message for the durable "
            "mailbox 'keeper': too large; nothing of it was stored, and the store goes on",
        )
    ]


async def test_a_refused_tell_nowait_is_a_dead_letter_and_its_batch_is_stored(
    tmp_path: Path,
) -> None:
    """A refused tell_nowait is posted as a dead letter; an awaited tell of its pass returns."""
    got: list[str] = []
    heard: list[tuple[object, str]] = []
    async with trouper.open_runtime(store=_store(tmp_path)) as rt:
        rt.topics.subscribe(await rt.spawn(Letters, heard), "trouper.system.dead_letters")
        ref = await rt.spawn(Keeper, got, name="keeper", mailbox=Durable())
        ref.tell_nowait("keep me")
        ref.tell_nowait("refuse me")
        await ref.tell("keep me too")  # joins the batch of the two above
        await trio.sleep(1)
    assert got == ["keep me", "keep me too"]
    assert [message for message, _ in heard] == ["refuse me"]


async def test_a_refused_ask_raises_to_its_asker_alone(tmp_path: Path) -> None:
    """An ask whose message is refused raises StoreRefused; an ask of the same pass is answered."""
    got: list[str] = []
    answers: dict[str, object] = {}
    async with trouper.open_runtime(store=_store(tmp_path)) as rt:
        ref = await rt.spawn(Keeper, got, name="keeper", mailbox=Durable())

        async def ask(message: str) -> None:
            try:
                answers[message] = await ref.ask(message)
            except StoreRefused as error:
                answers[message] = type(error)

        with trio.fail_after(10):  # a lost ask would wait for ever
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask, "refuse me")
                nursery.start_soon(ask, "keep me")
    assert answers == {"refuse me": StoreRefused, "keep me": "keep me"}
    assert got == ["keep me"]


class Relay(trouper.Actor):
    """Tells the keeper what it is told (from a durable handler: the send commits with the ack)."""

    def __init__(self, keeper: trouper.ActorRef[str]) -> None:
        self.keeper = keeper

    @trouper.handler
    async def text(self, message: str) -> None:
        await self.keeper.tell(message)


async def test_a_handlers_refused_send_is_never_refused_alone(tmp_path: Path) -> None:
    """A handler's send shares its ack's fate: refused, the input is not acked (it stays stored)."""
    got: list[str] = []
    async with trouper.open_runtime(store=_store(tmp_path)) as rt:
        keeper = await rt.spawn(Keeper, got, name="keeper", mailbox=Durable())
        relay = await rt.spawn(Relay, keeper, name="relay", mailbox=Durable())
        await relay.tell("refuse me")
        await trio.sleep(1)
        depths = {stats.name: stats.depth for stats in await rt.store.mailbox_statistics()}
    assert got == []
    assert depths["relay"] == 1
