"""The codec: messages to bytes and back, by registered type name, for stores and transports.

Theory of operation
-------------------
A ``Codec`` pairs a registry with trouper's converter (``_hooks``) and msgpack.
Its two tables are filled on first use and only grow: ``_encoders`` maps a
class to its name and its unstructure hook, ``_decoders`` a name to its class
and its structure hook. The hot path is one dict lookup, the hook, and one
msgpack call; the converter builds each hook once, when a class is first seen.
The builtin value types are in both tables from the start.

Encoding trusts the message and refuses only what cannot be written (an
unregistered class; a value msgpack cannot pack, whose field it then finds)
or would not come back as it went (a subclass of a nested attrs field's
class, a datetime in a date field, a bool in an int field).
Decoding trusts nothing: every failure becomes an ``UndecodableMessage`` whose
text says which type and why, and nothing on the way imports a module or
unpickles: msgpack reads only plain values, extension types are refused
(the timestamp, ext type -1, which msgpack reads itself, by every hook, which
names it), and a class is found only among those registered.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import msgpack  # type: ignore[import-untyped]
from cattrs import Converter

from trouper._text import describe, type_name
from trouper.codec._explain import explain
from trouper.codec._hooks import (
    MAX_NESTING,
    TOO_DEEP,
    Expected,
    NotBuiltin,
    Path,
    Refused,
    Resolver,
    builtin_problem,
    field_types,
    inner_values,
    make_converter,
    render_path,
    short,
    unchecked,
    where,
)
from trouper.codec._registry import DEFAULT_REGISTRY, MessageRegistry
from trouper.errors import (
    MalformedPayload,
    MessageMismatch,
    UndecodableMessage,
    UnencodableMessage,
    UnresolvableRef,
)

__all__ = ["Codec", "Encoded", "RefResolver"]

RefResolver = Resolver
"""What a codec calls to turn an ``Address`` read from a payload back into an ``ActorRef``."""

Buffer = bytes | bytearray | memoryview

_SCALAR_NAMES: dict[type, str] = {
    type(None): "none",
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    bytes: "bytes",
}


@attrs.frozen
class Encoded:
    """A message as bytes, with the name of its type: what a store writes or a transport sends."""

    type_name: str
    """The message type's registered name (``"shop.charge"``, or ``"int"`` for a builtin)."""
    payload: bytes
    """The message's fields in msgpack (a map of field names for an attrs class)."""


class _ExtensionRefused(ValueError):
    """A msgpack extension value: valid msgpack, but no value trouper writes or reads."""


def _refuse_extension(code: int, data: bytes) -> object:
    raise _ExtensionRefused(
        f"a msgpack extension value (ext type {code}, {len(data)} bytes), "
        "which trouper never writes"
    )


_unpackb = msgpack.unpackb
_packb = msgpack.packb


_MAP_KEY = re.compile(r"(\w+) is not allowed for map key when strict_map_key=True")
"""msgpack's refusal of a map key that is not a str (nor bytes): valid msgpack all the same."""

_BAD_TIMESTAMP = re.compile(r"invalid timestamp data|nanoseconds must be")
"""msgpack's refusal of an ext type -1 value (its timestamp) whose bytes hold no timestamp."""

_MSGPACK_KINDS = {
    "int": "an int",
    "float": "a float",
    "bool": "a bool",
    "NoneType": "a nil",
    "list": "an array",
    "tuple": "an array",
    "dict": "a map",
    "Timestamp": "a msgpack timestamp extension (ext type -1)",
}


