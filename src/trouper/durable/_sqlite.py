"""The SQLite store: stdlib ``sqlite3`` in two dedicated threads, group commit, one lock per file.

Theory of operation
-------------------
No SQLite call runs on Trio's thread. A writer thread owns the connection
that writes; a reader thread owns a second connection (WAL mode lets it read
while the writer writes) for statistics, dead-letter listings and states.
Each thread takes jobs from a queue and hands each result back to Trio with
``TrioToken.run_sync_soon``.

Group commit: ``stage`` and ``submit`` append a batch to ``_pending`` and, if
the writer is idle, schedule ``_start`` for the end of the current pass of
the scheduler (so every task woken together stages first). ``_start`` hands
everything pending to the writer thread as one group: one transaction, one
``fsync``. While that commit is in the thread, new batches accumulate in
``_pending``; when it completes (``_done``) the next group starts at once.
There is no timer: an idle store adds no latency, a busy one commits as
often as the disk allows, and every commit carries all that piled up.

A group stays open until the writer thread starts it. That thread runs
Python only while it holds the GIL, and while Trio's thread is busy it
rarely gets it (Trio's thread gives the GIL up and takes it back at every
``epoll`` call, before the waiting thread wakes), so a group handed over
often waits there until Trio's thread blocks. Batches staged meanwhile
join it (``_join``, from the committer, under the group's lock) instead
of forming the next group, which would pay an ``fsync`` of its own.

A failed commit (a full disk, an I/O error) is rolled back by SQLite; the
store then fails as a whole: every batch of that group and every batch
pending or staged after it raises ``StoreFailed``, and attached mailboxes are
told. After an ``fsync`` error the kernel may already have dropped the
written pages, so retrying could acknowledge what is not on disk
(PostgreSQL's "fsyncgate"); stopping loudly never does. Reopening the store
recovers: what was not acknowledged is still there.

One runtime per file: ``open`` takes an exclusive ``flock`` on ``<file>-lock``
and one on the file itself (held by the open files, so the kernel releases
them when the process dies, even by SIGKILL) and refuses with ``StoreLocked``
if another store holds either, in this process or another: the file's own
lock catches another name of it (a hard link), and in this process a file a
store has open is known by its device and inode before it is even opened.
A refused open removes the lock file it made. Readers that only inspect
(the CLI) take no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import outcome
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from trouper.codec import Codec
from trouper.durable._clock import (
    hold_virtual_time,
    on_virtual_time,
    release_virtual_time,
    wall_now,
)
from trouper.durable._queue import MessageCodec
from trouper.durable._schema import check_header, check_logged, prepare, store_error
from trouper.durable._store import (
    Append,
    DeadLetterRecord,
    MailboxListener,
    MailboxOpening,
    MailboxStatistics,
    StoredMessage,
    StoreStatistics,
    WriteBatch,
    checked_dead_letter_choice,
    checked_redrive_target,
    copy_failure,
    decoded,
    run_failure_callbacks,
)
from trouper.errors import StoreError, StoreFailed, StoreLocked

__all__ = ["SqliteStore"]

log = logging.getLogger("trouper")

T = TypeVar("T")

Synchronous = Literal["full", "normal"]

_PAGE = 100  # dead letters read per query while iterating

_COLUMNS = (
    "id, type_name, payload, msg_id, deliveries, retries, enqueued_at, "
    "first_delivered_at, last_delivered_at"
)
_INSERT = (
    "INSERT INTO messages (id, mailbox, type_name, payload, msg_id, available_at, enqueued_at) "
    "VALUES (?, ?, ?, ?, ?, 0, ?)"
)
# A live record of the same id makes the append a duplicate (no row changed);
# an expired one is replaced.
_DEDUP = (
    "INSERT INTO dedup (mailbox, msg_id, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (mailbox, msg_id) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE dedup.expires_at IS NOT NULL AND dedup.expires_at <= ?"
)
# The expired ids up to the n-th to expire (ties with it go too), all found
# through the expiry index: a row-value ``IN`` over the primary key would seek
# by mailbox alone and scan every id the mailbox keeps.
_PURGE = (
    "DELETE FROM dedup WHERE expires_at <= coalesce((SELECT expires_at FROM dedup "
    "WHERE expires_at <= ?1 ORDER BY expires_at LIMIT 1 OFFSET ?2), ?1)"
)
_CLAIM = "UPDATE mailboxes SET claimed_upto = max(coalesce(claimed_upto, 0), ?) WHERE id = ?"
_NACK = (
    "UPDATE messages SET deliveries = ?, retries = ?, available_at = ?, "
    "last_delivered_at = ?, first_delivered_at = coalesce(first_delivered_at, ?) WHERE id = ?"
)
_BURY = (
    "INSERT INTO dead_letters (id, mailbox, type_name, payload, msg_id, deliveries, reason, "
    "traceback, enqueued_at, first_delivered_at, last_delivered_at, dead_at) "
    "SELECT id, mailbox, type_name, payload, msg_id, ?, ?, ?, enqueued_at, "
    "coalesce(first_delivered_at, ?), coalesce(?, last_delivered_at), ? "
    "FROM messages WHERE id = ?"
)
_DELETE = "DELETE FROM messages WHERE id = ?"
_SAVE_STATE = (
    "INSERT INTO states (key, data, saved_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at"
)
# A suspect handed out and not settled when its consumer stops cleanly was
# returned, not run: it gets its charged delivery back.
_UNCHARGE = (
    "UPDATE messages SET deliveries = deliveries - 1 WHERE deliveries > 0 AND id = "
    "(SELECT trying FROM mailboxes WHERE id = ?)"
)
_RELEASE = "UPDATE mailboxes SET claimed_upto = NULL, trying = NULL WHERE id = ?"
_NEXT_ID = "SELECT coalesce(max(value), 1) FROM meta WHERE key = 'next_id'"
_RESERVE = (
    "INSERT INTO meta (key, value) VALUES ('next_id', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_ID_BLOCK = 1 << 16  # delivery ids reserved on disk at a time (one more write per block)
_TRIED = "UPDATE mailboxes SET trying = NULL WHERE id = ?"


# The files stores of this process have open, by (device, inode), each with the
# lock file its store took (named when another name of the file is refused).
# Guarded by ``_held_lock``: stores open in their own writer threads.
_held: dict[tuple[int, int], str] = {}
_held_lock = threading.RLock()


def _identity(status: os.stat_result) -> tuple[int, int]:
    """A file's identity whatever its name: its device and inode."""
    return status.st_dev, status.st_ino


def _open_lock_file(lock_path: str) -> tuple[int, bool]:
    """Open (or create) the lock file; return its descriptor and whether it was made here."""
    while True:
        try:
            return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            pass
        try:
            return os.open(lock_path, os.O_RDWR), False
        except FileNotFoundError:  # removed in between (a refused open cleaning up): again
            continue


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _no_abort(_: object) -> Abort:
    # A job already handed to a thread cannot be taken back: the caller waits
    # for its result, and a pending cancellation strikes at its next checkpoint.
    return Abort.FAILED


class _Worker:
    """A dedicated thread running jobs one at a time, each result handed back to Trio."""

    __slots__ = ("_jobs", "_thread", "_token")

    def __init__(self, name: str, token: trio.lowlevel.TrioToken) -> None:
        # Jobs (function, callback on Trio's thread) in order; None stops the thread.
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], object], Callable[[outcome.Outcome[object]], object]] | None
        ] = queue.SimpleQueue()
        # Where results go back to Trio.
        self._token = token
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            function, done = job
            result = outcome.capture(function)
            try:
                self._token.run_sync_soon(done, result)
            except trio.RunFinishedError:
                return

    def post(
        self, function: Callable[[], object], done: Callable[[outcome.Outcome[Any]], object]
    ) -> None:
        """Run ``function()`` in the thread, then ``done(outcome)`` on Trio's thread."""
        self._jobs.put((function, done))

    async def call(self, function: Callable[[], T]) -> T:
        """Run ``function()`` in the thread and return its result (waits even if cancelled)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        task = current_task()
        hold_virtual_time()

        def done(result: outcome.Outcome[object]) -> None:
            release_virtual_time()
            reschedule(task, result)

        self.post(function, done)
        return await wait_task_rescheduled(_no_abort)  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Let the thread finish once the jobs before this call are done."""
        self._jobs.put(None)


class _Inline:
    """Runs each job at once on Trio's thread (``threads=False``): for deterministic simulations."""

    __slots__ = ()

    def post(
        self, function: Callable[[], object], done: Callable[[outcome.Outcome[Any]], object]
    ) -> None:
        """Run ``function()`` now, then ``done(outcome)`` (the caller is not a waiter)."""
        done(outcome.capture(function))

    async def call(self, function: Callable[[], T]) -> T:
        """Run ``function()`` now, after a checkpoint, and return its result."""
        await trio.lowlevel.checkpoint()
        return function()

    def stop(self) -> None:
        """Nothing to stop."""


class _Entry:
    """A batch or an operation waiting for the writer, and who waits for it."""

    __slots__ = ("batch", "op", "waiter")

    def __init__(self, batch: WriteBatch | None, op: _Op | None, waiter: Task | None) -> None:
        # The writes, or None for an operation.
        self.batch = batch
        # An operation with a result (fetch, recovery, redrive...), or None.
        self.op = op
        # The task parked until this entry is durable, or None (staged only).
        self.waiter = waiter


