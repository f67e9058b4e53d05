import pytest
from django.utils import translation

from citygov.core.errors import Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.security.models import Device, InstalledSoftware, ManualMapping
from citygov.security.queries import agency_postures, identification_totals, unidentified_names
from citygov.security.services import do_import_devices, do_import_inventory, do_map_software

INVENTORY = ("hostname,display_name,display_version,publisher\n"
             "PC-1,WinRAR 6.22 (64-bit),6.22.0,win.rar GmbH\n"
             "PC-1,電子公文製作系統,5.2,凌網科技\n"
             "PC-2,7-Zip 24.08 (x64),24.08,Igor Pavlov\n"
             ",No host,1,\n"
             "PC-2,ACME Viewer Pro,2.1,ACME\n")


def write(tmp_path, text, name="inv.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.django_db
def test_import_identifies_matches_and_is_idempotent(tmp_path, admin_a, agency_a):
    path = write(tmp_path, INVENTORY)
    with translation.override("en"):
        report = do_import_inventory(admin_a, agency_a.pk, path)
        # Messages are translated when shown (str() in the active language).
        assert [(p.line, str(p.message)) for p in report.problems] == [(5, "host name and display name are required")]
    assert (report.rows, report.created, report.updated, report.unchanged, report.devices_created) == (5, 4, 0, 0, 2)
    winrar = InstalledSoftware.objects.get(display_name="WinRAR 6.22 (64-bit)")
    assert (winrar.status, winrar.cpe, winrar.worst_severity) == (
        "identified", "cpe:2.3:a:rarlab:winrar:6.22:*:*:*:*:*:*:*", "high")
    assert "CVE-2023-38831" in winrar.cve_ids
    assert InstalledSoftware.objects.get(display_name="電子公文製作系統").status == "unidentified"
    logged = ChangeLog.objects.filter(agency_id=agency_a.pk).count()
    again = do_import_inventory(admin_a, agency_a.pk, path)
    assert (again.created, again.updated, again.unchanged, again.devices_created) == (0, 0, 4, 0)
    assert InstalledSoftware.objects.count() == 4
    assert ChangeLog.objects.filter(agency_id=agency_a.pk).count() == logged + 1


@pytest.mark.django_db
def test_bad_file_writes_nothing(tmp_path, admin_a, agency_a):
    path = write(tmp_path, "display_name,display_version\nWinRAR,7\n")
    with pytest.raises(InvalidInput) as caught:
        do_import_inventory(admin_a, agency_a.pk, path)
    assert caught.value.code == "bad_header"
    assert "no hostname column" in caught.value.message
    assert Device.objects.count() == 0
    assert InstalledSoftware.objects.count() == 0


@pytest.mark.django_db
def test_agency_admin_cannot_import_for_another_agency(tmp_path, admin_a, agency_b, auditor):
    path = write(tmp_path, INVENTORY)
    with pytest.raises(NotFound):
        do_import_inventory(admin_a, agency_b.pk, path)
    with pytest.raises(Forbidden):
        do_import_inventory(auditor, agency_b.pk, path)
    assert Device.objects.count() == 0


@pytest.mark.django_db
def test_device_import_and_coverage(tmp_path, admin_a, agency_a):
    path = write(tmp_path, "hostname,device_type,os,vans_enrolled,edr_installed,last_seen\n"
                           "PC-1,pc,Windows 11,yes,no,2025-11-01\nPC-2,laptop,Windows 11,是,是,\n"
                           "PC-3,toaster,?,yes,no,\nPC-4,pc,Windows 10,maybe,no,\n", "devices.csv")
    report = do_import_devices(admin_a, agency_a.pk, path)
    assert (report.created, report.updated, [p.line for p in report.problems]) == (2, 0, [4, 5])
    assert do_import_devices(admin_a, agency_a.pk, path).unchanged == 2
    [posture] = agency_postures(admin_a)
    assert (posture.devices, posture.vans, posture.edr, posture.identification_rate) == (2, 2, 1, None)


@pytest.mark.django_db
def test_reads_never_leak_across_agencies(tmp_path, admin_a, admin_b, agency_a, agency_b, city_admin):
    do_import_inventory(admin_a, agency_a.pk, write(tmp_path, INVENTORY))
    do_import_inventory(admin_b, agency_b.pk, write(tmp_path, "hostname,display_name\nB-1,Google Chrome\n", "b.csv"))
    assert identification_totals(admin_a) == (2, 4)
    assert identification_totals(admin_b) == (1, 1)
    assert identification_totals(city_admin) == (3, 5)
    assert [p.agency_id for p in agency_postures(admin_b)] == [agency_b.pk]
    assert unidentified_names(admin_b, agency_a.pk) == []
    assert InstalledSoftware.objects.for_agency(admin_b).filter(agency=agency_a).count() == 0


@pytest.mark.django_db
def test_manual_mapping_is_learned_once_for_the_whole_city(tmp_path, make_user, agency_a, agency_b, admin_a,
                                                           admin_b):
    analyst = make_user("analyst", Role.SECURITY_ANALYST, [agency_a])
    do_import_inventory(admin_a, agency_a.pk, write(tmp_path, INVENTORY))
    do_import_inventory(admin_b, agency_b.pk, write(tmp_path, "hostname,display_name,display_version\n"
                                                             "B-1,ACME Viewer Pro (x64),2.1\n", "b.csv"))
    assert do_map_software(analyst, "ACME Viewer Pro", "acme", "viewer") == 2
    assert ManualMapping.objects.get().normalized_name == "acme viewer pro"
    rows = InstalledSoftware.objects.filter(vendor="acme").order_by("agency_id")
    assert [(r.status, r.rule, r.cpe) for r in rows] == [
        ("identified", "manual", "cpe:2.3:a:acme:viewer:2.1:*:*:*:*:*:*:*"),
        ("identified", "manual", "cpe:2.3:a:acme:viewer:2.1:*:*:*:*:*:*:*")]
    later = do_import_inventory(admin_a, agency_a.pk, write(tmp_path, "hostname,display_name,display_version\n"
                                                                    "PC-9,ACME Viewer Pro,3.0\n", "c.csv"))
    assert later.created == 1
    assert InstalledSoftware.objects.get(device__hostname="PC-9").cpe == "cpe:2.3:a:acme:viewer:3.0:*:*:*:*:*:*:*"
    assert ChangeLog.objects.filter(object_repr__contains="acme viewer pro").count() == 1


@pytest.mark.django_db
def test_mapping_validation_and_permission(auditor, admin_a):
    with pytest.raises(Forbidden):
        do_map_software(auditor, "ACME", "acme", "viewer")
    with pytest.raises(InvalidInput) as caught:
        do_map_software(admin_a, "ACME", "Acme Corp", "vie:wer")
    assert sorted(caught.value.fields) == ["product", "vendor"]
    assert ManualMapping.objects.count() == 0
