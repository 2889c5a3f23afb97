"""Fixtures of the browser tests: Playwright, a fresh headless Chromium per test, and relays."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.browser.support import CHROMIUM, LocalRelay, launch, local_relay
from tests.conftest import Home
from tests.support.servers import RunningServer, start_ots_server

if not os.access(CHROMIUM, os.X_OK):  # pragma: no cover - CI installs it (.ci/system-deps.sh)
    pytest.skip(f"{CHROMIUM} is not installed (run make system-deps)", allow_module_level=True)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, once per module (it drives the system Chromium, never its own).

    Not per session: while it runs it owns this thread's event loop, so later tests could
    not call ``asyncio.run``."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """Headless Chromium on a fresh profile, closed after the test."""
    context = launch(playwright, tmp_path / "chromium-profile")
    yield context
    context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Page:
    """A tab."""
    return browser.pages[0] if browser.pages else browser.new_page()


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[LocalRelay]:
    """The relay app in this process, with a clock the test moves."""
    with local_relay(tmp_path / "local-relay") as running:
        yield running


@pytest.fixture
def relay_server(isolated_home: Home) -> Iterator[RunningServer]:
    """A real ``ots server`` running only the link relay, without rate limits, stopped by PID."""
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0")
    yield server
    server.stop()
