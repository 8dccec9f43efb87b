"""trouper's cattrs converter: strict hooks, tagged unions, refs as addresses.

Theory of operation
-------------------
A codec turns a message into builtin values (``unstructure``), which msgpack
turns into bytes, and back (msgpack, then ``structure``). cattrs generates the
code for attrs classes (one function per class, with cattrs' detailed
validation, so a failure says which attribute); everything else is a hook
built here, once per type, and cached by the converter's dispatch.

Structuring is strict, because its input comes from another process or
another version of the code, and a payload that no longer fits its class
must be refused, never bent into shape: an ``int`` field takes an ``int``
(not ``"12"``, not ``True``), a ``float`` field an ``int`` or a ``float``, a
``list[str]`` a msgpack array (not a string, which cattrs would happily
iterate), an attrs class a map with exactly its fields (unless its type was
registered with ``ignore_unknown_fields``). A leaf problem raises
``Expected`` (what was wanted, what came); containers collect their
elements' failures into cattrs' ``IterableValidationError`` with an
``IterableValidationNote`` per element, as the generated attrs code does with
``AttributeValidationNote``, so ``_explain`` can name the path of each.

Unstructuring trusts the message: it is a typed value built by our own
process, so scalars pass through untouched (msgpack refuses what it cannot
pack, and the encoder finds the field). Values a type checker lets through
but no reader would take back as they went are checked: values typed ``Any``
or ``object`` must be builtin values; a nested attrs value must be of exactly
its field's class (a subclass's own fields would be dropped; a union that
names the subclass carries it); a date or time must be of its field's kind (a
datetime, a subclass of date, is not a date here); an ``int`` or ``float``
field must not hold a bool (a bool is an int to a type checker); a union
field takes a value of one of its members, an enum field a member of its enum;
a UUID, Decimal or timedelta field takes a value of its type (a Decimal a
finite one).

A union with two or more attrs classes is tagged: the member's map carries a
``"$type"`` key with the member's registered name (its ``module.QualName`` if
it is not registered), and decoding picks the member by that tag among the
union's own members only. A union with one attrs class, scalars and ``None``
needs no tag (the kind of the value decides), and writes none; it reads a map
tagged with its class's own name (a row written before ``A | B`` was narrowed
to ``A | None``) and refuses any other tag.

An ``ActorRef`` is written as its ``Address`` and read back through the
codec's resolver, which the hooks close over; with no resolver, reading a
ref raises ``Unresolvable``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import decimal
import enum
import functools
import re
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import cattrs
import msgpack  # type: ignore[import-untyped]
from cattrs.errors import IterableValidationError, IterableValidationNote
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from trouper._text import cut as cut_to
from trouper._text import describe, type_name
from trouper.actors import ActorRef, Address
from trouper.codec._names import module_name

__all__ = [
    "MAX_MISFITS",
    "MAX_NESTING",
    "TAG",
    "TOO_DEEP",
    "Expected",
    "NotBuiltin",
    "Path",
    "Refused",
    "Resolver",
    "Truncated",
    "TypeNames",
    "UnknownVariant",
    "Unresolvable",
    "builtin_problem",
    "cut",
    "field_types",
    "inner_values",
    "make_converter",
    "render_path",
    "short",
    "unchecked",
    "where",
]

TAG = "$type"
"""The key that names the member of a tagged union (no attrs field can be called that)."""

Resolver = Callable[[Address], ActorRef[object]]
"""Turns an address read from a payload into a ref (local or remote)."""

Path = tuple[str | int | tuple[str], ...]
"""Where a value sits in a payload: attribute names, list indices, and dict keys as 1-tuples."""

StructureHook = Callable[[Any, Any], Any]
UnstructureHook = Callable[[Any], Any]

_SCALARS: tuple[type, ...] = (str, int, float, bool, bytes)

MAX_NESTING = 511
"""How many arrays and maps msgpack packs within one another (its packer's limit)."""
TOO_DEEP = f"nested too deeply (more than {MAX_NESTING} levels: does it contain itself?)"
"""What is said of a value nested deeper than ``MAX_NESTING``."""
_SHORT = 60
_PATH_SHOWN = 300  # characters of a path, its middle cut out past that
MAX_MISFITS = 10
"""How many failing elements of one list or map a payload's refusal names."""


class TypeNames(Protocol):
    """What the hooks need of a registry: the tag of a union member and its field policy."""

    def __contains__(self, item: object) -> bool: ...

    def name_of(self, cls: type) -> str: ...

    def ignores_unknown_fields(self, cls: type) -> bool: ...


class Expected(Exception):
    """A value is not of the kind its type wants (a leaf of a structuring failure)."""

    def __init__(self, expected: str, got: object) -> None:
        super().__init__(expected, got)
        self.expected = expected
        self.got = got


class UnknownVariant(Exception):
    """A tagged union's map has no tag, or one that names none of its members.

    Also raised for a union with one attrs class (``choices`` holds its tag
    alone) whose map has a tag other than that class's own.
    """

    def __init__(self, tag: object, choices: tuple[str, ...]) -> None:
        super().__init__(tag, choices)
        self.tag = tag
        self.choices = choices


class Unresolvable(Exception):
    """A ref's address could not be turned back into a ref."""

    def __init__(self, address: Address, problem: str) -> None:
        super().__init__(address, problem)
        self.address = address
        self.problem = problem


class UnsupportedType(TypeError):
    """A field's type is one the codec cannot carry (raised when a hook is built)."""


class Truncated(Exception):
    """A list or a map had ``count`` elements that do not fit; the rest were not checked."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


class Refused(Exception):
    """A value cannot be written as its field's type says (it would not come back as it went)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def short(value: object) -> str:
    """Return ``repr(value)``, cut to a length that keeps an error message on one line.

    Never raises: a value whose repr raises is shown by its class, so that
    reporting a bad value cannot fail in turn.
    """
    try:
        text = repr(value)
    except Exception as error:
        return f"<{type_name(type(value))}, whose repr raised {type(error).__name__}>"
    return cut(text)


class NotBuiltin(Exception):
    """A value that should be builtin values holds something else (at ``path`` within it)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem


def builtin_problem(value: object) -> NotBuiltin | None:
    """Say why ``value`` is not a tree of builtin values, or return ``None`` if it is.

    Builtin values are ``None``, ``bool``, ``int``, ``float``, ``str``,
    ``bytes`` (exactly those classes), and lists and dicts with ``str`` keys
    of them, nested no deeper than msgpack packs. Walks without recursion,
    and a value that contains itself ends the walk at that depth.
    """
    stack: list[tuple[object, Path]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        cls = item.__class__
        if item is None or cls in _SCALARS:
            continue
        if len(path) >= MAX_NESTING and (cls is list or cls is dict):
            return NotBuiltin((), TOO_DEEP)
        if isinstance(item, list) and cls is list:
            stack.extend((v, (*path, i)) for i, v in enumerate(item))
        elif isinstance(item, dict) and cls is dict:
            for key, v in item.items():
                if key.__class__ is not str:
                    return NotBuiltin(path, f"a dict key is {short(key)}, not a str")
                stack.append((v, (*path, (key,))))
        elif cls is msgpack.Timestamp:  # read by msgpack itself, before the ext refusal
            return NotBuiltin(
                path,
                "the msgpack timestamp extension (ext type -1), which trouper never writes, "
                "is not a builtin value",
            )
        else:
            return NotBuiltin(path, f"{_type_label(cls)} is not a builtin value")
    return None


def render_path(path: Path) -> str:
    """``("item", "qty")`` → ``item.qty``; ``("lines", 2)`` → ``lines[2]``; keys as ``["usd"]``.

    A path longer than ``_PATH_SHOWN`` characters (a payload nested deep, as a
    crafted one may be) keeps its first and last steps around `` ... ``.
    """
    pieces = []
    for step in path:
        if isinstance(step, int):
            pieces.append(f"[{step}]")
        elif isinstance(step, tuple):
            pieces.append("[" + cut(_quote(step[0])) + "]")
        else:
            step = cut(step)  # a name read from a payload may be of any length
            pieces.append(f".{step}" if pieces else step)
    text = "".join(pieces)
    if len(text) <= _PATH_SHOWN:
        return text
    head = _half_room(pieces)
    tail = _half_room(pieces[::-1])[::-1]
    return "".join(head) + " ... " + "".join(tail).removeprefix(".")


def _half_room(pieces: list[str]) -> list[str]:
    """The leading ``pieces`` of a path that fit in about half its room (at least one)."""
    kept: list[str] = []
    length = 0
    for piece in pieces:
        length += len(piece)
        if length > _PATH_SHOWN // 2 and kept:
            break
        kept.append(piece)
    return kept


def cut(text: str, limit: int = _SHORT) -> str:
    """``text``, cut as ``short`` cuts a value's repr (to ``limit`` characters)."""
    return cut_to(text, limit)


def _quote(key: object) -> str:
    if isinstance(key, str):
        return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(key)


def where(path: Path) -> str:
    """How a problem's place is said: ``field 'item.qty': ``, ``at [2]: `` or nothing."""
    if not path:
        return ""
    text = render_path(path)
    if text.startswith("["):
        return f"at {text}: "
    return f"field {text!r}: "


def _type_label(tp: Any) -> str:
    """A type as error messages show it: ``int``, ``Item``, ``list[str]``, ``A | B``."""
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__.rpartition("<locals>.")[2]
    if _is_union(tp):
        return " | ".join(_type_label(arg) for arg in typing.get_args(tp))
    origin = typing.get_origin(tp)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _type_label(a) for a in typing.get_args(tp))
        return f"{_type_label(origin)}[{inner}]"
    return repr(tp).replace("typing.", "")


