"""Review: dead letters' free-text reasons cannot grow the metrics' series without bound."""

from __future__ import annotations

from trouper import Address
from trouper.observe import Metrics
from trouper.runtime import DeadLetter, DeadLetterReason


def test_free_text_reasons_past_the_first_twenty_count_as_other() -> None:
    """A layer's reasons (``gave up: order 7``) are labels up to 20; engine reasons always are."""
    metrics = Metrics(otel=False, histograms=False)
    to = Address("local", "/orders")
    for number in range(1000):
        metrics.dead_letter(DeadLetter("m", to, f"gave up: order {number}"))
    metrics.dead_letter(DeadLetter("m", to, DeadLetterReason.ACTOR_STOPPED))
    metrics.dead_letter(DeadLetter("m", to, "gave up: order 3"))
    letters = metrics.snapshot().dead_letters
    assert letters == {
        **{f"gave up: order {number}": 1 for number in range(20) if number != 3},
        "gave up: order 3": 2,
        "other": 980,
        "actor stopped": 1,
    }
    assert len(metrics.exposition().splitlines()) < 100
