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


@contextlib.asynccontextmanager
async def _page(tmp_path: Path, *, allow_control: bool = False) -> AsyncIterator[_Page]:
    """A runtime with ``/bank/alice`` and ``/bank/bob``, its view, and chromium showing it live."""
    async with (
        trouper.open_runtime() as rt,
        open_view(rt, port=0, interval=0.2, allow_control=allow_control) as view,
        _browser(tmp_path / "profile") as driver,
    ):
        children = [ChildSpec(n, Account, name=n) for n in ("alice", "bob")]
        await rt.spawn(Supervisor, children, name="bank")
        await _in_thread(partial(driver.get, view.url))
        await _until(driver, "#live.on")
        await _until(driver, 'tr.actor[data-path="/bank/bob"]', "Account")
        yield _Page(rt, driver)


class _Page:
    __slots__ = ("driver", "rt")

    def __init__(self, rt: trouper.Runtime, driver: WebDriver) -> None:
        self.rt = rt
        self.driver = driver

    async def script(self, code: str) -> object:
        return await _in_thread(partial(self.driver.execute_script, code))


# Holds the page's detail requests until ``releaseDetails()``: a click then lands while one loads.
_HOLD_DETAILS = """
const real = window.fetch, held = [];
window.releaseDetails = () => held.splice(0).forEach((go) => go());
window.fetch = (url, init) => String(url).startsWith("api/actor/")
  ? new Promise((go) => held.push(go)).then(() => real(url, init)) : real(url, init);
"""


async def test_the_stream_stays_live_after_many_paths_of_gone_actors_were_toggled(
    tmp_path: Path,
) -> None:
    """Paths the page toggled stay bounded: its stream's address never outgrows the server."""
    with trio.fail_after(DEADLINE):
        async with _page(tmp_path) as page:
            # Actors come and go: the page toggles 2,000 paths that are gone since.
            await page.script(
                "for (let i = 0; i < 2000; i++)"
                " toggle({ path: `/gone-${i}/` + 'x'.repeat(40), open: i % 2 === 0 });"
            )
            await page.rt.spawn(Account, name="late")
            await _until(page.driver, 'tr.actor[data-path="/late"]', "Account")
            await _until(page.driver, "#live.on")


async def test_a_click_while_details_load_takes_effect(tmp_path: Path) -> None:
    """The latest click wins: clicking bob while alice's details load shows bob's."""
    with trio.fail_after(DEADLINE):
        async with _page(tmp_path) as page:
            await page.script("source.close();" + _HOLD_DETAILS)  # no updates reload details
            await _click(page.driver, 'tr.actor[data-path="/bank/alice"]')
            await _click(page.driver, 'tr.actor[data-path="/bank/bob"]')
            await page.script("releaseDetails()")
            # bob's request, made once alice's ends, is held too: release until it is shown.
            await _in_thread(
                lambda: WebDriverWait(page.driver, WAIT, poll_frequency=0.1).until(
                    lambda d: d.execute_script(
                        "releaseDetails(); return document.getElementById('details-path')"
                        ".textContent === '/bank/bob' && !!document.querySelector('#details dl');"
                    )
                )
            )


async def test_a_control_refused_in_plain_text_shows_the_status_and_text(
    tmp_path: Path,
) -> None:
    """A plain-text 503 (the connection cap's) to Stop shows its status and text on the page."""
    with trio.fail_after(DEADLINE):
        async with _page(tmp_path, allow_control=True) as page:
            await _click(page.driver, 'tr.actor[data-path="/bank/alice"]')
            await _until(page.driver, "#details .controls button", "Stop")
            await page.script(
                "source.close(); const real = window.fetch;"
                "window.fetch = (url, init) => String(url).startsWith('api/stop/')"
                " ? Promise.resolve(new Response('too many connections', { status: 503,"
                " statusText: 'Service Unavailable', headers: { 'Content-Type': 'text/plain' } }))"
                " : real(url, init);"
            )
            await _click(page.driver, "#details .controls button")
            shown = "stop: 503 Service Unavailable: too many connections"
            await _until(page.driver, "#control-result", shown)
