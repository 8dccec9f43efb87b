"""SqliteStore's options are refused at once when they are not what it can apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from trouper.durable import SqliteStore


@pytest.mark.parametrize("size", [1e6, "1000000", True])
def test_max_size_that_is_not_an_int_is_refused(tmp_path: Path, size: object) -> None:
    """A float cap was silently not applied (SQLite ignores a fractional page count): refused."""
    with pytest.raises(TypeError, match=r"^max_size must be an int \(bytes\) or None, got "):
        SqliteStore(tmp_path / "shop.db", max_size=size)  # type: ignore[arg-type]


async def test_int_max_size_caps_the_file(tmp_path: Path) -> None:
    """An int cap becomes SQLite's max_page_count (the file may not grow beyond it)."""
    async with SqliteStore(tmp_path / "shop.db", max_size=1_000_000) as store:
        settings = await store.sqlite_settings()
    assert settings["max_page_count"] == 1_000_000 // settings["page_size"]  # type: ignore[operator]
