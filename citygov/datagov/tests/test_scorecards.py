"""Agency scorecards (page and API): overdue and freshness figures, sharing statistics, link checks, and no
leak of another agency's figures."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from citygov.core.roles import Role
from citygov.datagov import queries
from citygov.datagov.engine import freshness as fr
from citygov.datagov.models import Dataset, LinkCheck, Resource
from citygov.datagov.services import SharingInput, do_decide_sharing, do_request_sharing

AS_OF = dt.datetime(2018, 7, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _dataset(agency, sid: str, frequency: str, updated: dt.datetime, **extra) -> Dataset:
    return Dataset.objects.create(source="city_portal", source_id=sid, title=f"資料{sid}", agency=agency,
                                  frequency_text=frequency, frequency_class=extra.pop("kind", "periodic"),
                                  data_updated_at=updated, content_hash=sid, **extra)


@pytest.fixture
def world(db, make_user, agency_a, agency_b):
    d1 = _dataset(agency_a, "1", "每月", dt.datetime(2018, 5, 1, tzinfo=dt.UTC), theme="LAND")
    _dataset(agency_a, "2", "每年", dt.datetime(2018, 1, 1, tzinfo=dt.UTC))
    _dataset(agency_a, "3", "不定期", dt.datetime(2016, 1, 1, tzinfo=dt.UTC), kind="irregular")
    _dataset(agency_b, "4", "每日", dt.datetime(2018, 7, 1, tzinfo=dt.UTC))
    resource = Resource.objects.create(dataset=d1, url="http://example.org/a.csv")
    LinkCheck.objects.create(resource=resource, checked_at=AS_OF - dt.timedelta(days=2), ok=True, status=200)
    LinkCheck.objects.create(resource=resource, checked_at=AS_OF - dt.timedelta(days=1), ok=False, status=404)
    steward_a = make_user("steward-a", Role.DATA_STEWARD, [agency_a])
    admin_b = make_user("admin-b", Role.AGENCY_ADMIN, [agency_b])
    request = do_request_sharing(admin_b, SharingInput(
        dataset_id=d1.pk, requesting_agency_id=agency_b.pk, purpose="災害應變", legal_basis="災害防救法第30條",
        period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 6, 30)))
    do_decide_sharing(steward_a, request.pk, approve=True)
    return {"a": agency_a, "b": agency_b, "steward_a": steward_a, "admin_b": admin_b}


def test_scorecard_figures(world):
    cards = {c.agency_id: c for c in queries.scorecards(world["steward_a"], AS_OF)}
    assert list(cards) == [world["a"].pk]  # agency b's figures are not shown to a's steward
    a = cards[world["a"].pk]
    assert (a.datasets, a.counts[fr.OVERDUE], a.counts[fr.ON_TIME], a.counts[fr.STALE]) == (3, 1, 1, 1)
    assert (a.overdue_rate, a.updated_within_year, a.classified) == (0.5, 2, 1)
    assert (a.links_checked, a.links_broken) == (1, 1)  # the latest check counts
    assert (a.sharing_received, a.sharing_approved, a.sharing_pending, a.sharing_sent) == (1, 1, 0, 0)
    assert a.median_decision_days is not None
    b = {c.agency_id: c for c in queries.scorecards(world["admin_b"], AS_OF)}[world["b"].pk]
    assert (b.datasets, b.counts[fr.OVERDUE], b.sharing_sent, b.sharing_received, b.links_checked) == (1, 1, 1, 0, 0)


def test_scorecard_page_and_api(world, client_for, api_client_for, city_admin):
    html = client_for(world["steward_a"]).get(reverse("datagov:scorecards"), {"as_of": "2018-07-08"}).content.decode()
    assert 'data-agency="agency-a" data-overdue="1"' in html and 'data-agency="agency-b"' not in html
    body = api_client_for(city_admin).get("/api/datagov/scorecards/", {"as_of": "2018-07-08"}).json()
    assert body["count"] == 2
    by_agency = {row["agency"]: row for row in body["results"]}
    assert by_agency[world["a"].pk]["counts"]["overdue"] == 1 and by_agency[world["a"].pk]["overdue_rate"] == 0.5
    bad = api_client_for(city_admin).get("/api/datagov/scorecards/", {"as_of": "yesterday"})
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")


def test_digest_console_and_email(world, make_user, city_admin, auditor, mailoutbox):
    import io

    from django.core.management import call_command

    from citygov.core.errors import Forbidden
    from citygov.datagov.services import do_send_freshness_digest

    make_user("steward-a2", Role.DATA_STEWARD, [world["a"]], email="steward-a2@example.org")
    out, err = io.StringIO(), io.StringIO()
    call_command("datagov", "digest", "--user", "city-admin", "--as-of", "2018-07-08", stdout=out, stderr=err)
    text = out.getvalue()
    assert text.count("== [citygov]") == 2 and "資料1" in text and "資料3" in text and "[stale]" in text
    assert "2 agency digests sent via console" in err.getvalue()
    assert do_send_freshness_digest(city_admin, via="email", as_of=AS_OF) == 1  # agency b has no steward address
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["steward-a2@example.org"]
    assert "逾期 overdue 1" in mailoutbox[0].body
    with pytest.raises(Forbidden):
        do_send_freshness_digest(auditor, as_of=AS_OF)
