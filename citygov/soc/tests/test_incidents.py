"""Incidents (資安事件): the legal clocks from a dated policy (engine), the services (create, record
milestones, change the level, link alerts and a case), scoping, the change log, the clock job with
its notices and e-mail, and the e-mailed follow-up reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail as django_mail

from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.soc import services
from citygov.soc.engine import clocks
from citygov.soc.models import Alert, Incident, IncidentNotice, IncidentPolicy, Reminder
from citygov.soc.tests.conftest import eve

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


# --- engine ---------------------------------------------------------------------------------------

def test_clocks_follow_the_level_and_the_default_policy():
    low = {c.key: c for c in clocks.clocks(clocks.DEFAULT_POLICY, 2, T0, clocks.Milestones(), T0)}
    assert [low[k].due - T0 for k in ("notify", "review", "recover")] == [1 * H, 9 * H, 72 * H]
    assert low["report"].due == dt.datetime(2026, 4, 5, 9, 0, tzinfo=dt.UTC)  # one month after recovery due
    high = {c.key: c for c in clocks.clocks(clocks.DEFAULT_POLICY, 3, T0, clocks.Milestones(), T0)}
    assert [high[k].due - T0 for k in ("notify", "review", "recover")] == [1 * H, 3 * H, 36 * H]
    assert {c.state for c in high.values()} == {clocks.ON_TIME}


def test_clock_states_on_time_due_soon_overdue_done():
    done = clocks.Milestones(notified_at=T0 + dt.timedelta(minutes=40))
    at = {c.key: c for c in clocks.clocks(clocks.DEFAULT_POLICY, 4, T0, done, T0 + dt.timedelta(minutes=100))}
    assert at["notify"].state == clocks.DONE
    assert at["review"].due == T0 + dt.timedelta(minutes=160)  # 2 h after the recorded notification
    assert at["review"].state == clocks.ON_TIME  # 60 of 120 minutes left
    at = {c.key: c for c in clocks.clocks(clocks.DEFAULT_POLICY, 4, T0, done, T0 + dt.timedelta(minutes=140))}
    assert at["review"].state == clocks.DUE_SOON  # 20 minutes left, under 25%
    late = clocks.Milestones(notified_at=T0 + 2 * H, recovered_at=T0 + 40 * H)
    at = {c.key: c for c in clocks.clocks(clocks.DEFAULT_POLICY, 3, T0, late, T0 + 50 * H)}
    assert (at["notify"].state, at["review"].state, at["recover"].state) == (
        clocks.DONE_LATE, clocks.OVERDUE, clocks.DONE_LATE)
    assert at["report"].start == T0 + 40 * H  # the report month runs from the recorded recovery
    assert clocks.worst([c.state for c in at.values()]) == clocks.OVERDUE


def test_policy_versions_and_month_arithmetic():
    old = clocks.Policy(name="2021", effective_from=dt.date(2021, 8, 23))
    new = clocks.Policy(name="2026", effective_from=dt.date(2026, 1, 5), notify_hours=0.5)
    assert clocks.policy_for([new, old], dt.date(2025, 12, 31)).name == "2021"
    assert clocks.policy_for([new, old], dt.date(2026, 1, 5)).name == "2026"
    assert clocks.policy_for([new, old], dt.date(2020, 1, 1)).name == "2021"
    assert clocks.policy_for([], dt.date(2020, 1, 1)) == clocks.DEFAULT_POLICY
    assert clocks.add_months(dt.datetime(2026, 1, 31, 8, tzinfo=dt.UTC), 1) == dt.datetime(2026, 2, 28, 8, tzinfo=dt.UTC)
    assert clocks.add_months(dt.datetime(2026, 12, 15, tzinfo=dt.UTC), 1).year == 2027
    with pytest.raises(ValueError, match="notify_hours"):
        clocks.Policy(notify_hours=0)
    with pytest.raises(ValueError, match="level"):
        clocks.clocks(clocks.DEFAULT_POLICY, 5, T0, clocks.Milestones(), T0)


# --- services -------------------------------------------------------------------------------------

def _incident(user, agency, level=2, aware_at=T0, now=None, title="官網遭植入廣告連結"):
    return services.do_create_incident(user, services.IncidentInput(
        agency_id=agency.pk, title=title, level=level, aware_at=aware_at, kind="web_attack"), now=now or aware_at + H / 4)


@pytest.mark.django_db
def test_incident_takes_the_policy_in_force_on_the_day_of_awareness(analyst, agency_a):
    IncidentPolicy.objects.create(name="資通安全事件通報及應變辦法", effective_from=dt.date(2021, 8, 23))
    renamed = IncidentPolicy.objects.create(name="資通安全事件通報應變及演練辦法", effective_from=dt.date(2026, 1, 5),
                                            notify_hours=0.5)
    before = _incident(analyst, agency_a, aware_at=dt.datetime(2025, 12, 1, 2, tzinfo=dt.UTC))
    after = _incident(analyst, agency_a, aware_at=T0)
    assert before.policy.name == "資通安全事件通報及應變辦法"
    assert after.policy == renamed
    assert after.clocks(T0)[0].due == T0 + H / 2


@pytest.mark.django_db
def test_incident_milestones_level_and_change_log(analyst, admin_a, admin_b, agency_a):
    incident = _incident(analyst, agency_a, level=2)
    with pytest.raises(NotFound):
        services.do_record_milestone(admin_b, incident.pk, "notify", T0 + H / 2, now=T0 + H)
    with pytest.raises(Forbidden):
        services.do_record_milestone(admin_a, incident.pk, "review", T0 + H / 2, now=T0 + H)
    with pytest.raises(Conflict):
        services.do_record_milestone(analyst, incident.pk, "review", T0 + H / 2, now=T0 + H)
    with pytest.raises(InvalidInput):
        services.do_record_milestone(admin_a, incident.pk, "notify", T0 - H, now=T0 + H)
    with pytest.raises(InvalidInput):
        services.do_record_milestone(admin_a, incident.pk, "notify", T0 + 3 * H, now=T0 + H)
    assert Incident.objects.get(pk=incident.pk).notified_at is None
    services.do_record_milestone(admin_a, incident.pk, "notify", T0 + H / 2, now=T0 + H)
    with pytest.raises(Conflict):
        services.do_record_milestone(admin_a, incident.pk, "notify", T0 + H / 2, now=T0 + H)
    services.do_record_milestone(analyst, incident.pk, "review", T0 + 3 * H, now=T0 + 4 * H)
    with pytest.raises(InvalidInput):
        services.do_change_level(analyst, incident.pk, 3, " ")
    services.do_change_level(analyst, incident.pk, 3, "核心系統受影響")
    incident.refresh_from_db()
    states = {c.key: c.state for c in incident.clocks(T0 + 40 * H)}
    # Level 3 now: the review was due 2 h after the notification, so it is late; recovery 36 h.
    assert states == {"notify": clocks.DONE, "review": clocks.DONE_LATE, "recover": clocks.OVERDUE,
                      "report": clocks.ON_TIME}
    services.do_record_milestone(admin_a, incident.pk, "recover", T0 + 30 * H, now=T0 + 40 * H)
    services.do_record_milestone(admin_a, incident.pk, "report", T0 + 200 * H, now=T0 + 200 * H)
    incident.refresh_from_db()
    assert incident.is_closed and incident.clock_state(T0 + 300 * H) == clocks.DONE_LATE  # the late review
    with pytest.raises(Conflict):
        services.do_change_level(analyst, incident.pk, 4, "late")
    notes = list(ChangeLog.objects.filter(object_type="soc.incident").order_by("id").values_list("note", flat=True))
    assert notes == ["", "soc incident notify", "soc incident review", "核心系統受影響", "soc incident recover",
                     "soc incident report"]


@pytest.mark.django_db
def test_incident_scoping_and_create_checks(analyst, admin_a, admin_b, agency_a, auditor):
    incident = _incident(analyst, agency_a)
    assert list(Incident.objects.for_agency(admin_a)) == [incident]
    assert list(Incident.objects.for_agency(admin_b)) == []
    assert Incident.objects.for_agency(auditor).count() == 1
    with pytest.raises(Forbidden):
        _incident(admin_a, agency_a)
    with pytest.raises(InvalidInput) as bad:
        _incident(analyst, agency_a, level=5)
    assert "level" in bad.value.fields
    with pytest.raises(InvalidInput):
        _incident(analyst, agency_a, aware_at=T0 + 10 * H, now=T0)
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_link_alert_groups_and_open_case(import_bytes, networks, analyst, agency_a):
    import_bytes("\n".join([eve(1, dest="10.1.0.5"), eve(2, dest="10.1.0.5"), eve(3, dest="10.2.0.9")]).encode())
    incident = _incident(analyst, agency_a)
    mine = Alert.objects.filter(dest_ip="10.1.0.5").order_by("id").first()
    other = Alert.objects.get(dest_ip="10.2.0.9")
    with pytest.raises(InvalidInput):
        services.do_link_alerts(analyst, incident.pk, [other.pk])
    with pytest.raises(InvalidInput):
        services.do_link_alerts(analyst, incident.pk, [999999])
    assert services.do_link_alerts(analyst, incident.pk, [mine.pk], whole_group=True) == 2
    assert services.do_link_alerts(analyst, incident.pk, [mine.pk]) == 0
    case = services.do_link_case(analyst, incident.pk)
    assert (case.agency_id, case.kind, case.aware_at) == (agency_a.pk, "web_attack", T0)
    assert Incident.objects.get(pk=incident.pk).case == case
    with pytest.raises(Conflict):
        services.do_link_case(analyst, incident.pk)


@pytest.mark.django_db
def test_clock_job_notifies_once_and_mails_agency_and_bureau(analyst, make_user, agency_a, agency_b):
    analyst.email = "soc@example.org"
    analyst.save()
    make_user("contact-a", Role.AGENCY_ADMIN, [agency_a], email="it-a@example.org")
    make_user("contact-b", Role.AGENCY_ADMIN, [agency_b], email="it-b@example.org")
    incident = _incident(analyst, agency_a, level=3)
    assert services.do_check_incident_clocks(T0 + H / 4) == services.ClockRun()
    run = services.do_check_incident_clocks(T0 + dt.timedelta(minutes=50))  # notify: 10 of 60 minutes left
    assert run == services.ClockRun(due_soon=1)
    run = services.do_check_incident_clocks(T0 + 2 * H)
    assert run == services.ClockRun(due_soon=0, overdue=1)
    assert services.do_check_incident_clocks(T0 + 2 * H) == services.ClockRun()
    notices = list(IncidentNotice.objects.filter(incident=incident).order_by("id"))
    assert [(n.clock, n.state, n.recipients) for n in notices] == [("notify", "due_soon", 2), ("notify", "overdue", 2)]
    assert len(django_mail.outbox) == 2
    assert django_mail.outbox[1].to == ["it-a@example.org", "soc@example.org"]
    assert "通報已逾期" in django_mail.outbox[1].subject
    assert ChangeLog.objects.filter(object_type="soc.incidentnotice").count() == 2


@pytest.mark.django_db
def test_follow_up_reminders_are_mailed(analyst, make_user, agency_a):
    make_user("contact-a", Role.AGENCY_ADMIN, [agency_a], email="it-a@example.org")
    make_user("no-mail", Role.AGENCY_ADMIN, [agency_a])
    analyst.email = "soc@example.org"
    analyst.save()
    today = dt.date(2026, 3, 20)
    case = services.do_create_case(analyst, services.CaseInput(agency_id=agency_a.pk, title="wget 下載滲透工具"))
    services.do_add_action(analyst, case.pk, services.ActionInput("更新 WordPress 外掛", agency_a.pk,
                                                                  today - dt.timedelta(days=20), owner="資訊科"))
    run = services.do_send_reminders(today)
    assert (run.overdue, run.escalated) == (1, 1)
    assert [m.to for m in django_mail.outbox] == [["it-a@example.org"], ["it-a@example.org", "soc@example.org"]]
    assert "追蹤事項已逾期" in django_mail.outbox[0].subject and "資訊科" in django_mail.outbox[0].body
    assert sorted(Reminder.objects.values_list("recipients", flat=True)) == [1, 2]
    services.do_send_reminders(today)
    assert len(django_mail.outbox) == 2


# --- pages, API, demo -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_incident_pages_record_and_show_clocks(client_for, analyst, admin_a, admin_b, agency_a):
    from django.urls import reverse
    from django.utils import timezone

    client = client_for(analyst)
    aware = timezone.localtime() - dt.timedelta(hours=3)
    response = client.post(reverse("soc:incident_list"), {
        "agency": agency_a.pk, "title": "官網遭置換", "kind": "web_attack", "level": "3",
        "aware_at": aware.strftime("%Y-%m-%dT%H:%M"), "description": "首頁遭置換"})
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("soc:incident_detail", args=[incident.pk])
    page = client.get(reverse("soc:incident_detail", args=[incident.pk])).content.decode()
    assert 'data-clock="notify"' in page and 'data-clock-state="overdue"' in page and "id=\"milestone-form\"" in page
    listing = client.get(reverse("soc:incident_list"), {"state": "overdue"}).content.decode()
    assert listing.count('data-incident-state="overdue"') == 1
    assert client.get(reverse("soc:incident_list"), {"state": "on_time"}).content.decode().count(
        "data-incident-state=") == 0
    client.force_login(admin_b)
    assert client.get(reverse("soc:incident_detail", args=[incident.pk])).status_code == 404
    client.force_login(admin_a)
    assert client.post(reverse("soc:incident_list"), {"title": "x"}).status_code == 403
    client.post(reverse("soc:incident_update", args=[incident.pk, "milestone"]), {"milestone": "notify"})
    assert Incident.objects.get().notified_at is not None
    response = client.post(reverse("soc:incident_update", args=[incident.pk, "level"]), {"level": "1", "reason": "x"})
    assert response.status_code == 403 and Incident.objects.get().level == 3


@pytest.mark.django_db
def test_incident_api_create_milestone_link_and_problem_json(api_client_for, analyst, admin_b, agency_a):
    client = api_client_for(analyst)
    response = client.post("/api/soc/incidents/", {"agency": agency_a.pk, "title": "設備遺失", "kind": "equipment",
                                                   "level": 1, "aware_at": "2026-03-02T09:00:00+08:00"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [c["key"] for c in body["clocks"]] == ["notify", "review", "recover", "report"]
    assert body["clocks"][2]["due"] == "2026-03-05T09:00:00+08:00"
    bad = client.post("/api/soc/incidents/", {"agency": agency_a.pk, "title": "x", "level": 7,
                                              "aware_at": "2026-03-02T09:00:00+08:00"}, format="json")
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")
    pk = body["id"]
    done = client.post(f"/api/soc/incidents/{pk}/milestone/", {"milestone": "notify",
                                                               "at": "2026-03-02T09:40:00+08:00"}, format="json")
    assert done.json()["clocks"][0]["state"] == "done"
    linked = client.post(f"/api/soc/incidents/{pk}/link/", {"new_case": True}, format="json").json()
    assert linked["case"] is not None
    assert api_client_for(admin_b).get(f"/api/soc/incidents/{pk}/").status_code == 404
    assert Incident.objects.count() == 1
