"""Browser fixtures for every app's tests: Playwright's sync API driving Debian's chromium against
pytest-django's live server (loaded as a plugin by the root ``conftest.py``).

No browser is ever downloaded: the tests use the distribution's ``/usr/bin/chromium`` and skip,
saying how to install it, when it is missing. One Playwright instance runs per test process: a second
``sync_playwright()`` in the same thread fails, so every browser test uses ``chromium``/``browser_page``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PASSWORD = "correct horse battery"  # noqa: S105 - every test user's password (make_user), never a real account


@pytest.fixture(scope="session")
def chromium():
    """One headless chromium for the whole run."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio event loop in the test thread, and Django refuses ORM calls
    # from a thread with a running loop unless told otherwise. Only the tests' own setup queries run
    # here; the live server answers requests in its own thread.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class WatchedPage:
    """A page plus every console error, uncaught exception and failed HTTP response it produced."""

    page: object
    problems: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot under ``test-artifacts/`` and return its path."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def browser_page(chromium):
    """A fresh browser context (no cookies) in Traditional Chinese, watched for errors."""
    context = chromium.new_context(locale="zh-TW", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    watched = WatchedPage(page)
    page.on("console", lambda message: watched.problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("response", lambda response: watched.problems.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400 else None)
    # ERR_ABORTED is the browser cancelling a request because the page navigated on (e.g. a favicon
    # still loading when the next page opens): not a failure of the site.
    page.on("requestfailed", lambda request: watched.problems.append(f"request failed: {request.url} {request.failure}")
            if "ERR_ABORTED" not in (request.failure or "") else None)
    yield watched
    context.close()
