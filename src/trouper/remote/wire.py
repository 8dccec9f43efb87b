"""What crosses between nodes: subjects, frames, replies, errors as data, control messages.

Pure functions and constants, no I/O and no Trio, so each rule is tested on
its own. Public for tools and tests that read or write what nodes exchange
(like ``trouper.runtime.lowlevel`` for the engine); not for applications, and
it may change between releases.

Subjects, under the cluster's prefix ``P`` (``trouper`` unless configured):

======================  ====================================================
``P.actor.<node>.<p>``  tells and asks to one actor; ``<p>`` is its path
                        without the leading ``/``, with ``%`` and ``.``
                        escaped (``%25``, ``%2E``) so it stays one token
``P.node.<node>``       control: watch, unwatch, terminated, whois
``P.heartbeat.<node>``  ``["up", incarnation, interval]`` or ``["bye", incarnation]``
``P.locate``            a cluster-wide name lookup (every node answers)
``P.topic.<subject>``   a topic's publishes (the trouper subject as it is)
======================  ====================================================

Tells, asks and topic messages travel in *frames*: the sender's incarnation
(8 random bytes, new for every run of a node), the receiver's incarnation as
the sender knows it (8 bytes, zeros when it does not, and for topics), then
one or more *entries*: a sequence number (8 bytes, big endian), the blob's
length (4 bytes) and the codec's blob (``[type name, fields]`` in msgpack).
A burst of tells from one node to one actor leaves as one frame of many
entries, so the per-message costs of NATS (framing, routing, parsing) are
paid once per burst. The sender numbers its tells and asks to one node from
1 for each incarnation of that node it learns of, and its topic publishes
from 1; so a receiver counts what was lost as gaps, and a node tells its own
topic publishes apart by its incarnation. The first frame a
receiver sees for a (sender, receiver) pair counts the numbers before it as
lost if it names this incarnation of the receiver (or none); one that names
an earlier incarnation (the sender has not yet heard of a restart) counts
nothing and is not delivered: its messages were for the earlier process.

A reply is a status byte, ``OK`` then the blob of the value, ``REF`` then a
ref's address (a handler may answer with a ref, which the codec takes only
inside messages) or ``FAILED`` then the error as msgpack.

Errors cross as data: trouper's own errors and Python's builtin exceptions
whose arguments are plain values (16 KiB of them at most, as msgpack) are
rebuilt as themselves on the other side; anything else (and always the error
a handler raised, which ``HandlerError`` carries) becomes a ``RemoteError``:
type name, message and traceback as text.
Nothing is ever unpickled or imported by name from the data.
"""

from __future__ import annotations

import builtins
import struct
import traceback
from collections.abc import Iterable
from typing import Final
from urllib.parse import unquote

import msgpack  # type: ignore[import-untyped]

from trouper import errors
from trouper._text import describe, is_utf8, type_name
from trouper.actors import Address
from trouper.errors import ActorError, HandlerError, RemoteError

__all__ = [
    "ENTRY",
    "FAILED",
    "FRAME_HEAD",
    "NO_INCARNATION",
    "OK",
    "REF",
    "WireError",
    "actor_subject",
    "check_token",
    "error_from_wire",
    "error_to_wire",
    "frame",
    "pack",
    "path_of_token",
    "read_entries",
    "unpack",
]

FRAME_HEAD: Final = 16
"""Bytes before the entries of a frame: two incarnations (8 each)."""

ENTRY: Final = struct.Struct(">QI")
"""What precedes each blob in a frame: its sequence number and its length."""

NO_INCARNATION: Final = bytes(8)
"""The receiver's incarnation in a frame whose sender does not know it (and in topic frames)."""

OK: Final = b"\x00"
"""First byte of a reply that carries the handler's value."""

FAILED: Final = b"\x01"
"""First byte of a reply that carries an error."""

REF: Final = b"\x02"
"""First byte of a reply that is a ref (``[node, path]`` follows): refs are no codec message."""

_TEXT_LIMIT: Final = 16 * 1024
"""Characters of a remote message or traceback kept (the end of a traceback)."""

_ARGS_LIMIT: Final = 16 * 1024
"""Bytes (as msgpack) an error's arguments may take to cross as themselves; larger ones
cross as a ``RemoteError`` with its text cut, so a notice or answer carrying an error
always fits in one NATS message (a ``terminated`` too large to publish was lost)."""

_DEPTH_LIMIT: Final = 32
"""Levels of lists and tuples an error's arguments may nest (deeper would exhaust the stack)."""


class WireError(ValueError):
    """Bytes from another node that do not follow this module's formats (they are ignored)."""


