"""Review: misuse of the simulation API is refused up front, not reported as a broken run."""

from __future__ import annotations

import pytest

from trouper.testing import (
    DurableSimulation,
    Simulation,
    explore,
    explore_durable,
    run_durable_simulation,
    run_simulation,
)


async def fine(sim: Simulation) -> int:
    return 1


async def fine_durable(sim: DurableSimulation) -> int:
    return 1


def test_explore_over_no_seed_is_refused() -> None:
    """``seeds=range(0)`` would report 'every run passed' having run nothing."""
    with pytest.raises(ValueError, match=r"^seeds gave no seed: explore ran nothing$"):
        explore(fine, seeds=range(0))


def test_explore_durable_over_no_seed_is_refused() -> None:
    """The same for durable explorations."""
    with pytest.raises(ValueError, match=r"^seeds gave no seed: explore_durable ran nothing$"):
        explore_durable(fine_durable, seeds=[])


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"mailbox_size": -1}, ValueError, r"^mailbox_size must be an int >= 1 or math.inf"),
        ({"colour": 3}, TypeError, r"unexpected keyword argument 'colour'"),
        (
            {"node": "x"},
            ValueError,
            r"^runtime option node is the simulation's own \(it sets node, seed\), got 'x'$",
        ),
    ],
)
def test_bad_runtime_options_are_refused_before_any_run(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    """A bad option is the caller's mistake: explore must not call it seed 0's failure."""
    with pytest.raises(error, match=message):
        explore(fine, seeds=range(3), **options)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        run_simulation(fine, seed=0, **options)  # type: ignore[arg-type]


def test_a_seed_among_the_runtime_options_of_explore_is_refused() -> None:
    """``explore`` takes ``seeds``; a ``seed=`` would have been passed to each runtime."""
    with pytest.raises(
        ValueError,
        match=r"^runtime option seed is the simulation's own \(it sets node, seed\), got 4$",
    ):
        explore(fine, seeds=range(3), seed=4)


def test_a_store_option_of_a_durable_simulation_is_refused() -> None:
    """The durable simulation opens the store of each incarnation itself."""
    with pytest.raises(
        ValueError,
        match=r"^runtime option store is the simulation's own \(it sets node, seed, store\), "
        r"got None$",
    ):
        run_durable_simulation(fine_durable, seed=0, store=None)


def test_a_system_that_is_not_callable_is_refused() -> None:
    """Passing something else than the system function is refused with what was passed."""
    with pytest.raises(
        TypeError, match=r"^system must be an async function taking the simulation, got 42$"
    ):
        explore(42, seeds=range(3))  # type: ignore[arg-type]


def test_a_call_of_the_system_instead_of_the_system_is_refused() -> None:
    """``run_simulation(system(sim))`` passes a coroutine: the message says so."""
    coroutine = fine(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"pass the function itself, not a call of it"):
        run_simulation(coroutine, seed=0)  # type: ignore[arg-type]


def test_a_check_that_is_not_callable_is_refused() -> None:
    """``check=`` takes a function of the result."""
    with pytest.raises(
        TypeError, match=r"^check must be a function of the result or None, got True$"
    ):
        explore(fine, seeds=range(3), check=True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("crashes", "message"),
    [
        (2.5, r"^crashes must be instants \(a sequence of seconds\) or a function, got 2.5$"),
        ([True], r"^crash instants must be finite numbers >= 0, got True$"),
        (["1"], r"^crash instants must be finite numbers >= 0, got '1'$"),
    ],
)
def test_bad_crash_instants_are_refused(crashes: object, message: str) -> None:
    """Crash instants are seconds; anything else is refused with what it was."""
    with pytest.raises(ValueError, match=message):
        run_durable_simulation(fine_durable, seed=0, crashes=crashes)  # type: ignore[arg-type]
