import datetime as dt

import pytest
from django.utils import translation

from citygov.core.dashboard import tiles_for
from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeLog
from citygov.security.engine import systems as rules
from citygov.security.models import CoreSystem, Finding, SystemComponent
from citygov.security.queries import backup_coverage, critical_components, overdue_findings, system_rows
from citygov.security.services import (
    DrillInput,
    SecurityTestInput,
    do_add_finding,
    do_import_components,
    do_import_systems,
    do_record_patch,
    do_record_restore_drill,
    do_record_security_test,
    do_remediate_finding,
)

TODAY = dt.date.today()
HEADER = ("name,is_core,vendor,budgets,software_warranty_end,hardware_warranty_end,last_patch,status,backup_method,"
          "backup_location,backup_frequency,last_backup,last_restore_drill,drill_result,rpo_target_hours,"
          "rto_target_hours,rpo_achieved_hours,rto_achieved_hours\n")
SYSTEMS = HEADER + (
    f"官網,yes,凌網,2023:100; 2024:200,2099-01-01,,{TODAY - dt.timedelta(days=5)},active,cloud,雲端,每日,"
    f"{TODAY},{TODAY - dt.timedelta(days=30)},passed,24,8,12,10\n"
    "點數平台,是,承商,,111/12/31,,2022-10-15,active,無,,,,,,24,24,,\n"
    f"公文系統,yes,,,,,,active,city_site,中壢,每週,,{TODAY - dt.timedelta(days=30)},failed,,,,\n"
    "舊系統,yes,,,2020-01-01,,,retired,none,,,,,,,,,\n"
    "報名網,no,,,,,,active,idc,IDC,,,,,,,,\n"
    "壞列,yes,,,2024-13-01,,,active,none,,,,,,,,,\n"
    "壞方法,yes,,,,,,active,tape,,,,,,,,,\n")