class _Group:
    """Entries handed to the writer thread as one transaction; open until the thread starts it.

    The writer thread runs Python only when it holds the GIL, and while
    Trio's thread is busy it seldom gets it: a group handed over may wait
    there until Trio's thread blocks. Until the thread starts the group,
    Trio's thread adds what was staged since (``SqliteStore._join``), so
    that wait fills the group instead of leaving the next one behind it,
    paying its own ``fsync``. ``lock`` makes starting and joining exclusive.
    """

    __slots__ = ("entries", "lock", "now", "rows", "started")

    def __init__(self, entries: list[_Entry], rows: int, now: float) -> None:
        # The batches and operations, in staging order (fetches may go first).
        self.entries = entries
        # About how many rows they write (bounds what may join, see _GROUP_ROWS).
        self.rows = rows
        # Wall-clock seconds the commit records (the time of the last join).
        self.now = now
        # Set by the writer thread, under ``lock``, when it takes the entries:
        # from then on nothing joins and ``entries`` does not change.
        self.started = False
        self.lock = threading.Lock()


def _commit_group(writing: _Writing, group: _Group) -> tuple[int, int] | None:
    """Close ``group`` to joiners and commit it (the writer thread)."""
    with group.lock:
        group.started = True
    return _commit(writing, group.entries, group.now)