def _unpack_problem(error: Exception) -> str:
    if isinstance(error, ValueError) and (key := _MAP_KEY.fullmatch(str(error))) is not None:
        kind = _MSGPACK_KINDS.get(key[1], f"a {key[1]}")
        return f"a map has {kind} key; only str keys are read"
    if isinstance(error, _ExtensionRefused):
        return str(error)
    if isinstance(error, msgpack.ExtraData):
        return "not valid msgpack (bytes left over after the value)"
    if isinstance(error, msgpack.StackError):
        return "not valid msgpack (nested too deeply)"
    if isinstance(error, msgpack.FormatError):
        return "not valid msgpack (a byte that starts no value)"
    if isinstance(error, ValueError) and str(error) == "Unpack failed: incomplete input":
        return "not valid msgpack (it ends too soon)"
    if isinstance(error, ValueError) and _BAD_TIMESTAMP.match(str(error)) is not None:
        # msgpack reads ext type -1 itself, so this is not _refuse_extension's refusal.
        return f"a msgpack timestamp extension (ext type -1) that holds no timestamp ({error})"
    return f"not valid msgpack ({describe(error)})"


def _exact(cls: type) -> Any:
    label = cls.__name__

    def structure(value: Any, _: Any) -> Any:
        if value.__class__ is cls:
            return value
        raise Expected(label, value)

    return structure


def _structure_none(value: Any, _: Any) -> Any:
    if value is None:
        return None
    raise Expected("None", value)


def _structure_tree(cls: type) -> Any:
    label = "a list" if cls is list else "a map"

    def structure(value: Any, _: Any) -> Any:
        if value.__class__ is not cls:
            raise Expected(label, value)
        problem = builtin_problem(value)
        if problem is not None:
            raise problem
        return value

    return structure


def _unstructure_tree(value: Any) -> Any:
    problem = builtin_problem(value)
    if problem is not None:
        raise problem
    return value


class _Pinned:
    """The registry as a codec's hooks read it: each class's tag and field policy as first read.

    A codec's two converters build their hooks at different times (the
    detailed one on the first failure); a class registered in between would
    give them different union tags or field policies, and the detailed hooks
    would accept what the fast ones refused. Both read through one ``_Pinned``.
    Safe from several threads: the first answer stored for a class is kept.
    """

    __slots__ = ("_lenient", "_names", "_registry")

    def __init__(self, registry: MessageRegistry) -> None:
        self._registry = registry  # where the answers come from, the first time
        self._names: dict[type, str | None] = {}  # a class's name, None if unregistered
        self._lenient: dict[type, bool] = {}  # whether a class ignores unknown fields

    def _name(self, cls: type) -> str | None:
        name = self._names.get(cls)
        if name is None and cls not in self._names:
            registry = self._registry
            name = self._names.setdefault(cls, registry.name_of(cls) if cls in registry else None)
        return name

    def __contains__(self, item: object) -> bool:
        return isinstance(item, type) and self._name(item) is not None

    def name_of(self, cls: type) -> str:
        name = self._name(cls)
        return self._registry.name_of(cls) if name is None else name

    def ignores_unknown_fields(self, cls: type) -> bool:
        lenient = self._lenient.get(cls)
        if lenient is None:
            lenient = self._lenient.setdefault(cls, self._registry.ignores_unknown_fields(cls))
        return lenient


