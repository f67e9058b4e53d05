"""Django admin: city administrators only, and its changes reach the change log."""

from __future__ import annotations

from citygov.core.models import ChangeAction, ChangeLog


def test_admin_refuses_agency_admin_even_if_staff(client, admin_a):
    admin_a.is_staff = True  # even a stale flag does not open the admin
    type(admin_a).objects.filter(pk=admin_a.pk).update(is_staff=True)
    client.force_login(admin_a)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_open_to_city_admin(client, city_admin):
    assert city_admin.is_staff is True
    client.force_login(city_admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/core/changelog/").status_code == 200


def test_admin_edit_is_change_logged(client, city_admin, agency_a):
    assert city_admin.is_staff is True
    client.force_login(city_admin)
    response = client.post(f"/admin/agencies/agency/{agency_a.pk}/change/", {
        "code": agency_a.code, "name_zh": agency_a.name_zh, "name_en": "Renamed", "kind": agency_a.kind,
        "security_level": "", "note": "", "is_active": "on",
    })
    assert response.status_code == 302
    row = ChangeLog.objects.get(action=ChangeAction.UPDATE)
    assert (row.before, row.after, row.note) == ({"name_en": "Agency-A"}, {"name_en": "Renamed"}, "admin")


def test_admin_cannot_edit_changelog(client, city_admin, agency_a):
    from citygov.core.changelog import record_change

    row = record_change(actor=city_admin, action=ChangeAction.ACTION, obj=agency_a, note="keep")
    assert city_admin.is_staff is True
    client.force_login(city_admin)
    client.post(f"/admin/core/changelog/{row.pk}/change/", {"note": "edited"})
    client.post(f"/admin/core/changelog/{row.pk}/delete/", {"post": "yes"})
    assert ChangeLog.objects.get(pk=row.pk).note == "keep"
