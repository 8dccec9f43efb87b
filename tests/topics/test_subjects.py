"""Subject grammar, pattern matching and the subscription trie (pure logic, no Trio)."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trouper.errors import InvalidSubject
from trouper.topics import (
    SubjectIndex,
    parse_pattern,
    parse_subject,
    pattern_matches,
)

# --- an independent reference: the grammar and the matching as regular expressions

_LITERAL = r"[^.\s*>]+"
_SUBJECT_GRAMMAR = re.compile(rf"{_LITERAL}(?:\.{_LITERAL})*")
_PATTERN_GRAMMAR = re.compile(rf"(?:(?:{_LITERAL}|\*)(?:\.(?:{_LITERAL}|\*))*(?:\.>)?|>)")


def reference_matches(pattern: str, subject: str) -> bool:
    """Match by translating the pattern into a regular expression."""
    parts = []
    for token in pattern.split("."):
        if token == "*":
            parts.append(r"[^.]+")
        elif token == ">":
            parts.append(r"[^.]+(?:\.[^.]+)*")
        else:
            parts.append(re.escape(token))
    return re.fullmatch(r"\.".join(parts), subject) is not None


def reference_index_match(entries: list[tuple[str, int]], subject: str) -> list[int]:
    """Values of the matching entries, in entry order, each value once."""
    found: list[int] = []
    for pattern, value in entries:
        if reference_matches(pattern, subject) and value not in found:
            found.append(value)
    return found


def reference_node_count(entries: list[tuple[str, int]]) -> int:
    """Trie nodes needed for the live entries: one per distinct prefix, plus the root."""
    prefixes: set[tuple[str, ...]] = set()
    for pattern, _value in entries:
        tokens = tuple(pattern.split("."))
        prefixes.update(tokens[:end] for end in range(1, len(tokens) + 1))
    return len(prefixes) + 1


# --- strategies over a small alphabet, so that matches are frequent

subject_tokens = st.sampled_from(["a", "b", "c"])
subjects = st.lists(subject_tokens, min_size=1, max_size=4).map(".".join)
values = st.integers(min_value=0, max_value=3)


@st.composite
def patterns(draw: st.DrawFn) -> str:
    """A valid pattern: literals and '*', maybe ending with '>'."""
    body = draw(st.lists(st.sampled_from(["a", "b", "c", "*"]), max_size=4))
    tail = [">"] if draw(st.booleans()) or not body else []
    return ".".join(body + tail)


ALL_SUBJECTS = [
    ".".join(tokens)
    for length in range(1, 6)
    for tokens in itertools.product(["a", "b", "c"], repeat=length)
]


def raises_exactly(message: str) -> pytest.RaisesExc[InvalidSubject]:
    """``pytest.raises`` for an InvalidSubject with exactly ``message``."""
    return pytest.raises(InvalidSubject, match=rf"^{re.escape(message)}$")


# --- grammar


@pytest.mark.parametrize(
    ("subject", "tokens"),
    [
        ("a", ("a",)),
        ("orders.eu.created", ("orders", "eu", "created")),
        ("_INBOX.x-1.Ünïcode", ("_INBOX", "x-1", "Ünïcode")),
        ("a/b:c#d", ("a/b:c#d",)),
    ],
)
def test_valid_subject_parses_into_its_tokens(subject: str, tokens: tuple[str, ...]) -> None:
    """A valid published subject parses into its dot-separated tokens."""
    assert parse_subject(subject) == tokens


@pytest.mark.parametrize(
    ("pattern", "tokens"),
    [
        ("a", ("a",)),
        ("*", ("*",)),
        (">", (">",)),
        ("a.*.c", ("a", "*", "c")),
        ("*.*.>", ("*", "*", ">")),
        ("orders.>", ("orders", ">")),
    ],
)
def test_valid_pattern_parses_into_its_tokens(pattern: str, tokens: tuple[str, ...]) -> None:
    """A valid pattern parses into its tokens, wildcards included."""
    assert parse_pattern(pattern) == tokens


SHARED_PROBLEMS = [
    ("a..b", "empty token at position 2"),
    (".a", "empty token at position 1"),
    ("a.", "empty token at position 2"),
    (".", "empty token at position 1"),
    ("a b.c", "token 'a b' contains whitespace"),
    ("a.\tb", "token '\\tb' contains whitespace"),
    ("a.b\u00a0", "token 'b\\xa0' contains whitespace"),
    (" ", "token ' ' contains whitespace"),
    ("a*.b", "token 'a*' mixes a wildcard with other characters"),
    ("a.foo>", "token 'foo>' mixes a wildcard with other characters"),
    ("*>", "token '*>' mixes a wildcard with other characters"),
    ("a..b c", "empty token at position 2"),
    ("a b..c", "token 'a b' contains whitespace"),
]


@pytest.mark.parametrize(("text", "problem"), SHARED_PROBLEMS)
def test_malformed_subject_is_rejected_with_its_problem(text: str, problem: str) -> None:
    """A malformed subject raises InvalidSubject naming the first problem."""
    with raises_exactly(f"invalid subject {text!r}: {problem}"):
        parse_subject(text)


@pytest.mark.parametrize(("text", "problem"), SHARED_PROBLEMS)
def test_malformed_pattern_is_rejected_with_its_problem(text: str, problem: str) -> None:
    """A malformed pattern raises InvalidSubject naming the first problem."""
    with raises_exactly(f"invalid subject {text!r}: {problem}"):
        parse_pattern(text)


@pytest.mark.parametrize(
    ("subject", "wildcard"), [("a.*.c", "*"), ("*", "*"), ("a.>", ">"), (">", ">")]
)
def test_wildcard_in_published_subject_is_rejected(subject: str, wildcard: str) -> None:
    """A published subject may not contain a wildcard token."""
    with raises_exactly(
        f"invalid subject {subject!r}: wildcard {wildcard!r} is not allowed in a published subject"
    ):
        parse_subject(subject)


@pytest.mark.parametrize("pattern", ["a.>.b", ">.a", ">.>"])
def test_full_wildcard_before_the_end_is_rejected(pattern: str) -> None:
    """In a pattern, '>' may only be the last token."""
    with raises_exactly(f"invalid subject {pattern!r}: '>' must be the last token"):
        parse_pattern(pattern)


@pytest.mark.parametrize(
    ("parse", "noun"), [(parse_subject, "subject"), (parse_pattern, "pattern")]
)
def test_empty_string_is_rejected(parse: Callable[[str], object], noun: str) -> None:
    """The empty string is neither a subject nor a pattern."""
    with raises_exactly(f"invalid subject '': a {noun} must be a non-empty string"):
        parse("")


@pytest.mark.parametrize(
    ("value", "shown", "type_name"),
    [(42, "'42'", "int"), (None, "'None'", "NoneType"), (b"a.b", "\"b'a.b'\"", "bytes")],
)
@pytest.mark.parametrize(
    ("parse", "noun"), [(parse_subject, "subject"), (parse_pattern, "pattern")]
)
def test_non_str_is_rejected(
    parse: Callable[[object], object], noun: str, value: object, shown: str, type_name: str
) -> None:
    """A value that is not a str raises InvalidSubject, not TypeError."""
    with raises_exactly(f"invalid subject {shown}: a {noun} must be a str, got {type_name}"):
        parse(value)


def test_invalid_subject_is_a_value_error_that_keeps_its_arguments() -> None:
    """InvalidSubject is a ValueError carrying the subject and the problem."""
    with pytest.raises(ValueError, match=r"^invalid subject 'a\.\.b': ") as info:
        parse_subject("a..b")
    assert info.value.args == ("a..b", "empty token at position 2")


def test_whitespace_is_refused_exactly_as_str_isspace_says() -> None:
    """Every code point str.isspace() calls whitespace is refused; separators and controls
    that it does not are accepted, except NUL (as NATS refuses it)."""
    for code in range(0x110000):
        char = chr(code)
        if char.isspace() or char == "\0":
            with pytest.raises(InvalidSubject):
                parse_subject(f"a{char}b")
        elif unicodedata.category(char)[0] in "ZC" and unicodedata.category(char) != "Cs":
            assert parse_subject(f"a{char}b") == (f"a{char}b",)


@given(text=st.text(alphabet="ab.*> \t", max_size=8))
def test_subject_grammar_agrees_with_reference(text: str) -> None:
    """parse_subject accepts exactly the reference grammar and keeps every token."""
    if _SUBJECT_GRAMMAR.fullmatch(text):
        assert ".".join(parse_subject(text)) == text
    else:
        with pytest.raises(InvalidSubject):
            parse_subject(text)


@given(text=st.text(alphabet="ab.*> \t", max_size=8))
def test_pattern_grammar_agrees_with_reference(text: str) -> None:
    """parse_pattern accepts exactly the reference grammar and keeps every token."""
    if _PATTERN_GRAMMAR.fullmatch(text):
        assert ".".join(parse_pattern(text)) == text
    else:
        with pytest.raises(InvalidSubject):
            parse_pattern(text)


# --- matching one pattern


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.b.c", "a.b.c", True),
        ("a.b.c", "a.b", False),
        ("a.b", "a.b.c", False),
        ("a.b.c", "a.b.x", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.x.c", False),
        ("a.*.c", "a.c", False),
        ("a.>", "a", False),
        ("a.>", "a.b", True),
        ("a.>", "a.b.c", True),
        ("a.>", "b.c", False),
        (">", "a", True),
        (">", "a.b.c.d", True),
        ("*", "a", True),
        ("*", "a.b", False),
        ("*.>", "a", False),
        ("*.>", "a.b", True),
        ("*.*", "a.b", True),
        ("*.*", "a.b.c", False),
    ],
)
def test_pattern_matches_examples(pattern: str, subject: str, expected: bool) -> None:
    """'*' matches one token, '>' one or more trailing tokens, literals themselves."""
    assert pattern_matches(pattern, subject) is expected


def test_pattern_matches_validates_both_arguments() -> None:
    """pattern_matches rejects an invalid pattern and a subject with wildcards."""
    with raises_exactly("invalid subject 'a..b': empty token at position 2"):
        pattern_matches("a..b", "a")
    with raises_exactly(
        "invalid subject 'a.*': wildcard '*' is not allowed in a published subject"
    ):
        pattern_matches("a.*", "a.*")


@given(pattern=patterns(), subject=subjects)
def test_pattern_matches_agrees_with_reference(pattern: str, subject: str) -> None:
    """pattern_matches agrees with the regex translation on random pairs."""
    assert pattern_matches(pattern, subject) is reference_matches(pattern, subject)


# --- the index


def test_index_returns_each_value_once_across_patterns() -> None:
    """A value matched through two patterns is returned once."""
    index = SubjectIndex[str]()
    index.add("a.*", "x")
    index.add("a.>", "x")
    index.add(">", "x")
    assert index.match("a.b") == ["x"]
    assert len(index) == 3


def test_index_orders_values_by_their_earliest_matching_entry() -> None:
    """Values come in the order of their first-added matching entry, not of any entry."""
    index = SubjectIndex[str]()
    index.add("a.c", "x")  # added first, but does not match a.b
    index.add("a.*", "y")
    index.add(">", "x")
    index.add("a.b", "z")
    index.add("*.b", "y")
    assert index.match("a.b") == ["y", "x", "z"]


def test_adding_an_entry_twice_is_idempotent() -> None:
    """Adding the same (pattern, value) again changes nothing; one remove takes it out."""
    index = SubjectIndex[str]()
    index.add("a.*", "x")
    index.add("a.>", "y")
    index.add("a.*", "x")
    assert len(index) == 2
    assert index.match("a.b") == ["x", "y"]
    assert index.remove("a.*", "x") is True
    assert index.remove("a.*", "x") is False
    assert index.match("a.b") == ["y"]


def test_readding_after_removal_moves_value_to_the_end() -> None:
    """An entry removed then added again is ordered by its new insertion."""
    index = SubjectIndex[str]()
    index.add("a", "x")
    index.add("a", "y")
    index.remove("a", "x")
    index.add("a", "x")
    assert index.match("a") == ["y", "x"]


def test_removing_one_pattern_keeps_the_value_under_its_others() -> None:
    """remove takes out one entry; the value still matches through its other patterns."""
    index = SubjectIndex[str]()
    index.add("a.b", "x")
    index.add("a.*", "x")
    assert index.remove("a.b", "x") is True
    assert index.match("a.b") == ["x"]
    assert index.match("a.c") == ["x"]


def test_removing_a_missing_entry_returns_false() -> None:
    """remove returns False for an unknown pattern, value, or pattern prefix."""
    index = SubjectIndex[str]()
    index.add("a.b.c", "x")
    assert index.remove("a.b.c", "y") is False
    assert index.remove("a.b", "x") is False
    assert index.remove("z", "x") is False
    assert len(index) == 1
    assert index.statistics().nodes == 4


def test_index_rejects_invalid_patterns_and_subjects() -> None:
    """add, remove and match validate their argument and leave the index unchanged."""
    index = SubjectIndex[str]()
    with raises_exactly("invalid subject 'a.>.b': '>' must be the last token"):
        index.add("a.>.b", "x")
    with raises_exactly("invalid subject 'a..b': empty token at position 2"):
        index.remove("a..b", "x")
    with raises_exactly(
        "invalid subject 'a.>': wildcard '>' is not allowed in a published subject"
    ):
        index.match("a.>")
    assert len(index) == 0
    assert index.statistics().nodes == 1


def test_match_sees_changes_made_after_a_cached_result() -> None:
    """The result cache is dropped on add and remove."""
    index = SubjectIndex[str]()
    index.add("a.*", "x")
    assert index.match("a.b") == ["x"]
    index.add("a.b", "y")
    assert index.match("a.b") == ["x", "y"]
    index.remove("a.*", "x")
    assert index.match("a.b") == ["y"]


def test_match_returns_a_list_the_caller_owns() -> None:
    """Mutating a returned list does not change later results."""
    index = SubjectIndex[str]()
    index.add("a", "x")
    index.match("a").append("intruder")
    assert index.match("a") == ["x"]


def test_result_cache_stays_bounded() -> None:
    """However many distinct subjects are matched, the cache holds at most its limit."""
    index = SubjectIndex[int]()
    index.add(">", 0)
    limit = index.statistics().cache_limit
    for n in range(3 * limit):
        assert index.match(f"s.{n}") == [0]
        assert index.statistics().cached_subjects <= limit


def test_ten_thousand_non_matching_subscriptions_change_neither_result_nor_work() -> None:
    """10,000 non-matching entries change neither the result nor the nodes matching visits."""
    index = SubjectIndex[str]()
    index.add("orders.*.created", "audit")
    index.add("orders.>", "all")
    subject = "orders.eu.created"
    before = (index.match(subject), index.visits(subject))
    for n in range(10_000):
        index.add(f"orders.eu{n}.created", f"eu{n}")
        index.add(f"orders.eu.created{n}", f"late{n}")
        index.add(f"shipments.{n}.>", f"ship{n}")
    after = (index.match(subject), index.visits(subject))
    assert after[0] == before[0] == ["audit", "all"]
    # The only new node on the way is "orders.eu", the prefix that the 10,000
    # "orders.eu.created<n>" entries share with the subject; their leaves are
    # looked up by token, never visited.
    assert after[1] == before[1] + 1
    assert index.match("orders.eu.created") == ["audit", "all"]
    assert len(index) == 30_002


def test_index_with_ten_thousand_entries_agrees_with_pattern_matches() -> None:
    """With 10,000 entries, match returns exactly the values whose pattern matches."""
    entries = [
        (f"t{n % 7}.{'*' if n % 3 == 0 else f'k{n % 11}'}.{'>' if n % 5 == 0 else 'end'}", n)
        for n in range(10_000)
    ]
    index = SubjectIndex[int]()
    for pattern, value in entries:
        index.add(pattern, value)
    for subject in ["t3.k4.end", "t0.k0.x.y", "t6.zz.end", "t1.k1", "u.k1.end"]:
        expected = [value for pattern, value in entries if pattern_matches(pattern, subject)]
        assert index.match(subject) == expected


def test_removing_every_entry_prunes_the_trie() -> None:
    """After adding and removing many entries, only the root node is left."""
    index = SubjectIndex[int]()
    entries = [(f"a{n % 13}.*.b{n % 17}.>", n) for n in range(2_000)]
    entries += [(f"a{n % 13}.*", n) for n in range(500)]
    for pattern, value in entries:
        index.add(pattern, value)
    assert index.statistics().nodes > 1
    for pattern, value in reversed(entries[::2]):
        assert index.remove(pattern, value) is True
    for pattern, value in entries[1::2]:
        assert index.remove(pattern, value) is True
    assert len(index) == 0
    assert index.statistics().nodes == 1
    assert index.match("a1.x.b1.y") == []


def test_repr_shows_the_size_not_the_trie() -> None:
    """The repr stays short however many entries the index holds."""
    index = SubjectIndex[str]()
    index.add("a.>", "x")
    assert repr(index) == "SubjectIndex(entries=1)"


@given(operations=st.lists(st.tuples(st.booleans(), patterns(), values, subjects), max_size=40))
def test_index_agrees_with_reference_after_adds_and_removes(
    operations: list[tuple[bool, str, int, str]],
) -> None:
    """After any adds and removes, match, len and the trie size agree with a list model."""
    index = SubjectIndex[int]()
    model: list[tuple[str, int]] = []
    for adding, pattern, value, probe in operations:
        entry = (pattern, value)
        if adding:
            index.add(pattern, value)
            if entry not in model:
                model.append(entry)
        else:
            assert index.remove(pattern, value) is (entry in model)
            if entry in model:
                model.remove(entry)
        assert len(index) == len(model)
        assert index.match(probe) == reference_index_match(model, probe)
    assert index.statistics().nodes == reference_node_count(model)
    for subject in ALL_SUBJECTS:
        assert index.match(subject) == reference_index_match(model, subject)