class _Writing:
    """The writer thread's own state: its connection, mailbox ids and the next delivery id."""

    __slots__ = (
        "big_chunk",
        "boxes",
        "connection",
        "next_expiry",
        "next_id",
        "opened",
        "reserved",
        "soon",
    )

    def __init__(self, connection: sqlite3.Connection) -> None:
        # The writing connection (autocommit mode; transactions are explicit).
        self.connection = connection
        # Rows per statement of a large group: _BIG_CHUNK, fewer if SQLite
        # allows fewer parameters (999 before 3.32), at least _CHUNK.
        limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.big_chunk = max(_CHUNK, min(_BIG_CHUNK, limit // 6 // _CHUNK * _CHUNK))
        # Trio's ``run_sync_soon`` when the writer is a thread (None inline):
        # a fetch's ``prepare`` runs through it while the commit is on disk.
        self.soon: Callable[..., object] | None = None
        # Mailbox name -> row id, filled on first use.
        self.boxes: dict[str, int] = {}
        # The row ids of the mailboxes opened by this run (their claims are its
        # own: a clean stop releases them, and only them).
        self.opened: set[int] = set()
        # When the first stored dedup id expires (inf: none will): commits purge
        # expired ids only once it has passed.
        self.next_expiry = _first_expiry(connection)
        # The id the next appended message gets: at or above the stored
        # ``next_id`` (above every id ever handed out: ids are never reused, even
        # once the newest messages were acked), above every stored id, and above
        # every id a mailbox's watermarks still name (an unclean stop's claim may
        # name acked messages: a new message under it would be taken for a suspect).
        self.next_id: int = max(
            connection.execute(_NEXT_ID).fetchone()[0],
            1 + connection.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0],
            1 + connection.execute("SELECT coalesce(max(id), 0) FROM dead_letters").fetchone()[0],
            1
            + connection.execute(
                "SELECT coalesce(max(max(coalesce(claimed_upto, 0), coalesce(suspect_upto, 0), "
                "coalesce(recovered_upto, 0), coalesce(trying, 0))), 0) FROM mailboxes"
            ).fetchone()[0],
        )
        # Ids below it may be handed out: the stored ``next_id`` says so on disk,
        # so a crash never lets them be handed out twice.
        self.reserved = self.next_id + _ID_BLOCK
        connection.execute(_RESERVE, (self.reserved,))

    def box(self, name: str) -> int:
        """The row id of mailbox ``name``, created if new (inside the current transaction)."""
        try:
            return self.boxes[name]
        except KeyError:
            pass
        connection = self.connection
        row = connection.execute("SELECT id FROM mailboxes WHERE name = ?", (name,)).fetchone()
        if row is None:
            cursor = connection.execute("INSERT INTO mailboxes (name) VALUES (?)", (name,))
            box = cursor.lastrowid
            assert box is not None
        else:
            box = row[0]
        self.boxes[name] = box
        return box

    def take_id(self) -> int:
        """Hand out the next delivery id."""
        delivery_id = self.next_id
        self.next_id = delivery_id + 1
        return delivery_id


def _first_expiry(connection: sqlite3.Connection) -> float:
    """When the first stored dedup id expires (inf if none will)."""
    # The condition lets SQLite read it from the partial expiry index (one
    # seek); without it, min() scans every id kept, at every purging commit.
    row = connection.execute(
        "SELECT min(expires_at) FROM dedup WHERE expires_at IS NOT NULL"
    ).fetchone()
    return math.inf if row[0] is None else float(row[0])


# A StoredMessage from a row that has every field in order (built in C: no
# Python frame per row, and the writer thread holds the GIL for less).
_as_stored: Callable[[Sequence[Any]], StoredMessage] = partial(tuple.__new__, StoredMessage)
# The fields of a StoredMessage after its mailbox, as columns of ``messages``.
_AFTER_MAILBOX = (
    "type_name, payload, msg_id, deliveries, retries, enqueued_at, "
    "first_delivered_at, last_delivered_at"
)


def _stored(mailbox: str, row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(
        id=row[0],
        mailbox=mailbox,
        type_name=row[1],
        payload=row[2],
        msg_id=row[3],
        deliveries=row[4],
        retries=row[5],
        enqueued_at=row[6],
        first_delivered_at=row[7],
        last_delivered_at=row[8],
    )


def _filters(
    mailbox: str | None, ids: Sequence[int] | None, table: str = "d"
) -> tuple[str, list[object]]:
    """A WHERE clause (joined with mailboxes as ``b``) for a mailbox and a list of ids."""
    clauses = ["1"]
    params: list[object] = []
    if mailbox is not None:
        clauses.append("b.name = ?")
        params.append(mailbox)
    if ids is not None:
        clauses.append(f"{table}.id IN (SELECT value FROM json_each(?))")
        params.append("[" + ",".join(str(int(i)) for i in ids) + "]")
    return " AND ".join(clauses), params


class _Op:
    """An operation the writer runs inside a group's transaction, after its batches."""

    __slots__ = ("result",)

    def __init__(self) -> None:
        # What ``run`` returned (read on Trio's thread after the commit).
        self.result: object = None

    def run(self, writing: _Writing, now: float) -> object:
        raise NotImplementedError

    def appended(self) -> Sequence[Append]:
        """Messages this operation appended (listeners hear of them)."""
        return ()

    def committing(self) -> None:
        """Called in the writer thread just before its group's COMMIT."""


class _Fetch(_Op):
    __slots__ = ("after", "ids", "limit", "mailbox", "prepare", "ready")

    def __init__(
        self,
        mailbox: str,
        after: int,
        ids: Sequence[int] | None,
        limit: int,
        prepare: Callable[[list[StoredMessage]], object] | None,
    ) -> None:
        super().__init__()
        self.mailbox = mailbox
        self.after = after
        self.ids = ids
        self.limit = limit
        # Called with the rows on Trio's thread before the commit is durable.
        self.prepare = prepare
        # Set by the writer thread as its COMMIT starts (``prepare`` waits for it).
        self.ready: threading.Event | None = None

    def run(self, writing: _Writing, now: float) -> object:
        connection = writing.connection
        box = writing.box(self.mailbox)
        # Rows in StoredMessage's order, the mailbox's name a bound column,
        # each made a StoredMessage as the cursor steps (no list of bare rows).
        if self.ids is None:
            cursor = connection.execute(
                f"SELECT id, ?, {_AFTER_MAILBOX} FROM messages WHERE mailbox = ? AND id > ? "
                "AND available_at <= ? ORDER BY id LIMIT ?",
                (self.mailbox, box, self.after, now, self.limit),
            )
        else:
            wanted = "[" + ",".join(str(int(i)) for i in self.ids) + "]"
            cursor = connection.execute(
                f"SELECT id, ?, {_AFTER_MAILBOX} FROM messages "
                "WHERE id IN (SELECT value FROM json_each(?)) AND mailbox = ? ORDER BY id",
                (self.mailbox, wanted, box),
            )
        messages = list(map(_as_stored, cursor))
        if messages:
            connection.execute(_CLAIM, (messages[-1].id, box))
            if self.prepare is not None and writing.soon is not None:
                # The caller decodes them on Trio's thread while COMMIT waits
                # for the disk (handing them over still waits for the commit).
                self.ready = threading.Event()
                with contextlib.suppress(trio.RunFinishedError):
                    writing.soon(self._prepare, messages)
        return messages

    def _prepare(self, messages: list[StoredMessage]) -> None:
        # On Trio's thread. Waiting here (the GIL given up) lets the writer
        # thread reach its COMMIT, which runs without the GIL; otherwise it
        # would wait for the GIL until ``prepare`` is done, and nothing would
        # overlap. Bounded: a commit that fails before COMMIT never sets it.
        assert self.ready is not None
        assert self.prepare is not None
        self.ready.wait(_READY_WAIT)
        # Raising here (a callback from the writer thread) would crash the run;
        # the caller gets the window all the same, and prepares it itself.
        try:
            self.prepare(messages)
        except Exception:
            log.exception("durable store: a fetch's prepare raised (mailbox %r)", self.mailbox)

    def committing(self) -> None:
        if self.ready is not None:
            self.ready.set()


class _OpenMailbox(_Op):
    __slots__ = ("mailbox",)

    def __init__(self, mailbox: str) -> None:
        super().__init__()
        self.mailbox = mailbox

    def run(self, writing: _Writing, now: float) -> object:
        connection = writing.connection
        box = writing.box(self.mailbox)
        writing.opened.add(box)
        claimed, suspect, recovered, recovery_at = connection.execute(
            "SELECT claimed_upto, suspect_upto, recovered_upto, recovery_at "
            "FROM mailboxes WHERE id = ?",
            (box,),
        ).fetchone()
        if claimed is not None:
            # An unclean stop: whatever was claimed and available may have been
            # in progress. Charge each one delivery (the one that may have run)
            # and make them suspects, handed out one at a time.
            # Not one waiting out a backoff at the stop (delivered last before it is
            # available again): it was running nothing. Handed out again, it was
            # marked delivered (``DurableQueue._mark_redelivered``), and is charged.
            connection.execute(
                "UPDATE messages SET deliveries = deliveries + 1 "
                "WHERE mailbox = ? AND id <= ? AND available_at <= ? "
                "AND NOT coalesce(last_delivered_at < available_at, 0)",
                (box, claimed, now),
            )
            suspect = max(suspect or 0, claimed)
            recovered = recovered or 0
            recovery_at = now
            connection.execute(
                "UPDATE mailboxes SET claimed_upto = NULL, trying = NULL, suspect_upto = ?, "
                "recovered_upto = ?, recovery_at = ? WHERE id = ?",
                (suspect, recovered, recovery_at, box),
            )
        # A message whose backoff has ended by now is read back with the rest, not
        # through a redelivery timer that would record its hand-out: it is no longer
        # waiting (available when last delivered), so a stop while it runs charges it.
        connection.execute(
            "UPDATE messages SET available_at = last_delivered_at WHERE mailbox = ? "
            "AND available_at <= ? AND last_delivered_at < available_at",
            (box, now),
        )
        depth = connection.execute(
            "SELECT count(*) FROM messages WHERE mailbox = ?", (box,)
        ).fetchone()[0]
        delayed = connection.execute(
            "SELECT id, available_at FROM messages WHERE mailbox = ? AND available_at > ? "
            "ORDER BY id",
            (box, now),
        ).fetchall()
        return MailboxOpening(
            depth=depth,
            last_id=writing.next_id - 1,
            recovering=suspect is not None,
            delayed=tuple((row[0], row[1]) for row in delayed),
        )


class _NextSuspect(_Op):
    __slots__ = ("after", "mailbox", "max_deliveries")

    def __init__(self, mailbox: str, after: int | None, max_deliveries: int) -> None:
        super().__init__()
        self.mailbox = mailbox
        self.after = after
        self.max_deliveries = max_deliveries

    def run(self, writing: _Writing, now: float) -> object:
        connection = writing.connection
        box = writing.box(self.mailbox)
        suspect, recovered, recovery_at = connection.execute(
            "SELECT suspect_upto, recovered_upto, recovery_at FROM mailboxes WHERE id = ?",
            (box,),
        ).fetchone()
        if suspect is None:
            return None
        recovered = recovered or 0
        if self.after is not None:
            recovered = max(recovered, self.after)
        while True:
            row = connection.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE mailbox = ? AND id > ? AND id <= ? "
                "AND available_at <= ? ORDER BY id LIMIT 1",
                (box, recovered, suspect, recovery_at),
            ).fetchone()
            if row is None:
                connection.execute(
                    "UPDATE mailboxes SET suspect_upto = NULL, recovered_upto = NULL, "
                    "recovery_at = NULL, trying = NULL WHERE id = ?",
                    (box,),
                )
                return None
            message = _stored(self.mailbox, row)
            # Retries do not count toward max_deliveries (docs/durable.md), nor in the
            # reason: N is the deliveries that failed, as JetStream's reason says.
            counted = message.deliveries - message.retries
            if counted >= self.max_deliveries:
                reason = (
                    f"gave up after {counted} deliveries: the process stopped "
                    "while it was being handled"
                )
                connection.execute(
                    _BURY, (message.deliveries, reason, None, None, None, now, message.id)
                )
                connection.execute(_DELETE, (message.id,))
                recovered = message.id
                continue
            connection.execute(
                "UPDATE messages SET deliveries = deliveries + 1, last_delivered_at = ?, "
                "first_delivered_at = coalesce(first_delivered_at, ?) WHERE id = ?",
                (now, now, message.id),
            )
            connection.execute(
                "UPDATE mailboxes SET recovered_upto = ?, trying = ? WHERE id = ?",
                (recovered, message.id, box),
            )
            return _stored(
                self.mailbox,
                (
                    message.id,
                    message.type_name,
                    message.payload,
                    message.msg_id,
                    message.deliveries + 1,
                    message.retries,
                    message.enqueued_at,
                    message.first_delivered_at if message.first_delivered_at else now,
                    now,
                ),
            )


class _DeadLetterChange(_Op):
    """Redrive or discard the dead letters ``ids`` of ``mailbox`` (None: all of each).

    With ``exact``, nothing is changed unless every id is a dead letter of the
    mailbox: ``missing`` lists, sorted, those that are not, checked by id
    alone in the transaction that would change them.
    """

    __slots__ = ("exact", "ids", "mailbox", "missing")

    def __init__(
        self, mailbox: str | None, ids: Sequence[int] | None, *, exact: bool = False
    ) -> None:
        super().__init__()
        self.mailbox = mailbox
        self.ids = ids
        self.exact = exact
        self.missing: list[int] = []

    def _refused(self, connection: sqlite3.Connection) -> bool:
        """Whether, ``exact``, an id is no dead letter of the mailbox (noted in ``missing``)."""
        if not self.exact or self.ids is None:
            return False
        where, params = _filters(self.mailbox, self.ids)
        held = {
            row[0]
            for row in connection.execute(
                "SELECT d.id FROM dead_letters d JOIN mailboxes b ON b.id = d.mailbox "
                f"WHERE {where}",
                params,
            )
        }
        self.missing = sorted({i for i in self.ids if i not in held})
        return bool(self.missing)


class _Redrive(_DeadLetterChange):
    """Redrive dead letters as new messages: to their own mailboxes, or all ``to`` one.

    A message keeps its msg_id and is stored whatever the mailbox's dedup
    window holds (a redrive is asked for by name, never a sender's retry);
    the id is not added to the window either.
    """

    __slots__ = ("_appends", "new_target", "to")

    def __init__(
        self,
        mailbox: str | None,
        ids: Sequence[int] | None,
        *,
        exact: bool = False,
        to: str | None = None,
    ) -> None:
        super().__init__(mailbox, ids, exact=exact)
        self._appends: list[Append] = []
        # The mailbox they all go to, or None: each back to its own.
        self.to = to
        # Whether ``to`` was new to the store, made by this redrive (not when none moved).
        self.new_target = False

    def run(self, writing: _Writing, now: float) -> object:
        connection = writing.connection
        if self._refused(connection):
            return 0
        where, params = _filters(self.mailbox, self.ids)
        rows = connection.execute(
            "SELECT d.id, d.mailbox, b.name, d.type_name, d.payload, d.msg_id, d.enqueued_at "
            f"FROM dead_letters d JOIN mailboxes b ON b.id = d.mailbox WHERE {where} "
            "ORDER BY d.id",
            params,
        ).fetchall()
        if self.to is not None and rows:
            self.new_target = (
                connection.execute("SELECT 1 FROM mailboxes WHERE name = ?", (self.to,)).fetchone()
                is None
            )
            target = writing.box(self.to)
            rows = [(row[0], target, self.to, *row[3:]) for row in rows]
        for old_id, box, name, type_name, payload, msg_id, enqueued_at in rows:
            record = Append(name, type_name, payload, msg_id, None, False, None)
            record.id = writing.take_id()
            record.accepted = True
            connection.execute(_INSERT, (record.id, box, type_name, payload, msg_id, enqueued_at))
            connection.execute("DELETE FROM dead_letters WHERE id = ?", (old_id,))
            self._appends.append(record)
        return len(rows)

    def appended(self) -> Sequence[Append]:
        return self._appends


class _Discard(_DeadLetterChange):
    __slots__ = ()

    def run(self, writing: _Writing, now: float) -> object:
        if self._refused(writing.connection):
            return 0
        where, params = _filters(self.mailbox, self.ids)
        cursor = writing.connection.execute(
            "DELETE FROM dead_letters WHERE id IN (SELECT d.id FROM dead_letters d "
            f"JOIN mailboxes b ON b.id = d.mailbox WHERE {where})",
            params,
        )
        return int(cursor.rowcount)


class _ReleaseAll(_Op):
    __slots__ = ()

    def run(self, writing: _Writing, now: float) -> object:
        # Only the mailboxes this run opened: another's claims are what an
        # earlier run's crash left, to be recovered when it is next opened.
        releases = [(box,) for box in sorted(writing.opened)]
        connection = writing.connection
        connection.executemany(_UNCHARGE, releases)
        connection.executemany(_RELEASE, releases)
        return None


_READY_WAIT = 0.002  # seconds a fetch's ``prepare`` waits at most for its COMMIT to start
_CHUNK = 100  # rows per multi-row INSERT or DELETE statement of a small group
_BIG_CHUNK = 500  # rows per statement of a large group (a multiple of _CHUNK), if SQLite allows
_GROUP_ROWS = 2000  # rows a group takes before the rest waits for the next commit
_WAKE_SLICE = 16  # tasks woken per pass of the scheduler once their commit is done


def _insert_sql(count: int) -> str:
    return _INSERT + ", (?, ?, ?, ?, ?, 0, ?)" * (count - 1)


def _delete_sql(count: int) -> str:
    return "DELETE FROM messages WHERE id IN (?" + ", ?" * (count - 1) + ")"


_DELETE_RANGE = "DELETE FROM messages WHERE id BETWEEN ? AND ?"


def _one_run(acks: list[int]) -> bool:
    """Sort ``acks`` and tell whether they are consecutive ids (deleted as one range).

    A consumer acks in id order, so a commit's acks are often one run of
    ids (ids are unique across mailboxes, so the range holds nothing else):
    one statement seeks once instead of once per id, and the thread takes
    the GIL back once.
    """
    acks.sort()
    first = acks[0]
    count = len(acks)
    return acks[-1] - first + 1 == count and acks == list(range(first, first + count))


def _delete_acks(writing: _Writing, acks: list[int], run: bool) -> None:
    """Delete the acknowledged ids: one range if they are one ``run``, else in chunks."""
    if run:
        writing.connection.execute(_DELETE_RANGE, (acks[0], acks[-1]))
    else:
        _in_chunks(writing, _delete_sql, acks, 1)


def _in_chunks(
    writing: _Writing, sql: Callable[[int], str], rows: Sequence[object], width: int
) -> None:
    """Run ``sql(n)`` over ``rows`` (flat parameters, ``width`` per row), in few statements.

    Many rows per statement instead of one per row (``executemany``): fewer
    steps through SQLite, and fewer times the thread gives the GIL up and
    must wait to take it back (while Trio's thread is busy, each wait may
    last until it blocks). ``big_chunk`` rows a statement, then multiples
    of ``_CHUNK``, then the rest: at most ``_CHUNK + _BIG_CHUNK // _CHUNK``
    sizes of each statement, all in the connection's statement cache.
    """
    connection = writing.connection
    big = writing.big_chunk
    total = len(rows) // width
    start = 0
    while start < total:
        left = total - start
        if left >= big:
            count = big
        elif left > _CHUNK:
            count = left - left % _CHUNK
        else:
            count = left
        connection.execute(sql(count), rows[start * width : (start + count) * width])
        start += count


def _commit(writing: _Writing, entries: list[_Entry], now: float) -> tuple[int, int] | None:
    """Apply every batch and operation of a group in one transaction (the writer thread).

    Returns how many batches and rows it wrote (counted here rather than on
    Trio's thread), or None if there was nothing to write (no transaction).
    """
    batches: list[WriteBatch] = []
    ops: list[_Op] = []
    for entry in entries:
        if entry.batch:
            batches.append(entry.batch)
        elif entry.op is not None:
            ops.append(entry.op)
    if not batches and not ops:
        return None
    rows = 0
    connection = writing.connection
    # The transaction starts at the first statement that needs one; a group
    # that comes down to one statement runs it alone (see below).
    begun = False
    try:
        inserts: list[object] = []
        claims: dict[int, int] = {}
        acks: list[int] = []
        nacks: list[tuple[int, int, float, float, float, int]] = []
        dead: list[tuple[int, str, str | None, float | None, float | None, int]] = []
        states: dict[str, bytes] = {}
        tried: set[str] = set()
        released: set[str] = set()
        boxes = writing.boxes
        next_id = writing.next_id
        dedups = 0
        for batch in batches:
            rows += batch.rows
            for record in batch.appends:
                name = record.mailbox
                box = boxes.get(name)
                if box is None:
                    if not begun:
                        connection.execute("BEGIN IMMEDIATE")
                        begun = True
                    box = writing.box(name)
                msg_id = record.msg_id
                if msg_id is not None:
                    if not begun:
                        connection.execute("BEGIN IMMEDIATE")
                        begun = True
                    dedups += 1
                    until = record.dedup_until
                    cursor = connection.execute(_DEDUP, (box, msg_id, until, now))
                    if cursor.rowcount == 0:
                        continue
                    if until is not None and until < writing.next_expiry:
                        writing.next_expiry = until
                record.id = next_id
                record.accepted = True
                inserts += (next_id, box, record.type_name, record.payload, msg_id, now)
                if record.claim:
                    claims[box] = next_id
                next_id += 1
            if batch.acks:
                acks += batch.acks
            if batch.nacks:
                nacks += batch.nacks
            if batch.dead:
                dead += batch.dead
            if batch.states:
                states.update(batch.states)
            if batch.tried:
                tried.update(batch.tried)
            if batch.releases:
                released.update(batch.releases)
        writing.next_id = next_id
        run = bool(acks) and _one_run(acks)
        if (
            not begun
            and not (claims or nacks or dead or states or tried or released or ops)
            and now < writing.next_expiry
            and next_id <= writing.reserved
            and (
                len(inserts) <= _CHUNK * 6
                if not acks
                else not inserts and (run or len(acks) <= _CHUNK)
            )
        ):
            # One statement (at most _CHUNK appends, or one run or _CHUNK acks):
            # SQLite's own transaction around it is as atomic and as durable,
            # and the writer thread takes the GIL back once instead of after
            # BEGIN, the statement and COMMIT (which waits while Trio runs).
            if inserts:
                connection.execute(_insert_sql(len(inserts) // 6), inserts)
            elif acks:
                _delete_acks(writing, acks, run)
            return len(batches), rows
        if not begun:
            connection.execute("BEGIN IMMEDIATE")
            begun = True
        if inserts:
            _in_chunks(writing, _insert_sql, inserts, 6)
        if claims:
            connection.executemany(_CLAIM, [(upto, box) for box, upto in claims.items()])
        if nacks:
            connection.executemany(_NACK, nacks)
        if dead:
            connection.executemany(
                _BURY,
                [
                    (count, reason, text, first, last, now, delivery_id)
                    for count, reason, text, first, last, delivery_id in dead
                ],
            )
            _in_chunks(writing, _delete_sql, [entry[-1] for entry in dead], 1)
        if acks:
            _delete_acks(writing, acks, run)
        if states:
            connection.executemany(_SAVE_STATE, [(key, data, now) for key, data in states.items()])
        if tried:
            connection.executemany(_TRIED, [(writing.box(name),) for name in tried])
        if released:
            releases = [(writing.box(name),) for name in released]
            connection.executemany(_UNCHARGE, releases)
            connection.executemany(_RELEASE, releases)
        for op in ops:
            op.result = op.run(writing, now)
        if now >= writing.next_expiry:
            # Expired dedup ids go a few at a time, more when many are being added.
            connection.execute(_PURGE, (now, 63 + 2 * dedups))  # 64 + 2 * dedups ids
            writing.next_expiry = _first_expiry(connection)
        if writing.next_id > writing.reserved:
            # Past the ids reserved on disk (appends, or redriven dead letters):
            # reserve the next block in this transaction.
            writing.reserved = writing.next_id + _ID_BLOCK
            connection.execute(_RESERVE, (writing.reserved,))
        for op in ops:
            op.committing()
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        raise
    return len(batches), rows


class _DeadLetterPages:
    """An async iterator over dead letters, read a page at a time by the reader thread."""

    __slots__ = ("_after", "_buffer", "_mailbox", "_store")

    def __init__(self, store: SqliteStore, mailbox: str | None) -> None:
        self._store = store
        self._mailbox = mailbox
        # The last id returned; the next page starts above it.
        self._after = 0
        # The page being returned, in reverse (pop from the end).
        self._buffer: list[DeadLetterRecord] = []

    def __aiter__(self) -> _DeadLetterPages:
        return self

    async def __anext__(self) -> DeadLetterRecord:
        if not self._buffer:
            page = await self._store._read(partial(_dead_letter_page, self._mailbox, self._after))
            if not page:
                raise StopAsyncIteration
            self._after = page[-1].id
            self._buffer = page[::-1]
        # A message that does not decode here is listed with why (decode_error).
        return decoded(self._buffer.pop(), self._store.codec)


def _dead_letter_page(
    mailbox: str | None, after: int, connection: sqlite3.Connection
) -> list[DeadLetterRecord]:
    where, params = _filters(mailbox, None)
    rows = connection.execute(
        "SELECT d.id, b.name, d.type_name, d.payload, d.msg_id, d.deliveries, d.reason, "
        "d.traceback, d.enqueued_at, d.first_delivered_at, d.last_delivered_at, d.dead_at "
        f"FROM dead_letters d JOIN mailboxes b ON b.id = d.mailbox WHERE {where} "
        "AND d.id > ? ORDER BY d.id LIMIT ?",
        [*params, after, _PAGE],
    ).fetchall()
    return [DeadLetterRecord(*row) for row in rows]


def mailbox_counts(connection: sqlite3.Connection, now: float) -> list[MailboxStatistics]:
    """Every mailbox's counts, in one read (used by the store and the CLI)."""
    rows = connection.execute(
        "SELECT b.name, "
        "(SELECT count(*) FROM messages m WHERE m.mailbox = b.id), "
        "(SELECT count(*) FROM messages m WHERE m.mailbox = b.id AND m.available_at > ?), "
        "(SELECT count(*) FROM messages m WHERE m.mailbox = b.id AND m.available_at <= ? "
        " AND (m.id <= coalesce(b.claimed_upto, 0) OR m.id = b.trying)), "
        "(SELECT count(*) FROM dead_letters d WHERE d.mailbox = b.id) "
        "FROM mailboxes b ORDER BY b.name",
        (now, now),
    ).fetchall()
    return [
        MailboxStatistics(
            name=name,
            depth=depth,
            ready=depth - delayed - in_flight,
            in_flight=in_flight,
            delayed=delayed,
            dead=dead,
        )
        for name, depth, delayed, in_flight, dead in rows
    ]


def _load_state(key: str, connection: sqlite3.Connection) -> bytes | None:
    row = connection.execute("SELECT data FROM states WHERE key = ?", (key,)).fetchone()
    return None if row is None else bytes(row[0])


class SqliteStore:
    """A durable store in one SQLite file (WAL mode), for one runtime at a time.

    ``synchronous="full"`` (the default) makes every commit reach the disk
    before it is acknowledged (``fsync`` of the WAL): acknowledged messages
    survive the process being killed and the machine losing power.
    ``synchronous="normal"`` syncs only at WAL checkpoints: acknowledged
    messages survive the process being killed, but a power loss or an OS
    crash may lose the last commits (never corrupting the file).

    ``path`` names the database file (SQLite's ``":memory:"`` and ``""`` are
    refused with ``ValueError``: they give each connection a database of its
    own). ``max_size`` caps the database file, in bytes (an int): a commit that would grow
    it beyond fails as a full disk does (``StoreFailed``). ``check`` runs
    SQLite's ``quick_check`` when opening (time grows with the file's size).
    ``codec`` decodes the messages of dead letters as they are listed
    (default: ``trouper.codec.Codec()``, the default registry, no refs).
    ``threads=False`` runs SQLite on Trio's thread instead, each group in the
    committer task: the event loop then waits for every commit, but no thread
    decides when a result arrives, so a simulation on virtual time replays
    exactly (``trouper.testing.run_durable_simulation`` uses it). Never use it
    in production.

    Open it with ``async with store:`` or ``await store.open()``; every method
    is called from Trio's thread, and none runs SQLite there.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "full",
        max_size: int | None = None,
        check: bool = True,
        codec: MessageCodec | None = None,
        threads: bool = True,
    ) -> None:
        if os.fspath(path) in ("", ":memory:"):
            # Each connection would get a database of its own (the reader would
            # never see the writer's commits), and the lock file would be
            # made as ``:memory:-lock`` in the working directory.
            raise ValueError(
                f"SqliteStore needs a database file, got {path!r}: SQLite gives each connection "
                "a private in-memory or temporary database for that name (for a throwaway "
                "store, use a file in a temporary directory)"
            )
        if synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        if max_size is not None and type(max_size) is not int:
            # SQLite ignores a fractional max_page_count: a float cap would not apply.
            raise TypeError(f"max_size must be an int (bytes) or None, got {max_size!r}")
        if max_size is not None and max_size < 65536:
            raise ValueError(f"max_size must be >= 65536 bytes, got {max_size!r}")
        # The database file.
        self.path = Path(path)
        # SQLite's synchronous level, as given.
        self.synchronous: Synchronous = synchronous
        self._max_size = max_size
        self._check = check
        # Whether SQLite runs in the writer and reader threads (False: inline,
        # on Trio's thread, in the committer task: deterministic, for simulations).
        self._threads = threads
        # Decodes dead letters' messages as they are listed.
        self.codec: MessageCodec = Codec() if codec is None else codec
        # The file name used in errors.
        self._name = str(self.path)
        # "new" until opened, "open", then "closing" and "closed" (``aclose``)
        # or "crashing" and "crashed" (``simulate_crash``), for good.
        self._phase = "new"
        self._writer: _Worker | _Inline | None = None
        self._reader: _Worker | _Inline | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        # The writer thread's state (touched only in that thread once opened).
        self._writing: _Writing | None = None
        # The reader thread's connection (touched only in that thread).
        self._reading: sqlite3.Connection | None = None
        # The descriptor holding the exclusive flock on ``<file>-lock`` (``_lock_path``),
        # and whether this open made that file (removed again if the open fails).
        self._lock_fd: int | None = None
        self._lock_path = ""
        self._made_lock = False
        # The descriptor holding the exclusive flock on the file itself, and the
        # file's (device, inode) as ``_held`` knows it while the store is open.
        self._file_fd: int | None = None
        self._identity: tuple[int, int] | None = None
        # Batches and operations staged for the next group, in order.
        self._pending: list[_Entry] = []
        # Whether a group is in the writer thread now.
        self._busy = False
        # Whether ``_start`` is scheduled to run at the end of this scheduler pass.
        self._scheduled = False
        # The group in the writer thread now, or None.
        self._flight: _Group | None = None
        # Set when the group in the writer thread is done, for a task waiting
        # for it (``_quiet``); made only then, None otherwise.
        self._idle: trio.Event | None = None
        # Whether the run's clock is a MockClock, whose autojump each commit
        # holds (read when opened: a store lives in one run).
        self._virtual = False
        # The live consumer of each mailbox, told about its commits.
        self._listeners: dict[str, MailboxListener] = {}
        # Set once the phase under way ("opening", "closing" or "crashing") is over, for
        # the tasks that wait it out (``_settle``, ``flush``); a fresh one as each begins.
        self._settled = trio.Event()
        # The error that failed the store, if one did; every write raises it after.
        self._failure: StoreFailed | None = None
        # Tasks that waited for the last group handed to the writer: one (or none)
        # is a sequential sender, whose next commit starts at once.
        self._last_group = 0
        # The committer task (a system task while the store is open), and
        # whether it is parked waiting for ``_schedule``.
        self._committer: Task | None = None
        self._committer_parked = False
        # Tasks whose commit is done and that are not woken yet (``_wake_slice``).
        self._to_wake: list[Task] = []
        # Whether the last group left staged entries behind (over _GROUP_ROWS).
        self._capped = False
        # Tasks waiting for what is pending (not yet handed to the writer).
        self._pending_waiters = 0
        # Tasks that waited for the last group (at least 1): once as many wait
        # for what is pending, its commit starts (``_one_more_waiter``).
        self._population = 1
        self._commits = 0
        self._batches = 0
        self._rows = 0
        self._largest_group = 0

    def __repr__(self) -> str:
        return f"<SqliteStore {self._name!r} {self._phase}>"

    @property
    def redelivers(self) -> bool:
        """False: the mailbox reads, claims and redelivers (a ``PolledStore``)."""
        return False

    @property
    def threads(self) -> bool:
        """Whether SQLite runs in the store's own threads (the default), not on Trio's thread."""
        return self._threads

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- opening and closing ---------------------------------------------

    async def open(self) -> None:
        """Open the store: lock, check, create or migrate; raise a ``StoreError`` if it cannot.

        Raises:
            StoreLocked: another runtime has this store open.
            NotAStore: the file is not a trouper store (it is left untouched).
            StoreCorrupt: SQLite finds it malformed, or its quick check fails.
            StoreVersionTooNew: it was written by a newer trouper.
            StoreError: another problem with the file (the message says which).
        """
        if self._phase != "new":
            raise RuntimeError(f"{self!r} can be opened only once")
        self._phase = "opening"
        self._token = token = trio.lowlevel.current_trio_token()
        self._virtual = on_virtual_time()
        writer: _Worker | _Inline
        reader: _Worker | _Inline
        if self._threads:
            writer = _Worker("trouper-store-writer", token)
            reader = _Worker("trouper-store-reader", token)
        else:
            writer = reader = _Inline()
        try:
            self._writing = await writer.call(self._open_writer)
            if self._threads:
                self._writing.soon = token.run_sync_soon
            self._reading = await reader.call(self._open_reader)
        except BaseException:
            # Shielded: cancelled here, the connection and the file's lock would stay.
            with trio.CancelScope(shield=True):
                await self._shut(writer, reader)
            self._phase = "closed"
            self._settled.set()
            raise
        self._writer, self._reader = writer, reader
        self._phase = "open"
        self._settled.set()
        trio.lowlevel.spawn_system_task(self._commit_loop, name=f"trouper store {self._name}")

    def _open_writer(self) -> _Writing:
        path = self._name
        self._take_locks()
        try:
            check_logged(self.path)
            try:
                # A statement cache for every size of the multi-row statements.
                connection = sqlite3.connect(path, isolation_level=None, cached_statements=512)
            except sqlite3.Error as error:
                raise store_error(path, error) from error
            return self._prepared(connection)
        except BaseException:
            # After the connection is closed: the file's descriptor goes last.
            self._release_locks(failed=True)
            raise

    def _take_locks(self) -> None:
        """Take the store's locks, or raise (``StoreLocked``...) holding none and making no file.

        Two locks, both exclusive ``flock``s: on ``<file>-lock`` beside the
        file's real path (symlinks resolved; older troupers take only this
        one), and on the file itself, which is what makes one store of it
        whatever its name (a hard link, another mount of its directory).
        In this process a file already open is known by its identity
        (device and inode) before anything opens it: closing a descriptor of
        it here would drop the locks SQLite holds on it for its store.
        """
        path = self._name
        lock_path = os.path.realpath(path) + "-lock"
        with _held_lock:
            try:
                identity: tuple[int, int] | None = _identity(os.stat(path))
            except OSError:  # not there yet (or unreachable: said below)
                identity = None
            holder = _held.get(identity) if identity is not None else None
            if holder is not None:
                raise StoreLocked(path, holder)
            try:
                check_header(self.path)
                fd, made = _open_lock_file(lock_path)
            except OSError as error:
                if isinstance(error, StoreError):
                    raise
                directory = os.path.dirname(lock_path)
                if isinstance(error, FileNotFoundError | NotADirectoryError) and not os.path.isdir(
                    directory
                ):
                    # Said of the lock file, the error would name a file the user never gave.
                    raise StoreError(path, f"no such directory: {directory!r}") from error
                raise StoreError(path, _describe(error)) from error
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Held by another: the lock file is its own now, made here or not.
                os.close(fd)
                raise StoreLocked(path, lock_path) from None
            self._lock_fd, self._made_lock = fd, made
            self._lock_path = lock_path
            try:
                # Created if new, as SQLite would (a directory fails SQLite's open, saying so).
                flags = os.O_RDONLY | (os.O_CREAT if identity is None else 0)
                file_fd = os.open(path, flags, 0o644)
            except OSError as error:
                self._release_locks(failed=True)
                raise StoreError(path, _describe(error)) from error
            try:
                fcntl.flock(file_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Another process has the same file open as a store, by another name:
                # the file itself is what it holds (its lock file is not known here).
                os.close(file_fd)
                self._release_locks(failed=True)
                raise StoreLocked(
                    path, "the store file itself, open under another name (a hard link)"
                ) from None
            self._file_fd = file_fd
            self._identity = _identity(os.fstat(file_fd))
            _held[self._identity] = lock_path

    def _release_locks(self, *, failed: bool = False) -> None:
        """Release the store's locks once its connections are closed (``_take_locks``).

        ``failed``: the open failed, so a lock file it made is removed (while
        still locked), leaving the directory as it was; a lock file that was
        there before stays.
        """
        with _held_lock:
            if self._identity is not None:
                _held.pop(self._identity, None)
                self._identity = None
            if self._file_fd is not None:
                os.close(self._file_fd)
                self._file_fd = None
            if self._lock_fd is not None:
                if failed and self._made_lock:
                    # Unlinked while still locked. An opener that opened the old
                    # file may lock it once it is gone while a later one locks a
                    # new one: the lock on the store file itself still lets one in.
                    with contextlib.suppress(OSError):
                        os.unlink(self._lock_path)
                os.close(self._lock_fd)
                self._lock_fd = None

    def _prepared(self, connection: sqlite3.Connection) -> _Writing:
        """Make ``connection``'s file a current store and its writer; closed if it fails."""
        path = self._name
        try:
            connection.execute("PRAGMA busy_timeout = 2000")
            prepare(connection, path, synchronous=self.synchronous, check=self._check)
            if self._max_size is not None:
                page_size = connection.execute("PRAGMA page_size").fetchone()[0]
                connection.execute(f"PRAGMA max_page_count = {self._max_size // page_size}")
            # Its first write (the next block of ids): another program may
            # hold SQLite's write lock though reads passed, or a table be gone.
            return _Writing(connection)
        except sqlite3.Error as error:
            connection.close()
            raise store_error(path, error) from error
        except BaseException:
            connection.close()
            raise

    def _open_reader(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(self._name, isolation_level=None)
            connection.execute("PRAGMA query_only = 1")
            connection.execute("PRAGMA busy_timeout = 2000")
        except sqlite3.Error as error:
            raise store_error(self._name, error) from error
        return connection

    async def _shut(
        self, writer: _Worker | _Inline | None, reader: _Worker | _Inline | None
    ) -> None:
        """Close both connections in their threads, stop the threads, release the lock."""
        if reader is not None:
            await reader.call(self._close_reader)
            reader.stop()
        if writer is not None:
            await writer.call(self._close_writer)
            writer.stop()
        self._release_locks()

    def _close_reader(self) -> None:
        if self._reading is not None:
            self._reading.close()
            self._reading = None

    def _close_writer(self) -> None:
        if self._writing is not None:
            self._writing.connection.close()
            self._writing = None

    async def aclose(self) -> None:
        """Commit what is staged, record a clean stop, and close (once: other calls wait for it).

        Called while another task opens the store, it waits for the open, then closes.

        A clean stop clears the claim watermark of every mailbox this run
        opened: nothing was in progress, so the next open redelivers nothing
        as a suspect. A mailbox it never opened keeps what an earlier crash
        left there, for its next open to recover. Waits for
        the writer even if cancelled (the file must be left consistent).
        """
        # Another task opening it: close it once open; closing it: return once closed.
        await self._settle()
        if self._phase != "open":
            return
        self._phase = "closing"
        self._settled = trio.Event()
        try:
            with trio.CancelScope(shield=True):
                if self._failure is None:
                    with contextlib.suppress(StoreFailed):
                        await self._run_op(_ReleaseAll(), closing=True)
                await self._quiet()
                await self._shut(self._writer, self._reader)
        finally:
            self._stop("closed")

    async def simulate_crash(self) -> None:
        """Stop as if the process had been killed here: for tests and simulations.

        What is staged is dropped (its waiters get ``StoreFailed``), a commit
        already in the writer thread completes, the claim watermarks stay, and
        the lock is released, so the file can be opened again at once, as
        after a restart following a crash. Called while another task opens the
        store, it waits for the open, then crashes it.
        """
        # Another task opening it: crash it once open; closing it: return once closed.
        await self._settle()
        if self._phase != "open":
            return
        self._phase = "crashing"
        self._settled = trio.Event()
        try:
            with trio.CancelScope(shield=True):
                pending, self._pending = self._pending, []
                self._fail_waiters(
                    pending, "the store stopped without committing (simulated crash)"
                )
                await self._quiet()
                await self._shut(self._writer, self._reader)
        finally:
            self._stop("crashed")

    def _stop(self, phase: str) -> None:
        """The store is closed (``phase``): stop the committer, wake every task closing it."""
        self._phase = phase
        self._stop_committer()
        self._listeners.clear()
        self._settled.set()

    async def _settle(self) -> None:
        """Wait, even if cancelled, until no open, close or simulated crash is under way."""
        with trio.CancelScope(shield=True):
            while self._phase in ("opening", "closing", "crashing"):
                await self._settled.wait()

    # --- writing ------------------------------------------------------------

    async def _quiet(self) -> None:
        """Wait until no group is in the writer thread."""
        while self._busy:
            if self._idle is None:
                self._idle = trio.Event()
            await self._idle.wait()

    def _writable(self, *, closing: bool = False) -> None:
        if self._failure is not None:
            raise self._copy_failure()
        if self._phase != "open" and not (closing and self._phase == "closing"):
            raise trio.ClosedResourceError(f"{self!r} is not open")

    def _copy_failure(self) -> StoreFailed:
        assert self._failure is not None
        return copy_failure(self._failure)

    def stage(self, batch: WriteBatch) -> None:
        """Queue ``batch`` for the next commit and return at once (see ``Store.stage``).

        The caller may go on filling the batch until it yields: the commit that
        takes it starts in a later pass of the scheduler, never during this call.
        """
        self._writable()
        self._pending.append(_Entry(batch, None, None))
        if not self._scheduled and not (self._busy and self._flight_started()):
            self._schedule()

    async def submit(self, batch: WriteBatch) -> None:
        """Stage ``batch`` and wait until it is durable (see ``Store.submit``).

        Once staged, the batch commits whether or not the caller is cancelled
        meanwhile: the caller waits for the commit, and the cancellation
        strikes at its next checkpoint.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        await self.stage_and_wait(batch)

    async def stage_and_wait(self, batch: WriteBatch) -> None:
        """Stage ``batch`` and wait until it is durable (see ``Store.stage_and_wait``).

        Unlike ``stage``, it wakes no committer: ``_one_more_waiter`` starts
        the commit at once if every sender waits (one alone does), or has
        the committer start it once this pass is over.
        """
        self._writable()
        self._pending.append(_Entry(batch, None, current_task()))
        self._one_more_waiter()
        await wait_task_rescheduled(_no_abort)

    async def durable(self, batch: WriteBatch) -> None:
        """Wait until ``batch`` (staged, not yet sealed) is durable (see ``Store.durable``)."""
        if batch.sealed:
            raise RuntimeError("durable() takes a batch that is still open")
        if self._phase != "open" or self._failure is not None:
            # A failure or a simulated crash dropped what was staged: no commit
            # would ever take this batch. (A clean close commits it first.)
            self._writable(closing=True)
        if batch.waiters is None:
            batch.waiters = []
        batch.waiters.append(current_task())
        self._one_more_waiter()
        await wait_task_rescheduled(_no_abort)

    async def flush(self) -> None:
        """Wait until everything staged before this call is durable."""
        if self._phase == "closing":
            # The close commits everything staged: wait for it, then say how it went.
            await self._settled.wait()
            if self._failure is not None:
                raise self._copy_failure()
            return
        if not self._pending and not self._busy:
            await trio.lowlevel.checkpoint()
            if self._failure is not None:
                raise self._copy_failure()
            if self._phase in ("crashing", "crashed"):
                # What was staged was dropped, not committed.
                raise trio.ClosedResourceError(f"{self!r} is not open")
            return
        await self.submit(WriteBatch())

    async def _run_op(self, op: _Op, *, closing: bool = False) -> Any:
        await trio.lowlevel.checkpoint_if_cancelled()
        self._writable(closing=closing)
        self._pending.append(_Entry(None, op, current_task()))
        self._one_more_waiter()
        await wait_task_rescheduled(_no_abort)
        return op.result

    def _one_more_waiter(self) -> None:
        """A task waits for what is pending: start the commit now if all are waiting.

        The tasks that waited for the last group, woken by its commit, run in
        the next pass of the scheduler and stage again. Once as many wait as
        waited last time, the group is complete: its commit starts at once,
        in this pass, without waiting for the committer (a lone sender starts
        its own commit as it stages). Otherwise the committer starts it once
        the pass is over. Groups stay whole: splitting them to overlap staging
        and committing was measured slower, each part paying for an ``fsync``.
        While a group waits for the writer thread, the committer adds what is
        pending to it (``_join``).
        """
        self._pending_waiters += 1
        if self._busy:
            if not self._scheduled and not self._flight_started():
                self._schedule()  # the committer adds what is pending to that group
            return
        if self._threads and self._pending_waiters >= self._population:
            self._start()
        elif not self._scheduled:
            self._schedule()

    def _flight_started(self) -> bool:
        # Read without the lock: a hint (``_join`` checks again under it).
        flight = self._flight
        return flight is None or flight.started

    def _schedule(self) -> None:
        # Start the next group in the committer task, which runs in a later
        # pass of the scheduler than this one: every task running in this
        # pass stages first, and a batch still being filled is complete by then.
        self._scheduled = True
        committer = self._committer
        if committer is not None and self._committer_parked:
            self._committer_parked = False
            reschedule(committer)

    async def _commit_loop(self) -> None:
        """The committer: starts each group on Trio's thread, woken by ``_schedule``."""
        self._committer = current_task()
        try:
            while self._phase in ("open", "closing", "crashing"):
                if self._to_wake:
                    self._wake_slice()
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    continue
                if self._scheduled:
                    self._start()
                    continue
                self._committer_parked = True
                # Cancelled only when the run ends with the store still open
                # (system tasks are cancelled once the main task is done).
                await wait_task_rescheduled(self._unpark)
        finally:
            for task in self._to_wake:
                reschedule(task)
            self._to_wake.clear()
            self._committer = None

    def _unpark(self, _: object) -> Abort:
        self._committer_parked = False
        return Abort.SUCCEEDED

    def _wake_slice(self) -> None:
        """Wake the next ``_WAKE_SLICE`` tasks waiting for a commit that is done.

        Waking a hundred senders at once would make one pass of the scheduler
        as long as all their work, and every other task (a heartbeat, a timer)
        wait that long; a slice at a time, the committer waking the next one
        each pass, keeps each pass short.
        """
        to_wake = self._to_wake
        if not to_wake:
            return
        if len(to_wake) <= _WAKE_SLICE or self._committer is None:
            for task in to_wake:
                reschedule(task)
            to_wake.clear()
            return
        for task in to_wake[:_WAKE_SLICE]:
            reschedule(task)
        del to_wake[:_WAKE_SLICE]
        committer = self._committer
        if committer is not None and self._committer_parked:
            self._committer_parked = False
            reschedule(committer)

    def _stop_committer(self) -> None:
        committer = self._committer
        if committer is not None and self._committer_parked:
            self._committer_parked = False
            reschedule(committer)

    def _take_group(self, rows: int = 0) -> tuple[list[_Entry], int, int]:
        """Take the next group from what is pending: fetches first, then a bounded prefix.

        A fetch only reads what is committed and claims it, so it may go
        before batches staged earlier; it goes first because a consumer may be
        waiting for it. The batches keep their staging order (so appends keep
        theirs), up to about ``_GROUP_ROWS`` rows with the ``rows`` the group
        has already: a huge group would make the fetches staged behind it
        wait for all of it. Seals the batches taken; returns them, how many
        tasks wait for them and the group's rows with them.
        """
        pending = self._pending
        if len(pending) == 1 and rows < _GROUP_ROWS:
            self._pending = []
            self._capped = False
            group = pending
            batch = pending[0].batch
            rows += 1 if batch is None else batch.rows
        else:
            group = [entry for entry in pending if type(entry.op) is _Fetch]
            rows += len(group)
            rest: list[_Entry] = []
            for index, entry in enumerate(pending):
                if type(entry.op) is _Fetch:
                    continue
                if rows >= _GROUP_ROWS and group:
                    rest = [e for e in pending[index:] if type(e.op) is not _Fetch]
                    break
                group.append(entry)
                rows += 1 if entry.batch is None else entry.batch.rows
            self._pending = rest
            self._capped = bool(rest)
        waiting = 0
        for entry in group:
            if entry.waiter is not None:
                waiting += 1
            batch = entry.batch
            if batch is not None:
                batch.sealed = True
                if batch.waiters is not None:
                    waiting += len(batch.waiters)
        self._pending_waiters -= waiting
        return group, waiting, rows

    def _start(self) -> None:
        self._scheduled = False
        if not self._pending or self._writer is None:
            return
        if self._busy:
            self._join()
            return
        entries, waiting, rows = self._take_group()
        self._population = max(1, waiting)
        self._last_group = waiting
        self._busy = True
        self._flight = group = _Group(entries, rows, wall_now())
        if self._virtual:
            hold_virtual_time()
        writing = self._writing
        assert writing is not None
        self._writer.post(partial(_commit_group, writing, group), self._done)

    def _join(self) -> None:
        """Add what is pending to the group handed to the writer, if it has not started it."""
        group = self._flight
        if group is None or not self._pending or group.rows >= _GROUP_ROWS:
            return
        with group.lock:
            if group.started:
                return
            entries, waiting, group.rows = self._take_group(group.rows)
            group.entries += entries
            group.now = wall_now()
        self._population += waiting
        self._last_group += waiting

    def _done(self, result: outcome.Outcome[tuple[int, int] | None]) -> None:
        """The group in the writer thread is done: tell listeners, run callbacks, wake waiters."""
        group, self._flight = self._flight, None
        assert group is not None
        entries = group.entries
        self._busy = False
        if self._idle is not None:
            self._idle.set()
            self._idle = None
        if self._virtual:
            release_virtual_time()
        if type(result) is not outcome.Value:
            assert isinstance(result, outcome.Error)
            self._fail(result.error, entries)
            return
        counts = result.unwrap()
        if counts is not None:
            batches, rows = counts
            self._commits += 1
            self._batches += batches
            self._rows += rows
            if batches > self._largest_group:
                self._largest_group = batches
        to_wake = self._to_wake
        listeners = self._listeners
        if listeners:
            # Most batches append to one mailbox: look a listener up per run of
            # records to the same mailbox, not per record.
            notices: dict[str, list[Append]] = {}
            for entry in entries:
                batch, op = entry.batch, entry.op
                records: Sequence[Append] = (
                    batch.appends if batch is not None else () if op is None else op.appended()
                )
                name = None
                heard: list[Append] | None = None
                for record in records:
                    if record.mailbox != name:
                        name = record.mailbox
                        heard = None
                        if name in listeners:
                            heard = notices.get(name)
                            if heard is None:
                                heard = notices[name] = []
                    if heard is not None:
                        heard.append(record)
            for name, heard_records in notices.items():
                # Raising here would crash the run with this commit's waiters parked.
                try:
                    listeners[name].appended(heard_records)
                except Exception:
                    log.exception(
                        "durable store %s: a listener of mailbox %r raised", self._name, name
                    )
        for entry in entries:
            batch = entry.batch
            if batch is not None:
                for callback in batch.callbacks():
                    # Raising here would crash the run (or the committer task)
                    # with every other waiter of this commit still parked.
                    try:
                        callback()
                    except Exception:
                        log.exception("durable store %s: a commit callback raised", self._name)
                if batch.waiters is not None:
                    to_wake += batch.waiters
            if entry.waiter is not None:
                to_wake.append(entry.waiter)
        self._wake_slice()
        if self._pending:
            # Everything pending was staged by tasks that have yielded since:
            # complete batches. The writer, now idle, takes them at once if the
            # whole population waits for them (else the tasks just woken stage
            # first: see ``_one_more_waiter``), or once this pass is over.
            if self._threads and (self._capped or self._pending_waiters >= self._population):
                self._start()
            elif not self._scheduled:
                self._schedule()

    def _fail(self, error: BaseException, entries: list[_Entry]) -> None:
        failure = StoreFailed(self._name, _describe(error))
        failure.__cause__ = error
        self._failure = failure
        pending, self._pending = self._pending, []
        self._fail_waiters([*entries, *pending], None)
        for name, listener in list(self._listeners.items()):
            try:
                listener.store_failed(failure)
            except Exception:
                log.exception("durable store %s: a listener of mailbox %r raised", self._name, name)

    def _fail_waiters(self, entries: list[_Entry], problem: str | None) -> None:
        failure: Callable[[], StoreFailed] = (
            self._copy_failure if problem is None else partial(StoreFailed, self._name, problem)
        )
        for entry in entries:
            if entry.batch is not None:
                run_failure_callbacks(entry.batch, self._name, failure)
            waiters = [] if entry.waiter is None else [entry.waiter]
            if entry.batch is not None and entry.batch.waiters is not None:
                waiters.extend(entry.batch.waiters)
            for waiter in waiters:
                reschedule(waiter, outcome.Error(failure()))

    # --- consumers ------------------------------------------------------------

    def attach(self, mailbox: str, listener: MailboxListener) -> None:
        """Tell ``listener`` about every commit that appends to ``mailbox``."""
        if mailbox in self._listeners and self._listeners[mailbox] is not listener:
            raise RuntimeError(f"mailbox {mailbox!r} already has a consumer attached")
        self._listeners[mailbox] = listener

    def detach(self, mailbox: str, listener: MailboxListener) -> None:
        """Stop telling ``mailbox``'s listener about commits, if it is still ``listener``."""
        if self._listeners.get(mailbox) is listener:
            del self._listeners[mailbox]

    async def open_mailbox(self, mailbox: str) -> MailboxOpening:
        """Prepare ``mailbox`` for a consumer (see ``Store.open_mailbox``)."""
        result: MailboxOpening = await self._run_op(_OpenMailbox(mailbox))
        return result

    async def next_suspect(
        self, mailbox: str, *, after: int | None, max_deliveries: int
    ) -> StoredMessage | None:
        """Hand out the next suspect of an unclean stop (see ``Store.next_suspect``)."""
        result: StoredMessage | None = await self._run_op(
            _NextSuspect(mailbox, after, max_deliveries)
        )
        return result

    async def fetch(
        self,
        mailbox: str,
        *,
        after: int = 0,
        ids: Sequence[int] | None = None,
        limit: int,
        prepare: Callable[[list[StoredMessage]], object] | None = None,
    ) -> list[StoredMessage]:
        """Claim and return the next available messages (see ``PolledStore.fetch``).

        In threads mode, ``prepare`` runs on Trio's thread while the commit
        that claims them is on its way to the disk; inline, it is not called.
        """
        result: list[StoredMessage] = await self._run_op(
            _Fetch(mailbox, after, ids, limit, prepare)
        )
        return result

    # --- reading and administration -------------------------------------------

    async def _read(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function`` in the reader thread; SQLite's refusal raises a ``StoreError``.

        ``StoreCorrupt`` for a damaged page, ``StoreError`` for a failing disk
        (``store_error``): a read fails alone, the store goes on.
        """
        if self._phase != "open":
            raise trio.ClosedResourceError(f"{self!r} is not open")
        assert self._reader is not None
        try:
            return await self._reader.call(lambda: function(self._reading))  # type: ignore[arg-type]
        except sqlite3.Error as error:
            # A damaged page, a failing disk: a store error naming the file, as opening says.
            raise store_error(self._name, error) from error

    async def load_state(self, key: str) -> bytes | None:
        """Return the state saved under ``key`` (committed), or None."""
        return await self._read(partial(_load_state, key))

    async def mailbox_statistics(self) -> list[MailboxStatistics]:
        """Return every mailbox's committed counts, by name."""
        return await self._read(partial(_counts_now, wall_now()))

    def dead_letters(self, mailbox: str | None = None) -> AsyncIterator[DeadLetterRecord]:
        """Iterate over dead letters (of ``mailbox``, or all), oldest first, a page at a time.

        Raises:
            TypeError: ``mailbox`` is not a name or None (checked at the call).
        """
        mailbox, _ = checked_dead_letter_choice(mailbox, None)
        return _DeadLetterPages(self, mailbox)

    async def redrive(
        self,
        mailbox: str | None = None,
        ids: Sequence[int] | None = None,
        *,
        to: str | None = None,
    ) -> int:
        """Move dead letters back to their mailboxes as new messages; return how many.

        Their deliveries start from zero, their dedup ids are not checked again,
        and they count toward their mailbox's capacity once there (even beyond it).

        With ``to``, every one chosen goes to that mailbox instead, as a
        message told to it: its actor gets it (in this runtime, at once if it
        runs). A mailbox the store never held is made; its messages wait
        there, durable, until an actor of that name starts. A msg_id the
        target's dedup window holds does not drop the message (it is kept and
        delivered), and the id does not enter that window. All in one
        transaction: each is in its new mailbox or still a dead letter.

        Raises:
            TypeError: ``mailbox``, ``ids`` or ``to`` is of the wrong type.
            ValueError: ``to`` could name no actor (empty, with ``/`` or whitespace...).
        """
        mailbox, ids = checked_dead_letter_choice(mailbox, ids)
        target = checked_redrive_target(to)
        result: int = await self._run_op(_Redrive(mailbox, ids, to=target))
        return result

    async def discard(self, mailbox: str | None = None, ids: Sequence[int] | None = None) -> int:
        """Delete dead letters for good; return how many."""
        mailbox, ids = checked_dead_letter_choice(mailbox, ids)
        result: int = await self._run_op(_Discard(mailbox, ids))
        return result

    async def sqlite_settings(self) -> dict[str, object]:
        """Return the writing connection's SQLite settings, as SQLite reports them.

        ``journal_mode`` (``"wal"``), ``synchronous`` (2 for FULL, 1 for NORMAL),
        ``page_size``, ``max_page_count`` and ``application_id`` and
        ``user_version`` (the store's identity and schema version).
        """
        if self._phase != "open" or self._writer is None:
            raise trio.ClosedResourceError(f"{self!r} is not open")

        def read() -> dict[str, object]:
            assert self._writing is not None
            connection = self._writing.connection
            names = (
                "journal_mode",
                "synchronous",
                "page_size",
                "max_page_count",
                "application_id",
                "user_version",
            )
            return {name: connection.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

        return await self._writer.call(read)

    def _uncommitted(self) -> int:
        # Batches staged or in the writer's group, not operations (a fetch, an
        # opening): counted here, when asked, not as each one is staged.
        entries = self._pending if self._flight is None else [*self._flight.entries, *self._pending]
        return sum(1 for entry in entries if entry.batch is not None)

    def statistics(self) -> StoreStatistics:
        """Return the writer's counters since the store opened."""
        return StoreStatistics(
            commits=self._commits,
            batches=self._batches,
            rows=self._rows,
            largest_group=self._largest_group,
            pending=self._uncommitted(),
            failed=self._failure is not None,
        )


def _counts_now(now: float, connection: sqlite3.Connection) -> list[MailboxStatistics]:
    return mailbox_counts(connection, now)


async def change_exactly(
    store: SqliteStore,
    mailbox: str,
    ids: Sequence[int] | None,
    *,
    discard: bool,
    to: str | None = None,
) -> tuple[int, bool]:
    """Redrive (or discard) ``mailbox``'s dead letters ``ids`` (all if None).

    Unlike ``store.redrive`` and ``store.discard``, changes nothing unless
    every id is a dead letter of ``mailbox``, checked by id alone (no message
    is read or decoded) in the transaction that changes them. For the
    command line. ``to`` redrives them to that mailbox (as ``store.redrive``).

    Returns:
        How many, and whether ``to`` was a mailbox new to the store (made by it).

    Raises:
        StoreError: an id is not a dead letter of the mailbox (each such id is named).
        ValueError: ``to`` with ``discard``, or a ``to`` that could name no actor.
    """
    checked_mailbox, ids = checked_dead_letter_choice(mailbox, ids)
    target = checked_redrive_target(to)
    if discard and target is not None:
        raise ValueError("discard takes no target mailbox (to)")
    op = (
        _Discard(checked_mailbox, ids, exact=True)
        if discard
        else _Redrive(checked_mailbox, ids, exact=True, to=target)
    )
    result: int = await store._run_op(op)
    if op.missing:
        listed = ", ".join(f"#{i}" for i in op.missing)
        raise StoreError(
            store._name, f"no dead letter {listed} in mailbox {mailbox!r} (nothing changed)"
        )
    return result, isinstance(op, _Redrive) and op.new_target
