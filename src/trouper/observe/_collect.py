"""The collector: what happened to actors (the page's feed) and each actor's recent failures.

Theory of operation
-------------------
A ``Collector`` is an instrument with lifecycle hooks and the dead-letter
hook only: it costs nothing per handled message. Each report becomes one
entry in a ring of the latest ``keep`` entries, numbered in order (``seq``);
a reader keeps the number of the last entry it saw and asks for what came
after (``feed(since)``), so any number of pages follow one ring and a slow
one learns how many entries it missed instead of growing a queue.

An error is rendered as text when it is reported (``ValueError: boom``),
never kept: an exception holds its traceback, whose frames hold every local
of the failed handler, and a ring of them would keep all that alive for as
long as the entries stay. A dead letter's message is kept as it is and
formatted only when read, and only if read: a storm of dead letters costs
a ring append each. It is formatted once (the first read keeps the text and
lets the message go), and only as far as it is shown, so a message of
50 MB costs what its 200 characters cost. Failures are also kept per actor (the latest
``failures_per_actor``, for at most ``actors`` actors, the least recently
failed forgotten first), with the stack summarized at once so that no
frame is kept alive, and forgotten when the actor stops.
"""

from __future__ import annotations

import traceback
from collections import OrderedDict, deque
from collections.abc import Iterable
from itertools import islice
from typing import TYPE_CHECKING, cast

import attrs
import trio

from trouper._text import class_label
from trouper._validate import check_positive_int
from trouper.runtime import DeadLetter
from trouper.runtime.lowlevel import Instrument

if TYPE_CHECKING:
    from attrs import AttrsInstance

    from trouper.runtime.lowlevel import Cell

__all__ = ["Collector", "Failure", "Feed", "FeedItem"]

_TEXT_LIMIT = 200
"""Characters of a message's or an error's text kept in a feed item."""

_STACK_LIMIT = 30
"""Frames of a failure's traceback kept (the innermost ones)."""