def check_token(value: object, what: str) -> str:
    """Return ``value`` if it can be one token of a NATS subject, else raise ``ValueError``."""
    if (
        not isinstance(value, str)
        or not value
        or "." in value
        or value in ("*", ">")
        or any(char.isspace() for char in value)
    ):
        raise ValueError(
            f"{what} must be one subject token (no '.', whitespace, or a lone '*' or '>'), "
            f"got {value!r}"
        )
    return value


def actor_subject(prefix: str, node: str, path: str) -> str:
    """The subject an actor at ``path`` on ``node`` receives its tells and asks on."""
    token = path[1:] if path.startswith("/") else path
    if "%" in token or "." in token:
        token = token.replace("%", "%25").replace(".", "%2E")
    return f"{prefix}.actor.{node}.{token or '%2F'}"


def path_of_token(token: str) -> str:
    """The actor path an ``actor_subject`` token stands for (its inverse)."""
    if "%" in token:
        token = unquote(token)
    return token if token == "/" else "/" + token


def frame(sender: bytes, receiver: bytes, entries: Iterable[tuple[int, bytes]]) -> bytes:
    """Messages as they travel: the incarnations, then each (sequence number, blob) entry."""
    out = bytearray(sender + receiver)
    for seq, blob in entries:
        out += ENTRY.pack(seq, len(blob))
        out += blob
    return bytes(out)


def read_entries(data: bytes) -> list[tuple[int, bytes]]:
    """The (sequence number, blob) entries of a frame that ``frame`` wrote.

    Raises:
        WireError: the frame is cut short or has no entry.
    """
    entries = []
    size = len(data)
    pos = FRAME_HEAD
    unpack_entry = ENTRY.unpack_from
    while pos < size:
        if pos + 12 > size:
            raise WireError("a frame is cut short")
        seq, length = unpack_entry(data, pos)
        pos += 12
        if pos + length > size:
            raise WireError("a frame is cut short")
        entries.append((seq, data[pos : pos + length]))
        pos += length
    if not entries:
        raise WireError("a frame has no entry")
    return entries


_packb = msgpack.packb
_unpackb = msgpack.unpackb


def pack(value: object) -> bytes:
    """A control message or an error as msgpack (plain values only)."""
    packed: bytes = _packb(value)
    return packed


class _ExtensionRefused(ValueError):
    """A msgpack extension value: valid msgpack, but nothing ``pack`` writes."""


def _refuse_extension(code: int, data: bytes) -> object:
    raise _ExtensionRefused(
        f"a msgpack extension value (ext type {code}, {len(data)} bytes), "
        "which trouper never writes"
    )


_TIMESTAMP_HEADS: Final = (b"\xd6\xff", b"\xd7\xff", b"\xc7\x0c\xff")
"""How a msgpack timestamp (ext type -1, which msgpack reads itself) starts: 4, 8 or 12 bytes."""


def unpack(data: bytes | memoryview) -> object:
    """Read what ``pack`` wrote; raise ``WireError`` on anything else."""
    try:
        value = _unpackb(data, ext_hook=_refuse_extension)
    except _ExtensionRefused as error:
        raise WireError(f"not a trouper control message ({error})") from None
    except Exception as error:
        raise WireError(f"not a trouper control message ({describe(error)})") from None
    # msgpack reads a timestamp without asking ext_hook; pack never writes one. Its bytes
    # are looked for first (in C), so a control message without them is not walked.
    raw = bytes(data)
    if any(head in raw for head in _TIMESTAMP_HEADS) and _holds_timestamp(value):
        raise WireError(
            "not a trouper control message (a msgpack timestamp extension (ext type -1), "
            "which trouper never writes)"
        )
    return value


def _holds_timestamp(value: object) -> bool:
    """Whether ``value`` (as msgpack read it) holds a ``msgpack.Timestamp``, at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, msgpack.Timestamp):
            return True
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
    return False


# --- errors -------------------------------------------------------------------


def _cut(text: str, keep_end: bool = False) -> str:
    if not is_utf8(text):  # a lone surrogate (os.fsdecode's, of a name not UTF-8): escaped
        text = text.encode("utf-8", "backslashreplace").decode()
    if len(text) <= _TEXT_LIMIT:
        return text
    return "..." + text[-_TEXT_LIMIT:] if keep_end else text[:_TEXT_LIMIT] + "..."


def remote_error_of(error: BaseException, node: str) -> RemoteError:
    """``error`` as text: its type's name, message and traceback, raised on ``node``."""
    if isinstance(error, RemoteError):
        return error
    text = "".join(traceback.format_exception(error))
    return RemoteError(node, type_name(type(error)), _cut(str(error)), _cut(text, keep_end=True))


