"""Review: ``retry_delay`` refuses what is not a backoff or a failure count, saying so.

It is public (docs/durable.md: "``retry_delay(backoff, n, random)`` computes
it"), but a list of delays (which ``Durable(backoff=...)`` takes) failed with
``AttributeError: 'list' object has no attribute 'cap'``, an empty tuple
with ``IndexError``, and a count of ``1.5`` either failed indexing the tuple
or drew a wait from a cap that no failure count has.
"""

from __future__ import annotations

from random import Random

import pytest

from trouper.durable import ExponentialJitter, retry_delay


@pytest.mark.parametrize(
    ("backoff", "failures", "error", "match"),
    [
        (
            [1.0, 5.0],
            2,
            TypeError,
            r"^backoff must be an ExponentialJitter or a tuple of delays, got \[1\.0, 5\.0\]$",
        ),
        ((), 1, ValueError, r"^backoff delays must not be empty$"),
        ((1.0, 5.0), 1.5, TypeError, r"^failures must be an int >= 1, got 1\.5$"),
        (ExponentialJitter(), 1.5, TypeError, r"^failures must be an int >= 1, got 1\.5$"),
        (ExponentialJitter(), True, TypeError, r"^failures must be an int >= 1, got True$"),
        ((1.0,), 0, ValueError, r"^failures must be >= 1, got 0$"),
    ],
)
def test_a_bad_backoff_or_failure_count_is_refused_saying_so(
    backoff: object, failures: object, error: type[Exception], match: str
) -> None:
    """Each misuse raises a builtin error with an exact message."""
    with pytest.raises(error, match=match):
        retry_delay(backoff, failures, Random(0))  # type: ignore[arg-type]


def test_good_arguments_still_give_their_delays() -> None:
    """The explicit delays, the last repeating; the jitter within its cap."""
    assert [retry_delay((1.0, 5.0), n, Random(0)) for n in (1, 2, 3)] == [1.0, 5.0, 5.0]
    assert 0.0 <= retry_delay(ExponentialJitter(initial=2.0), 3, Random(0)) <= 8.0
