"""Topic subjects and subscription patterns: pure logic, no I/O, no Trio.

Theory of operation
-------------------
Subjects follow the NATS grammar, so that a topic maps one to one onto a NATS
subject: a subject is a non-empty string of tokens separated by ``.``; each
token is non-empty and holds neither whitespace (any character for which
``str.isspace()`` is true), NUL (which the NATS server refuses) nor ``.``. A
published subject has no wildcards. A subscription pattern may use ``*`` as a
whole token (exactly one token) and ``>`` as its last token (one or more
trailing tokens). A token that mixes a wildcard with other characters (``a*``,
``foo>``) is rejected in both, although NATS would read it as a literal: it is
nearly always a mistake. Every error is an ``InvalidSubject`` whose problem
names what is wrong; token positions in those problems count from 1.

``pattern_matches`` is the reference semantics, one pattern against one
subject. ``SubjectIndex`` answers the same question for many patterns at once:
it keeps them in a trie with one edge per token (``*`` and ``>`` are edges of
their own), and matching walks only the branches that agree with the subject so
far, so its cost grows with the subscriptions that share a prefix with the
subject, not with the number of subscriptions. Results come out in a fixed
order (see ``SubjectIndex.match``) built from an insertion counter, never from
a set's iteration order, so that a simulation seeded the same way replays the
same deliveries whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Generic, TypeVar

import attrs

from trouper.errors import InvalidSubject

__all__ = ["IndexStatistics", "SubjectIndex", "parse_pattern", "parse_subject", "pattern_matches"]

T = TypeVar("T", bound=Hashable)

# A cheap test on the whole text before looking for whitespace or NUL token by
# token. For str patterns, re's ``\s`` is defined by the same Unicode table as
# ``str.isspace()`` (a test pins the two together over every code point).
_REFUSED_CHARACTER = re.compile(r"[\s\0]")

# Cached match results, per index; the cache is cleared when it reaches this
# size, which keeps it bounded without the bookkeeping of an LRU.
_CACHE_LIMIT = 1024


def _tokens(text: object, *, noun: str, wildcards: bool) -> tuple[str, ...]:
    if not isinstance(text, str):
        raise InvalidSubject(repr(text), f"a {noun} must be a str, got {type(text).__name__}")
    if not text:
        raise InvalidSubject(text, f"a {noun} must be a non-empty string")
    tokens = tuple(text.split("."))
    has_refused = _REFUSED_CHARACTER.search(text) is not None
    for position, token in enumerate(tokens, start=1):
        if not token:
            raise InvalidSubject(text, f"empty token at position {position}")
        if has_refused:
            if any(char.isspace() for char in token):
                raise InvalidSubject(text, f"token {token!r} contains whitespace")
            if "\0" in token:
                raise InvalidSubject(text, f"token {token!r} contains a NUL character")
        if token in ("*", ">"):
            if not wildcards:
                raise InvalidSubject(
                    text, f"wildcard {token!r} is not allowed in a published subject"
                )
            if token == ">" and position != len(tokens):
                raise InvalidSubject(text, "'>' must be the last token")
        elif "*" in token or ">" in token:
            raise InvalidSubject(text, f"token {token!r} mixes a wildcard with other characters")
    return tokens


def parse_subject(subject: str) -> tuple[str, ...]:
    """Check a subject that a message is published on, and return its tokens.

    ``parse_subject("orders.eu.created")`` is ``("orders", "eu", "created")``.

    Raises:
        InvalidSubject: ``subject`` is not a str, is empty, has an empty token,
            a token with whitespace or NUL, or a wildcard (alone or mixed in a token).
            The first problem from the left is the one reported.
    """
    return _tokens(subject, noun="subject", wildcards=False)


def parse_pattern(pattern: str) -> tuple[str, ...]:
    """Check a subscription pattern and return its tokens (wildcards included).

    ``parse_pattern("orders.*.>")`` is ``("orders", "*", ">")``.

    Raises:
        InvalidSubject: ``pattern`` is not a str, is empty, has an empty token,
            a token with whitespace or NUL, a token that mixes a wildcard with other
            characters, or a ``>`` that is not the last token. The first
            problem from the left is the one reported.
    """
    return _tokens(pattern, noun="pattern", wildcards=True)


def pattern_matches(pattern: str, subject: str) -> bool:
    """Return whether a message published on ``subject`` reaches ``pattern``.

    ``*`` matches exactly one token and ``>`` one or more trailing tokens, so
    ``a.>`` matches ``a.b`` and ``a.b.c`` but not ``a``; any other token
    matches only itself. This is the reference that ``SubjectIndex`` agrees
    with; it checks one pair and keeps nothing.

    Raises:
        InvalidSubject: ``pattern`` is not a valid pattern or ``subject`` not
            a valid published subject.
    """
    pattern_tokens = parse_pattern(pattern)
    subject_tokens = parse_subject(subject)
    for position, token in enumerate(pattern_tokens):
        if token == ">":
            return position < len(subject_tokens)
        if position >= len(subject_tokens):
            return False
        if token != "*" and token != subject_tokens[position]:
            return False
    return len(pattern_tokens) == len(subject_tokens)


@attrs.frozen
class IndexStatistics:
    """A ``SubjectIndex``'s size (``SubjectIndex.statistics()``)."""

    entries: int
    """(pattern, value) entries."""
    nodes: int
    """Trie nodes, the root included: 1 when the index holds nothing (empty nodes are pruned)."""
    cached_subjects: int
    """Subjects whose match result is cached."""
    cache_limit: int
    """At most this many results are cached (the cache is emptied when it is reached)."""


