"""Review 26: ``StreamConfig(subjects="orders.>")`` was split into one subject per character.

``subjects`` went through ``tuple()``, which splits a string: ``subjects="ab"``
made a stream on the subjects ``a`` and ``b`` without a word, and
``"orders.>"`` was refused by the server for a reason that named none of the
caller's subjects (``subject "o" overlaps with ">"``). One string is now a
``TypeError`` saying to write a list; a list, a tuple or any other iterable
of subjects is taken as before.
"""

from __future__ import annotations

import re

import attrs
import pytest

from trouper.nats import StreamConfig


@pytest.mark.parametrize("subjects", ["orders.>", "ab", b"ab"])
def test_one_string_of_subjects_is_refused(subjects: str | bytes) -> None:
    """StreamConfig(subjects=<a str or bytes>) raises TypeError showing how to write it."""
    message = re.escape(
        f"subjects must be a sequence of subjects, got the string {subjects!r} "
        f"(write subjects=[{subjects!r}])"
    )
    with pytest.raises(TypeError, match=f"^{message}$"):
        StreamConfig("S", subjects=subjects)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=f"^{message}$"):
        attrs.evolve(StreamConfig("S"), subjects=subjects)  # type: ignore[arg-type]


def test_subjects_of_any_other_iterable_are_kept() -> None:
    """A list, a tuple and a generator of subjects all give the same tuple."""
    assert StreamConfig("S", subjects=["a.>", "b"]).subjects == ("a.>", "b")
    assert StreamConfig("S", subjects=("a.>", "b")).subjects == ("a.>", "b")
    assert StreamConfig("S", subjects=(s for s in ["a.>", "b"])).subjects == ("a.>", "b")
