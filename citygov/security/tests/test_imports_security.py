"""Imports of penetration tests / red-blue exercises, device lists and JSON inventories, from the service,
the pages, the API and the command line."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import translation

from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.security.models import CoreSystem, Device, Finding, InstalledSoftware, SecurityTest
from citygov.security.queries import agency_charts, overdue_findings
from citygov.security.services import do_import_devices, do_import_inventory, do_import_security_tests

pytestmark = pytest.mark.django_db
TESTS = (
    "kind,title,performed_on,conducted_by,system,finding,severity,due_date,remediated_on,note\n"
    "pentest,2024 官網滲透測試,2024-03-01,資安院,官網,SQL injection on /search,high,2024-04-30,2024-04-10,fixed\n"
    "滲透測試,2024 官網滲透測試,2024-03-01,,官網,Outdated jQuery,低,2024-06-30,,\n"
    "red_blue,113 年攻防演練,113/09/15,紅隊公司,,Phishing mail opened by 3 staff,medium,113/10/31,,\n"
    "red_blue,114 年攻防演練,2025-01-10,紅隊公司,,,,,,\n"
    "tabletop,桌上演練,2024-01-01,,,,,,,\n"
    "pentest,2024 點數平台測試,2024-05-01,,沒有的系統,XSS,high,2024-06-01,,\n"
    "pentest,2024 點數平台測試,2024-05-01,,,XSS,severe,2024-06-01,,\n"
    "pentest,2024 點數平台測試,2024-05-01,,,XSS,high,2024-04-01,,\n"
    "pentest,2024 點數平台測試,2099-05-01,,,XSS,high,2099-06-01,,\n"
    "pentest,2024 點數平台測試,2024-05-01,,,,high,,,\n"
)
DEVICES = ("hostname,type,os,owner_agency,vans,edr,last_seen\n"
           "PC-1,桌機,Windows 11,,是,否,2025-11-01 08:30:00\n"
           "SRV-1,伺服器,Debian 12,agency-a,yes,yes,114/10/31\n"
           "B-1,筆電,Windows 11,乙局,yes,no,2025-10-01T09:00:00Z\n"
           "PC-2,toaster,,,yes,no,\n"
           "PC-3,pc,,agency-zz,yes,no,\n"
           "PC-4,pc,,,maybe,no,\n"
           "PC-5,pc,,,yes,no,yesterday\n")
PROGRAMS = ('[{"name":"VLC media player","version":"3.0.21","publisher":"VideoLAN"},\n'
            ' {"name":"apache2","version":"2.4.49-1","publisher":"Debian","arch":"amd64"},\n'
            ' {"name":"電子公文製作系統","version":"5.2","publisher":"凌網科技"}]\n')


def write(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def website(admin_a, agency_a):
    from citygov.security.services import SystemInput, do_create_system

    return do_create_system(admin_a, agency_a.pk, SystemInput(name="官網", backup_method="cloud"))


def test_tests_import_rows_errors_and_idempotence(tmp_path, admin_a, agency_a, website):
    path = write(tmp_path, TESTS, "tests.csv")
    with translation.override("en"):
        report = do_import_security_tests(admin_a, agency_a.pk, path)
        problems = [(p.line, str(p.message)) for p in report.problems]
    assert (report.rows, report.created, report.updated, report.unchanged) == (10, 4, 0, 0)
    assert problems == [
        (6, "桌上演練: kind must be pentest or red_blue (滲透測試 / 紅藍隊演練), got tabletop"),
        (7, "2024 點數平台測試: no system named 沒有的系統 in this agency"),
        (8, "2024 點數平台測試: severity must be low, medium, high or critical, got severe"),
        (9, "2024 點數平台測試: due_date cannot be before the test"),
        (10, "2024 點數平台測試: performed_on cannot be in the future"),
        (11, "2024 點數平台測試: severity, due_date or remediated_on given without a finding")]
    # The same problems in Chinese, from the same report (the messages are translated when shown).
    with translation.override("zh-hant"):
        assert str(report.problems[3].message) == "2024 點數平台測試：改善期限不可早於測試日期"
    pentest = SecurityTest.objects.get(kind="pentest")
    assert (pentest.system_id, pentest.conducted_by, pentest.performed_on) == (website.pk, "資安院", dt.date(2024, 3, 1))
    assert sorted(pentest.findings.values_list("title", "severity", "remediated_on")) == [
        ("Outdated jQuery", "low", None), ("SQL injection on /search", "high", dt.date(2024, 4, 10))]
    exercise = SecurityTest.objects.get(title="113 年攻防演練")
    assert (exercise.kind, exercise.performed_on) == ("red_blue", dt.date(2024, 9, 15))
    assert SecurityTest.objects.filter(title="114 年攻防演練", findings__isnull=True).count() == 1
    assert [f.title for f in overdue_findings(admin_a)] == ["Outdated jQuery", "Phishing mail opened by 3 staff"]
    logged = ChangeLog.objects.count()
    assert logged == 3 + 3 + 1  # three tests, three findings, the system
    again = do_import_security_tests(admin_a, agency_a.pk, path)
    assert (again.created, again.updated, again.unchanged, len(again.problems)) == (0, 0, 4, 6)
    assert ChangeLog.objects.count() == logged
    # Remediation recorded in the file later updates the finding, once.
    write(tmp_path, TESTS.replace("Outdated jQuery,低,2024-06-30,,", "Outdated jQuery,低,2024-06-30,2024-06-01,"),
          "tests.csv")
    assert do_import_security_tests(admin_a, agency_a.pk, path).updated == 1
    assert Finding.objects.get(title="Outdated jQuery").remediated_on == dt.date(2024, 6, 1)


def test_tests_import_permissions_and_bad_files(tmp_path, admin_b, auditor, admin_a, agency_a, website):
    path = write(tmp_path, TESTS, "tests.csv")
    with pytest.raises(Forbidden):
        do_import_security_tests(auditor, agency_a.pk, path)
    with pytest.raises(Exception) as caught:
        do_import_security_tests(admin_b, agency_a.pk, path)
    assert getattr(caught.value, "status", None) == 404
    with pytest.raises(InvalidInput, match="no performed_on column"):
        do_import_security_tests(admin_a, agency_a.pk, write(tmp_path, "kind,title\npentest,x\n", "bad.csv"))
    assert SecurityTest.objects.count() == 0


def test_device_import_owner_agency_words_and_dates(tmp_path, admin_a, city_admin, agency_a, agency_b):
    path = write(tmp_path, DEVICES, "devices.csv")
    with translation.override("en"):
        report = do_import_devices(admin_a, agency_a.pk, path)
        problems = [(p.line, str(p.message)) for p in report.problems]
    assert problems == [
        (4, "B-1: owner agency 乙局 is unknown or not one of yours"),
        (5, "PC-2: unknown device type toaster: use pc, laptop, server or other"),
        (6, "PC-3: owner agency agency-zz is unknown or not one of yours"),
        (7, "PC-4: vans_enrolled must be yes or no (got maybe)"),
        (8, "PC-5: last_seen: not a date (write YYYY-MM-DD or 114/12/31), got yesterday")]
    assert sorted(Device.objects.values_list("hostname", "device_type", "vans_enrolled", "edr_installed",
                                             "last_seen")) == [
        ("PC-1", "pc", True, False, dt.date(2025, 11, 1)), ("SRV-1", "server", True, True, dt.date(2025, 10, 31))]
    # A city administrator imports the whole city's list at once: each row goes to its owner agency.
    report = do_import_devices(city_admin, None, path)
    assert (report.created, report.unchanged) == (1, 1)
    assert [p.line for p in report.problems] == [2, 5, 6, 7, 8]  # PC-1 names no owner and none is chosen
    assert Device.objects.get(hostname="B-1").agency_id == agency_b.pk
    assert do_import_devices(admin_a, agency_a.pk, path).unchanged == 2


def test_inventory_json_with_a_default_host(tmp_path, admin_a, agency_a):
    path = write(tmp_path, PROGRAMS, "programs.json")
    with pytest.raises(InvalidInput, match="no hostname field"):
        do_import_inventory(admin_a, agency_a.pk, path)
    report = do_import_inventory(admin_a, agency_a.pk, path, hostname="PC-9")
    assert (report.rows, report.created, report.devices_created) == (3, 3, 1)
    assert dict(InstalledSoftware.objects.values_list("display_name", "status")) == {
        "VLC media player": "identified", "apache2": "identified", "電子公文製作系統": "unidentified"}
    assert do_import_inventory(admin_a, agency_a.pk, path, hostname="PC-9").unchanged == 3
    charts = agency_charts(admin_a, agency_a.pk)
    assert (charts.identified, charts.unidentified, charts.devices, charts.devices_by_severity["critical"]) == (
        2, 1, 1, 1)


def test_commands_import_devices_tests_and_osquery_json(tmp_path, admin_a, agency_a, website):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("security", "import-tests", str(write(tmp_path, TESTS, "tests.csv")), "--agency",
                     agency_a.code, "--user", admin_a.username, stdout=out, stderr=err)
    assert caught.value.returncode == 1
    assert "10 rows — created 4, updated 0, unchanged 0, rejected 6" in out.getvalue()
    # Each rejected row by file and line, in English and Chinese.
    assert (f"{tmp_path / 'tests.csv'}:9: 2024 點數平台測試: due_date cannot be before the test "
            "(2024 點數平台測試：改善期限不可早於測試日期)") in err.getvalue().splitlines()
    out, err = StringIO(), StringIO()
    good = write(tmp_path, "hostname,device_type,vans_enrolled,edr_installed\nPC-1,pc,yes,no\n", "d.csv")
    call_command("security", "import-devices", str(good), "--agency", agency_a.code, "--user", admin_a.username,
                 stdout=out, stderr=err)
    assert out.getvalue().strip() == f"{good}: 1 rows — created 1, updated 0, unchanged 0, rejected 0"
    out = StringIO()
    call_command("security", "import-inventory", str(write(tmp_path, PROGRAMS, "p.json")), "--agency",
                 agency_a.code, "--user", admin_a.username, "--hostname", "PC-1", stdout=out, stderr=StringIO())
    assert "3 rows — created 3, updated 0, unchanged 0, devices created 0, rejected 0" in out.getvalue()
    with pytest.raises(CommandError) as caught:
        call_command("security", "import-devices", str(good), "--user", "nobody", stdout=StringIO())
    assert caught.value.returncode == 2


def test_pages_import_tests_devices_and_osquery_json(client_for, admin_a, agency_a, website):
    client = client_for(admin_a)
    response = client.post("/security/systems/", {"kind": "tests", "agency": agency_a.pk, "file": SimpleUploadedFile(
        "tests.csv", TESTS.encode())}, HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert response.status_code == 200
    html = response.content.decode()
    problems = html.split('id="import-problems">')[1].split("</ul>")[0]
    assert "2024 點數平台測試：改善期限不可早於測試日期" in problems
    assert SecurityTest.objects.count() == 3
    page = f"/security/agencies/{agency_a.pk}/"
    response = client.post(page, {"action": "import", "import-kind": "devices", "import-file": SimpleUploadedFile(
        "devices.csv", b"hostname,vans,edr\nPC-1,yes,no\nPC-2,no,no\n")})
    assert response.status_code == 302
    response = client.post(page, {"action": "import", "import-kind": "inventory", "import-hostname": "PC-1",
                                  "import-file": SimpleUploadedFile("programs.json", PROGRAMS.encode())})
    assert response.status_code == 302
    assert InstalledSoftware.objects.filter(device__hostname="PC-1").count() == 3
    html = client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The charts get their figures: 2 of 3 programs identified, VANS 1 of 2, one device with a critical CVE.
    series = {kind: json.loads(html.split(f'data-security-chart="{kind}" data-series="')[1].split('"')[0]
                               .replace("&quot;", '"')) for kind in ("identification", "coverage", "severity")}
    assert series["identification"] == {"labels": ["Identified", "Product only", "Not identified"], "values": [2, 0, 1]}
    assert series["coverage"] == {"labels": ["VANS", "EDR"], "yes": [1, 0], "no": [1, 2]}
    assert series["severity"]["values"] == [1, 0, 0, 0, 0, 1]
    assert 'src="/static/vendor/echarts.min.js"' in html


def test_agency_page_without_devices_and_read_only_import(client_for, auditor, admin_a, agency_a):
    html = client_for(admin_a).get(f"/security/agencies/{agency_a.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="no-devices"' in html and "data-security-chart" not in html
    response = client_for(auditor).post(f"/security/agencies/{agency_a.pk}/", {
        "action": "import", "import-kind": "devices", "import-file": SimpleUploadedFile("d.csv", b"hostname\nX\n")})
    assert response.status_code == 403
    assert Device.objects.count() == 0


def test_api_import_endpoint(api_client_for, admin_a, admin_b, auditor, agency_a, website):
    api = api_client_for(admin_a)
    api.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = api.post("/api/security/imports/inventory/", {
        "agency": agency_a.pk, "hostname": "SRV-1", "file": SimpleUploadedFile("debs.json", PROGRAMS.encode())},
        format="multipart")
    assert response.status_code == 200, response.content
    assert response.json() == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "devices_created": 1,
                               "problems": []}
    response = api.post("/api/security/imports/tests/", {
        "agency": agency_a.pk, "file": SimpleUploadedFile("tests.csv", TESTS.encode())}, format="multipart")
    assert response.json()["problems"][0] == {
        "line": 6, "message": "桌上演練: kind must be pentest or red_blue (滲透測試 / 紅藍隊演練), got tabletop"}
    bad = api.post("/api/security/imports/devices/", {
        "agency": agency_a.pk, "file": SimpleUploadedFile("d.csv", b"name\nx\n")}, format="multipart")
    assert bad.status_code == 400 and "no hostname column" in bad.json()["detail"]
    assert api.post("/api/security/imports/nothing/", {"agency": agency_a.pk, "file": SimpleUploadedFile(
        "d.csv", b"hostname\nx\n")}, format="multipart").status_code == 404
    for user, code in ((admin_b, 404), (auditor, 403)):
        response = api_client_for(user).post("/api/security/imports/devices/", {
            "agency": agency_a.pk, "file": SimpleUploadedFile("d.csv", b"hostname\nX-1\n")}, format="multipart")
        assert response.status_code == code
    assert not Device.objects.filter(hostname="X-1").exists()
    assert CoreSystem.objects.count() == 1
