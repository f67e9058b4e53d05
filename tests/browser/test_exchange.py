"""The exchange pages in a real browser: a city administrator opens 資料交換 from the navigation (the
traffic chart draws), finds a transfer by its X-Road-Id, opens a service and grants a subsystem access.

Fails on any console error, uncaught page error or failed HTTP response. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import pytest

from citygov.core.tests.browser import PASSWORD

pytestmark = pytest.mark.browser


def test_exchange_registry_in_the_browser(browser_page, live_server, site_admin, settings, tmp_path):
    from citygov.exchange.demo import seed_exchange_demo
    from citygov.exchange.models import AccessRight, Service, Subsystem, TransferRecord

    settings.VAR_DIR = tmp_path
    seed_exchange_demo(site_admin)
    record = TransferRecord.objects.filter(side="provider", error="").order_by("time").first()
    page = browser_page.page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "browser-admin")
    page.fill("#id_password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.click(".site-nav a[href='/exchange/']")
    page.wait_for_selector('[data-exchange-chart][data-chart-ready="true"]')
    assert page.locator("#members tbody tr").count() == 3
    assert page.locator('#consumers tr[data-state="expired"]').count() == 1
    browser_page.screenshot("exchange-overview")

    page.fill("#x-road-id", record.x_road_id)
    page.click("form[role=search] button[type=submit]")
    page.wait_for_selector("#found")
    assert page.locator("#found tbody tr").count() == 2  # the consumer's and the provider's record

    parcels = Service.objects.get(code="parcels")
    page.click(f"#services a[href='/exchange/services/{parcels.pk}/']")
    page.wait_for_selector("#paths")
    household = Subsystem.objects.get(code="HOUSEHOLD")
    page.select_option("#id_client", str(household.pk))
    page.fill("#id_grant_ref", "DG-2026-0100")
    page.click("#grant-form button[type=submit]")
    page.wait_for_selector(f'#consumers tr[data-client="{household.identifier}"]')
    assert AccessRight.objects.get(service=parcels, client=household).grant_ref == "DG-2026-0100"
    browser_page.screenshot("exchange-service")
    assert browser_page.problems == []
