"""The change log: what a service write records, and that rows never change."""

from __future__ import annotations

import pytest

from citygov.agencies.services import do_update_agency
from citygov.core.changelog import record_change, snapshot
from citygov.core.models import ChangeAction, ChangeLog


def test_update_records_only_changed_fields(city_admin, agency_a):
    do_update_agency(city_admin, agency_a.pk, {"name_en": "Bureau A", "security_level": "B"})
    row = ChangeLog.objects.get(action=ChangeAction.UPDATE, object_type="agencies.agency")
    assert row.actor == city_admin
    assert row.actor_name == "city-admin"
    assert row.object_id == str(agency_a.pk)
    assert row.agency_id == agency_a.pk
    assert row.before == {"name_en": "Agency-A", "security_level": ""}
    assert row.after == {"name_en": "Bureau A", "security_level": "B"}


def test_rows_cannot_be_updated(city_admin, agency_a):
    row = record_change(actor=city_admin, action=ChangeAction.ACTION, obj=agency_a, note="x")
    row.note = "changed"
    with pytest.raises(PermissionError):
        row.save()
    assert ChangeLog.objects.get(pk=row.pk).note == "x"


def test_rows_cannot_be_deleted(city_admin, agency_a):
    row = record_change(actor=city_admin, action=ChangeAction.ACTION, obj=agency_a)
    with pytest.raises(PermissionError):
        row.delete()
    assert ChangeLog.objects.filter(pk=row.pk).count() == 1


def test_snapshot_redacts_passwords(city_admin):
    assert snapshot(city_admin)["password"] == "[redacted]"


def test_system_actor_is_named_system(agency_a):
    row = record_change(actor=None, action=ChangeAction.CREATE, obj=agency_a)
    assert row.actor is None
    assert row.actor_name == "system"


def test_changelog_scoping(admin_a, agency_a, agency_b, city_admin):
    record_change(actor=city_admin, action=ChangeAction.ACTION, obj=agency_a)
    record_change(actor=city_admin, action=ChangeAction.ACTION, obj=agency_b)
    record_change(actor=city_admin, action=ChangeAction.ACTION, obj=None, object_repr="city-wide")
    assert list(ChangeLog.objects.for_agency(admin_a).values_list("agency_id", flat=True)) == [agency_a.pk]
    assert ChangeLog.objects.for_agency(city_admin).count() == 3