def _offset(text: str) -> datetime.timezone:
    """The UTC offset written ``+HH:MM:SS.ffffff`` (what ``isoformat`` writes for one)."""
    sign = -1 if text[0] == "-" else 1
    return datetime.timezone(
        sign
        * datetime.timedelta(
            hours=int(text[1:3]),
            minutes=int(text[4:6]),
            seconds=int(text[7:9]),
            microseconds=int(text[10:16]),
        )
    )


def _is_date_text(text: str) -> bool:
    """Whether ``text`` is a date alone (ISO 8601 date forms are at most 10 characters)."""
    if len(text) > 10:
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


_MOMENTS = (datetime.datetime, datetime.date, datetime.time)

_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_UUID_LABEL = "UUID (8-4-4-4-12 hex digits text)"
# The decimal standard's finite numeric string, in ASCII digits.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DECIMAL_LABEL = "Decimal (finite decimal text, such as '12.50' or '1E-7')"
_MAX_DAYS = datetime.timedelta.max.days
_TIMEDELTA_LABEL = "timedelta ([days, seconds 0-86399, microseconds 0-999999], ints)"


def _moment_kind(value: datetime.date | datetime.time) -> str:
    """``datetime``, ``date`` or ``time``: which of the three ``value`` is an instance of."""
    return next(kind.__name__ for kind in _MOMENTS if isinstance(value, kind))


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_attrs(tp: Any) -> bool:
    return attrs.has(tp) or attrs.has(typing.get_origin(tp) or object)


