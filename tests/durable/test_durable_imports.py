"""What ``import trouper.durable`` loads: the NATS client only when JetStreamStore is used."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(code: str) -> set[str]:
    """The trouper.nats and JetStream modules loaded after running ``code`` in a fresh process."""
    probe = (
        f"{code}\nimport sys\n"
        "print(*sorted(m for m in sys.modules if m.startswith('trouper.nats') "
        "or m == 'trouper.durable._jetstream'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_importing_durable_leaves_the_nats_client_unloaded() -> None:
    """A program on SQLite does not pay for the NATS client's imports."""
    assert loaded_after("import trouper.durable") == set()


def test_naming_jetstream_store_loads_it() -> None:
    """``from trouper.durable import JetStreamStore`` imports it on demand, as a public name."""
    loaded = loaded_after(
        "from trouper.durable import JetStreamStore\n"
        "assert JetStreamStore.__module__ == 'trouper.durable', JetStreamStore.__module__"
    )
    assert {"trouper.durable._jetstream", "trouper.nats"} <= loaded


def test_importing_durable_leaves_trio_testing_unloaded() -> None:
    """The virtual-time check does not import trio.testing, which imports pytest."""
    probe = (
        "import sys, trouper.durable\nprint('trio.testing' in sys.modules, 'pytest' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "False"]