class Codec:
    """Turns registered messages into ``Encoded`` bytes and back; one per runtime or store.

    What can be a message: the classes registered in ``registry`` (attrs
    classes, whose fields may be attrs classes, enums, datetimes, UUIDs,
    decimals, timedeltas, tuples, lists, dicts with str keys, sets,
    ``Optional`` and unions, refs and addresses) and the builtin values
    (``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, and lists
    and dicts with str keys of them). See docs/messages.md for the rules.

    A codec is safe to share between tasks and threads: its tables only grow,
    and each entry is computed from values that never change. The resolver is
    called on whichever thread decodes.

    Args:
        registry: where message types are looked up (``DEFAULT_REGISTRY`` if
            not given). Classes registered after the codec was made are found;
            a class's union tag and field policy are read once, when the codec
            first needs them (register at import time).
        resolver: turns the address of an ``ActorRef`` read from a payload
            back into a ref. It is fixed per codec, because the hooks that call
            it are built once and a codec belongs to one runtime. Without one,
            decoding a payload that holds a ref raises ``UnresolvableRef``
            (encoding refs never needs it).
    """

    __slots__ = (
        "_converter",
        "_decoders",
        "_detailed",
        "_encoders",
        "_pinned",
        "_registry",
        "_resolver",
    )

    def __init__(
        self, registry: MessageRegistry | None = None, *, resolver: RefResolver | None = None
    ) -> None:
        # Where names and classes are looked up; registrations only add to it.
        self._registry = DEFAULT_REGISTRY if registry is None else registry
        # Turns addresses back into refs; closed over by the converter's ref hook.
        self._resolver = resolver
        # What both converters' hooks read of the registry (tags, field policies), pinned.
        self._pinned = _Pinned(self._registry)
        # trouper's cattrs converter for this codec; it caches a hook per type.
        self._converter = make_converter(self._pinned, resolver, detailed=False)
        # The same rules with cattrs' detailed validation, made on the first
        # failure to say which fields failed; None until then.
        self._detailed: Converter | None = None
        # class -> (name, unstructure hook); holds only registered classes.
        self._encoders: dict[type, tuple[str, Any]] = {
            cls: (name, _unstructure_tree if cls in (list, dict) else None)
            for cls, name in {**_SCALAR_NAMES, list: "list", dict: "dict"}.items()
        }
        # name -> (class, structure hook); holds only registered names.
        self._decoders: dict[str, tuple[type, Any]] = {
            "none": (type(None), _structure_none),
            "list": (list, _structure_tree(list)),
            "dict": (dict, _structure_tree(dict)),
        }
        for cls, name in _SCALAR_NAMES.items():
            if cls is float:
                self._decoders[name] = (float, self._converter.get_structure_hook(float))
            elif cls is not type(None):
                self._decoders[name] = (cls, _exact(cls))

    @property
    def registry(self) -> MessageRegistry:
        """The registry this codec looks message types up in."""
        return self._registry

    @property
    def resolver(self) -> RefResolver | None:
        """What turns addresses read from payloads back into refs (``None``: refs are refused)."""
        return self._resolver

    def encode(self, message: object) -> Encoded:
        """Return ``message`` as bytes with the name of its type.

        Raises:
            UnregisteredMessageType: the message's class is not registered (a
                codec never registers a class by itself; see docs/messages.md).
            UnencodableMessage: a field holds a value that cannot be written;
                the message names the field. Also raised, the first time a
                class is encoded, if the codec could not decode it (a field
                type it has no rule for, such as a generic ``T``), and when
                ``message`` is a class rather than an instance of one.
        """
        name, unstructure = self._encoders.get(message.__class__) or self._encoder(message)
        try:
            return Encoded(name, _packb(message if unstructure is None else unstructure(message)))
        except Exception:
            pass
        raise self._unencodable(message, unstructure)

    def encode_blob(self, message: object) -> bytes:
        """Return ``message`` and the name of its type as one msgpack value, ``[name, fields]``.

        For a transport that carries one opaque body per message; ``decode_blob``
        reads it back. Raises as ``encode`` does.
        """
        name, unstructure = self._encoders.get(message.__class__) or self._encoder(message)
        try:
            blob: bytes = _packb((name, message if unstructure is None else unstructure(message)))
        except Exception:
            pass
        else:
            return blob
        raise self._unencodable(message, unstructure)

    def decode(self, type_name: str, payload: Buffer) -> object:
        """Return the message that ``encode`` turned into ``Encoded(type_name, payload)``.

        Never imports a module named by the data and never unpickles; whatever
        the bytes, it either returns a message of the registered class or
        raises one of the ``UndecodableMessage`` errors, whose text is meant
        for a dead letter's reason.

        Raises:
            UnknownMessageType: no class is registered as ``type_name``.
            MalformedPayload: ``payload`` is not msgpack.
            MessageMismatch: it is, but does not fit the class (a field
                missing, renamed, unexpected, or of another type).
            UnresolvableRef: it holds a ref and the codec has no resolver, or
                the resolver raised.
            UndecodableMessage: the class has a field type the codec cannot read.
        """
        cls, structure = self._decoders.get(type_name) or self._decoder(type_name)
        try:
            data = _unpackb(payload, ext_hook=_refuse_extension)
        except Exception as error:
            raise MalformedPayload(type_name, _unpack_problem(error)) from None
        try:
            return structure(data, cls)
        except Exception:
            pass
        raise self._undecodable(type_name, cls, data)

    def decode_blob(self, blob: Buffer) -> object:
        """Return the message that ``encode_blob`` turned into ``blob``.

        Raises as ``decode`` does; ``MalformedPayload`` also when ``blob`` is
        not a ``[name, fields]`` pair.
        """
        try:
            data = _unpackb(blob, ext_hook=_refuse_extension)
        except Exception as error:
            raise MalformedPayload(None, _unpack_problem(error)) from None
        if data.__class__ is not list or len(data) != 2 or data[0].__class__ is not str:
            raise MalformedPayload(None, f"expected [type name, fields], got {short(data)}")
        name, fields = data
        cls, structure = self._decoders.get(name) or self._decoder(name)
        try:
            return structure(fields, cls)
        except Exception:
            pass
        raise self._undecodable(name, cls, fields)

    def _encoder(self, message: object) -> tuple[str, Any]:
        entry = self._encoders.get(message.__class__)
        if entry is None:
            if isinstance(message, type):
                # tell(Ping) for tell(Ping()): "type is not registered" would
                # send the user to register a class that already is.
                raise UnencodableMessage(
                    type_name(message),
                    "the class itself was given, not a message "
                    f"(an instance of it, such as {message.__name__}(...))",
                )
            cls = message.__class__
            name = self._registry.name_of(cls)
            try:
                # The message's class is this very class: no need to check it.
                hook = unchecked(self._converter.get_unstructure_hook(cls))
            except Exception as error:
                raise UnencodableMessage(type_name(cls), describe(error)) from error
            # What no codec could read back is refused here, once per class, by
            # the sender, rather than by every receiver of every message.
            try:
                structure = self._converter.get_structure_hook(cls)
            except Exception as error:
                raise UnencodableMessage(
                    type_name(cls), _unreadable(self._converter, cls, error)
                ) from error
            self._decoders.setdefault(name, (cls, structure))
            entry = self._encoders[cls] = (name, hook)
        return entry

    def _unencodable(self, message: object, unstructure: Any) -> UnencodableMessage:
        """Say which field of ``message`` could not be encoded, and why."""
        label = type_name(message.__class__)
        try:
            data = message if unstructure is None else unstructure(message)
        except Exception as error:
            return UnencodableMessage(
                label, _locate(self._converter, message) or _problem((), error)
            )
        try:
            _packb(data)
        except Exception as error:
            path, problem = _find_unpackable(data)
            return UnencodableMessage(label, f"{where(path)}{problem or describe(error)}")
        # Unreachable: the same message was just refused.
        return UnencodableMessage(label, "it could be encoded only on a second try")

    def _decoder(self, name: str) -> tuple[type, Any]:
        entry = self._decoders.get(name)
        if entry is None:
            cls = self._registry.type_named(name)
            try:
                hook = self._converter.get_structure_hook(cls)
            except Exception as error:
                raise UndecodableMessage(
                    name, f"{type_name(cls)} has a field the codec cannot read: {describe(error)}"
                ) from error
            entry = self._decoders[name] = (cls, hook)
        return entry

    def _undecodable(self, name: str, cls: type, data: object) -> UndecodableMessage:
        """Structure ``data`` again with detailed validation and say why it fails."""
        if self._detailed is None:
            self._detailed = make_converter(self._pinned, self._resolver, detailed=True)
        if cls.__module__ == "builtins":
            structure = self._decoders[name][1]
        else:
            structure = self._detailed.get_structure_hook(cls)
        try:
            structure(data, cls)
        except Exception as error:
            explanation = explain(error)
        else:
            # Unreachable while both converters follow the same rules.
            return UndecodableMessage(name, "it fits only when checked in detail")
        if explanation.refs and not explanation.problems:
            path, address, why = explanation.refs[0]
            undecodable: UndecodableMessage = UnresolvableRef(name, render_path(path), address, why)
        else:
            undecodable = MessageMismatch(name, type_name(cls), explanation.text)
        undecodable.__cause__ = explanation.cause
        return undecodable


