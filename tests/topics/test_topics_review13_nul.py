"""A subject or pattern holding NUL is refused, as NATS refuses it (it could never cross)."""

from __future__ import annotations

import pytest

from trouper import Runtime
from trouper.errors import InvalidSubject
from trouper.topics import parse_pattern, parse_subject


@pytest.mark.parametrize("text", ["a\0b", "orders.\0", "\0.x"])
def test_a_nul_in_a_subject_is_refused(text: str) -> None:
    """parse_subject names the token holding NUL."""
    token = next(t for t in text.split(".") if "\0" in t)
    with pytest.raises(InvalidSubject) as info:
        parse_subject(text)
    assert info.value.args == (text, f"token {token!r} contains a NUL character")


def test_a_nul_in_a_pattern_is_refused() -> None:
    """parse_pattern refuses it too, wildcards or not."""
    with pytest.raises(InvalidSubject, match=r"contains a NUL character$"):
        parse_pattern("a.*.b\0c.>")


async def test_publish_refuses_a_nul_subject(runtime: Runtime) -> None:
    """A publish on such a subject raises before anything is delivered."""
    with pytest.raises(InvalidSubject, match=r"contains a NUL character$"):
        await runtime.topics.publish("jobs.\0", "x")
