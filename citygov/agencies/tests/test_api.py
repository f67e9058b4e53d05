"""Agencies API: scoping, writes through services, change log, districts."""

from __future__ import annotations

from citygov.agencies.models import Agency
from citygov.core.models import ChangeAction, ChangeLog


def test_agency_admin_lists_only_reachable_agencies(api_client_for, admin_a, agency_a, agency_b):
    body = api_client_for(admin_a).get("/api/agencies/").json()
    assert [a["code"] for a in body["results"]] == ["agency-a"]


def test_agency_admin_cannot_read_other_agency(api_client_for, admin_a, agency_b):
    response = api_client_for(admin_a).get(f"/api/agencies/{agency_b.pk}/")
    assert response.status_code == 404


def test_agency_admin_cannot_change_other_agency(api_client_for, admin_a, agency_b):
    response = api_client_for(admin_a).patch(f"/api/agencies/{agency_b.pk}/", {"name_en": "Hijacked"},
                                             format="json")
    assert response.status_code == 404
    agency_b.refresh_from_db()
    assert agency_b.name_en == "Agency-B"
    assert ChangeLog.objects.count() == 0


def test_agency_admin_cannot_delete_other_agency(api_client_for, admin_a, agency_b):
    response = api_client_for(admin_a).delete(f"/api/agencies/{agency_b.pk}/")
    assert response.status_code in (400, 404)
    assert Agency.objects.filter(pk=agency_b.pk).exists()


def test_agency_admin_changes_own_agency_with_change_log(api_client_for, admin_a, agency_a):
    response = api_client_for(admin_a).patch(f"/api/agencies/{agency_a.pk}/", {"security_level": "C"},
                                             format="json")
    assert response.status_code == 200
    assert response.json()["security_level"] == "C"
    row = ChangeLog.objects.get(action=ChangeAction.UPDATE)
    assert (row.actor, row.before, row.after) == (admin_a, {"security_level": ""}, {"security_level": "C"})


def test_agency_admin_cannot_move_own_agency_under_other(api_client_for, admin_a, agency_a, agency_b):
    response = api_client_for(admin_a).patch(f"/api/agencies/{agency_a.pk}/", {"parent": agency_b.pk},
                                             format="json")
    assert response.status_code == 403
    agency_a.refresh_from_db()
    assert agency_a.parent_id is None


def test_city_admin_creates_and_deletes(api_client_for, city_admin):
    client = api_client_for(city_admin)
    response = client.post("/api/agencies/", {"code": "new-office", "name_zh": "新辦公室", "kind": "office"},
                           format="json")
    assert response.status_code == 201
    new_id = response.json()["id"]
    assert client.delete(f"/api/agencies/{new_id}/").status_code == 204
    assert not Agency.objects.filter(pk=new_id).exists()
    assert list(ChangeLog.objects.order_by("id").values_list("action", flat=True)) == ["create", "delete"]


def test_duplicate_code_is_a_problem_with_fields(api_client_for, city_admin, agency_a):
    response = api_client_for(city_admin).post("/api/agencies/", {"code": "agency-a", "name_zh": "x",
                                                                  "kind": "office"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "code" in response.json()["errors"]


def test_cycle_is_refused(api_client_for, city_admin, make_agency):
    top = make_agency("top")
    child = make_agency("below", parent=top)
    response = api_client_for(city_admin).patch(f"/api/agencies/{top.pk}/", {"parent": child.pk}, format="json")
    assert response.status_code == 400
    top.refresh_from_db()
    assert top.parent_id is None


def test_districts_listed_with_boundary_on_detail(api_client_for, reference_data, city_admin, admin_a):
    client = api_client_for(admin_a)
    body = client.get("/api/districts/", {"page_size": 50}).json()
    assert body["count"] == 13
    assert "boundary" not in body["results"][0]
    zhongli = next(d for d in body["results"] if d["name_zh"] == "中壢區")
    assert zhongli["code"] == "68000020"
    detail = client.get(f"/api/districts/{zhongli['id']}/").json()
    assert detail["boundary"]["type"] in ("Polygon", "MultiPolygon")


def test_agency_filters(api_client_for, reference_data, city_admin):
    client = api_client_for(city_admin)
    body = client.get("/api/agencies/", {"kind": "district_office", "page_size": 100}).json()
    assert body["count"] == 13
    body = client.get("/api/agencies/", {"search": "中壢區公所"}).json()
    assert [a["code"] for a in body["results"]] == ["do-zhongli"]