def _unreadable(converter: Converter, cls: type, error: Exception) -> str:
    """Say which field of ``cls`` the converter has no structure hook for."""
    for name, tp in field_types(cls) if attrs.has(cls) else ():
        try:
            converter.get_structure_hook(tp)
        except Exception as field_error:
            return f"field {name!r} cannot be read back: {describe(field_error)}"
    return f"it has a field the codec cannot read back: {describe(error)}"


_PACKABLE = (type(None), bool, int, float, str, bytes, bytearray, memoryview)


def _find_unpackable(data: object) -> tuple[Path, str | None]:
    """Find the first value in ``data`` that msgpack cannot pack: its path and why.

    ``data`` is unstructured, so the str keys of its maps are read as field names.
    """
    stack: list[tuple[object, Path]] = [(data, ())]
    while stack:
        item, path = stack.pop()
        if len(path) >= MAX_NESTING and isinstance(item, list | tuple | dict):
            return path[:1], TOO_DEEP
        if isinstance(item, list | tuple):
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            for k in item:
                if not isinstance(k, _PACKABLE):
                    return path, f"a key is a {type_name(type(k))}, which cannot be encoded"
                if isinstance(k, str) and (problem := _not_utf8(k)) is not None:
                    return path, f"a key, {short(k)}, {problem}"
            stack.extend(
                (v, (*path, k if isinstance(k, str) else (short(k),)))
                for k, v in reversed(list(item.items()))
            )
        elif isinstance(item, int) and not isinstance(item, bool):
            if not -(2**63) <= item < 2**64:
                return path, f"{short(item)} is out of msgpack's integer range"
        elif isinstance(item, str):
            problem = _not_utf8(item)
            if problem is not None:
                return path, f"{short(item)} {problem}"
        elif not isinstance(item, _PACKABLE):
            return path, f"cannot encode a {type_name(type(item))}"
    return (), None


