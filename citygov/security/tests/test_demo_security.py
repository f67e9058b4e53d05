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
