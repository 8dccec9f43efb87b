"""The live view in a real browser: headless chromium watches actors appear, crash, restart."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
import trio
from browser_driver import start
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import trouper
from trouper import Actor, ChildSpec, Supervisor, handler
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 60.0
"""Seconds the whole test may take (chromium's start is most of it)."""

WAIT = 15.0
"""Seconds the page gets to show one change."""

T = TypeVar("T")


class Account(Actor):
    """Replies with what it is asked; fails on ``"boom"``."""

    async def on_start(self) -> None:
        pass

    @handler
    async def echo(self, message: str) -> str:
        if message == "boom":
            raise ValueError("boom")
        return message


async def _in_thread(fn: Callable[[], T]) -> T:
    """Selenium blocks: every call to it runs in a worker thread."""
    return await trio.to_thread.run_sync(fn)


@contextlib.asynccontextmanager
async def _browser(profile: Path) -> AsyncIterator[WebDriver]:
    driver = await _in_thread(partial(start, profile))
    try:
        yield driver
    finally:
        with trio.CancelScope(shield=True):
            await _in_thread(driver.quit)
        shutil.rmtree(profile, ignore_errors=True)


async def _until(driver: WebDriver, css: str, text: str = "") -> None:
    """Wait until an element matching ``css`` (whose text contains ``text``) is on the page."""

    def shown(d: WebDriver) -> bool:
        return any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, css))

    # The live view re-renders as events arrive: an element found may be replaced before its
    # text is read (stale); the wait then looks again.
    waiting = WebDriverWait(
        driver, WAIT, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    await _in_thread(lambda: waiting.until(shown))


async def _click(driver: WebDriver, css: str) -> None:
    """Click the element matching ``css``, finding it again if the page replaced it meanwhile."""

    def clicked(d: WebDriver) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    waiting = WebDriverWait(
        driver, WAIT, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    await _in_thread(lambda: waiting.until(clicked))


async def test_the_page_shows_an_actor_appear_crash_restart_and_a_dead_letter(
    tmp_path: Path,
) -> None:
    """Headless chromium sees the tree, a new actor, its crash and restart, a dead letter."""
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, interval=0.2) as view,
            _browser(tmp_path / "profile") as driver,
        ):
            await rt.spawn(Supervisor, [ChildSpec("alice", Account, name="alice")], name="bank")
            await _in_thread(partial(driver.get, view.url))
            await _until(driver, "#live.on")
            await _until(driver, 'tr.actor[data-path="/bank/alice"]', "Account")

            crashy = await rt.spawn(Account, name="crashy")
            await _until(driver, 'tr.actor[data-path="/crashy"] .state', "running")

            with contextlib.suppress(trouper.HandlerError):
                await crashy.ask("boom")
            await _until(driver, '#feed li[data-kind="failed"][data-path="/crashy"]', "boom")
            await _until(driver, '#feed li[data-kind="restarted"][data-path="/crashy"]')
            await _until(driver, 'tr.actor[data-path="/crashy"] .restarts', "1")
            await _until(driver, 'tr.actor[data-path="/crashy"][data-state="running"]')

            await crashy.tell(42)  # no handler takes an int
            await _until(
                driver, '#feed li[data-kind="dead_letter"][data-path="/crashy"]', "unhandled"
            )

            await _click(driver, 'tr.actor[data-path="/crashy"]')
            await _until(driver, "#details h3", "Recent failures (1)")
            await _until(driver, "#details .failure", "ValueError: boom")

            screenshot = tmp_path / "observe.png"
            assert await _in_thread(partial(driver.save_screenshot, str(screenshot)))
    assert screenshot.read_bytes().startswith(b"\x89PNG")