def _not_utf8(text: str) -> str | None:
    """Say where ``text`` holds what UTF-8 cannot write (a lone surrogate), or ``None``.

    A file name read with ``surrogateescape`` keeps its undecodable bytes so.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return (
            f"holds a lone surrogate {text[error.start]!r} at index {error.start}, "
            "which UTF-8 cannot encode"
        )
    return None


def _problem(path: Path, error: Exception) -> str:
    """Say what an unstructure hook refused, and where."""
    if isinstance(error, Expected):
        return f"{where(path)}expected {error.expected}, got {short(error.got)}"
    if isinstance(error, Refused):
        return f"{where(path)}{error.problem}"
    if isinstance(error, NotBuiltin):
        return f"{where((*path, *error.path))}{error.problem}"
    return f"{where(path)}{describe(error)}"


def _locate(converter: Converter, message: object) -> str | None:
    """Say which field of the attrs instance ``message`` its hook cannot unstructure, and why."""
    return _first_problem(converter, inner_values(message.__class__, message, ()))


def _locate_in(converter: Converter, tp: Any, value: object, path: Path) -> str | None:
    """Say why the hook for ``tp`` cannot unstructure ``value``, at the deepest path it fails."""
    try:
        converter.get_unstructure_hook(tp)(value)
    except RecursionError:
        # Deep or looped: walking further down would only hit the limit again.
        return f"{where(path[:1])}nested too deeply (does it contain itself?)"
    except Exception as error:
        return _first_problem(converter, inner_values(tp, value, path)) or _problem(path, error)
    return None


def _first_problem(converter: Converter, values: list[tuple[Any, object, Path]]) -> str | None:
    """Say why the first of ``values`` (typed, each at its path) that fails cannot be written."""
    for tp, value, path in values:
        problem = _locate_in(converter, tp, value, path)
        if problem is not None:
            return problem
    return None
