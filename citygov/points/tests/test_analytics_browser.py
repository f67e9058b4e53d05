"""The analytics page and the public merchant map in a real browser (Debian's chromium via Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citygov.core.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        context = browser.new_context(locale="zh-TW", viewport={"width": 1366, "height": 900})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        page.on("response", lambda r: page.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        yield page
        browser.close()


@pytest.fixture
def demo_site(live_server, reference_data, make_user, settings):
    """The demo programme (with its two-year history) behind a live server; seeded before the browser
    starts, since Django refuses ORM calls from the thread once Playwright's event loop runs there."""
    from citygov.points.demo import seed_points_demo

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    seed_points_demo(make_user("browser-admin", Role.CITY_ADMIN))
    return live_server


def test_public_map_and_analytics_page_draw(demo_site, page):
    live_server = demo_site
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/points/analytics/where-to-spend/")
    page.wait_for_selector('#merchant-map[data-map-ready="true"]')
    assert page.get_attribute("#merchant-map", "data-merchant-count") == "10"
    assert page.locator("#merchant-map svg path").count() > 13
    page.screenshot(path=str(ARTIFACTS / "points-where-to-spend.png"), full_page=True)

    page.goto(f"{live_server.url}/login/")
    page.fill('input[name="username"]', "browser-admin")
    page.fill('input[name="password"]', "correct horse battery")
    page.press('input[name="password"]', "Enter")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/points/analytics/")
    for kind in ("monthly", "yoy", "daily", "districts"):
        page.wait_for_selector(f'[data-analytics-chart="{kind}"][data-chart-ready="true"]')
    assert page.locator("#yoy-alert").count() == 1
    page.screenshot(path=str(ARTIFACTS / "points-analytics.png"), full_page=True)
    assert page.problems == []
