"""A store from outside a runtime: what ``python -m trouper.durable`` prints and changes.

``inspect_store`` takes no lock and writes nothing (``PRAGMA query_only``), so
it can look at a store a runtime has open: WAL mode lets it read the last
committed state. It refuses files that are not trouper stores, and versions
it does not know. ``change_dead_letters`` (``redrive``, ``discard``) checks the
file the same way, then opens it as a runtime would, taking the store's lock
(so it is refused while a runtime has the store open), and changes nothing
unless every id asked for is a dead letter of the mailbox.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import attrs
import trio

from trouper.codec import Codec
from trouper.durable._schema import (
    APPLICATION_ID,
    VERSION,
    check_header,
    header_identity,
    store_error,
)
from trouper.durable._sqlite import SqliteStore, change_exactly, mailbox_counts
from trouper.durable._store import (
    DeadLetterRecord,
    MailboxStatistics,
    checked_redrive_target,
    decoded,
)
from trouper.errors import NotAStore, StoreError, StoreVersionTooNew

__all__ = ["StoreReport", "change_dead_letters", "inspect_store", "render_json", "render_text"]

# Seconds a read waits for another connection's lock, as the store's own writer does.
_BUSY_TIMEOUT = 2.0
# The most rows a LIMIT can ask for (SQLite's integers are 64-bit signed).
_MAX_LIMIT = 2**63 - 1


@attrs.frozen
class StoreReport:
    """What a store holds: its mailboxes' counts and its dead letters."""

    path: str
    """The store file."""
    version: int
    """Its schema version."""
    mailboxes: tuple[MailboxStatistics, ...]
    """Every mailbox's counts, by name."""
    dead_letters: tuple[DeadLetterRecord, ...]
    """Dead letters, oldest first (at most the limit asked for).

    Each decoded with the default registry (the classes of the modules
    imported) and no runtime (refs cannot be resolved), ``decode_error``
    saying why one was not.
    """
    dead_total: int
    """How many dead letters there are in all."""


def inspect_store(
    path: str | Path, *, limit: int = 100, unknown_type_hint: str = ""
) -> StoreReport:
    """Read ``path``'s mailboxes and up to ``limit`` dead letters, without writing anything.

    Messages are decoded with the default registry, so with the classes the
    modules imported so far registered; ``unknown_type_hint`` is added to the
    ``decode_error`` of a type name none of them is registered under.

    Raises:
        StoreError: the file does not exist or cannot be read.
        NotAStore: it is not a trouper store.
        StoreVersionTooNew: a newer trouper wrote it.
        StoreCorrupt: SQLite cannot read it.
        StoreLocked: another program holds SQLite's exclusive lock on it for
            longer than two seconds (the store's own busy timeout).
    """
    path = Path(path)
    name = str(path)
    if path.is_dir():
        raise StoreError(name, "it is a directory, not a file")
    if not path.is_file():
        if path.exists():  # a device, a FIFO, a socket: there, but not a store file
            raise StoreError(name, "it is not a regular file")
        raise StoreError(name, "no such file")
    try:
        check_header(path)
        empty = path.stat().st_size == 0
        identity = None if empty else header_identity(path)
    except StoreError:  # an OSError too: NotAStore as check_header says it, not wrapped
        raise
    except OSError as error:  # unreadable: permissions, I/O
        raise StoreError(name, error.strerror or str(error)) from error
    if empty:
        raise NotAStore(name, "the file is empty")
    if identity is not None:
        # Refused before SQLite opens it: a read-only connection would leave the
        # ``-wal`` and ``-shm`` files of a database in WAL mode beside it.
        _check_identity(name, *identity)
    try:
        # Quoted: a name with ``%``, ``?`` or ``#`` would otherwise be read as URI syntax
        # and open another file (or none).
        connection = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro",
            uri=True,
            isolation_level=None,
            timeout=_BUSY_TIMEOUT,
        )
    except sqlite3.Error as error:
        raise store_error(name, error) from error
    try:
        connection.execute("PRAGMA query_only = 1")
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        _check_identity(name, application_id, version)
        mailboxes = mailbox_counts(connection, time.time())
        rows = connection.execute(
            "SELECT d.id, b.name, d.type_name, d.payload, d.msg_id, d.deliveries, d.reason, "
            "d.traceback, d.enqueued_at, d.first_delivered_at, d.last_delivered_at, "
            "d.dead_at FROM dead_letters d JOIN mailboxes b ON b.id = d.mailbox "
            "ORDER BY d.id LIMIT ?",
            (min(limit, _MAX_LIMIT),),
        ).fetchall()
        total = connection.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    except sqlite3.DatabaseError as error:
        # SQLite's refusal, classified as the store classifies its own (locked, corrupt...).
        raise store_error(name, error) from error
    finally:
        connection.close()
    codec = Codec()
    return StoreReport(
        path=name,
        version=version,
        mailboxes=tuple(mailboxes),
        # Decoded as a store with no runtime lists them (the default registry, no
        # refs): a message that does not decode here says why (``decode_error``).
        dead_letters=tuple(
            decoded(DeadLetterRecord(*row), codec, unknown_type_hint=unknown_type_hint)
            for row in rows
        ),
        dead_total=total,
    )