@attrs.define(eq=False)
class _Node(Generic[T]):
    # Edges by pattern token; "*" and ">" are edges like any other (a published
    # subject never has them), and the ">" child is always a leaf.
    children: dict[str, _Node[T]] = attrs.field(factory=dict)
    # The values subscribed with the pattern that ends here, each mapped to the
    # insertion number of its (pattern, value) entry.
    entries: dict[T, int] = attrs.field(factory=dict)


def _merge(found: dict[T, int], entries: dict[T, int]) -> None:
    for value, number in entries.items():
        first = found.get(value)
        if first is None or number < first:
            found[value] = number


@attrs.define(eq=False, repr=False)
class SubjectIndex(Generic[T]):
    """Subscription patterns mapped to values, matched against subjects in one pass.

    Holds (pattern, value) entries: the same value may be added under several
    patterns and the same pattern may hold several values. Values are compared
    by ``==`` and ``hash``, as dict keys are. Adding an entry that is already
    there does nothing (it keeps its original place in the order);
    ``remove`` takes it out in one call. Removing prunes the trie nodes left
    empty, so memory follows the live entries through any amount of churn.

    Matching cost depends on the subject's length and on the entries whose
    patterns agree with it token by token, not on how many entries there are.
    Recent results are cached by subject (at most 1024, dropped on any change).

    Every method is synchronous and never waits, so under Trio each call is
    atomic with respect to other tasks; the index is not safe to share
    between threads.
    """

    _root: _Node[T] = attrs.field(factory=_Node, init=False)
    _size: int = attrs.field(default=0, init=False)
    _added: int = attrs.field(default=0, init=False)
    _cache: dict[str, tuple[T, ...]] = attrs.field(factory=dict, init=False)

    def __len__(self) -> int:
        """Return the number of (pattern, value) entries."""
        return self._size

    def __repr__(self) -> str:
        """Return ``SubjectIndex(entries=<n>)``; the trie itself is not shown."""
        return f"SubjectIndex(entries={self._size})"

    def add(self, pattern: str, value: T) -> None:
        """Add the entry (``pattern``, ``value``); do nothing if it is already there.

        Raises:
            InvalidSubject: ``pattern`` is not a valid pattern (nothing is added).
            TypeError: ``value`` is not hashable (nothing is added).
        """
        tokens = parse_pattern(pattern)
        hash(value)  # before any node is made for it
        node = self._root
        for token in tokens:
            child = node.children.get(token)
            if child is None:
                child = node.children[token] = _Node()
            node = child
        if value in node.entries:
            return
        node.entries[value] = self._added
        self._added += 1
        self._size += 1
        self._cache.clear()

    def remove(self, pattern: str, value: T) -> bool:
        """Remove the entry (``pattern``, ``value``); return whether it was there.

        ``value`` stays in the index under its other patterns, if any.

        Raises:
            InvalidSubject: ``pattern`` is not a valid pattern (such an entry
                cannot have been added).
        """
        tokens = parse_pattern(pattern)
        path = [self._root]
        for token in tokens:
            child = path[-1].children.get(token)
            if child is None:
                return False
            path.append(child)
        if path[-1].entries.pop(value, None) is None:
            return False
        self._size -= 1
        self._cache.clear()
        # Walk back up, dropping each node that no entry and no edge keeps alive.
        for depth in range(len(tokens), 0, -1):
            node = path[depth]
            if node.entries or node.children:
                break
            del path[depth - 1].children[tokens[depth - 1]]
        return True

    def match(self, subject: str) -> list[T]:
        """Return the values of every entry whose pattern matches ``subject``.

        Each distinct value appears once, however many of its patterns match
        (a subscriber matched through two patterns gets a message once). The
        order is that of the entries' insertion: values are sorted by the
        earliest added of their matching entries. The list is the caller's own.

        Raises:
            InvalidSubject: ``subject`` is not a valid published subject.
        """
        try:
            cached = self._cache.get(subject)
        except TypeError:  # unhashable: certainly not a subject (parse_subject says why)
            cached = None
        if cached is None:
            found, _visited = self._lookup(parse_subject(subject))
            cached = tuple(found)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[subject] = cached
        return list(cached)

    def _lookup(self, tokens: tuple[str, ...]) -> tuple[list[T], int]:
        # Returns the ordered values and the number of trie nodes visited (the
        # tests use the count to check that non-matching branches are skipped).
        found: dict[T, int] = {}
        frontier = [self._root]
        visited = 1
        for token in tokens:
            following: list[_Node[T]] = []
            for node in frontier:
                children = node.children
                if not children:
                    continue
                rest = children.get(">")
                if rest is not None:
                    # There is at least this token left, so ">" matches here.
                    visited += 1
                    _merge(found, rest.entries)
                exact = children.get(token)
                if exact is not None:
                    following.append(exact)
                single = children.get("*")
                if single is not None:
                    following.append(single)
            visited += len(following)
            frontier = following
            if not frontier:
                break
        for node in frontier:
            _merge(found, node.entries)
        return sorted(found, key=found.__getitem__), visited

    def statistics(self) -> IndexStatistics:
        """How big the index is: entries, trie nodes, cached results (O(nodes) to count)."""
        return IndexStatistics(self._size, self._node_count(), len(self._cache), _CACHE_LIMIT)

    def visits(self, subject: str) -> int:
        """How many trie nodes a match of ``subject`` visits: its cost, without the cache.

        Raises:
            InvalidSubject: ``subject`` is not a valid published subject.
        """
        return self._lookup(parse_subject(subject))[1]

    def _node_count(self) -> int:
        # Trie nodes, the root included; 1 means the index holds nothing.
        count = 0
        stack = [self._root]
        while stack:
            node = stack.pop()
            count += 1
            stack.extend(node.children.values())
        return count
