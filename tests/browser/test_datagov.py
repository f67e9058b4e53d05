"""The datagov pages in a real browser: a city administrator imports the Taoyuan sample from the nav, opens the
overdue dashboard as of 2018-07-08 (chart drawn, real figures), searches the catalogue and opens a dataset.

Fails on any console error, uncaught page error or failed HTTP response. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from citygov.core.tests.browser import PASSWORD

pytestmark = pytest.mark.browser
SAMPLE = Path(__file__).resolve().parents[2] / "citygov" / "datagov" / "tests" / "data" / "taoyuan_sample.csv"


def test_import_overdue_dashboard_and_search(browser_page, live_server, site_admin):
    page = browser_page.page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "browser-admin")
    page.fill("#id_password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.click(".site-nav a[href='/datagov/']")
    page.click("a[href='/datagov/imports/']")
    page.set_input_files("#id_file", str(SAMPLE))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#unmatched-agencies, .empty")
    assert "36" in page.locator("h1 + p.lead").inner_text()

    page.goto(f"{live_server.url}/datagov/overdue/?as_of=2018-07-08")
    page.wait_for_selector('[data-datagov-chart][data-chart-ready="true"]')
    assert page.locator('[data-summary="overdue"] .tile-value').inner_text() == "3"
    assert page.locator('[data-summary="on_time"] .tile-value').inner_text() == "16"
    browser_page.screenshot("datagov-overdue")

    page.goto(f"{live_server.url}/datagov/")
    page.fill("#id_q", "登革熱")
    page.press("#id_q", "Enter")
    page.wait_for_selector("text=桃園市登革熱確診個案分布")
    page.click("text=桃園市登革熱確診個案分布")
    page.wait_for_selector("#schema")
    browser_page.screenshot("datagov-dataset")
    assert browser_page.problems == []
