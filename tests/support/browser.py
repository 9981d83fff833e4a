"""Headless Chromium driven by Playwright, for the real-browser tests (tests/test_browser*.py).

Import it only after ``pytest.importorskip("playwright.sync_api")``. The system Chromium is used
(found by scripts/screenshot.py's :func:`find_chromium`; ``playwright install`` is not needed).
:data:`CHROMIUM` is ``None`` when there is none: the test modules skip then, with the reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import pathlib
import re
import time
import types
import typing as t

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "scripts" / "screenshot.py"

STEP_TIMEOUT = 5.0  # seconds, at most, for any one browser wait (navigation, click, assertion, fetch)
TEST_BUDGET = 40.0  # seconds for the browser part of one test
NO_CHROMIUM = "no Chromium executable (apt-get install -y chromium, or set CHROMIUM_PATH)"


def _load_script() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("oauth_middleware_screenshot_script", SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: scripts/screenshot.py: its Chromium flags, launch and demo login steps.
screenshot = _load_script()
CHROMIUM: str | None = screenshot.find_chromium()


def launched() -> t.Iterator[Browser]:
    """Headless Chromium for a module-scoped fixture (``yield from launched()``)."""
    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        browser: Browser = screenshot.launch(playwright, CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@dataclasses.dataclass
class Tab:
    """A fresh browser profile (context) with one page, the test's time budget and what went wrong
    in the page (script errors, CSP violations)."""

    context: BrowserContext
    page: Page
    base: str
    end: float
    problems: list[str] = dataclasses.field(default_factory=list)

    def step(self) -> float:
        """Start a step: every wait gets STEP_TIMEOUT at most, and never more than the budget left.
        Returns that timeout in milliseconds."""
        left = self.end - time.monotonic()
        if left <= 0:
            pytest.fail(f"the test took more than its {TEST_BUDGET}s budget")
        timeout = min(STEP_TIMEOUT, left) * 1000
        self.context.set_default_timeout(timeout)
        self.context.set_default_navigation_timeout(timeout)
        return timeout

    def fetch(self, path: str) -> tuple[int, t.Any]:
        """``fetch(path)`` from the page's script, as the page's own JavaScript would: (status, JSON)."""
        return t.cast(
            tuple[int, t.Any],
            self.page.evaluate(
                "([path, ms]) => fetch(path, {signal: AbortSignal.timeout(ms)})"
                ".then(async (r) => [r.status, await r.json()])",
                [path, self.step()],
            ),
        )

    def cookies(self) -> dict[str, t.Any]:
        """The cookies the browser keeps for the site at :attr:`base`, by name."""
        return {cookie["name"]: cookie for cookie in self.context.cookies(self.base + "/")}


@contextlib.contextmanager
def new_tab(browser: Browser, base: str) -> t.Iterator[Tab]:
    """A :class:`Tab` on a fresh context, its budget started, closed afterwards."""
    context = browser.new_context(viewport=screenshot.VIEWPORT, locale="en-US")
    try:
        page = context.new_page()
        tab = Tab(context, page, base, end=time.monotonic() + TEST_BUDGET)
        page.on("pageerror", lambda error: tab.problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                tab.problems.append(f"console: {message.text}")
                if re.search(r"Content Security Policy|Refused to", message.text)
                else None
            ),
        )
        tab.step()
        yield tab
    finally:
        context.close()
