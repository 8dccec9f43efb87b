"""Subjects that are not even hashable are refused as InvalidSubject, like any other non-str."""

from __future__ import annotations

import pytest

from trouper import InvalidSubject, Runtime
from trouper.topics import SubjectIndex


def test_matching_an_unhashable_subject_raises_invalid_subject() -> None:
    """``SubjectIndex.match`` refuses a list as it refuses None, not with a TypeError."""
    index: SubjectIndex[int] = SubjectIndex()
    index.add(">", 1)
    with pytest.raises(InvalidSubject, match=r"a subject must be a str, got list$"):
        index.match(["a"])  # type: ignore[arg-type]


async def test_has_subscribers_on_an_unhashable_subject_raises_invalid_subject(
    runtime: Runtime,
) -> None:
    """The registry's lookups refuse an unhashable subject as ``publish`` does."""
    with pytest.raises(InvalidSubject, match=r"a subject must be a str, got list$"):
        await runtime.topics.publish(["a"], 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidSubject, match=r"a subject must be a str, got list$"):
        runtime.topics.has_subscribers(["a"])  # type: ignore[arg-type]