def write(tmp_path, text, name="systems.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def imported(tmp_path, admin_a, agency_a):
    with translation.override("en"):
        report = do_import_systems(admin_a, agency_a.pk, write(tmp_path, SYSTEMS))
    return report


def test_engine_rules():
    d = dt.date
    alert = rules.warranty_alert(software_end=d(2022, 12, 31), hardware_end=None, last_patch=d(2022, 10, 15),
                                 today=d(2024, 1, 1), max_unpatched_days=90)
    assert (alert.expired, alert.expired_since, alert.days_unpatched) == (("software",), d(2022, 12, 31), 443)
    assert rules.warranty_alert(software_end=d(2023, 12, 1), hardware_end=None, last_patch=None,
                                today=d(2024, 1, 1), max_unpatched_days=90) is None
    assert rules.warranty_alert(software_end=d(2023, 1, 1), hardware_end=d(2022, 1, 1), last_patch=None,
                                today=d(2024, 1, 1), max_unpatched_days=90).expired == ("software", "hardware")
    assert rules.backup_tested(method="idc", drill_date=d(2022, 1, 1), drill_result="passed", today=d(2024, 1, 1),
                               max_drill_age_days=365) is False
    assert rules.finding_overdue(due=d(2024, 1, 1), remediated_on=None, today=d(2024, 1, 2)) is True
    assert rules.finding_overdue(due=d(2024, 1, 1), remediated_on=d(2024, 1, 5), today=d(2024, 1, 6)) is False
    assert rules.parse_date("113/2/29") == d(2024, 2, 29)
    with pytest.raises(ValueError):
        rules.parse_budgets("2024=5")


@pytest.mark.django_db
def test_import_systems_validates_rows_and_is_idempotent(tmp_path, admin_a, agency_a, imported):
    assert (imported.rows, imported.created, imported.updated) == (7, 5, 0)
    assert [(p.line, p.message) for p in imported.problems] == [
        (7, "壞列: software_warranty_end: not a date (write YYYY-MM-DD or 113/12/31)"),
        (8, "壞方法: backup_method must be none, city_site, cloud or idc")]
    platform = CoreSystem.objects.get(name="點數平台")
    assert (platform.software_warranty_end, platform.backup_method, platform.is_core) == (
        dt.date(2022, 12, 31), "none", True)
    assert CoreSystem.objects.get(name="官網").budgets == {"2023": 100, "2024": 200}
    logged = ChangeLog.objects.count()
    again = do_import_systems(admin_a, agency_a.pk, write(tmp_path, SYSTEMS))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert ChangeLog.objects.count() == logged


@pytest.mark.django_db
def test_headline_alerts_and_scoping(admin_a, admin_b, city_admin, imported):
    rows = system_rows(admin_a)
    # Active core systems: 官網 (tested), 點數平台 (none), 公文系統 (off-site, drill failed) → 1 of 3.
    assert backup_coverage(rows) == backup_coverage(system_rows(city_admin))
    coverage = backup_coverage(rows)
    assert (coverage.tested, coverage.offsite, coverage.total) == (1, 2, 3)
    assert [r.system.name for r in rows if r.warranty] == ["點數平台"]
    website = next(r for r in rows if r.system.name == "官網")
    assert (website.rpo_met, website.rto_met) == (True, False)
    assert system_rows(admin_b) == []
    assert backup_coverage(system_rows(admin_b)).total == 0


@pytest.mark.django_db
def test_components_identified_with_critical_cves(tmp_path, admin_a, admin_b, agency_a, imported):
    path = write(tmp_path, "system,display_name,display_version,publisher\n"
                           "點數平台,apache2,2.4.49-1,Debian\n點數平台,電子公文製作系統,5.2,凌網科技\n"
                           "沒有的系統,nginx,1.22.1,\n", "components.csv")
    with translation.override("en"):
        report = do_import_components(admin_a, agency_a.pk, path)
    assert (report.created, [(p.line, p.message) for p in report.problems]) == (
        2, [(4, "no system named 沒有的系統 in this agency")])
    apache = SystemComponent.objects.get(display_name="apache2")
    assert apache.cpe == "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*"
    assert apache.worst_severity == "critical" and "CVE-2022-22720" in apache.critical_cve_ids
    assert SystemComponent.objects.get(display_name="電子公文製作系統").status == "unidentified"
    assert [c.display_name for c in critical_components(admin_a)] == ["apache2"]
    assert critical_components(admin_b) == []
    assert do_import_components(admin_a, agency_a.pk, path).unchanged == 2


@pytest.mark.django_db
def test_drill_patch_tests_and_findings(admin_a, admin_b, auditor, agency_a, imported):
    docs = CoreSystem.objects.get(name="公文系統")
    platform = CoreSystem.objects.get(name="點數平台")
    do_record_restore_drill(admin_a, docs.pk, DrillInput(TODAY, "passed", 20, 10))
    assert backup_coverage(system_rows(admin_a)).tested == 2
    with pytest.raises(InvalidInput) as caught:
        do_record_restore_drill(admin_a, platform.pk, DrillInput(TODAY, "passed"))
    assert list(caught.value.fields) == ["result"]
    with pytest.raises(NotFound):
        do_record_restore_drill(admin_b, docs.pk, DrillInput(TODAY, "passed"))
    with pytest.raises(Forbidden):
        do_record_patch(auditor, platform.pk, TODAY)
    do_record_patch(admin_a, platform.pk, TODAY)
    assert [r.system.name for r in system_rows(admin_a) if r.warranty] == []

    test = do_record_security_test(admin_a, agency_a.pk, SecurityTestInput(
        "pentest", "滲透測試", TODAY - dt.timedelta(days=100), "檢測廠商", platform.pk))
    late = do_add_finding(admin_a, test.pk, "弱密碼", "high", TODAY - dt.timedelta(days=10))
    do_add_finding(admin_a, test.pk, "版本洩漏", "low", TODAY + dt.timedelta(days=10))
    with pytest.raises(InvalidInput):
        do_add_finding(admin_a, test.pk, "", "extreme", TODAY)
    assert [f.pk for f in overdue_findings(admin_a)] == [late.pk]
    assert overdue_findings(admin_b) == []
    do_remediate_finding(admin_a, late.pk, TODAY, "已修補")
    assert overdue_findings(admin_a) == []
    with pytest.raises(Conflict):
        do_remediate_finding(admin_a, late.pk, TODAY)
    assert Finding.objects.count() == 2


@pytest.mark.django_db
def test_pages_api_and_tiles(client_for, api_client_for, admin_a, admin_b, agency_a, imported):
    page = client_for(admin_a).get("/security/systems/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<span class="tile-value" id="backup-tested">1</span>' in html
    assert '<span id="backup-total">3</span>' in html
    platform = CoreSystem.objects.get(name="點數平台")
    assert f'<tr data-system="{platform.pk}"><td><a' in html  # in the warranty alert list
    assert client_for(admin_b).get(f"/security/systems/{platform.pk}/").status_code == 404
    detail = client_for(admin_a).get(f"/security/systems/{platform.pk}/")
    assert detail.status_code == 200 and 'id="warranty-alert"' in detail.content.decode()
    response = client_for(admin_a).post(f"/security/systems/{platform.pk}/", {
        "action": "test", "test-kind": "red_blue", "test-title": "紅藍隊演練", "test-conducted_by": "",
        "test-performed_on": TODAY.isoformat()})
    assert response.status_code == 302
    assert platform.tests.get().kind == "red_blue"

    api = api_client_for(admin_a)
    assert api.get("/api/security/backup-coverage/").json() == {"tested": 1, "offsite": 2, "total": 3}
    systems = api.get("/api/security/systems/").json()
    items = systems["results"] if isinstance(systems, dict) else systems
    by_name = {s["name"]: s for s in items}
    assert by_name["官網"]["tested_backup"] is True
    assert by_name["點數平台"]["warranty_alert"].startswith("software warranty expired 2022-12-31")
    assert api_client_for(admin_b).get("/api/security/backup-coverage/").json()["total"] == 0

    tiles = {tile.key: value for tile, value in tiles_for(admin_a)}
    assert (tiles["security.backup"].value, tiles["security.backup"].unit) == (1, "/ 3")
    assert tiles["security.warranty"].value == 1
    empty = {tile.key: value for tile, value in tiles_for(admin_b)}
    assert empty["security.backup"].value is None and empty["security.warranty"].value is None


@pytest.mark.django_db
def test_upload_form_imports_and_lists_rejected_lines(client_for, admin_a, agency_a, auditor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("systems.csv", SYSTEMS.encode("utf-8"), content_type="text/csv")
    response = client_for(admin_a).post("/security/systems/", {"kind": "systems", "agency": agency_a.pk,
                                                               "file": upload})
    assert response.status_code == 200
    assert 'id="import-problems"' in response.content.decode()
    assert CoreSystem.objects.filter(agency=agency_a).count() == 5
    assert client_for(auditor).post("/security/systems/", {"kind": "systems"}).status_code == 403


@pytest.mark.django_db
def test_api_writes_go_through_the_services(api_client_for, admin_a, admin_b, auditor, agency_a, imported):
    api = api_client_for(admin_a)
    docs = CoreSystem.objects.get(name="公文系統")
    answer = api.post(f"/api/security/systems/{docs.pk}/drill/", {"performed_on": TODAY.isoformat(),
                                                                   "result": "passed", "rto_achieved_hours": 6},
                      format="json")
    assert answer.status_code == 200 and answer.json()["tested_backup"] is True
    platform = CoreSystem.objects.get(name="點數平台")
    refused = api.post(f"/api/security/systems/{platform.pk}/drill/", {"performed_on": TODAY.isoformat(),
                                                                        "result": "passed"}, format="json")
    assert refused.status_code == 400 and refused["Content-Type"].startswith("application/problem+json")
    # Systems are edited (tests/test_api_systems_security.py) and retired, never deleted.
    assert api.delete(f"/api/security/systems/{platform.pk}/").status_code == 405
    assert api.post(f"/api/security/systems/{platform.pk}/patch/", {"patched_on": TODAY.isoformat()},
                    format="json").json()["warranty_alert"] is None
    test = api.post("/api/security/tests/", {"agency": agency_a.pk, "kind": "pentest", "title": "滲透測試",
                                             "performed_on": (TODAY - dt.timedelta(days=30)).isoformat(),
                                             "system": platform.pk}, format="json")
    assert test.status_code == 201
    finding = api.post(f"/api/security/tests/{test.json()['id']}/findings/", {
        "title": "弱密碼", "severity": "high", "due_date": (TODAY - dt.timedelta(days=1)).isoformat()}, format="json")
    assert finding.status_code == 201 and finding.json()["overdue"] is True
    assert [f["id"] for f in api.get("/api/security/findings/?overdue=true").json()["results"]] == [
        finding.json()["id"]]
    assert api_client_for(auditor).post(f"/api/security/findings/{finding.json()['id']}/remediate/", {
        "remediated_on": TODAY.isoformat()}, format="json").status_code == 403
    assert api_client_for(admin_b).post(f"/api/security/findings/{finding.json()['id']}/remediate/", {
        "remediated_on": TODAY.isoformat()}, format="json").status_code == 404
    done = api.post(f"/api/security/findings/{finding.json()['id']}/remediate/", {"remediated_on": TODAY.isoformat()},
                    format="json")
    assert done.status_code == 200 and done.json()["overdue"] is False