def _value_to_wire(value: object, depth: int = 0) -> object:
    if depth > _DEPTH_LIMIT:
        raise WireError("values nested too deep")
    if value is None or isinstance(value, bool | int | float | str | bytes):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
            raise WireError("an int out of msgpack's range")
        if isinstance(value, str) and not is_utf8(value):
            raise WireError("a text msgpack cannot carry (a lone surrogate)")
        return value
    if isinstance(value, Address):
        return {"$address": [value.node, value.path]}
    if isinstance(value, tuple):
        return {"$tuple": [_value_to_wire(item, depth + 1) for item in value]}
    if isinstance(value, list):
        return [_value_to_wire(item, depth + 1) for item in value]
    raise WireError(f"a {type_name(type(value))} cannot cross")


def _value_from_wire(value: object, depth: int = 0) -> object:
    if depth > _DEPTH_LIMIT:
        raise WireError("values nested too deep")
    if isinstance(value, list):
        return [_value_from_wire(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$address"}:
            pair = value["$address"]
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(part, str) for part in pair)
            ):
                raise WireError("an address is two strings")
            return Address(pair[0], pair[1])
        if set(value) == {"$tuple"} and isinstance(value["$tuple"], list):
            return tuple(_value_from_wire(item, depth + 1) for item in value["$tuple"])
        raise WireError("a map is not a value errors carry")
    return value


def _remote_to_wire(error: RemoteError) -> list[object]:
    return [error.node, error.type_name, error.message, error.traceback]


def _remote_from_wire(fields: object) -> RemoteError:
    if (
        not isinstance(fields, list)
        or len(fields) != 4
        or not all(isinstance(field, str) for field in fields)
    ):
        raise WireError("a remote error is four strings")
    return RemoteError(*fields)


def error_to_wire(error: BaseException, node: str) -> dict[str, object]:
    """``error``, raised on ``node``, as plain values that ``error_from_wire`` reads back."""
    if isinstance(error, HandlerError):
        remote = error.remote
        if remote is None:
            cause = error.__cause__
            remote = (
                remote_error_of(cause, node)
                if cause is not None
                else RemoteError(node, "HandlerError", str(error))
            )
        address = error.args[0]
        return {
            "kind": "handler",
            "address": [address.node, address.path],
            "description": _cut(str(error.args[1])),
            "remote": _remote_to_wire(remote),
        }
    cls = type(error)
    kind = None
    if isinstance(error, ActorError) and getattr(errors, cls.__name__, None) is cls:
        kind = "trouper"
    elif (
        cls.__module__ == "builtins"
        and isinstance(error, Exception)
        and not isinstance(error, BaseExceptionGroup)
    ):
        kind = "builtin"
    if kind is not None:
        arguments = error.args
        if isinstance(error, OSError) and len(arguments) == 2 and error.filename is not None:
            # Its file names are no arguments: OSError(errno, strerror, filename, winerror,
            # filename2) makes them again.
            arguments = (*arguments, error.filename, None, error.filename2)
        try:
            args = _value_to_wire(arguments)
        except WireError:
            pass
        else:
            if len(_packb(args)) <= _ARGS_LIMIT:
                return {"kind": kind, "type": cls.__name__, "args": args}
    return {"kind": "remote", "remote": _remote_to_wire(remote_error_of(error, node))}


def error_from_wire(data: object, node: str) -> BaseException:
    """The error ``error_to_wire`` wrote on ``node`` (a ``RemoteError`` if it cannot be rebuilt).

    Raises:
        WireError: ``data`` is not what ``error_to_wire`` writes.
    """
    if not isinstance(data, dict):
        raise WireError("an error is a map")
    kind = data.get("kind")
    if kind == "handler":
        address = data.get("address")
        description = data.get("description")
        if (
            not isinstance(address, list)
            or len(address) != 2
            or not all(isinstance(part, str) for part in address)
            or not isinstance(description, str)
        ):
            raise WireError("a handler error names an address and a description")
        return HandlerError(
            Address(address[0], address[1]), description, _remote_from_wire(data.get("remote"))
        )
    if kind == "remote":
        return _remote_from_wire(data.get("remote"))
    if kind in ("trouper", "builtin"):
        name = data.get("type")
        args = _value_from_wire(data.get("args"))
        if not isinstance(name, str) or not isinstance(args, tuple):
            raise WireError("an error names its type and its arguments")
        found = getattr(errors if kind == "trouper" else builtins, name, None)
        base = ActorError if kind == "trouper" else Exception
        if isinstance(found, type) and issubclass(found, base):
            try:
                rebuilt: BaseException = found(*args)
            except Exception:
                pass
            else:
                return rebuilt
        shown = f"trouper.errors.{name}" if kind == "trouper" else name
        return RemoteError(node, shown, ", ".join(map(str, args)))
    raise WireError(f"unknown kind of error {kind!r}")
