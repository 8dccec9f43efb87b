"""The browser tests run only when asked for by path: ``pytest tests/browser``.

They need Debian's ``chromium`` and ``chromium-driver`` (``scripts/install-chromium.sh``
installs them; ``make test-browser`` runs both). A plain ``pytest`` run collects the
whole ``tests/`` tree; here it skips collecting these files, so it never needs a browser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _asked_for(config: pytest.Config) -> bool:
    """Whether a command-line path points into this directory."""
    start = config.invocation_params.dir
    for arg in config.args:
        path = (start / arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave this directory's tests out unless the run names it."""
    if collection_path.name.startswith("test_") and not _asked_for(config):
        return True
    return None
