"""SOC pages: analytics, import upload, triage, escalation, the follow-up workflow end to end over
HTTP, exports, the PDF report, permissions and the cross-agency leak."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from citygov.soc import services
from citygov.soc.models import ActionStatus, Alert, AlertImport, FollowUpAction, ForensicCase, Reminder
from citygov.soc.tests.conftest import eve

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.django_db


def test_overview_needs_the_soc_capability(client_for, make_user, analyst, auditor):
    from citygov.core.roles import Role

    steward = make_user("steward", Role.DATA_STEWARD)
    assert client_for(steward).get(reverse("soc:overview")).status_code == 403
    page = client_for(auditor).get(reverse("soc:overview"))
    assert page.status_code == 200
    assert 'id="soc-empty"' in page.content.decode()
    assert 'id="import-form"' not in page.content.decode()  # read-only role


def test_upload_import_and_figures(client_for, analyst):
    client = client_for(analyst)
    upload = SimpleUploadedFile("verify.ndjson", (DATA / "eve-suricata-verify.ndjson").read_bytes())
    response = client.post(reverse("soc:import_alerts"), {"file": upload, "input_format": "auto"})
    run = AlertImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("soc:import_detail", args=[run.pk])
    assert (run.created, run.rejected) == (256, 0)
    page = client.get(reverse("soc:overview")).content.decode()
    assert '<span class="tile-value" id="soc-total">256</span>' in page
    from citygov.soc.management.commands.soc import analyse_files
    from citygov.soc.queries import alert_figures

    from_file, from_db = analyse_files([DATA / "eve-suricata-verify.ndjson"]), alert_figures(analyst)
    assert (from_db["repeat_groups"]["count"], from_db["repeat_groups"]["alerts"]) == (
        from_file["repeat_groups"]["count"], from_file["repeat_groups"]["alerts"])
    assert [(r["key"], r["count"]) for r in from_db["by_category"]] == [
        (r["key"], r["count"]) for r in from_file["by_category"]]
    assert from_db["by_month"] == from_file["by_month"]
    assert from_db["top_signatures"][0] == from_file["top_signatures"][0]
    assert 'data-soc-chart="trend"' in page
    focus = client.get(reverse("soc:overview"), {"focus": "on"}).content.decode()
    assert '<span class="tile-value" id="soc-total">215</span>' in focus  # 76 high + 139 medium
    again = SimpleUploadedFile("verify.ndjson", (DATA / "eve-suricata-verify.ndjson").read_bytes())
    client.post(reverse("soc:import_alerts"), {"file": again, "input_format": "auto"})
    assert Alert.objects.count() == 256
    detail = client.get(reverse("soc:import_detail", args=[AlertImport.objects.latest("id").pk])).content.decode()
    assert '<dd data-count="duplicates">256</dd>' in detail


def test_exports(client_for, analyst, import_bytes):
    import_bytes("\n".join(eve(i) for i in range(3)).encode())
    client = client_for(analyst)
    response = client.get(reverse("soc:export", args=["csv"]))
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff發生時間,機關,事件類型")
    assert body.count("ET SCAN Potential SSH Scan") == 3
    xlsx = client.get(reverse("soc:export", args=["xlsx"]))
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    assert [list(r) for r in book.worksheets[0].iter_rows(values_only=True)] == [["類別", "件數", "占比%"],
                                                                                 ["資訊蒐集", 3, 100.0]]


def test_cross_agency_alert_and_case_pages_are_404(client_for, import_bytes, networks, admin_a, admin_b, analyst,
                                                   agency_b):
    import_bytes("\n".join([eve(1, dest="10.1.0.1"), eve(2, dest="10.2.0.1")]).encode())
    theirs = Alert.objects.get(dest_ip="10.2.0.1")
    assert client_for(admin_a).get(reverse("soc:alert_detail", args=[theirs.pk])).status_code == 404
    listing = client_for(admin_a).get(reverse("soc:alert_list")).content.decode()
    assert "10.1.0.1" in listing and "10.2.0.1" not in listing
    case = services.do_create_case(analyst, services.CaseInput(agency_id=agency_b.pk, title="B 的案件"))
    assert client_for(admin_a).get(reverse("soc:case_detail", args=[case.pk])).status_code == 404
    assert "B 的案件" not in client_for(admin_a).get(reverse("soc:case_list")).content.decode()


def test_escalate_group_from_the_alert_page(client_for, import_bytes, networks, analyst):
    import_bytes("\n".join(eve(i) for i in range(4)).encode())
    alert = Alert.objects.first()
    client = client_for(analyst)
    assert 'id="escalate-form"' in client.get(reverse("soc:alert_detail", args=[alert.pk])).content.decode()
    response = client.post(reverse("soc:alert_escalate", args=[alert.pk]), {"title": "SSH 掃描", "kind": "intrusion"})
    case = ForensicCase.objects.get()
    assert response["Location"] == reverse("soc:case_detail", args=[case.pk])
    assert case.alerts.count() == 4


def test_follow_up_end_to_end_over_http(client_for, analyst, admin_a, agency_a):
    bureau = client_for(analyst)
    response = bureau.post(reverse("soc:case_list"), {
        "agency": agency_a.pk, "title": "網站遭植入廣告文字與連結", "kind": "web_attack", "vendor": "鑑識廠商",
        "findings": "首頁被植入博弈連結", "root_cause": "外掛過舊",
        "report_file": SimpleUploadedFile("report.pdf", b"%PDF-1.4 demo")})
    case = ForensicCase.objects.get()
    assert response["Location"] == reverse("soc:case_detail", args=[case.pk])
    bureau.post(reverse("soc:case_add_action", args=[case.pk]), {
        "recommendation": "移除植入內容", "agency": agency_a.pk, "owner": "資訊室", "due_date": "2020-01-31"})
    action = FollowUpAction.objects.get()
    page = bureau.get(reverse("soc:case_detail", args=[case.pk])).content.decode()
    assert 'data-action-status="overdue"' in page

    services.do_send_reminders()
    assert Reminder.objects.filter(action=action, kind="overdue").count() == 1

    agency = client_for(admin_a)
    empty = agency.post(reverse("soc:action_update", args=[action.pk, "progress"]), {"status": "done"})
    assert empty.status_code == 302 and FollowUpAction.objects.get().status == ActionStatus.OPEN
    agency.post(reverse("soc:action_update", args=[action.pk, "progress"]), {
        "status": "done", "evidence_note": "已移除並比對檔案",
        "evidence_file": SimpleUploadedFile("evidence.png", b"\x89PNG demo")})
    action.refresh_from_db()
    assert action.status == ActionStatus.DONE and action.evidence_file.name.startswith("soc/evidence/")
    assert agency.post(reverse("soc:action_update", args=[action.pk, "verify"]), {"accept": "yes"}).status_code == 403
    bureau = client_for(analyst)  # one test client: signing in again switches the user
    bureau.post(reverse("soc:action_update", args=[action.pk, "verify"]), {"accept": "yes"})
    action.refresh_from_db()
    assert action.status == ActionStatus.VERIFIED
    assert ForensicCase.objects.get().status == "closed"
    report = bureau.get(reverse("soc:case_report", args=[case.pk]))
    assert report["Content-Type"] == "application/pdf" and report.content.startswith(b"%PDF")
    listing = client_for(admin_a).get(reverse("soc:action_list")).content.decode()
    assert "移除植入內容" in listing and 'data-status="verified"' in listing


def test_network_page_adds_a_range(client_for, analyst, agency_a, admin_a):
    assert client_for(analyst).post(reverse("soc:network_list"), {"agency": agency_a.pk, "cidr": "10.9.0.0/16"}
                                    ).status_code == 302
    assert client_for(analyst).post(reverse("soc:network_list"), {"agency": agency_a.pk, "cidr": "10.9.0.1/33"}
                                    ).status_code == 200
    from citygov.soc.models import AgencyNetwork

    assert list(AgencyNetwork.objects.values_list("cidr", flat=True)) == ["10.9.0.0/16"]
    assert client_for(admin_a).post(reverse("soc:network_list"), {"agency": agency_a.pk, "cidr": "10.8.0.0/16"}
                                    ).status_code == 403


def test_dashboard_tiles_empty_then_filled(client_for, analyst, import_bytes, agency_a):
    from citygov.core import dashboard

    tiles = {t.key: v for t, v in dashboard.tiles_for(analyst)}
    assert tiles["soc.overview"].value is None and tiles["soc.follow_up"].value is None
    import_bytes("\n".join([eve(1, severity=1), eve(2), eve(3), eve(4, severity=3)]).encode())
    services.do_add_action(analyst, services.do_create_case(analyst, services.CaseInput(
        agency_id=agency_a.pk, title="x")).pk, services.ActionInput("y", agency_a.pk, dt.date(2020, 1, 1)))
    tiles = {t.key: v for t, v in dashboard.tiles_for(analyst)}
    assert (tiles["soc.overview"].value, tiles["soc.overview"].status) == (4, "warn")
    assert tiles["soc.follow_up"].value == 1


def test_api_alerts_and_figures(api_client_for, import_bytes, networks, admin_a, analyst):
    import_bytes("\n".join([eve(1, dest="10.1.0.1"), eve(2, dest="10.2.0.1")]).encode())
    mine = api_client_for(admin_a).get("/api/soc/alerts/").json()
    assert [a["dest_ip"] for a in mine["results"]] == ["10.1.0.1"]
    figures = api_client_for(analyst).get("/api/soc/figures/").json()
    assert figures["total"] == 2
    alert = Alert.objects.get(dest_ip="10.1.0.1")
    refused = api_client_for(admin_a).post(f"/api/soc/alerts/{alert.pk}/triage/", {"verb": "acknowledge"})
    assert refused.status_code == 403 and refused["Content-Type"].startswith("application/problem+json")
    done = api_client_for(analyst).post(f"/api/soc/alerts/{alert.pk}/triage/", {"verb": "acknowledge"})
    assert done.json() == {"updated": 1}


def test_every_page_renders_for_the_auditor_read_only(client_for, auditor, analyst, import_bytes, networks,
                                                      agency_a):
    import_bytes(b"\n".join([eve(1).encode(), b"{broken"]))
    services.do_create_case(analyst, services.CaseInput(agency_id=agency_a.pk, title="唯讀檢視"))
    client = client_for(auditor)
    run = AlertImport.objects.get()
    alert = Alert.objects.get()
    pages = {
        reverse("soc:alert_list") + "?severity=medium&category=information_gathering": "ET SCAN Potential SSH Scan",
        reverse("soc:alert_detail", args=[alert.pk]): "signature ET SCAN",
        reverse("soc:case_list"): "唯讀檢視",
        reverse("soc:action_list") + "?state=overdue": "soc-tabs",
        reverse("soc:import_list"): "alerts.json",
        reverse("soc:import_detail", args=[run.pk]): 'id="rejected"',
        reverse("soc:network_list"): "10.1.0.0/16",
    }
    for url, expected in pages.items():
        body = client.get(url).content.decode()
        assert expected in body, url
        assert 'id="triage-form"' not in body and 'id="case-form"' not in body and 'id="network-form"' not in body
    assert client.post(reverse("soc:alert_triage", args=[alert.pk]), {"verb": "acknowledge"}).status_code == 403
    assert Alert.objects.get().status == "new"