def _is_dataclass(tp: Any) -> bool:
    origin = _origin(tp)
    return isinstance(origin, type) and dataclasses.is_dataclass(origin) and not attrs.has(origin)


def _is_ref(tp: Any) -> bool:
    if tp is ActorRef or typing.get_origin(tp) is ActorRef:
        return True
    return isinstance(tp, type) and issubclass(tp, ActorRef)


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal


def _written_as_nil(tp: Any) -> enum.Enum | None:
    """A value of ``tp`` written as nil but not None: an enum member whose value is None.

    An optional field reads a nil as None, never as that member.
    """
    values = list(tp) if _is_enum(tp) else typing.get_args(tp) if _is_literal(tp) else ()
    return next((v for v in values if isinstance(v, enum.Enum) and v._value_ is None), None)


def _literal_label(value: Any) -> str:
    """An enum member as ``Mode.OFF``, any other value as its repr."""
    if isinstance(value, enum.Enum):
        return f"{_type_label(type(value))}.{value.name}"
    return repr(value)


def _is_number(tp: Any) -> bool:
    return tp is int or tp is float


def _is_any(tp: Any) -> bool:
    return tp is Any or tp is object


# (origin, kind) of each container annotation the codec takes; kind is what it
# decodes to. Abstract collections decode to their immutable concrete class.
_SEQUENCES: dict[Any, type] = {
    list: list,
    collections.abc.MutableSequence: list,
    collections.abc.Sequence: tuple,
    set: set,
    collections.abc.MutableSet: set,
    frozenset: frozenset,
    collections.abc.Set: frozenset,
    collections.deque: collections.deque,
}
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
# The dicts of the standard library decode to their own class, through the
# same strict hooks as dict: left to cattrs, their payload would not be
# checked to be a map, nor their keys to be str. (Not every subclass of dict:
# a TypedDict is one, and cattrs checks its fields.)
_DICT_KINDS = (collections.OrderedDict, collections.Counter, collections.defaultdict)


def _origin(tp: Any) -> Any:
    return typing.get_origin(tp) or tp


def _is_sequence(tp: Any) -> bool:
    return _origin(tp) in _SEQUENCES


def _is_tuple(tp: Any) -> bool:
    return _origin(tp) is tuple


def _is_mapping(tp: Any) -> bool:
    origin = _origin(tp)
    return origin in _MAPPINGS or origin in _DICT_KINDS


def _mapping_args(tp: Any) -> tuple[Any, Any]:
    """The key and value types of a mapping annotation (a ``Counter[K]``'s values are ints)."""
    args = typing.get_args(tp)
    counter = _origin(tp) is collections.Counter
    if len(args) == 2:
        return args[0], args[1]
    if args:
        return args[0], int if counter else Any
    return str, int if counter else Any


def _mapping_kind(tp: Any, element: Any) -> Callable[[dict[Any, Any]], Any] | None:
    """What builds a decoded mapping from a dict: ``None`` for a dict itself.

    A defaultdict's default factory is its value type, as cattrs does.
    """
    origin = _origin(tp)
    if origin in _MAPPINGS:
        return None
    if origin is collections.defaultdict:
        return functools.partial(collections.defaultdict, element)
    kind: Callable[[dict[Any, Any]], Any] = origin
    return kind


