"""Services of the soc app: idempotent import, agency by CIDR, scoping, triage, escalation of a
recurrence group into one case, the follow-up workflow and the reminder job."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeLog
from citygov.soc import services
from citygov.soc.models import ActionStatus, Alert, AlertStatus, CaseStatus, FollowUpAction, ForensicCase, Reminder
from citygov.soc.tests.conftest import eve

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.django_db


def test_import_is_idempotent_and_reports_bad_lines(import_bytes):
    data = (DATA / "eve-suricata-verify.ndjson").read_bytes()
    mangled = data + b'{"timestamp": "2016-07-13T22:42:07\n' + "壞".encode("big5") + b"\n"
    first = import_bytes(mangled, "verify.ndjson")
    assert (first.created, first.duplicates, first.rejected, first.detected) == (256, 0, 2, "ndjson")
    assert [r["line"] for r in first.rejected_lines] == [257, 258]
    second = import_bytes(mangled, "verify.ndjson")
    assert (second.created, second.duplicates, second.rejected) == (0, 256, 2)
    assert Alert.objects.count() == 256
    assert ChangeLog.objects.filter(object_type="soc.alertimport").count() == 2


def test_csv_and_json_array_import(import_bytes):
    assert import_bytes((DATA / "eve-suricata-verify.csv").read_bytes(), "verify.csv").created == 256
    assert import_bytes((DATA / "honeypot-2018-alerts.json").read_bytes(), "honeypot.json").created == 44
    assert Alert.objects.filter(source_format="csv").count() == 256


def test_agency_by_cidr_and_unknown_ranges(import_bytes, networks, agency_a, agency_b):
    lines = [eve(1, dest="10.1.3.4"), eve(2, dest="10.2.0.9"), eve(3, dest="192.0.2.44")]
    run = import_bytes("\n".join(lines).encode())
    assert run.created == 3
    assert [(a.dest_ip, a.agency_id) for a in Alert.objects.order_by("dest_ip")] == [
        ("10.1.3.4", agency_a.pk), ("10.2.0.9", agency_b.pk), ("192.0.2.44", None)]
    assert run.unknown_networks == [{"ip": "192.0.2.44", "count": 1}]


def test_agency_users_see_only_their_alerts(import_bytes, networks, admin_a, admin_b, analyst, auditor):
    import_bytes("\n".join([eve(1, dest="10.1.3.4"), eve(2, dest="10.2.0.9"), eve(3, dest="192.0.2.1")]).encode())
    assert list(Alert.objects.for_agency(admin_a).values_list("dest_ip", flat=True)) == ["10.1.3.4"]
    assert list(Alert.objects.for_agency(admin_b).values_list("dest_ip", flat=True)) == ["10.2.0.9"]
    assert Alert.objects.for_agency(analyst).count() == 3
    assert Alert.objects.for_agency(auditor).count() == 3
    other = Alert.objects.get(dest_ip="10.2.0.9")
    with pytest.raises(Forbidden):
        services.do_triage_alert(admin_a, other.pk, "acknowledge")
    with pytest.raises(Forbidden):
        services.do_import_alerts(admin_a, None, "x", "auto")
    assert Alert.objects.get(pk=other.pk).status == AlertStatus.NEW


def test_triage_and_dismiss_needs_reason(import_bytes, networks, analyst):
    import_bytes("\n".join(eve(i) for i in range(3)).encode())
    alert = Alert.objects.order_by("id").first()
    with pytest.raises(InvalidInput):
        services.do_triage_alert(analyst, alert.pk, "dismiss", "  ")
    assert services.do_triage_alert(analyst, alert.pk, "dismiss", "scanner of our own vulnerability audit",
                                    whole_group=True) == 3
    assert set(Alert.objects.values_list("status", "status_reason")) == {
        ("dismissed", "scanner of our own vulnerability audit")}


def test_escalating_a_recurrence_group_makes_one_case(import_bytes, networks, analyst):
    group = [eve(i, src="203.0.113.9", dest="10.1.0.5") for i in range(5)]
    other = [eve(10, src="198.51.100.1", dest="10.1.0.5"), eve(11, src="203.0.113.9", dest="10.1.0.6")]
    import_bytes("\n".join(group + other).encode())
    first = Alert.objects.filter(src_ip="203.0.113.9", dest_ip="10.1.0.5").first()
    case = services.do_escalate_alert(analyst, first.pk, "SSH scan on 10.1.0.5", "intrusion")
    assert ForensicCase.objects.count() == 1
    assert case.alerts.count() == 5
    assert Alert.objects.filter(status=AlertStatus.ESCALATED).count() == 5
    with pytest.raises(Conflict):
        services.do_escalate_alert(analyst, first.pk)
    loner = Alert.objects.get(src_ip="198.51.100.1")
    services.do_escalate_alert(analyst, loner.pk, case_id=case.pk)
    assert ForensicCase.objects.count() == 1 and case.alerts.count() == 6


def _case_with_action(analyst, agency, due: dt.date):
    case = services.do_create_case(analyst, services.CaseInput(agency_id=agency.pk, title="網站遭植入廣告",
                                                               kind="web_attack", vendor="V"))
    action = services.do_add_action(analyst, case.pk, services.ActionInput(
        recommendation="更新外掛", agency_id=agency.pk, due_date=due, owner="資訊室"))
    return case, action


def test_follow_up_workflow(analyst, admin_a, admin_b, agency_a):
    case, action = _case_with_action(analyst, agency_a, dt.date(2030, 1, 1))
    with pytest.raises(NotFound):
        services.do_report_progress(admin_b, action.pk, "done", "elsewhere")
    with pytest.raises(InvalidInput):
        services.do_report_progress(admin_a, action.pk, "done", "")
    with pytest.raises(Forbidden):
        services.do_verify_action(admin_a, action.pk)
    services.do_report_progress(admin_a, action.pk, "done", "外掛已更新至 6.4,附截圖")
    returned = services.do_verify_action(analyst, action.pk, accept=False, note="缺少版本截圖")
    assert returned.status == ActionStatus.IN_PROGRESS
    services.do_report_progress(admin_a, action.pk, "done", "補上版本截圖")
    verified = services.do_verify_action(analyst, action.pk, accept=True)
    assert (verified.status, verified.verified_by) == (ActionStatus.VERIFIED, analyst)
    assert ForensicCase.objects.get(pk=case.pk).status == CaseStatus.CLOSED
    with pytest.raises(Conflict):
        services.do_waive_action(analyst, action.pk, "late")
    assert ChangeLog.objects.filter(object_type="soc.followupaction").count() == 5


def test_reminders_before_after_and_escalation(analyst, agency_a):
    today = dt.date(2026, 3, 20)
    _, soon = _case_with_action(analyst, agency_a, today + dt.timedelta(days=5))
    _, late = _case_with_action(analyst, agency_a, today - dt.timedelta(days=3))
    _, very_late = _case_with_action(analyst, agency_a, today - dt.timedelta(days=20))
    run = services.do_send_reminders(today)
    assert (run.due_soon, run.overdue, run.escalated) == (1, 2, 1)
    assert services.do_send_reminders(today) == services.ReminderRun()
    assert services.do_send_reminders(today + dt.timedelta(days=1)) == services.ReminderRun()
    week = services.do_send_reminders(today + dt.timedelta(days=7))
    assert (week.due_soon, week.overdue, week.escalated) == (0, 3, 0)  # soon is now late; weekly for the rest
    assert services.do_send_reminders(today + dt.timedelta(days=11)).escalated == 1  # late: 14 days overdue
    assert FollowUpAction.objects.get(pk=late.pk).escalated_at is not None
    assert set(Reminder.objects.filter(action=very_late).values_list("kind", flat=True)) == {"overdue", "escalated"}
    assert FollowUpAction.objects.get(pk=very_late.pk).escalated_at is not None
    assert list(Reminder.objects.filter(action=soon).order_by("day").values_list("kind", flat=True)) == [
        "due_soon", "overdue"]
    assert ChangeLog.objects.filter(object_type="soc.reminder").count() == Reminder.objects.count()


def test_demo_seeds_cases_alerts_and_overdue_actions(reference_data, client_for):
    from django.urls import reverse

    from citygov.core.services import do_ensure_admin
    from citygov.soc.demo import seed_soc_demo

    admin, _ = do_ensure_admin()
    result = seed_soc_demo(admin)
    assert (result.alerts, result.cases, result.actions, result.incidents) == (600, 4, 12, 4)
    assert FollowUpAction.objects.filter(status=ActionStatus.VERIFIED).count() == 3
    overdue = [a for a in FollowUpAction.objects.all() if a.is_overdue()]
    assert len(overdue) == 3
    assert Reminder.objects.filter(kind="overdue").count() == 3
    assert ForensicCase.objects.get(title="文化局及美術館設備入侵告警").alerts.count() >= 2
    from citygov.soc.models import Incident, IncidentNotice

    states = {i.title: i.clock_state() for i in Incident.objects.all()}
    assert sorted(states.values()) == ["done", "due_soon", "overdue", "overdue"]
    assert sorted(IncidentNotice.objects.values_list("clock", "state")) == [
        ("notify", "due_soon"), ("recover", "overdue"), ("report", "overdue")]
    assert seed_soc_demo(admin) == type(result)()
    client = client_for(admin)
    overview = client.get(reverse("soc:overview")).content.decode()
    assert '<span class="tile-value" id="soc-total">600</span>' in overview
    assert 'data-deviates="true"' in overview  # the demo's burst month
    case = ForensicCase.objects.get(title="文化局及美術館設備入侵告警")
    page = client.get(reverse("soc:case_detail", args=[case.pk])).content.decode()
    assert page.count('data-action-status="overdue"') == 1 and page.count('data-action-status="verified"') == 1
    assert client.get(reverse("soc:case_report", args=[case.pk])).content.startswith(b"%PDF")
    assert client.get(reverse("soc:action_list"), {"state": "overdue"}).content.decode().count(
        'data-status="overdue"') == 3


def test_stored_times_compare_as_instants(import_bytes, analyst):
    from citygov.soc.queries import AlertFilter, alerts_for

    # 2024-05-01 23:30 in Taipei is 15:30 UTC: it belongs to 1 May in every filter and month.
    import_bytes(eve(1).replace("2024-05-01T10:00:01.000000+0800", "2024-05-01T23:30:00.000000+0800").encode())
    alert = Alert.objects.get()
    assert alert.time == dt.datetime(2024, 5, 1, 15, 30, tzinfo=dt.UTC)
    assert alerts_for(analyst, AlertFilter(since=dt.date(2024, 5, 1), until=dt.date(2024, 5, 1))).count() == 1
    assert alerts_for(analyst, AlertFilter(since=dt.date(2024, 5, 2))).count() == 0
    assert Alert.objects.filter(time__lt=dt.datetime(2024, 5, 1, 16, tzinfo=dt.UTC)).count() == 1


def test_import_spans_batches_and_a_reader_error_reaches_the_caller(import_bytes, analyst, monkeypatch):
    """Batches are read on a second thread while the previous one is stored: every batch arrives,
    and an error of the reader is raised in the caller (not lost in the thread)."""
    monkeypatch.setattr(services, "BATCH", 7)
    data = "\n".join(eve(n) for n in range(1, 31)).encode()
    run = import_bytes(data, "batches.ndjson")
    assert (run.created, run.records) == (30, 30)
    assert Alert.objects.filter(imported=run).count() == 30

    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> bytes:
            return data[:200] if not self.calls else b""

        def readline(self, size: int = -1) -> bytes:
            self.calls += 1
            raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        services.do_import_alerts(analyst, Broken(), "broken.ndjson")


def test_postgresql_copy_falls_back_when_a_key_was_stored_meanwhile(import_bytes, analyst):
    """The direct COPY into the alert table fails on a key another import stored after the
    duplicate check; the batch then goes through ON CONFLICT DO NOTHING and counts only its own."""
    from django.db import connection, transaction

    from citygov.soc.engine import formats
    from citygov.soc.models import AlertDaily, AlertImport

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    lines = "\n".join(eve(n) for n in range(1, 6)).encode()
    alerts = [a for a in formats.read_alerts(__import__("io").BytesIO(lines)) if isinstance(a, formats.Alert)]
    import_bytes(b"\n".join(lines.split(b"\n")[:2]), "first-two.ndjson")  # "meanwhile": 2 of the 5 stored
    run = AlertImport.objects.create(file_name="rest", requested_format="auto", imported_by=analyst)
    with transaction.atomic():
        created = services._write_batch_postgresql(alerts, run)
    assert created == {a.dedup_key for a in alerts[2:]}
    assert Alert.objects.count() == 5
    assert sum(AlertDaily.objects.values_list("count", flat=True)) == 5  # roll-ups count each alert once
