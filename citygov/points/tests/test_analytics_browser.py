"""The analytics page and the public merchant map in a real browser (Debian's chromium via Playwright)."""

from __future__ import annotations

import pytest

from citygov.core.roles import Role
from citygov.core.tests.browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser_page):
    """The shared chromium's fresh page (``citygov.core.tests.browser``), with its list of problems."""
    browser_page.page.problems = browser_page.problems
    return browser_page.page


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
