"""SqliteStore.dead_letters checks its mailbox as redrive and discard do."""

from __future__ import annotations

from pathlib import Path

import pytest
from durable_support import make_store

from trouper.durable import WriteBatch


@pytest.mark.parametrize("mailbox", [b"box", 5, ["box"]])
async def test_dead_letters_of_a_mailbox_that_is_not_a_name_is_refused(
    tmp_path: Path, mailbox: object
) -> None:
    """A mailbox that is not a str listed nothing, silently: now a TypeError at the call."""
    async with make_store(tmp_path / "shop.db") as store:
        batch = WriteBatch()
        batch.append("box", "str", b"x")
        await store.submit(batch)
        with pytest.raises(TypeError, match=r"^mailbox is a durable mailbox's name or None, not "):
            store.dead_letters(mailbox)  # type: ignore[arg-type]
