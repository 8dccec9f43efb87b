"""durable_ref, reviewed: a name no actor could have is refused, not a mailbox nobody reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from durable_support import sqlite

import trouper
from trouper.durable import durable_ref


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", r"must be a non-empty string, got ''"),
        (5, r"must be a non-empty string, got 5"),
        ("a/b", r"is one path segment: it cannot hold '/', got 'a/b'"),
        ("a b", r"cannot hold spaces or other whitespace, got 'a b'"),
    ],
)
async def test_durable_ref_refuses_a_name_no_actor_can_have(
    tmp_path: Path, name: object, rule: str
) -> None:
    """A mailbox name is an actor name: one refused by spawn is refused here, storing nothing."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(ValueError, match=rf"^a durable mailbox name {rule}$"):
            durable_ref(rt, name)  # type: ignore[arg-type]
        assert await rt.store.mailbox_statistics() == []
