"""The agency posture charts drawn in a real browser (Debian's chromium via Playwright), assets served
locally (no CDN)."""

from __future__ import annotations

import pytest

from citygov.core.tests.browser import ARTIFACTS, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
INVENTORY = ("hostname,display_name,display_version,publisher\n"
             "PC-1,VLC media player,3.0.21,VideoLAN\nPC-1,電子公文製作系統,5.2,凌網科技\n"
             "SRV-1,apache2,2.4.49-1,Debian\n")


@pytest.fixture
def posture_site(live_server, admin_a, agency_a, tmp_path, settings):
    """An agency with devices and an inventory behind a live server, seeded before the browser starts."""
    from citygov.security.services import do_import_devices, do_import_inventory

    devices = tmp_path / "devices.csv"
    devices.write_text("hostname,type,vans,edr\nPC-1,桌機,是,否\nSRV-1,伺服器,是,是\nPC-2,筆電,否,否\n", encoding="utf-8")
    do_import_devices(admin_a, agency_a.pk, devices)
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(INVENTORY, encoding="utf-8")
    do_import_inventory(admin_a, agency_a.pk, inventory)
    return live_server


def test_agency_posture_charts_draw(posture_site, admin_a, agency_a, browser_page):
    page = browser_page.page
    page.goto(f"{posture_site.url}/login/")
    page.fill('input[name="username"]', admin_a.username)
    page.fill('input[name="password"]', PASSWORD)
    page.press('input[name="password"]', "Enter")
    page.wait_for_url(f"{posture_site.url}/")
    page.goto(f"{posture_site.url}/security/agencies/{agency_a.pk}/")
    for kind in ("identification", "coverage", "severity"):
        page.wait_for_selector(f'[data-security-chart="{kind}"][data-chart-ready="true"]')
        assert page.locator(f'[data-security-chart="{kind}"] svg path').count() > 2
    # The legends and axes carry the server's Traditional Chinese labels.
    assert "已識別" in page.inner_text('[data-security-chart="identification"]')
    assert "未涵蓋設備" in page.inner_text('[data-security-chart="coverage"]')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "security-agency-posture.png"), full_page=True)
    assert browser_page.problems == []
