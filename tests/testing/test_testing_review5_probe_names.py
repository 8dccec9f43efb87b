"""Review 5: a probe's name is one path segment, a non-empty string, as an actor's name is."""

from __future__ import annotations

import re

import pytest

import trouper
from trouper.testing import TestProbe


async def test_two_probes_never_share_a_path(runtime: trouper.Runtime) -> None:
    """``TestProbe(rt, 5)`` and ``TestProbe(rt, "5")`` were two equal refs at ``/probe/5``."""
    with pytest.raises(ValueError, match=r"^a probe name must be a non-empty string, got 5$"):
        TestProbe(runtime, 5)  # type: ignore[arg-type]
    assert TestProbe(runtime, "5").address.path == "/probe/5"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "a probe name must be a non-empty string, got ''"),
        (1.5, "a probe name must be a non-empty string, got 1.5"),
        ("a/b", "a probe name is one path segment: it cannot hold '/', got 'a/b'"),
        ("*", "a probe name cannot hold '*' or '>', the wildcards of subjects, got '*'"),
        ("a>", "a probe name cannot hold '*' or '>', the wildcards of subjects, got 'a>'"),
        ("a b", "a probe name cannot hold spaces or other whitespace, got 'a b'"),
        ("..", "a probe name cannot be only dots, which paths reserve, got '..'"),
    ],
)
async def test_a_probe_name_that_is_no_path_segment_is_refused(
    runtime: trouper.Runtime, name: object, message: str
) -> None:
    """Refused as ``spawn`` refuses such an actor name; nothing is taken."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        TestProbe(runtime, name)  # type: ignore[arg-type]
    assert TestProbe(runtime).address.path == "/probe/1"
