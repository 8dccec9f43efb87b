"""Turn a structuring failure (cattrs' exception groups with notes) into one line.

cattrs reports a failure of an attrs class as a ``ClassValidationError``: an
exception group with one exception per failing attribute, each carrying an
``AttributeValidationNote`` (which attribute); containers do the same with
``IterableValidationError`` and ``IterableValidationNote`` (which index or
key). Nested classes nest groups. This module walks the tree, keeps the path
of each leaf (``item.qty``, ``lines[2].sku``, ``prices["usd"]``) and says
what went wrong there, in field order, joined by ``"; "``:

- ``KeyError(name)`` noted with that very attribute: ``missing field 'order_id'``;
- ``ForbiddenExtraKeysError``: ``unexpected field 'amount'`` for each (``unexpected key
  b'amount' (not a str)`` for a bytes key, which msgpack allows), the first ``MAX_NAMED``
  written and the others counted;
- ``Expected``: ``field 'total' expected int, got 'abc'`` (a msgpack timestamp,
  which msgpack reads as a value, is said to be one);
- an exception of the class itself, without a note (a validator or
  ``__attrs_post_init__`` refused the values): ``Charge refused the values: ...``;
- ``Unresolvable``: kept apart, for ``UnresolvableRef``.
"""

from __future__ import annotations

import heapq

import attrs
import msgpack  # type: ignore[import-untyped]
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)

from trouper._text import class_label, describe
from trouper.actors import Address
from trouper.codec._hooks import (
    TAG,
    Expected,
    NotBuiltin,
    Path,
    Truncated,
    UnknownVariant,
    Unresolvable,
    cut,
    render_path,
    short,
    where,
)

__all__ = ["MAX_NAMED", "Explanation", "explain"]

MAX_NAMED = 20
"""How many problems a payload's refusal names; the others are counted (a payload is untrusted)."""
_WHY_SHOWN = 120
"""Characters shown of user code's refusal (a resolver's, a validator's), which may repeat a
long value of the payload; the whole error is the ``__cause__``."""


@attrs.frozen
class Explanation:
    """What went wrong while structuring one payload."""

    problems: tuple[str, ...]
    """One sentence per problem, in field order."""
    refs: tuple[tuple[Path, Address, str], ...]
    """(path, address, why) of each ref that could not be resolved."""
    cause: BaseException | None
    """The first error raised by user code (a validator, a resolver), worth chaining."""
    unwritten: int = 0
    """Problems counted but not written: they came past ``MAX_NAMED`` of their kind."""

    @property
    def text(self) -> str:
        """The problems, the unresolved refs included, on one line; past ``MAX_NAMED``, a count."""
        parts = list(self.problems)
        # The address comes from the payload, and a resolver's words often repeat it.
        parts.extend(
            f"{where(path)}cannot resolve the ref to {cut(str(address))}: {cut(why, _WHY_SHOWN)}"
            for path, address, why in self.refs
        )
        # The unwritten ones come after MAX_NAMED others, so they would not be named either.
        total = len(parts) + self.unwritten
        if total > MAX_NAMED:
            parts[MAX_NAMED:] = [f"and {total - MAX_NAMED} more problems"]
        return "; ".join(parts)


def explain(error: BaseException) -> Explanation:
    """Explain ``error``, raised by a structuring hook, as problems with their paths."""
    problems: list[str] = []
    refs: list[tuple[Path, Address, str]] = []
    causes: list[BaseException] = []
    unwritten = [0]
    _walk(error, (), problems, refs, causes, unwritten)
    return Explanation(tuple(problems), tuple(refs), causes[0] if causes else None, unwritten[0])


