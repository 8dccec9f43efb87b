"""The store's file layout: identity, schema version, tables, and migrations from older versions.

A trouper store is an SQLite database whose ``PRAGMA application_id`` is
``APPLICATION_ID`` (the bytes ``TRPR``) and whose ``PRAGMA user_version`` is
its schema version. Opening checks both before anything is written:

- an empty file (or none) becomes a store of version ``VERSION``;
- a file that is not SQLite, or an SQLite database of another application, is
  refused (``NotAStore``) and left as it was;
- a newer version is refused (``StoreVersionTooNew``): this trouper cannot know
  what the newer one stored;
- an older version is migrated, one step at a time, in one transaction;
- a file that fails SQLite's ``quick_check`` (when asked for) is refused
  (``StoreCorrupt``) before anything is written, and one SQLite cannot read
  or write (an I/O error, a full disk) is refused with ``StoreError``.

Version history:

- 0: development snapshots. Messages counted every delivery, ``Retry`` ones
  included, and crash recovery was not recorded per mailbox.
- 1: ``messages.retries`` (deliveries ended by ``Retry``, which do not count
  toward ``max_deliveries``); ``mailboxes.suspect_upto``, ``recovered_upto``,
  ``recovery_at`` and ``trying`` record recovery after an unclean stop.
- 2: ``meta``, whose ``next_id`` row lies above every delivery id handed out,
  so ids are never reused, not even after the newest messages were acked and
  the process stopped (version 1 derived the next id from the rows left).

Every function here runs in the store's writer thread, never on Trio's.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from trouper.errors import NotAStore, StoreCorrupt, StoreError, StoreLocked, StoreVersionTooNew

__all__ = [
    "APPLICATION_ID",
    "SQLITE_HEADER",
    "VERSION",
    "check_header",
    "check_logged",
    "header_identity",
    "prepare",
    "store_error",
]

APPLICATION_ID = 0x54525052
"""``PRAGMA application_id`` of every trouper store: ``TRPR`` in ASCII."""

VERSION = 2
"""The schema version this trouper writes."""

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

# The size of an SQLite database's header; ``user_version`` is at offset 60,
# ``application_id`` at 68, both 4-byte big-endian integers.
_HEADER_SIZE = 100

# Version 2, the current layout (a new store is made so; older ones are migrated
# by _MIGRATIONS). Times are wall-clock seconds (see _clock).
_TABLES = """
CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    claimed_upto INTEGER,
    suspect_upto INTEGER,
    recovered_upto INTEGER,
    recovery_at REAL,
    trying INTEGER
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    mailbox INTEGER NOT NULL,
    type_name TEXT NOT NULL,
    payload BLOB NOT NULL,
    msg_id TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    available_at REAL NOT NULL,
    enqueued_at REAL NOT NULL,
    first_delivered_at REAL,
    last_delivered_at REAL
);
CREATE INDEX messages_by_mailbox ON messages (mailbox, id);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    mailbox INTEGER NOT NULL,
    type_name TEXT NOT NULL,
    payload BLOB NOT NULL,
    msg_id TEXT,
    deliveries INTEGER NOT NULL,
    reason TEXT NOT NULL,
    traceback TEXT,
    enqueued_at REAL NOT NULL,
    first_delivered_at REAL,
    last_delivered_at REAL,
    dead_at REAL NOT NULL
);
CREATE INDEX dead_letters_by_mailbox ON dead_letters (mailbox, id);
CREATE TABLE dedup (
    mailbox INTEGER NOT NULL,
    msg_id TEXT NOT NULL,
    expires_at REAL,
    PRIMARY KEY (mailbox, msg_id)
) WITHOUT ROWID;
CREATE INDEX dedup_by_expiry ON dedup (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE states (
    key TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    saved_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Steps from each older version to the next one; each runs in the opening transaction.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: (
        "ALTER TABLE messages ADD COLUMN retries INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE mailboxes ADD COLUMN suspect_upto INTEGER",
        "ALTER TABLE mailboxes ADD COLUMN recovered_upto INTEGER",
        "ALTER TABLE mailboxes ADD COLUMN recovery_at REAL",
        "ALTER TABLE mailboxes ADD COLUMN trying INTEGER",
    ),
    1: ("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",),
}


def check_header(path: Path) -> None:
    """Refuse a non-empty file that does not start with SQLite's header (nothing is opened).

    A path that is there but is no regular file (a FIFO, a device) is refused
    before it is read: reading a FIFO would wait for a writer, for good.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):  # a directory fails its open, saying so
        raise StoreError(str(path), "it is not a regular file")
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    if header and header != SQLITE_HEADER:
        raise NotAStore(str(path), "it is not an SQLite database (no SQLite header)")


def header_identity(path: Path) -> tuple[int, int] | None:
    """``path``'s application id and schema version read from its header, if it is all there.

    None when SQLite must be asked: a write-ahead log beside the file may hold
    newer pages than the file (its header among them), and a header cut short
    is for SQLite to judge. Without a log the file is the whole database, and
    its header answers without opening it, so a reader refuses a file that is
    no store without making the ``-wal`` and ``-shm`` files a read-only
    connection makes and cannot remove.
    """
    logs = {f"{path}-wal", os.path.realpath(path) + "-wal"}
    if any(os.path.lexists(log) for log in logs):
        return None
    with path.open("rb") as file:
        header = file.read(_HEADER_SIZE)
    if len(header) < _HEADER_SIZE or not header.startswith(SQLITE_HEADER):
        return None
    application_id = int.from_bytes(header[68:72], "big", signed=True)
    version = int.from_bytes(header[60:64], "big", signed=True)
    return application_id, version


def check_logged(path: Path) -> None:
    """Refuse, before the store's own connection reads it, a database whose log is beside it.

    A file with a write-ahead log beside it (another application's, left by a
    crash or open now) cannot be judged from its header. Read by the store's
    connection, which writes, it would be refused all the same, but closing
    that connection would checkpoint the log into the file and delete the
    ``-wal`` and ``-shm``: a file refused as no store must be left as it was.
    A read-only connection reads it instead, changing neither file nor log
    (SQLite may rebuild the ``-shm`` index, or make it if it was missing).
    A file without a log is left to ``prepare`` (SQLite's connection removes
    the ``-wal`` and ``-shm`` it makes), and so is anything the read-only
    connection cannot read (``prepare`` says why).

    Raises:
        NotAStore: it is a database of another application.
        StoreVersionTooNew: it was written by a newer trouper.
    """
    logs = {f"{path}-wal", os.path.realpath(path) + "-wal"}
    if not any(os.path.lexists(log) for log in logs):
        return
    try:
        connection = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro", uri=True, isolation_level=None, timeout=2.0
        )
    except sqlite3.Error:
        return
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        objects = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.Error:
        return
    finally:
        connection.close()
    _refuse_foreign(str(path), application_id, version, fresh=application_id == 0 and objects == 0)


def _refuse_foreign(path: str, application_id: int, version: int, *, fresh: bool) -> None:
    """Refuse a database of another application, or of a newer trouper (a fresh one is neither)."""
    if not fresh and application_id != APPLICATION_ID:
        raise NotAStore(
            path,
            f"it is an SQLite database of another application (application_id {application_id})",
        )
    if not fresh and version > VERSION:
        raise StoreVersionTooNew(path, version, VERSION)


def prepare(connection: sqlite3.Connection, path: str, *, synchronous: str, check: bool) -> None:
    """Make ``connection``'s database a current trouper store, or raise without changing it.

    With ``check`` runs SQLite's ``quick_check`` first, then sets WAL mode
    and the ``synchronous`` level, creates the tables of a new store and
    migrates an older one.

    Raises:
        NotAStore: the database belongs to another application.
        StoreVersionTooNew: it was written by a newer trouper.
        StoreCorrupt: SQLite finds it malformed, or its quick check fails.
        StoreError: SQLite cannot read or write it (an I/O error, a full disk).
        StoreLocked: another connection holds SQLite's lock past the busy timeout.
    """
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        objects = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise store_error(path, error) from error
    fresh = application_id == 0 and objects == 0
    _refuse_foreign(path, application_id, version, fresh=fresh)
    try:
        if check:
            # Before anything is written: a damaged file is refused as it was,
            # not switched to WAL or migrated first.
            problems = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise StoreCorrupt(path, "; ".join(problems))
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreCorrupt(path, f"cannot switch to WAL mode (journal_mode is {mode!r})")
        connection.execute(f"PRAGMA synchronous = {synchronous}")
        if fresh or version < VERSION:
            connection.execute("BEGIN IMMEDIATE")
            try:
                if fresh:
                    for statement in _TABLES.split(";"):
                        if statement.strip():
                            connection.execute(statement)
                    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                else:
                    for step in range(version, VERSION):
                        for statement in _MIGRATIONS[step]:
                            connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {VERSION}")
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
    except sqlite3.DatabaseError as error:
        raise store_error(path, error) from error


def store_error(path: str, error: sqlite3.Error) -> StoreError:
    """The store error for ``error``, SQLite's refusal to open or read the store at ``path``.

    Locked (another connection holds SQLite's lock past the busy timeout: the
    file may be fine), corrupt (SQLite's own verdict on the file's content),
    or else a problem of the file's place (a full, read-only or failing disk,
    a file SQLite cannot open) or of its tables, named by SQLite's message.
    The store and the command line both report what they cannot open or read by it.
    """
    # An error the sqlite3 module raises itself carries no code.
    code: int | None = getattr(error, "sqlite_errorcode", None)
    if code is None:
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            return StoreLocked(path, path)
        return StoreError(path, str(error))
    if code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreLocked(path, path)
    if code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreCorrupt(path, str(error))
    return StoreError(path, str(error))
