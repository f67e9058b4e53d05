"""The SOC follow-up workflow in a real browser: the analyst imports alerts (charts drawn), opens a
forensic case and adds a recommendation that is already overdue; the reminder job fires; the agency
marks it done with evidence; the bureau verifies it and the case closes.

Every step fails on any console error, uncaught page error or failed HTTP response (except the
deliberate 403 check). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from citygov.core.tests.browser import PASSWORD

pytestmark = pytest.mark.browser
SAMPLE = Path(__file__).resolve().parents[2] / "citygov" / "soc" / "tests" / "data" / "honeypot-2018-alerts.json"


def sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture
def soc_people(transactional_db, make_user, make_agency):
    from citygov.core.roles import Role

    bureau = make_agency("sccdc-b", "智慧城鄉發展委員會")
    culture = make_agency("culture-b", "文化局")
    analyst = make_user("browser-analyst", Role.SECURITY_ANALYST, [bureau], display_name="資安分析師")
    contact = make_user("browser-culture", Role.AGENCY_ADMIN, [culture], display_name="文化局聯絡人")
    return analyst, contact, culture


def test_follow_up_workflow_in_the_browser(browser_page, chromium, live_server, soc_people):
    from citygov.soc.models import FollowUpAction, Reminder
    from citygov.soc.services import do_send_reminders

    _analyst, _contact, culture = soc_people
    page = browser_page.page
    sign_in(page, live_server, "browser-analyst")
    page.click(".site-nav a[href='/soc/']")
    page.set_input_files("#id_file", str(SAMPLE))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-summary")
    assert page.locator('[data-count="created"]').inner_text() == "44"
    page.goto(f"{live_server.url}/soc/")
    assert page.locator("#soc-total").inner_text() == "44"
    page.wait_for_selector('[data-soc-chart="trend"][data-chart-ready="true"]')
    page.wait_for_selector('[data-soc-chart="categories"][data-chart-ready="true"]')
    browser_page.screenshot("soc-overview")

    page.goto(f"{live_server.url}/soc/cases/")
    page.select_option("#id_agency", str(culture.pk))
    page.fill("#id_title", "文化局設備入侵告警")
    page.select_option("#id_kind", "intrusion")
    page.fill("#id_findings", "外部來源多次嘗試入侵")
    page.click("#case-form button[type=submit]")
    page.wait_for_selector("#action-form")
    page.fill("#id_recommendation", "更新伺服器元件")
    page.select_option("#action-form #id_agency", str(culture.pk))
    page.fill("#id_owner", "資訊室")
    page.fill("#id_due_date", "2024-01-31")
    page.click("#action-form button[type=submit]")
    page.wait_for_selector('[data-action-status="overdue"]')
    case_url = page.url.split("#")[0]

    run = do_send_reminders()
    assert (run.overdue, run.escalated) == (1, 1)  # due long ago: overdue, and escalated to the bureau
    action = FollowUpAction.objects.get()
    assert set(Reminder.objects.filter(action=action).values_list("kind", flat=True)) == {"overdue", "escalated"}

    agency_context = chromium.new_context(locale="zh-TW")
    agency_page = agency_context.new_page()
    sign_in(agency_page, live_server, "browser-culture")
    agency_page.goto(case_url)
    assert agency_page.locator(".reminders li").count() == 2
    assert agency_page.locator(".verify-form").count() == 0
    form = agency_page.locator(f"#action-{action.pk} .progress-form")
    form.locator("select[name=status]").select_option("done")
    form.locator("textarea[name=evidence_note]").fill("已更新至最新版本,附版本截圖")
    form.locator("button[type=submit]").click()
    agency_page.wait_for_selector('[data-action-status="done"]')
    agency_context.close()

    page.goto(case_url)
    page.locator(f"#action-{action.pk} .verify-form select[name=accept]").select_option("yes")
    page.locator(f"#action-{action.pk} .verify-form button[type=submit]").click()
    page.wait_for_selector('[data-action-status="verified"]')
    assert page.locator("#case-status").inner_text() == "已結案"
    browser_page.screenshot("soc-case-verified")
    assert browser_page.problems == []
