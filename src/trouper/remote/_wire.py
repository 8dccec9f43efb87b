"""What crosses between nodes: subjects, frames, replies, errors as data, control messages.

Pure functions and constants, no I/O and no Trio, so each rule is tested on
its own.

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

A tell, an ask or a topic message is a *frame*: the sender's incarnation (8
random bytes, new for every run of a node), the receiver's incarnation as
the sender knows it (8 bytes, zeros when it does not, and for topics), a
sequence number (8 bytes, big endian) and the codec's blob (``[type name,
fields]`` in msgpack). The sender numbers its tells and asks to one node
from 1 for each incarnation of that node it learns of, and its topic
publishes from 1; so a receiver counts what was lost as gaps (``lost_before``),
and a node tells its own topic publishes apart by its incarnation.

A reply is a status byte, ``OK`` then the blob of the value, ``REF`` then a
ref's address (a handler may answer with a ref, which the codec takes only
inside messages) or ``FAILED`` then the error as msgpack.

Errors cross as data: trouper's own errors and Python's builtin exceptions
whose arguments are plain values are rebuilt as themselves on the other side;
anything else (and always the error a handler raised, which ``HandlerError``
carries) becomes a ``RemoteError``: type name, message and traceback as text.
Nothing is ever unpickled or imported by name from the data.
"""

from __future__ import annotations

import builtins
import traceback
from typing import Final
from urllib.parse import unquote

import msgpack  # type: ignore[import-untyped]

from trouper import errors
from trouper._text import describe, type_name
from trouper.actors import Address
from trouper.errors import ActorError, HandlerError, RemoteError

__all__ = [
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
    "lost_before",
    "pack",
    "path_of_token",
    "unpack",
]

FRAME_HEAD: Final = 24
"""Bytes before the blob in a frame: two incarnations (8 each) and a sequence number (8)."""

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


def frame(sender: bytes, receiver: bytes, seq: int, blob: bytes) -> bytes:
    """A tell, ask or topic message as it travels: incarnations, sequence number, blob."""
    return sender + receiver + seq.to_bytes(8, "big") + blob


def lost_before(seen: dict[bytes, int], head: bytes, own: bytes) -> int:
    """How many messages the frame ``head`` (its first 24 bytes) shows were lost before it.

    ``seen`` maps (sender, receiver) incarnation pairs to the last sequence
    number received, and is updated; ``own`` is the receiving node's
    incarnation. The first frame of a pair addressed to this incarnation (or
    to none known) counts the numbers before it as lost, since the sender
    numbers them from 1; one addressed to an earlier incarnation of this node
    (the sender has not heard of the restart yet) counts nothing.
    """
    key = head[:16]
    seq = int.from_bytes(head[16:24], "big")
    last = seen.get(key)
    seen[key] = seq
    if last is None:
        receiver = head[8:16]
        if receiver != own and receiver != NO_INCARNATION:
            return 0
        last = 0
    return seq - last - 1 if seq > last + 1 else 0


_packb = msgpack.packb
_unpackb = msgpack.unpackb


def pack(value: object) -> bytes:
    """A control message or an error as msgpack (plain values only)."""
    packed: bytes = _packb(value)
    return packed


def _refuse_extension(code: int, data: bytes) -> object:
    raise ValueError(f"msgpack extension type {code} is not allowed")


def unpack(data: bytes | memoryview) -> object:
    """Read what ``pack`` wrote; raise ``WireError`` on anything else."""
    try:
        return _unpackb(data, ext_hook=_refuse_extension)
    except Exception as error:
        raise WireError(f"not a trouper control message ({describe(error)})") from None


# --- errors -------------------------------------------------------------------


def _cut(text: str, keep_end: bool = False) -> str:
    if len(text) <= _TEXT_LIMIT:
        return text
    return "..." + text[-_TEXT_LIMIT:] if keep_end else text[:_TEXT_LIMIT] + "..."


def remote_error_of(error: BaseException, node: str) -> RemoteError:
    """``error`` as text: its type's name, message and traceback, raised on ``node``."""
    if isinstance(error, RemoteError):
        return error
    text = "".join(traceback.format_exception(error))
    return RemoteError(node, type_name(type(error)), _cut(str(error)), _cut(text, keep_end=True))


def _value_to_wire(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str | bytes):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
            raise WireError("an int out of msgpack's range")
        return value
    if isinstance(value, Address):
        return {"$address": [value.node, value.path]}
    if isinstance(value, tuple):
        return {"$tuple": [_value_to_wire(item) for item in value]}
    if isinstance(value, list):
        return [_value_to_wire(item) for item in value]
    raise WireError(f"a {type_name(type(value))} cannot cross")


def _value_from_wire(value: object) -> object:
    if isinstance(value, list):
        return [_value_from_wire(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$address"}:
            node, path = value["$address"]
            if not (isinstance(node, str) and isinstance(path, str)):
                raise WireError("an address is two strings")
            return Address(node, path)
        if set(value) == {"$tuple"} and isinstance(value["$tuple"], list):
            return tuple(_value_from_wire(item) for item in value["$tuple"])
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
            "description": error.args[1],
            "remote": _remote_to_wire(remote),
        }
    cls = type(error)
    if isinstance(error, ActorError) and getattr(errors, cls.__name__, None) is cls:
        try:
            return {"kind": "trouper", "type": cls.__name__, "args": _value_to_wire(error.args)}
        except WireError:
            pass
    elif (
        cls.__module__ == "builtins"
        and isinstance(error, Exception)
        and not isinstance(error, BaseExceptionGroup)
    ):
        try:
            return {"kind": "builtin", "type": cls.__name__, "args": _value_to_wire(error.args)}
        except WireError:
            pass
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