def make_converter(
    names: TypeNames, resolver: Resolver | None, *, detailed: bool
) -> cattrs.Converter:
    """Build a converter whose hooks follow the rules above, for one codec.

    Hooks are built on first use of each type and cached by the converter.
    ``names`` gives union members their tags and attrs classes their policy
    for unknown fields; ``resolver`` turns addresses back into refs. A
    ``detailed`` converter's attrs hooks note which attribute failed (cattrs'
    detailed validation); the other's are faster and accept and refuse
    exactly the same payloads, so a codec decodes with the fast one and asks
    the detailed one why only when that fails.
    """
    conv = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=True)

    def hook_for(tp: Any) -> StructureHook:
        try:
            return conv.get_structure_hook(tp)
        except RecursionError:
            # A class that contains itself: look the hook up when it is needed.
            return conv.structure

    def unhook_for(tp: Any) -> UnstructureHook:
        try:
            return conv.get_unstructure_hook(tp)
        except RecursionError:
            return lambda value: conv.unstructure(value, tp)

    # Scalars. cattrs dispatches these classes (and their subclasses, such as
    # an IntEnum) through functools.singledispatch before any predicate, so the
    # strict hooks hand subclasses on to the enum hook themselves.
    def exactly(kind: type) -> StructureHook:
        """The hook for ``int``, ``str`` or ``bytes``: that very class, nothing else."""

        def structure(value: Any, tp: Any) -> Any:
            if tp is not kind:
                return structure_subclass(value, tp, kind)
            if value.__class__ is kind:
                return value
            raise Expected(kind.__name__, value)

        return structure

    def structure_subclass(value: Any, tp: Any, kind: type) -> Any:
        """An enum or another subclass of ``kind``: built from a value of ``kind`` itself."""
        if issubclass(tp, enum.Enum):
            return structure_enum(value, tp)
        cls = value.__class__
        if cls is kind or (kind is float and cls is int):
            return tp(value)
        raise Expected(_type_label(tp), value)

    def structure_float(value: Any, tp: Any) -> Any:
        if tp is not float:
            return structure_subclass(value, tp, float)
        cls = value.__class__
        if cls is float:
            return value
        if cls is int:
            return float(value)
        raise Expected("float", value)

    def structure_bool(value: Any, _: Any) -> Any:
        if value.__class__ is bool:
            return value
        raise Expected("bool", value)

    def structure_bytearray(value: Any, _: Any) -> Any:
        if value.__class__ is bytes:
            return bytearray(value)
        raise Expected("bytes", value)

    for kind in (int, str, bytes):
        conv.register_structure_hook(kind, exactly(kind))
    # msgpack writes a bytearray as bin, which it reads back as bytes.
    conv.register_structure_hook(bytearray, structure_bytearray)
    conv.register_structure_hook(float, structure_float)
    conv.register_structure_hook(bool, structure_bool)

    # A bool is an int to a type checker, so an int or float field may hold
    # one, which no reader of the field takes: refused here, by the sender.
    # Any other subclass of int (an IntEnum) is written as the int it is.
    def refuse_bool(tp: Any) -> UnstructureHook:
        label = tp.__name__

        def unstructure(value: Any) -> Any:
            if value.__class__ is bool:
                raise Expected(label, value)
            return value

        return unstructure

    conv.register_unstructure_hook_factory(_is_number, refuse_bool)

    # A member is found by equality, so its value's class is checked too: 1
    # is not the member whose value is True, nor the one whose value is 1.0.
    def structure_enum(value: Any, tp: Any) -> Any:
        try:
            member = tp(value)
        except (ValueError, TypeError):
            pass
        else:
            if member._value_.__class__ is value.__class__:
                return member
        raise Expected(_type_label(tp), value)

    # A member is written as its value, so only an enum whose values msgpack
    # gives back as they went can be read: a tuple value comes back a list,
    # which is no member's value, and every payload would be refused. Refused
    # when the hook is built, so the sender is told once, naming the field.
    def enum_structure(tp: Any) -> StructureHook:
        for member in tp:
            if builtin_problem(member._value_) is not None:
                raise UnsupportedType(
                    f"{_type_label(tp)}: an enum's values must be builtin values (None, bool, "
                    "int, float, str, bytes, or lists and dicts of them) to be read back, but "
                    f"{_type_label(tp)}.{member.name}'s value is {short(member._value_)}"
                )
        return structure_enum

    conv.register_structure_hook_factory(_is_enum, enum_structure)

    # A member of another enum would be written as its value and read back as
    # this enum's member of that value, if it has one: refused.
    def enum_unstructure(tp: Any) -> UnstructureHook:
        label = _type_label(tp)

        def unstructure(member: Any) -> Any:
            if member.__class__ is tp:
                return member._value_
            raise Expected(label, member)

        return unstructure

    conv.register_unstructure_hook_factory(_is_enum, enum_unstructure)

    # Literals: one of the values named, of its own class (True is not 1).
    # Two values written alike (members of two enums of one value, or a member and
    # its value) could not be told apart by a reader: refused when the hook is built.
    def literal_structure(tp: Any) -> StructureHook:
        label = _type_label(tp)
        allowed: dict[tuple[type, Any], Any] = {}
        for arg in typing.get_args(tp):
            written = arg.value if isinstance(arg, enum.Enum) else arg
            other = allowed.setdefault((written.__class__, written), arg)
            if other is not arg:
                raise UnsupportedType(
                    f"{label}: {_literal_label(other)} and {_literal_label(arg)} are both "
                    f"written as {short(written)}, so they cannot be told apart"
                )

        def structure(value: Any, _: Any) -> Any:
            try:
                return allowed[value.__class__, value]
            except (KeyError, TypeError):  # TypeError: a list or a map, unhashable
                raise Expected(label, value) from None

        return structure

    conv.register_structure_hook_factory(_is_literal, literal_structure)

    # Dates and times, as ISO 8601 text: exact (microseconds, offsets, naive
    # or aware all come back as they went) and readable in a stored row.
    # datetime.fromisoformat also reads a date's text, as midnight: a field
    # changed from date to datetime would invent a time of day, so a datetime
    # field refuses it (date forms are at most 10 characters; what encode
    # writes for a datetime is longer, so the good path pays one len()).
    def structure_datetime(value: Any, tp: Any) -> Any:
        if value.__class__ is str and not (tp is datetime.datetime and _is_date_text(value)):
            try:
                moment = tp.fromisoformat(value)
            except ValueError:
                pass
            else:
                if (
                    value[-7:-6] == "."
                    and value[-16:-15] in ("+", "-")
                    and moment.tzinfo is not None
                ):
                    # An offset with a fraction of a second: CPython 3.11 reads
                    # one under a second as UTC ("+00:00:00.000001"). (A naive
                    # text can end so too: its date and time may be separated
                    # by any character, a sign included.)
                    return moment.replace(tzinfo=_offset(value[-16:]))
                return moment
        raise Expected(f"{tp.__name__} (ISO 8601 text)", value)

    # A value is written as its field's type: a datetime in a date field (it
    # is a subclass of date) would write text no date field reads, so it is
    # refused here, as a date or time in a field of another kind is. Another
    # subclass of the type is written as the type writes it (and read back as
    # the type), as a subclass of str or int is. The exact class costs one
    # comparison.
    def moment_unstructure(kind: type[datetime.date | datetime.time]) -> UnstructureHook:
        def unstructure(value: Any) -> Any:
            if value.__class__ is kind:
                return value.isoformat()
            return unstructure_other_moment(value, kind)

        return unstructure

    def unstructure_other_moment(value: Any, kind: type[datetime.date | datetime.time]) -> Any:
        if not isinstance(value, _MOMENTS):
            raise Expected("a date or time", value)
        timed = isinstance(value, datetime.datetime)
        if isinstance(value, kind) and not (kind is datetime.date and timed):
            # The type's own isoformat: a subclass's may write what no reader takes.
            text: str = kind.isoformat(value)  # type: ignore[arg-type]  # value is a kind
            return text
        problem = f"expected a {kind.__name__}, got the {_moment_kind(value)} {short(value)}"
        if kind is datetime.date and timed:
            problem += (
                " (a date field cannot carry its time: pass its .date(), "
                "or declare the field datetime)"
            )
        raise Refused(problem)

    for moment in _MOMENTS:
        conv.register_structure_hook(moment, structure_datetime)
        conv.register_unstructure_hook(moment, moment_unstructure(moment))

    # UUIDs, decimals and timedeltas: exact, and written as the field's type
    # writes them (a subclass's own __str__ may write what no reader takes).
    # A value of another type (a str in a UUID field) is refused by the
    # sender: it would come back as the field's type, not as it went.
    #
    # A UUID is its RFC 4122 text rather than its 16 bytes: 20 bytes more, but
    # a stored row or a dead letter shows the id that logs and databases show.
    # Read: the 8-4-4-4-12 hex form in either case, not the other spellings
    # uuid.UUID takes (braces, "urn:uuid:", no hyphens).
    def structure_uuid(value: Any, tp: Any) -> Any:
        if value.__class__ is str and _UUID_TEXT.fullmatch(value) is not None:
            return tp(value)
        raise Expected(_UUID_LABEL, value)

    def unstructure_uuid(value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return uuid.UUID.__str__(value)
        raise Expected("UUID", value)

    conv.register_structure_hook(uuid.UUID, structure_uuid)
    conv.register_unstructure_hook(uuid.UUID, unstructure_uuid)

    # A Decimal is its text, which keeps its digits and exponent (1.50 is not
    # 1.5 to a Decimal's str), never a float. Read: the numeric strings of the
    # decimal standard, not Python's extras (spaces, "_", non-ASCII digits).
    # Only finite values are carried: a Decimal field holds an amount, NaN
    # never equals its own copy (a signaling one raises when compared), and an
    # infinite amount is a bug best caught by its sender.
    def structure_decimal(value: Any, tp: Any) -> Any:
        if value.__class__ is str and _DECIMAL_TEXT.fullmatch(value) is not None:
            try:
                return tp(value)
            except decimal.InvalidOperation:
                pass  # an exponent past what decimal holds
        raise Expected(_DECIMAL_LABEL, value)

    def unstructure_decimal(value: Any) -> Any:
        if not isinstance(value, decimal.Decimal):
            raise Expected("Decimal", value)
        if not value.is_finite():
            raise Refused(
                f"{short(value)} is not finite (a Decimal field carries finite values only)"
            )
        return decimal.Decimal.__str__(value)

    conv.register_structure_hook(decimal.Decimal, structure_decimal)
    conv.register_unstructure_hook(decimal.Decimal, unstructure_decimal)

    # A timedelta is [days, seconds, microseconds], as it holds them: exact
    # ints, where a count of microseconds would overflow msgpack's 64 bits
    # (timedelta.max is about 8.6e19 µs). Read: those three ints within the
    # ranges timedelta keeps them in, so each value has one written form.
    def structure_timedelta(value: Any, tp: Any) -> Any:
        if (
            value.__class__ is list
            and len(value) == 3
            and all(part.__class__ is int for part in value)
            and -_MAX_DAYS <= value[0] <= _MAX_DAYS
            and 0 <= value[1] < 86400
            and 0 <= value[2] < 1_000_000
        ):
            return tp(days=value[0], seconds=value[1], microseconds=value[2])
        raise Expected(_TIMEDELTA_LABEL, value)

    def unstructure_timedelta(value: Any) -> Any:
        if isinstance(value, datetime.timedelta):
            return [value.days, value.seconds, value.microseconds]
        raise Expected("timedelta", value)

    conv.register_structure_hook(datetime.timedelta, structure_timedelta)
    conv.register_unstructure_hook(datetime.timedelta, unstructure_timedelta)

    # Any and object: builtin values only, checked both ways.
    def check_builtin(value: Any, _: Any = None) -> Any:
        problem = builtin_problem(value)
        if problem is not None:
            raise problem
        return value

    conv.register_structure_hook_func(_is_any, check_builtin)
    conv.register_unstructure_hook_func(_is_any, check_builtin)

    # attrs classes: cattrs' generated code, behind a check that a map came.
    def attrs_structure(tp: Any) -> StructureHook:
        cls = _origin(tp)
        generated = make_dict_structure_fn(
            tp,
            conv,
            _cattrs_forbid_extra_keys=not names.ignores_unknown_fields(cls),
            _cattrs_detailed_validation=detailed,
        )

        def structure(value: Any, _: Any) -> Any:
            if value.__class__ is not dict:
                raise Expected("a map of fields", value)
            return generated(value, tp)

        return structure

    conv.register_structure_hook_factory(_is_attrs, attrs_structure)

    # An attrs value is written as its field's class, so a value of another
    # class there (a subclass, whose own fields would be dropped, read back
    # as the base) is refused; a union that names the subclass carries it.
    # The check is one comparison per nested value; a message's own class is
    # known exact, and the codec calls the hook it wraps (``unchecked``).
    def attrs_unstructure(tp: Any) -> UnstructureHook:
        cls = _origin(tp)
        generated = make_dict_unstructure_fn(tp, conv)

        def unstructure(value: Any) -> Any:
            if value.__class__ is cls:
                return generated(value)
            raise Refused(_wrong_class(cls, value.__class__))

        return functools.update_wrapper(unstructure, generated)

    conv.register_unstructure_hook_factory(_is_attrs, attrs_unstructure)

    # A dataclass nested in a message follows the same rules (cattrs generates
    # its code alike); left to cattrs' own hooks, a subclass would lose its
    # own fields on the way, and a payload that is not a map would be refused
    # with an AttributeError. It cannot be a message itself, nor be told apart
    # from another class in a union: the registry and the tags are for attrs
    # classes.
    conv.register_structure_hook_factory(_is_dataclass, attrs_structure)
    conv.register_unstructure_hook_factory(_is_dataclass, attrs_unstructure)

    # Containers. The fast converter lets the first failure through; the
    # detailed one goes through every element once and raises them all,
    # each noted with its index or key.
    # Either stops at MAX_MISFITS failing elements, so that a crafted payload of
    # many misfits costs no more than a few to explain.
    def each(value: list[Any], inner: StructureHook, element: Any, container: Any) -> list[Any]:
        if not detailed:
            return [inner(v, element) for v in value]
        errors: list[Exception] = []
        items = []
        for index, v in enumerate(value):
            try:
                items.append(inner(v, element))
            except Exception as error:
                errors.append(_noted(error, index, element, container))
                if len(errors) == MAX_MISFITS and index < len(value) - 1:
                    errors.append(Truncated(MAX_MISFITS))
                    break
        if errors:
            raise IterableValidationError(f"While structuring {container!r}", errors, container)
        return items

    def sequence_structure(tp: Any) -> StructureHook:
        kind = _SEQUENCES[_origin(tp)]
        args = typing.get_args(tp)
        element = args[0] if args else Any
        inner = hook_for(element)
        label = "a list"

        def structure(value: Any, _: Any) -> Any:
            if value.__class__ is not list:
                raise Expected(label, value)
            items = each(value, inner, element, tp)
            return items if kind is list else kind(items)

        return structure

    def sequence_unstructure(tp: Any) -> UnstructureHook:
        args = typing.get_args(tp)
        element = args[0] if args else Any
        inner = unhook_for(element)
        if _origin(tp) in (list, collections.abc.MutableSequence):
            if inner is identity:
                return identity
            if _is_number(element):
                # One pass in C over the items' classes, not a call per item; the
                # hook runs only when a bool is among them, to refuse it by index.
                return lambda value: (
                    [inner(v) for v in value] if bool in map(type, value) else value
                )
        return lambda value: [inner(v) for v in value]

    conv.register_structure_hook_factory(_is_sequence, sequence_structure)
    conv.register_unstructure_hook_factory(_is_sequence, sequence_unstructure)

    def tuple_structure(tp: Any) -> StructureHook:
        args = typing.get_args(tp)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            element = args[0] if args else Any
            inner = hook_for(element)

            def structure_many(value: Any, _: Any) -> Any:
                if value.__class__ is not list:
                    raise Expected("a list", value)
                return tuple(each(value, inner, element, tp))

            return structure_many
        if args == ((),):  # tuple[()]
            args = ()
        hooks = [(hook_for(arg), arg) for arg in args]
        label = f"a list of {len(args)} items"

        def structure_fixed(value: Any, _: Any) -> Any:
            if value.__class__ is not list or len(value) != len(hooks):
                raise Expected(label, value)
            if not detailed:
                return tuple([inner(v, arg) for v, (inner, arg) in zip(value, hooks, strict=True)])
            errors = []
            items = []
            for index, (v, (inner, arg)) in enumerate(zip(value, hooks, strict=True)):
                try:
                    items.append(inner(v, arg))
                except Exception as error:
                    errors.append(_noted(error, index, arg, tp))
            if errors:
                raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
            return tuple(items)

        return structure_fixed

    def tuple_unstructure(tp: Any) -> UnstructureHook:
        args = typing.get_args(tp)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            inner = unhook_for(args[0] if args else Any)
            return lambda value: [inner(v) for v in value]
        hooks = [unhook_for(arg) for arg in args if arg != ()]
        label = f"a tuple of {len(hooks)} items"

        def unstructure_fixed(value: Any) -> Any:
            try:
                return [h(v) for h, v in zip(hooks, value, strict=True)]
            except ValueError:
                # zip's own words ("argument 2 is longer") name no field nor length.
                if isinstance(value, collections.abc.Sized) and len(value) == len(hooks):
                    raise  # an item's own hook raised it
                raise Expected(label, value) from None

        return unstructure_fixed

    conv.register_structure_hook_factory(_is_tuple, tuple_structure)
    conv.register_unstructure_hook_factory(_is_tuple, tuple_unstructure)

    def check_keys(tp: Any) -> tuple[Any, Any]:
        key, value = _mapping_args(tp)
        if not (key is str or (_is_enum(key) and all(isinstance(m.value, str) for m in key))):
            raise UnsupportedType(
                f"{_type_label(tp)}: dict keys must be str or an enum of str values, "
                f"not {_type_label(key)}"
            )
        return key, value

    def mapping_structure(tp: Any) -> StructureHook:
        key, element = check_keys(tp)
        key_hook = hook_for(key)
        inner = hook_for(element)

        def structure(value: Any, _: Any) -> Any:
            if value.__class__ is not dict:
                raise Expected("a map", value)
            if not detailed:
                return {key_hook(k, key): inner(v, element) for k, v in value.items()}
            errors: list[Exception] = []
            items = {}
            for index, (k, v) in enumerate(value.items()):
                try:
                    items[key_hook(k, key)] = inner(v, element)
                except Exception as error:
                    errors.append(_noted(error, k, element, tp))
                    if len(errors) == MAX_MISFITS and index < len(value) - 1:
                        errors.append(Truncated(MAX_MISFITS))
                        break
            if errors:
                raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
            return items

        kind = _mapping_kind(tp, element)
        if kind is None:
            return structure

        def structure_kind(value: Any, tp: Any) -> Any:
            return kind(structure(value, tp))

        return structure_kind

    def mapping_unstructure(tp: Any) -> UnstructureHook:
        key, element = check_keys(tp)
        key_hook = unhook_for(key)
        inner = unhook_for(element)
        if key_hook is identity and inner is identity:
            return identity
        if key_hook is identity and _is_number(element):
            # As for a list of numbers: the hook runs only to name the bool.
            return lambda value: (
                {k: inner(v) for k, v in value.items()}
                if bool in map(type, value.values())
                else value
            )
        return lambda value: {key_hook(k): inner(v) for k, v in value.items()}

    conv.register_structure_hook_factory(_is_mapping, mapping_structure)
    conv.register_unstructure_hook_factory(_is_mapping, mapping_unstructure)

    # Refs travel as their address.
    address_structure = hook_for(Address)
    address_unstructure = unhook_for(Address)

    def structure_ref(value: Any, _: Any) -> Any:
        address = address_structure(value, Address)
        if resolver is None:
            raise Unresolvable(address, "this codec has no resolver")
        try:
            return resolver(address)
        except Exception as error:
            raise Unresolvable(address, describe(error)) from error

    conv.register_structure_hook_func(_is_ref, structure_ref)

    def unstructure_ref(ref: Any) -> Any:
        try:
            address = ref.address
        except AttributeError:
            # An Address, or None in a field that is not optional: not a ref.
            raise Expected("an ActorRef", ref) from None
        return address_unstructure(address)

    conv.register_unstructure_hook_func(_is_ref, unstructure_ref)

    # Unions.
    def union_parts(tp: Any) -> tuple[bool, list[Any], list[type]]:
        members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        has_none = len(members) < len(typing.get_args(tp))
        classes = [m for m in members if _is_attrs(m)]
        others = [m for m in members if not _is_attrs(m)]
        if len(members) > 1 and any(m not in _SCALARS for m in others):
            raise UnsupportedType(
                f"{_type_label(tp)}: a union may hold attrs classes, str, int, float, "
                "bool, bytes and None, or one other type and None"
            )
        if len(classes) > 1:
            # Members are told apart by their tag alone (and encoded by their class).
            seen: dict[str, Any] = {}
            for cls in classes:
                other = seen.setdefault(tag_of(cls), cls)
                if other is not cls:
                    raise UnsupportedType(
                        f"{_type_label(tp)}: members {_type_label(other)} and "
                        f"{_type_label(cls)} have the same {TAG!r} tag {tag_of(cls)!r}, so "
                        "they cannot be told apart; register each class under a name of its "
                        "own (a generic class's parametrizations share one class)"
                    )
        return has_none, classes, others

    def tag_of(cls: Any) -> str:
        origin = _origin(cls)
        if origin in names:
            return names.name_of(origin)
        # As default_name: a class of a module run with -m is tagged as when imported.
        return f"{module_name(origin)}.{origin.__qualname__}"

    def union_structure(tp: Any) -> StructureHook:
        has_none, classes, others = union_parts(tp)
        for other in others if has_none else ():
            none = _written_as_nil(other)
            if none is not None:
                raise UnsupportedType(
                    f"{_type_label(tp)}: {_literal_label(none)}'s value is None, "
                    "which the field reads as None, not as the member"
                )
        label = _type_label(tp)
        if len(classes) + len(others) == 1:
            (only,) = classes or others
            inner = hook_for(only)
            if classes:
                own = tag_of(only)

                def structure_optional_class(value: Any, _: Any) -> Any:
                    if value is None:
                        return None
                    if value.__class__ is dict and TAG in value:
                        value = _untagged(value, own)
                    return inner(value, only)

                return structure_optional_class

            def structure_optional(value: Any, _: Any) -> Any:
                if value is None:
                    return None
                return inner(value, only)

            return structure_optional
        scalars = frozenset(others)
        widen = float in scalars and int not in scalars
        one = classes[0] if len(classes) == 1 else None
        single = None if one is None else (one, hook_for(one), tag_of(one))
        tagged = {tag_of(cls): (cls, hook_for(cls)) for cls in classes}
        choices = tuple(tagged)

        def structure(value: Any, _: Any) -> Any:
            cls = value.__class__
            if cls is dict and classes:
                if single is not None:
                    if TAG in value:
                        value = _untagged(value, single[2])
                    return single[1](value, single[0])
                tag = value.get(TAG)
                member = tagged.get(tag) if tag.__class__ is str else None
                if member is None:
                    raise UnknownVariant(tag, choices)
                fields = dict(value)
                del fields[TAG]
                return member[1](fields, member[0])
            if cls in scalars or (value is None and has_none):
                return value
            if widen and cls is int:
                return float(value)
            raise Expected(label, value)

        return structure

    def union_unstructure(tp: Any) -> UnstructureHook:
        has_none, classes, others = union_parts(tp)
        if len(classes) + len(others) == 1:
            inner = unhook_for((classes or others)[0])
            return lambda value: None if value is None else inner(value)
        label = _type_label(tp)
        tag = len(classes) > 1
        # Each member's class is matched exactly here already.
        hooks = {_origin(cls): (unchecked(unhook_for(cls)), tag_of(cls)) for cls in classes}
        # The classes of the scalars the union's readers take (union_structure),
        # exactly: a bool is an int to a type checker, but no reader of int | str
        # takes one.
        scalars = set(others)
        if float in scalars:
            scalars.add(int)
        if has_none:
            scalars.add(type(None))

        def unstructure(value: Any) -> Any:
            entry = hooks.get(value.__class__)
            if entry is None:
                if value.__class__ in scalars:
                    return value
                raise Expected(label, value)
            fields = entry[0](value)
            if tag:
                fields[TAG] = entry[1]
            return fields

        return unstructure

    conv.register_structure_hook_factory(_is_union, union_structure)
    conv.register_unstructure_hook_factory(_is_union, union_unstructure)
    return conv


def inner_values(tp: Any, value: object, path: Path) -> list[tuple[Any, object, Path]]:
    """The values within ``value``, typed ``tp``, each with its own type and path.

    For finding where within a value its unstructure hook failed: the fields
    of an attrs instance of exactly ``tp``'s class, the items of a list or a
    tuple, the values of a dict, and the member of a union that ``value`` is.
    """
    cls = value.__class__
    if _is_union(tp):
        members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if value is None:
            return []
        if len(members) == 1:
            return [(members[0], value, path)]
        return [(m, value, path) for m in members if _is_attrs(m) and _origin(m) is cls]
    if attrs.has(cls) and _is_attrs(tp) and _origin(tp) is cls:
        return [(ftp, getattr(value, name), (*path, name)) for name, ftp in field_types(cls)]
    args = typing.get_args(tp)
    if _is_mapping(tp) and isinstance(value, dict):
        element = _mapping_args(tp)[1]
        return [(element, v, (*path, (k,))) for k, v in value.items()]
    if not isinstance(value, list | tuple):
        return []
    if _is_tuple(tp) and args and not (len(args) == 2 and args[1] is Ellipsis):
        # A tuple of another length is itself the problem, found by the hook.
        pairs = zip(args, value, strict=False)
        return [(arg, v, (*path, i)) for i, (arg, v) in enumerate(pairs)]
    if _is_sequence(tp) or _is_tuple(tp):
        element = args[0] if args else Any
        return [(element, v, (*path, i)) for i, v in enumerate(value)]
    return []


def field_types(cls: type) -> list[tuple[str, Any]]:
    """Each field of the attrs class ``cls`` with its type; none if the types do not resolve."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        return []
    return [(field.name, hints.get(field.name, Any)) for field in attrs.fields(cls)]


def unchecked(hook: UnstructureHook) -> UnstructureHook:
    """``hook`` without the check that a value is of its attrs class (the caller knows it is)."""
    inner: UnstructureHook = getattr(hook, "__wrapped__", hook)
    return inner


def _untagged(value: dict[str, Any], own: str) -> dict[str, Any]:
    """The fields of a tagged map read by a union with one attrs class, whose tag is ``own``.

    Such a union writes no tag, but its rows may have been written while it
    had more classes (``A | B`` narrowed to ``A | None``): the class's own tag
    is dropped, and any other refused, since the row holds another class.
    """
    tag = value[TAG]
    if tag.__class__ is not str or tag != own:
        raise UnknownVariant(tag, (own,))
    fields = dict(value)
    del fields[TAG]
    return fields


def _wrong_class(declared: type, actual: type) -> str:
    """Say that a value of ``actual`` sits in a field declared ``declared``."""
    if issubclass(actual, declared):
        problem = (
            f"expected {type_name(declared)}, got its subclass {type_name(actual)}, whose own "
            "fields the field would drop"
        )
        if attrs.has(declared):
            problem += " (declare it as a union of both classes to carry either)"
        return problem
    return f"expected {type_name(declared)}, got {type_name(actual)}"


def _noted(error: Exception, index: int | str, tp: Any, container: Any) -> Exception:
    error.__notes__ = [
        *getattr(error, "__notes__", []),
        IterableValidationNote(f"Structuring {container!r} @ index {index!r}", index, tp),
    ]
    return error
