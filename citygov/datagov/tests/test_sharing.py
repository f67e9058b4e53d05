"""Sharing requests: request → the owning agency's steward approves or rejects → a time-boxed grant that
``queries.sharing_grant_is_current`` reports; every step logged; nothing leaks to a third agency."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.datagov.models import Dataset, SharingRequest
from citygov.datagov.queries import sharing_for, sharing_grant_is_current
from citygov.datagov.services import SharingInput, do_decide_sharing, do_request_sharing


@pytest.fixture
def world(db, make_agency, make_user, agency_a, agency_b):
    agency_c = make_agency("agency-c", "丙局")
    dataset = Dataset.objects.create(source="city_portal", source_id="1", title="地籍資料", agency=agency_a,
                                     content_hash="x", schema=[{"name": "地號", "description": ""},
                                                               {"name": "所有權人", "description": ""}])
    return {
        "dataset": dataset, "a": agency_a, "b": agency_b, "c": agency_c,
        "steward_a": make_user("steward-a", Role.DATA_STEWARD, [agency_a]),
        "admin_b": make_user("admin-b", Role.AGENCY_ADMIN, [agency_b]),
        "steward_c": make_user("steward-c", Role.DATA_STEWARD, [agency_c]),
    }


def _ask(world, **changes):
    data = {"dataset_id": world["dataset"].pk, "requesting_agency_id": world["b"].pk, "purpose": "災害應變",
                "legal_basis": "災害防救法第30條", "period_start": dt.date(2026, 1, 1), "period_end": dt.date(2026, 6, 30),
                "fields": ("地號",)}
    data.update(changes)
    return do_request_sharing(world["admin_b"], SharingInput(**data))


def test_request_approve_grant_window_and_log(world):
    request = _ask(world)
    assert request.status == "pending" and request.agency == world["a"]
    assert sharing_grant_is_current(world["dataset"].pk, world["b"].pk, dt.date(2026, 3, 1)) is False
    do_decide_sharing(world["steward_a"], request.pk, approve=True)
    dataset, b = world["dataset"].pk, world["b"].pk
    assert [sharing_grant_is_current(dataset, b, day) for day in (
        dt.date(2025, 12, 31), dt.date(2026, 1, 1), dt.date(2026, 6, 30), dt.date(2026, 7, 1))] == [
        False, True, True, False]
    assert sharing_grant_is_current(dataset, world["c"].pk, dt.date(2026, 3, 1)) is False
    notes = list(ChangeLog.objects.filter(object_type="datagov.sharingrequest").order_by("id")
                 .values_list("action", "note"))
    assert notes == [("create", "sharing requested"), ("update", "sharing approved")]


def test_rejection_needs_a_reason_and_grants_nothing(world):
    request = _ask(world)
    with pytest.raises(InvalidInput):
        do_decide_sharing(world["steward_a"], request.pk, approve=False, reason=" ")
    do_decide_sharing(world["steward_a"], request.pk, approve=False, reason="涉及個人資料")
    request.refresh_from_db()
    assert (request.status, request.reason) == ("rejected", "涉及個人資料")
    assert sharing_grant_is_current(world["dataset"].pk, world["b"].pk, dt.date(2026, 3, 1)) is False
    with pytest.raises(InvalidInput):
        do_decide_sharing(world["steward_a"], request.pk, approve=True)


def test_who_may_ask_and_decide(world, auditor):
    with pytest.raises(Forbidden):  # a user of agency B cannot ask in agency C's name
        _ask(world, requesting_agency_id=world["c"].pk)
    with pytest.raises(Forbidden):
        do_request_sharing(auditor, SharingInput(world["dataset"].pk, world["b"].pk, "x", "y",
                                                 dt.date(2026, 1, 1), dt.date(2026, 2, 1)))
    request = _ask(world)
    with pytest.raises(InvalidInput):  # agency C knows nothing of it
        do_decide_sharing(world["steward_c"], request.pk, approve=True)
    with pytest.raises(Forbidden):  # the requester cannot approve its own request
        do_decide_sharing(world["admin_b"], request.pk, approve=True)
    assert SharingRequest.objects.get().status == "pending"


@pytest.mark.parametrize(("changes", "field"), [
    ({"period_end": dt.date(2025, 12, 1)}, "period_end"),
    ({"period_end": dt.date(2027, 6, 30)}, "period_end"),
    ({"fields": ("身分證字號",)}, "fields"),
    ({"purpose": " "}, "purpose"),
    ({"legal_basis": ""}, "legal_basis"),
])
def test_invalid_requests(world, changes, field):
    with pytest.raises(InvalidInput) as info:
        _ask(world, **changes)
    assert field in info.value.fields
    assert SharingRequest.objects.count() == 0


def test_requests_never_leak_to_a_third_agency(world, client_for):
    request = _ask(world)
    assert sharing_for(world["steward_a"]).count() == 1
    assert sharing_for(world["admin_b"]).count() == 1
    assert sharing_for(world["steward_c"]).count() == 0
    assert client_for(world["steward_c"]).get("/api/datagov/sharing-requests/").json()["count"] == 0
    assert client_for(world["steward_c"]).get(f"/api/datagov/sharing-requests/{request.pk}/").status_code == 404
    body = client_for(world["admin_b"]).get("/api/datagov/sharing-requests/").json()
    assert [(r["id"], r["status"], r["fields"]) for r in body["results"]] == [(request.pk, "pending", ["地號"])]


def test_sharing_pages(world, client_for):
    client = client_for(world["admin_b"])
    url = reverse("datagov:dataset_detail", args=[world["dataset"].pk])
    response = client.post(url, {"requesting_agency": world["b"].pk, "purpose": "災害應變", "legal_basis": "災害防救法",
                                 "fields": ["地號"], "period_start": "2026-01-01", "period_end": "2026-03-31"})
    assert response.status_code == 302
    request = SharingRequest.objects.get()
    steward = client_for(world["steward_a"])
    page = steward.get(reverse("datagov:sharing")).content.decode()
    assert f'data-sharing="{request.pk}" data-status="pending"' in page
    response = steward.post(reverse("datagov:sharing_decide", args=[request.pk]), {"decision": "approve"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == "approved"
    other = client_for(world["steward_c"])
    assert other.post(reverse("datagov:sharing_decide", args=[request.pk]), {"decision": "reject"}).status_code == 404