def _shorten(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def _describe(error: BaseException) -> str:
    """``ValueError: boom``, shortened; never raises (a user's error may break its ``str``)."""
    try:
        text = str(error)
    except Exception as broken:
        text = f"<str() raised {type(broken).__name__}>"
    return _shorten(f"{type(error).__name__}: {text}" if text else type(error).__name__)


class _Full(Exception):
    """The text rendered so far is longer than what is shown: stop rendering."""


class _Text:
    """A message's ``repr``, written until it is longer than ``_TEXT_LIMIT``.

    Strings, bytes, the builtin containers and attrs classes with attrs'
    ``repr`` are written part by part, only as far as is shown: the cost of
    a message of any size is that of its first ``_TEXT_LIMIT`` characters.
    Anything else is its own ``repr`` (a user's ``__repr__`` is paid in full,
    once per message: see ``_Entry``). What fits shows exactly as ``repr``.
    """

    __slots__ = ("active", "left", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []  # the text so far
        self.left = _TEXT_LIMIT  # characters still to write before the text is cut (then < 0)
        self.active: set[int] = set()  # ids of the containers being written (a cycle is ``...``)

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.left -= len(text)
        if self.left < 0:
            raise _Full

    def value(self, value: object) -> None:
        # Exact types only: a subclass may have a ``repr`` of its own.
        if type(value) is str or type(value) is bytes or type(value) is bytearray:
            # The repr of its start is the start of its repr (but for the quote
            # ``repr`` picks for the whole): longer than the limit once quoted.
            self.write(repr(value[:_TEXT_LIMIT]))
        elif type(value) is list:
            self.items(value, "[", "]")
        elif type(value) is tuple:
            self.items(value, "(", ",)" if len(value) == 1 else ")")
        elif type(value) is set or type(value) is frozenset:
            if not value:
                self.write(f"{type(value).__name__}()")
            elif type(value) is set:
                self.items(value, "{", "}")
            else:
                self.items(value, "frozenset({", "})")
        elif type(value) is deque:
            maxlen = value.maxlen
            self.items(value, "deque([", "])" if maxlen is None else f"], maxlen={maxlen})")
        elif type(value) is dict:
            self.mapping(value)
        elif _attrs_repr(type(value)):
            self.attrs_instance(value)
        else:
            self.write(repr(value))

    def items(self, values: Iterable[object], opening: str, closing: str) -> None:
        if id(values) in self.active:
            self.write(opening + "..." + closing)
            return
        self.active.add(id(values))
        self.write(opening)
        for n, value in enumerate(values):
            if n:
                self.write(", ")
            self.value(value)
        self.write(closing)
        self.active.discard(id(values))

    def mapping(self, values: dict[object, object]) -> None:
        if id(values) in self.active:
            self.write("{...}")
            return
        self.active.add(id(values))
        self.write("{")
        for n, (key, value) in enumerate(values.items()):
            if n:
                self.write(", ")
            self.value(key)
            self.write(": ")
            self.value(value)
        self.write("}")
        self.active.discard(id(values))

    def attrs_instance(self, value: object) -> None:
        # As attrs' generated ``__repr__`` writes it (``attr._make._make_repr_script``).
        if id(value) in self.active:
            self.write("...")
            return
        self.active.add(id(value))
        self.write(type(value).__qualname__.rsplit(">.", 1)[-1] + "(")
        first = True
        for field in attrs.fields(cast("type[AttrsInstance]", type(value))):
            if field.repr is False:
                continue
            self.write(f"{field.name}=" if first else f", {field.name}=")
            first = False
            item = getattr(value, field.name, attrs.NOTHING)
            if field.repr is True:
                self.value(item)
            else:
                self.write(field.repr(item))
        self.write(")")
        self.active.discard(id(value))


def _attrs_repr(cls: type) -> bool:
    """Whether ``cls``'s ``repr`` is the one attrs generated (not a user's own)."""
    if not attrs.has(cls):
        return False
    code = getattr(cls.__repr__, "__code__", None)
    return code is not None and code.co_filename.startswith("<attrs generated")


def _show(message: object) -> str:
    """A message's ``repr``, shortened; never raises (a user's message may break its ``repr``).

    Its cost is bounded by the text shown, but for a user's own ``__repr__``
    (see ``_Text``).
    """
    text = _Text()
    try:
        text.value(message)
    except _Full:
        pass
    except Exception as broken:
        return _shorten(f"{type(message).__name__}(<repr() raised {type(broken).__name__}>)")
    return _shorten("".join(text.parts))


@attrs.frozen
class FeedItem:
    """One thing that happened to an actor, as the page's feed shows it."""

    seq: int
    """Its number: entries are numbered 1, 2, ... in the order they happened."""
    time: float
    """Trio's clock when it happened."""
    kind: str
    """``started``, ``failed``, ``restarted``, ``stopped`` or ``dead_letter``."""
    path: str
    """The actor's path (for a dead letter: the recipient's)."""
    actor_class: str
    """The actor's class name (empty for a dead letter to an actor that is gone)."""
    reason: str | None
    """Why: the error (``ValueError: boom``), or a dead letter's reason; ``None`` for none."""
    message: str | None
    """A dead letter's message (its ``repr``, shortened); ``None`` for other kinds."""

    def to_json(self) -> dict[str, object]:
        """The item as the JSON API sends it."""
        return {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "path": self.path,
            "class": self.actor_class,
            "reason": self.reason,
            "message": self.message,
        }


@attrs.frozen
class Feed:
    """The entries after a reader's last one, at most ``limit`` of them (newest kept)."""

    items: tuple[FeedItem, ...]
    """The entries, oldest first."""
    last: int
    """The number of the newest entry so far: pass it as ``since`` next time."""
    skipped: int
    """Entries after ``since`` that are not in ``items`` (over the limit, or out of the ring)."""

    def to_json(self) -> dict[str, object]:
        """The feed as the JSON API sends it."""
        return {
            "items": [item.to_json() for item in self.items],
            "last": self.last,
            "skipped": self.skipped,
        }


@attrs.frozen
class Failure:
    """One failure of one actor, with where it happened."""

    time: float
    """Trio's clock when it happened."""
    error: str
    """The error, as ``ValueError: boom``."""
    traceback: str
    """The traceback (its innermost frames), formatted."""

    def to_json(self) -> dict[str, object]:
        """The failure as the JSON API sends it."""
        return {"time": self.time, "error": self.error, "traceback": self.traceback}


class _Entry:
    """A report in the ring, made a ``FeedItem`` when read; it holds no error, only its text."""

    __slots__ = ("actor_class", "kind", "message", "path", "reason", "seq", "shown", "time")

    def __init__(
        self,
        seq: int,
        time: float,
        kind: str,
        path: str,
        actor_class: str,
        reason: str | None,
        message: object = None,
    ) -> None:
        self.seq = seq  # its number in the ring
        self.time = time  # Trio's clock when reported
        self.kind = kind  # a FeedItem kind
        self.path = path  # the actor's path
        self.actor_class = actor_class  # the class name, computed at report time (cheap)
        self.reason = reason  # the reason and the error as text, rendered at report time
        self.message = message  # a dead letter's message until first read (then None)
        self.shown: str | None = None  # a dead letter's message as shown, once read

    def item(self) -> FeedItem:
        shown = self.shown
        if shown is None and self.kind == "dead_letter":
            # Rendered on the first read only: every page and every read shows the same text.
            self.shown = shown = _show(self.message)
            self.message = None
        return FeedItem(
            self.seq, self.time, self.kind, self.path, self.actor_class, self.reason, shown
        )


class _FailureRecord:
    """A failure kept for an actor's details: the stack summarized, no frames held."""

    __slots__ = ("error", "stack", "time")

    def __init__(self, time: float, error: BaseException) -> None:
        self.time = time  # Trio's clock when it failed
        self.error = _describe(error)  # the error's text
        tb = error.__traceback__
        self.stack = (  # the innermost frames, without source lines (read on demand)
            traceback.StackSummary.extract(
                traceback.walk_tb(tb), limit=-_STACK_LIMIT, lookup_lines=False
            )
            if tb is not None
            else None
        )

    def failure(self) -> Failure:
        text = "" if self.stack is None else "".join(self.stack.format())
        return Failure(self.time, self.error, text)


class Collector(Instrument):
    """Records actors' lifecycle and dead letters for the page: a numbered feed, recent failures.

    An instrument (``trouper.runtime.lowlevel.Instrument``) with lifecycle and
    dead-letter hooks only, so it costs nothing per handled message. Hooks
    run in the runtime's Trio thread; so do the readers (``feed``,
    ``failures``). Memory is bounded: ``keep`` feed entries, and
    ``failures_per_actor`` failures for each of at most ``actors`` actors.
    """

    __slots__ = ("_failures", "_keep_failures", "_max_actors", "_ring", "_seq", "counts")

    def __init__(self, *, keep: int = 500, failures_per_actor: int = 5, actors: int = 10_000):
        check_positive_int("keep", keep)
        check_positive_int("failures_per_actor", failures_per_actor)
        check_positive_int("actors", actors)
        # The latest entries, oldest first; seq numbers are consecutive.
        self._ring: deque[_Entry] = deque(maxlen=keep)
        # The number of the latest entry (0: none yet).
        self._seq = 0
        # Per live actor path, its latest failures; insertion order is least recently failed
        # first. An actor's entry goes when it stops (a new actor of its name starts with none).
        # An OrderedDict: forgetting the oldest of a plain dict (``next(iter(d))``)
        # walks the holes its deletions left, O(actors) per failure at the cap.
        self._failures: OrderedDict[str, deque[_FailureRecord]] = OrderedDict()
        # How many failures each actor keeps.
        self._keep_failures = failures_per_actor
        # How many actors keep failures.
        self._max_actors = actors
        self.counts: dict[str, int] = dict.fromkeys(
            ("started", "failed", "restarted", "stopped", "dead_letter"), 0
        )
        """How many reports of each kind there have been (keys are the feed kinds)."""

    def _add(
        self,
        kind: str,
        cell: Cell | None,
        path: str,
        error: BaseException | None,
        reason: str | None = None,
        message: object = None,
    ) -> None:
        self._seq = seq = self._seq + 1
        self.counts[kind] += 1
        actor_class = "" if cell is None else class_label(cell.actor_class)
        if error is not None:
            # Rendered now: the error's traceback would keep the failed frames alive.
            described = _describe(error)
            reason = described if reason is None else f"{reason}: {described}"
        self._ring.append(
            _Entry(seq, trio.current_time(), kind, path, actor_class, reason, message)
        )

    # --- the instrument's hooks -------------------------------------------------

    def actor_started(self, actor: Cell) -> None:
        """Record that an instance of ``actor`` started."""
        self._add("started", actor, actor.address.path, None)

    def actor_failed(self, actor: Cell, error: BaseException) -> None:
        """Record a failure of ``actor``, in the feed and in its recent failures."""
        path = actor.address.path
        self._add("failed", actor, path, error)
        failures = self._failures
        kept = failures.get(path)
        if kept is None:
            if len(failures) >= self._max_actors:
                failures.popitem(last=False)
            kept = failures[path] = deque(maxlen=self._keep_failures)
        else:
            failures.move_to_end(path)
        kept.append(_FailureRecord(trio.current_time(), error))

    def actor_restarted(self, actor: Cell, error: BaseException | None) -> None:
        """Record that ``actor``'s supervisor restarted it."""
        self._add("restarted", actor, actor.address.path, error)

    def actor_stopped(self, actor: Cell, reason: BaseException | None) -> None:
        """Record that ``actor`` stopped for good; forget its recent failures."""
        path = actor.address.path
        self._add("stopped", actor, path, reason)
        self._failures.pop(path, None)

    def dead_letter(self, letter: DeadLetter) -> None:
        """Record a dead letter."""
        self._add(
            "dead_letter",
            None,
            letter.recipient.path,
            letter.error,
            str(letter.reason),
            letter.message,
        )

    # --- reading ----------------------------------------------------------------

    @property
    def last(self) -> int:
        """The number of the latest entry (0 before the first)."""
        return self._seq

    def feed(self, since: int = 0, *, limit: int = 100) -> Feed:
        """The entries numbered after ``since``: the newest ``limit`` of them, oldest first."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if not 0 <= since <= self._seq:
            since = 0  # a cursor from another collector (a page that outlived its server)
        newer = self._seq - since
        ring = self._ring
        take = min(newer, limit, len(ring))
        entries = islice(ring, len(ring) - take, None)
        return Feed(tuple(entry.item() for entry in entries), self._seq, newer - take)

    def failures(self, path: str) -> tuple[Failure, ...]:
        """The latest failures of the actor at ``path``, oldest first."""
        return tuple(record.failure() for record in self._failures.get(path, ()))