def _check_identity(name: str, application_id: int, version: int) -> None:
    """Refuse a file that is no trouper store, or one of a schema version this one cannot read."""
    if application_id != APPLICATION_ID:
        raise NotAStore(
            name,
            f"it is an SQLite database of another application (application_id {application_id})",
        )
    if version > VERSION:
        raise StoreVersionTooNew(name, version, VERSION)
    if version < VERSION:
        raise StoreError(
            name,
            f"schema version {version} is older than {VERSION}: open it with a runtime "
            "once to migrate it",
        )


def change_dead_letters(
    path: str | Path,
    mailbox: str,
    *,
    ids: Sequence[int] | None,
    discard: bool,
    to: str | None = None,
) -> tuple[int, bool]:
    """Redrive (or discard) ``mailbox``'s dead letters ``ids`` (all if None).

    ``to`` redrives them to that mailbox instead of their own, made if the
    store never held it (its messages wait there for an actor of that name).
    Runs its own Trio loop: call it from a command line, not from async code
    (which has ``rt.store.redrive`` and ``rt.store.discard``).

    Returns:
        How many, and whether ``to`` was a mailbox new to the store.

    Raises:
        StoreError: as ``inspect_store`` does (a missing file is not created,
            an older schema is not migrated), or the mailbox is not in the
            store, or an id is not one of its dead letters (then nothing is
            changed).
        StoreLocked: a runtime has the store open.
        ValueError: ``to`` with ``discard``, or a ``to`` that could name no actor.
    """
    checked_redrive_target(to)
    if discard and to is not None:
        raise ValueError("discard takes no target mailbox (to)")
    report = inspect_store(path, limit=0)
    if mailbox not in {m.name for m in report.mailboxes}:
        raise StoreError(report.path, f"no mailbox {mailbox!r}")
    return trio.run(_change, report.path, mailbox, ids, discard, to)


async def _change(
    path: str, mailbox: str, ids: Sequence[int] | None, discard: bool, to: str | None
) -> tuple[int, bool]:
    async with SqliteStore(path) as store:
        # The ids are checked in the transaction that changes them, by id alone:
        # no message of a (perhaps large) dead-letter queue is read or decoded.
        return await change_exactly(store, mailbox, ids, discard=discard, to=to)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def render_text(report: StoreReport) -> str:
    """The report as aligned text: a table of mailboxes, then the dead letters."""
    lines = [f"store {report.path} (schema version {report.version})", ""]
    header = ("mailbox", "depth", "ready", "in flight", "delayed", "dead")
    table = [header] + [
        (m.name, str(m.depth), str(m.ready), str(m.in_flight), str(m.delayed), str(m.dead))
        for m in report.mailboxes
    ]
    if len(table) == 1:
        lines.append("no mailboxes")
    else:
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            cells = [row[0].ljust(widths[0])] + [
                cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join(cells).rstrip())
    lines.append("")
    shown = len(report.dead_letters)
    if report.dead_total == 0:
        lines.append("no dead letters")
    else:
        more = f", showing the oldest {shown}" if shown < report.dead_total else ""
        lines.append(f"dead letters: {report.dead_total}{more}")
        for dead in report.dead_letters:
            lines.append(
                f"  #{dead.id} {dead.mailbox} {dead.type_name} attempts={dead.attempts}: "
                f"{_first_line(dead.reason)}"
            )
            if dead.decode_error is not None:
                lines.append(f"    not decoded: {_first_line(dead.decode_error)}")
    return "\n".join(lines) + "\n"


def render_json(report: StoreReport) -> str:
    """The report as JSON (payloads as hex, times as wall-clock seconds).

    A dead letter's ``message`` is the decoded message's ``repr``, or null
    when it did not decode (``decode_error`` says why).
    """
    document = {
        "path": report.path,
        "version": report.version,
        "mailboxes": [attrs.asdict(m) for m in report.mailboxes],
        "dead_total": report.dead_total,
        "dead_letters": [_dead_letter_json(d) for d in report.dead_letters],
    }
    return json.dumps(document, indent=2) + "\n"


def _dead_letter_json(dead: DeadLetterRecord) -> dict[str, object]:
    fields = attrs.asdict(dead, recurse=False)
    fields["payload"] = dead.payload.hex()
    # A message is any value (bytes, refs, a user's class): JSON shows what it reads as.
    fields["message"] = None if dead.decode_error is not None else _repr(dead.message)
    return fields


def _repr(message: object) -> str:
    try:
        return repr(message)
    except Exception as error:  # a user's class with a broken __repr__
        return f"<{type(message).__name__}: repr() raised {type(error).__name__}>"
