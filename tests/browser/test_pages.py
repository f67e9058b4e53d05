"""The pages in a real browser: sign in, dashboard, district map, agency detail, API docs.

Every step fails on any console error, uncaught page error or failed HTTP response. Screenshots go to
``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import pytest

from citygov.core import dashboard
from citygov.core.tests.browser import PASSWORD

pytestmark = pytest.mark.browser

MAP_REGIONS_JS = """(id) => {
    const chart = echarts.getInstanceByDom(document.getElementById(id));
    return chart.getModel().getSeriesByIndex(0).getData().count();
}"""

SELECTED_REGIONS_JS = """(id) => {
    const series = echarts.getInstanceByDom(document.getElementById(id)).getModel().getSeriesByIndex(0);
    return series.getSelectedDataIndices().map((index) => series.getData().getName(index));
}"""

# Where a district's centroid is on screen, so the test can hover it like a person would.
CENTROID_PIXEL_JS = """([id, lonlat]) => {
    const chart = echarts.getInstanceByDom(document.getElementById(id));
    const [x, y] = chart.convertToPixel({seriesIndex: 0}, lonlat);
    const box = document.getElementById(id).getBoundingClientRect();
    return [box.left + x, box.top + y];
}"""


def sign_in(watched, live_server, username="browser-admin", password=PASSWORD) -> None:
    page = watched.page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_sign_in_and_dashboard(browser_page, live_server, site_admin):
    page = browser_page.page

    page.goto(f"{live_server.url}/")
    page.wait_for_url(f"{live_server.url}/login/?next=/")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    browser_page.screenshot("login")
    sign_in(browser_page, live_server)

    tiles = len(dashboard.registered())
    assert page.locator(".tile").count() == tiles
    assert page.locator('[data-tile="agencies.count"] .tile-value').inner_text() == "100"
    assert page.locator('[data-tile="agencies.districts"] .tile-value').inner_text() == "13"
    assert page.locator(".tile-empty").count() == tiles - 2  # all but the two agency tiles
    assert page.locator(".user-name").inner_text() == "測試管理員"
    assert page.locator('.site-nav a[href="/changelog/"]').count() == 1
    browser_page.screenshot("dashboard")
    assert browser_page.problems == []


def test_district_map_draws_13_districts_and_follows_the_agency_select(browser_page, live_server, site_admin):
    from citygov.agencies.models import Agency, District

    zhongli_office = Agency.objects.get(code="do-zhongli")
    daxi_office = Agency.objects.get(code="do-daxi")
    fuxing = District.objects.get(name_zh="復興區")
    page = browser_page.page
    sign_in(browser_page, live_server)

    page.goto(f"{live_server.url}/agencies/map/?agency={zhongli_office.pk}")
    page.wait_for_selector('#district-map[data-map-ready="true"]')

    assert page.evaluate(MAP_REGIONS_JS, "district-map") == 13
    assert page.get_attribute("#district-map", "data-region-count") == "13"
    assert page.locator("#district-map canvas").count() >= 1
    assert page.get_attribute("#district-map", "data-highlight") == "68000020"
    assert page.evaluate(SELECTED_REGIONS_JS, "district-map") == ["68000020"]
    assert page.inner_text("#map-status").endswith("中壢區")

    page.select_option("#map-agency", str(daxi_office.pk))
    assert page.get_attribute("#district-map", "data-highlight") == "68000030"
    assert page.evaluate(SELECTED_REGIONS_JS, "district-map") == ["68000030"]
    assert page.inner_text("#map-status").endswith("大溪區")

    page.select_option("#map-agency", "")
    assert page.evaluate(SELECTED_REGIONS_JS, "district-map") == []
    assert page.inner_text("#map-status") == ""
    assert page.url == f"{live_server.url}/agencies/map/"
    page.select_option("#map-agency", str(daxi_office.pk))
    assert page.url == f"{live_server.url}/agencies/map/?agency={daxi_office.pk}"

    x, y = page.evaluate(CENTROID_PIXEL_JS, ["district-map", [fuxing.centroid_lon, fuxing.centroid_lat]])
    page.mouse.move(x, y)
    # District labels are painted on the canvas, so the only DOM text naming 復興區 is the tooltip.
    tooltip = page.locator("#district-map div", has_text="復興區").last
    tooltip.wait_for()
    assert tooltip.inner_text().endswith(f": {fuxing.agencies.count()}")

    browser_page.screenshot("district-map")
    assert browser_page.problems == []


def test_agency_detail_with_district_map(browser_page, live_server, site_admin):
    from citygov.agencies.models import Agency

    tycg = Agency.objects.get(code="tycg")
    page = browser_page.page
    sign_in(browser_page, live_server)

    page.goto(f"{live_server.url}/agencies/{tycg.pk}/")
    page.wait_for_selector('#agency-map[data-map-ready="true"]')

    assert page.inner_text("h1") == "桃園市政府"
    assert page.evaluate(MAP_REGIONS_JS, "agency-map") == 13
    assert page.get_attribute("#agency-map", "data-highlight") == "68000010"
    assert page.locator(".child-list li").count() == Agency.objects.filter(parent=tycg).count()
    browser_page.screenshot("agency-detail")
    assert browser_page.problems == []


def test_agency_list_filters_with_htmx(browser_page, live_server, site_admin):
    page = browser_page.page
    sign_in(browser_page, live_server)
    page.goto(f"{live_server.url}/agencies/")
    assert page.locator("#agency-results tbody tr").count() == 50

    page.select_option("#id_kind", "district_office")
    page.wait_for_url(f"{live_server.url}/agencies/?q=&kind=district_office&district=&parent=&security_level=")
    page.wait_for_function("document.querySelectorAll('#agency-results tbody tr').length === 13")

    browser_page.screenshot("agency-list")
    assert browser_page.problems == []


def test_changelog_filters_with_htmx(browser_page, live_server, site_admin):
    page = browser_page.page
    sign_in(browser_page, live_server)
    page.goto(f"{live_server.url}/changelog/")
    assert page.locator("#changelog-results tbody tr").count() == 50

    page.select_option("#id_action", "login")
    page.wait_for_function("document.querySelectorAll('#changelog-results tbody tr').length === 1")

    assert page.locator("#changelog-results tbody td").nth(1).inner_text() == "browser-admin"
    assert page.url.startswith(f"{live_server.url}/changelog/?action=login&")
    browser_page.screenshot("changelog")
    assert browser_page.problems == []


def test_language_switch_to_english(browser_page, live_server, site_admin):
    page = browser_page.page
    sign_in(browser_page, live_server)

    page.click('.lang-switch button[value="en"]')
    page.wait_for_function("document.documentElement.lang === 'en'")

    assert page.url == f"{live_server.url}/"
    assert page.locator('.lang-switch button[value="en"]').get_attribute("aria-pressed") == "true"
    page.goto(f"{live_server.url}/agencies/map/")
    page.wait_for_selector('#district-map[data-map-ready="true"]')
    assert page.locator("aside tbody tr").first.inner_text().startswith("Taoyuan District")
    browser_page.screenshot("district-map-en")
    assert browser_page.problems == []


def test_api_docs_load_offline(browser_page, live_server, site_admin):
    page = browser_page.page
    sign_in(browser_page, live_server)

    page.goto(f"{live_server.url}/api/docs/")
    title = page.locator(".swagger-ui .info .title")
    title.wait_for()

    assert title.inner_text().startswith("citygov API")
    browser_page.screenshot("api-docs")
    assert browser_page.problems == []
