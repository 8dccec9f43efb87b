"""The cluster demo ends, with a clear error, when a node process cannot start."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "cluster" / "cluster_demo.py"


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_node_that_exits_before_it_is_ready_ends_the_demo_with_its_error() -> None:
    """A node that cannot connect exits at once; the demo says so instead of waiting forever.

    It read the node's output a byte at a time until a newline, and a closed
    pipe gives no bytes forever, so the demo spun without end.
    """
    url = f"nats://127.0.0.1:{_closed_port()}"
    result = subprocess.run(
        [sys.executable, str(DEMO), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "node n1 exited before it was ready" in result.stderr
