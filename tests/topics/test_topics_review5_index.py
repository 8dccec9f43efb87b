"""Review 5: an entry the index refuses leaves nothing behind in it."""

from __future__ import annotations

import pytest

from trouper.topics import IndexStatistics, SubjectIndex


def test_an_unhashable_value_is_refused_without_growing_the_trie() -> None:
    """add of an unhashable value raises TypeError and leaves the index as empty as it was."""
    index: SubjectIndex[object] = SubjectIndex()
    with pytest.raises(TypeError, match=r"^unhashable type: 'list'$"):
        index.add("orders.eu.created", [])
    assert index.statistics() == IndexStatistics(0, 1, 0, 1024)