def _walk(
    error: BaseException,
    path: Path,
    problems: list[str],
    refs: list[tuple[Path, Address, str]],
    causes: list[BaseException],
    unwritten: list[int],
) -> None:
    if isinstance(error, ForbiddenExtraKeysError):
        # msgpack lets a map key be bytes too, which names no field: said after the str ones.
        # A payload may hold any number: past MAX_NAMED they could never be named, so only
        # the first MAX_NAMED in that order are picked out (in C for str keys) and written.
        extra = error.extra_fields
        fields = heapq.nsmallest(MAX_NAMED, [name for name in extra if name.__class__ is str])
        keys = []
        if len(fields) < MAX_NAMED:
            others = [name for name in extra if name.__class__ is not str]
            keys = heapq.nsmallest(MAX_NAMED - len(fields), others, key=repr)
        problems.extend(f"unexpected field {render_path((*path, name))!r}" for name in fields)
        problems.extend(f"{where(path)}unexpected key {short(key)} (not a str)" for key in keys)
        unwritten[0] += len(extra) - len(fields) - len(keys)
    elif isinstance(error, BaseValidationError):
        for sub in error.exceptions:
            note = _note(sub)
            if isinstance(note, AttributeValidationNote):
                if type(sub) is KeyError and sub.args == (note.name,):
                    problems.append(f"missing field {render_path((*path, note.name))!r}")
                else:
                    _walk(sub, (*path, note.name), problems, refs, causes, unwritten)
            elif isinstance(note, IterableValidationNote):
                index = note.index
                # A map key as it came: bytes keys (msgpack allows them) show as bytes.
                step = index if isinstance(index, int) else (index,)
                _walk(sub, (*path, step), problems, refs, causes, unwritten)
            elif isinstance(sub, ForbiddenExtraKeysError):
                _walk(sub, path, problems, refs, causes, unwritten)
            elif isinstance(sub, Truncated):
                problems.append(
                    f"{where(path)}stopped at {sub.count} misfits, the rest not checked"
                )
            else:
                # No note: the class itself refused the values it was built with.
                label = class_label(error.cl)
                why = cut(describe(sub), _WHY_SHOWN)
                problems.append(f"{where(path)}{label} refused the values: {why}")
                causes.append(sub)
    elif isinstance(error, Expected):
        problems.append(f"{_subject(path)}expected {error.expected}, got {_shown(error.got)}")
    elif isinstance(error, NotBuiltin):
        problems.append(f"{where((*path, *error.path))}{error.problem}")
    elif isinstance(error, UnknownVariant):
        choices = ", ".join(repr(choice) for choice in error.choices)
        tag = error.tag
        if len(error.choices) == 1:
            # A union of one class, whose map carried a tag: any tag, None included.
            problems.append(
                f"{_subject(path)}has {TAG!r} {short(tag)}, but its one class is {choices}"
            )
        else:
            what = f"has no {TAG!r} tag" if tag is None else f"has {TAG!r} {short(tag)}"
            problems.append(f"{_subject(path)}{what}, expected one of {choices}")
    elif isinstance(error, Unresolvable):
        refs.append((path, error.address, error.problem))
        if error.__cause__ is not None:
            causes.append(error.__cause__)
    elif isinstance(error, RecursionError):
        problems.append(f"{where(path)}nested too deeply")
    else:
        problems.append(f"{where(path)}{cut(describe(error), _WHY_SHOWN)}")
        causes.append(error)


def _shown(value: object) -> str:
    """A value read from a payload, as a refusal shows it; a msgpack timestamp said to be one.

    msgpack reads its timestamp extension (ext type -1) itself, before the
    codec's refusal of extension types sees it, so it reaches the hooks as a
    value, whose repr alone would not say where it came from.
    """
    if value.__class__ is msgpack.Timestamp:
        return (
            f"the msgpack timestamp extension (ext type -1) {short(value)}, which trouper "
            "never writes (it writes a datetime as ISO 8601 text)"
        )
    return short(value)


def _subject(path: Path) -> str:
    """How a problem's place starts a sentence: ``field 'item.qty' ``, ``at [2] `` or nothing."""
    return where(path)[:-2] + " " if path else ""


def _note(error: BaseException) -> object:
    """The last cattrs validation note of ``error``: the step of the path it failed at."""
    for note in reversed(getattr(error, "__notes__", ())):
        if isinstance(note, AttributeValidationNote | IterableValidationNote):
            return note
    return None
