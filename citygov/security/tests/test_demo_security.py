import pytest

from citygov.core.services import do_ensure_admin
from citygov.security.demo import seed_security_demo
from citygov.security.models import Device, InstalledSoftware


@pytest.mark.django_db
def test_demo_seeds_agencies_idempotently(reference_data):
    admin, _ = do_ensure_admin()
    first = seed_security_demo(admin)
    assert first.agencies == 6
    assert Device.objects.count() == first.devices == 68
    assert InstalledSoftware.objects.filter(status="unidentified").exists()
    assert InstalledSoftware.objects.filter(worst_severity="critical").exists()
    again = seed_security_demo(admin)
    assert (again.agencies, Device.objects.count()) == (0, 68)


@pytest.mark.django_db
def test_demo_systems_tell_the_audit_story(reference_data):
    from citygov.security.models import CoreSystem, Finding
    from citygov.security.queries import backup_coverage, critical_components, overdue_findings, system_rows

    admin, _ = do_ensure_admin()
    first = seed_security_demo(admin)
    assert first.systems == CoreSystem.objects.count() == 7
    rows = system_rows(admin)
    coverage = backup_coverage(rows)
    assert (coverage.tested, coverage.offsite, coverage.total) == (1, 3, 6)
    assert [r.system.name for r in rows if r.tested] == ["桃園市政府全球資訊網"]
    assert sorted(r.system.name for r in rows if r.warranty) == ["地政整合系統", "市民卡點數平台"]
    assert {c.system.name for c in critical_components(admin)} == {"市民卡點數平台"}
    assert len(overdue_findings(admin)) == 2
    assert seed_security_demo(admin).systems == 0
    assert Finding.objects.count() == 3
