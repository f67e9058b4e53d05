"""Information systems, their backup record and components created and edited through the REST API."""

import datetime as dt

import pytest

from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.security.models import CoreSystem, SystemComponent

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()
NEW = {"name": "市民服務平台", "is_core": True, "vendor": "凌網", "budgets": {"2024": 800000, "2025": 500000},
       "software_warranty_end": "2099-12-31", "backup_method": "cloud", "backup_location": "GCP 台灣",
       "backup_frequency": "每日", "rpo_target_hours": 24, "rto_target_hours": 8}


def client(api_client_for, user, language="en"):
    api = api_client_for(user)
    api.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    return api


def test_create_and_edit_a_system_with_its_backup(api_client_for, admin_a, agency_a):
    api = client(api_client_for, admin_a)
    response = api.post("/api/security/systems/", {**NEW, "agency": agency_a.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    system = CoreSystem.objects.get()
    assert (body["id"], body["agency"], body["budgets"], body["backup_method"], body["offsite_backup"],
            body["tested_backup"]) == (system.pk, agency_a.pk, {"2024": 800000, "2025": 500000}, "cloud", True, False)
    [created] = ChangeLog.objects.filter(object_id=str(system.pk), action="create")
    assert (created.actor_id, created.after["name"]) == (admin_a.pk, "市民服務平台")
    # PATCH the backup record only: the rest stays; the change log keeps before and after.
    drilled = (TODAY - dt.timedelta(days=10)).isoformat()
    response = api.patch(f"/api/security/systems/{system.pk}/", {
        "last_backup": TODAY.isoformat(), "last_restore_drill": drilled, "drill_result": "passed",
        "rpo_achieved_hours": 12, "rto_achieved_hours": 6}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["tested_backup"], response.json()["vendor"]) == (True, "凌網")
    [updated] = ChangeLog.objects.filter(object_id=str(system.pk), action="update")
    assert (updated.before["drill_result"], updated.after["drill_result"], updated.after["last_restore_drill"]) == (
        "", "passed", drilled)
    # The same PATCH again changes nothing and logs nothing.
    api.patch(f"/api/security/systems/{system.pk}/", {"drill_result": "passed"}, format="json")
    assert ChangeLog.objects.filter(object_id=str(system.pk)).count() == 2
    # PUT replaces every field: what it leaves out returns to its default.
    response = api.put(f"/api/security/systems/{system.pk}/", {"name": "市民服務平台", "status": "retired"},
                       format="json")
    assert response.status_code == 200, response.content
    system.refresh_from_db()
    assert (system.status, system.backup_method, system.vendor, system.budgets) == ("retired", "none", "", {})


def test_validation_errors_in_english_and_chinese(api_client_for, admin_a, agency_a):
    bad = {**NEW, "agency": agency_a.pk, "drill_result": "passed", "backup_method": "none",
           "last_patch": (TODAY + dt.timedelta(days=3)).isoformat(), "budgets": {"24": 5}}
    english = client(api_client_for, admin_a).post("/api/security/systems/", bad, format="json")
    assert english.status_code == 400
    assert english["Content-Type"] == "application/problem+json"
    body = english.json()
    assert body["detail"] == "The system has invalid fields."
    assert body["errors"] == {
        "drill_result": ["This system has no off-site backup to restore from: record the backup method first."],
        "last_restore_drill": ["A drill result needs the date of the drill."],
        "last_patch": ["This date cannot be in the future."],
        "budgets": ['Give the budget as {"YEAR": amount in NT$}, e.g. {"2024": 800000}, with whole non-negative '
                    'amounts.']}
    chinese = client(api_client_for, admin_a, "zh-hant").post("/api/security/systems/", bad, format="json").json()
    assert chinese["detail"] == "系統資料有欄位不正確。"
    assert chinese["errors"]["last_restore_drill"] == ["填寫演練結果時，須一併填寫演練日期。"]
    # Type errors come from the serializer, translated too.
    typed = client(api_client_for, admin_a, "zh-hant").post(
        "/api/security/systems/", {**NEW, "agency": agency_a.pk, "backup_method": "tape"}, format="json").json()
    assert typed["errors"]["backup_method"] == ['"tape" 不是有效的選擇。']
    typed = client(api_client_for, admin_a).post("/api/security/systems/", {"name": "x"}, format="json").json()
    assert typed["errors"] == {"agency": ["Choose the agency."]}
    assert CoreSystem.objects.count() == 0
    client(api_client_for, admin_a).post("/api/security/systems/", {**NEW, "agency": agency_a.pk}, format="json")
    again = client(api_client_for, admin_a).post("/api/security/systems/", {**NEW, "agency": agency_a.pk},
                                                 format="json")
    assert again.json()["errors"] == {"name": ["This agency already has a system with this name."]}
    assert CoreSystem.objects.count() == 1


def test_roles_and_agency_scope(api_client_for, admin_a, admin_b, auditor, city_admin, agency_a, agency_b):
    system = client(api_client_for, admin_a).post("/api/security/systems/", {**NEW, "agency": agency_a.pk},
                                                  format="json").json()
    before = ChangeLog.objects.count()
    # Another agency's administrator may neither create in agency A nor see or edit its system.
    assert client(api_client_for, admin_b).post("/api/security/systems/", {**NEW, "agency": agency_a.pk},
                                                format="json").status_code == 404
    assert client(api_client_for, admin_b).patch(f"/api/security/systems/{system['id']}/", {"vendor": "x"},
                                                 format="json").status_code == 404
    # Auditors read but never write.
    assert client(api_client_for, auditor).get(f"/api/security/systems/{system['id']}/").status_code == 200
    assert client(api_client_for, auditor).patch(f"/api/security/systems/{system['id']}/", {"vendor": "x"},
                                                 format="json").status_code == 403
    assert client(api_client_for, None).post("/api/security/systems/", {**NEW, "agency": agency_a.pk},
                                             format="json").status_code in (401, 403)
    # A system never moves to another agency, even for a city administrator.
    moved = client(api_client_for, city_admin).patch(f"/api/security/systems/{system['id']}/",
                                                     {"agency": agency_b.pk}, format="json")
    assert moved.status_code == 400
    assert moved.json()["errors"] == {"agency": ["A system cannot move to another agency."]}
    assert ChangeLog.objects.count() == before
    assert CoreSystem.objects.get().vendor == "凌網"


def test_components_are_identified_edited_and_removed(api_client_for, admin_a, admin_b, make_user, agency_a):
    analyst = make_user("analyst-a", Role.SECURITY_ANALYST, [agency_a])
    api = client(api_client_for, analyst)
    system = api.post("/api/security/systems/", {**NEW, "agency": agency_a.pk}, format="json").json()
    response = api.post("/api/security/components/", {"system": system["id"], "display_name": "apache2",
                                                      "display_version": "2.4.49-1", "publisher": "Debian"},
                        format="json")
    assert response.status_code == 201, response.content
    component = response.json()
    assert (component["system"], component["agency"], component["cpe"], component["worst_severity"]) == (
        system["id"], agency_a.pk, "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", "critical")
    assert "CVE-2022-22720" in component["critical_cve_ids"]
    detail = api.get(f"/api/security/systems/{system['id']}/").json()
    assert [c["display_name"] for c in detail["components"]] == ["apache2"]
    duplicate = api.post("/api/security/components/", {"system": system["id"], "display_name": "apache2",
                                                       "display_version": "2.4.49-1"}, format="json")
    assert duplicate.json()["errors"] == {"display_name": ["This system already has this component in this version."]}
    # Upgraded: identified and matched again.
    response = api.patch(f"/api/security/components/{component['id']}/", {"display_version": "2.4.62-1"},
                         format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["version"], response.json()["publisher"]) == ("2.4.62", "Debian")
    assert "CVE-2022-22720" not in response.json()["cve_ids"]
    assert client(api_client_for, admin_b).delete(f"/api/security/components/{component['id']}/").status_code == 404
    assert client(api_client_for, admin_b).post("/api/security/components/", {
        "system": system["id"], "display_name": "nginx"}, format="json").status_code == 404
    assert api.delete(f"/api/security/components/{component['id']}/").status_code == 204
    assert SystemComponent.objects.count() == 0
    actions = list(ChangeLog.objects.filter(object_type__endswith="systemcomponent").values_list("action", flat=True)
                   .order_by("id"))
    assert actions == ["create", "update", "delete"]
