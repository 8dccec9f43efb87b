"""Headless Debian chromium through selenium and the system chromedriver; nothing downloaded.

Also a tool: ``python tests/browser/browser_driver.py URL PATH`` saves a screenshot of
the page at URL (how ``docs/observe.png`` is made from ``examples/observe_demo.py --serve``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,860",
)


def missing() -> str | None:
    """Why the browser cannot run here, or ``None``."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            return (
                f"{path} is missing: install Debian's {package} "
                "(scripts/install-chromium.sh, or `make test-browser`)"
            )
    return None


def start(profile: Path) -> webdriver.Chrome:
    """Start headless chromium with a fresh profile in ``profile``.

    The driver's path is given, so selenium-manager never runs (nothing is downloaded).
    """
    problem = missing()
    if problem is not None:
        raise RuntimeError(problem)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def capture(url: str, path: Path, *, settle: float = 4.0) -> None:
    """Open ``url``, let it update for ``settle`` seconds, click the first actor, save a PNG."""
    profile = Path(tempfile.mkdtemp(prefix="trouper-chromium-"))
    driver = start(profile)
    try:
        driver.get(url)
        time.sleep(settle)
        rows = driver.find_elements("css selector", "tr.actor[data-path]")
        if len(rows) > 1:
            rows[1].click()
            time.sleep(1.0)
        driver.save_screenshot(str(path))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/browser/browser_driver.py URL PATH")
    capture(sys.argv[1], Path(sys.argv[2]))
