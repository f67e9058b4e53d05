"""User-account services: least privilege by role and agency."""

from __future__ import annotations

import pytest

from citygov.agencies.models import Membership
from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeAction, ChangeLog, User
from citygov.core.roles import Role
from citygov.core.services import UserInput, do_create_user, do_update_user


def test_agency_admin_creates_account_in_own_agency(admin_a, agency_a):
    user, password = do_create_user(admin_a, UserInput(username="steward-a", role=Role.DATA_STEWARD,
                                                       agency_ids=(agency_a.pk,)))
    assert user.check_password(password)
    assert list(Membership.objects.filter(user=user).values_list("agency_id", flat=True)) == [agency_a.pk]
    created = ChangeLog.objects.filter(action=ChangeAction.CREATE, actor=admin_a)
    assert sorted(created.values_list("object_type", flat=True)) == ["agencies.membership", "core.user"]
    assert password not in str(list(created.values_list("after", flat=True)))


def test_agency_admin_cannot_create_account_in_other_agency(admin_a, agency_b):
    with pytest.raises(Forbidden):
        do_create_user(admin_a, UserInput(username="x-b", role=Role.DATA_STEWARD, agency_ids=(agency_b.pk,)))
    assert not User.objects.filter(username="x-b").exists()
    assert ChangeLog.objects.count() == 0


def test_agency_admin_cannot_grant_city_wide_role(admin_a, agency_a):
    with pytest.raises(Forbidden):
        do_create_user(admin_a, UserInput(username="boss", role=Role.CITY_ADMIN, agency_ids=(agency_a.pk,)))
    assert not User.objects.filter(username="boss").exists()


def test_auditor_cannot_create_accounts(auditor, agency_a):
    with pytest.raises(Forbidden):
        do_create_user(auditor, UserInput(username="x", role=Role.DATA_STEWARD, agency_ids=(agency_a.pk,)))
    assert not User.objects.filter(username="x").exists()


def test_weak_password_is_refused(city_admin, agency_a):
    with pytest.raises(InvalidInput) as caught:
        do_create_user(city_admin, UserInput(username="weak", role=Role.DATA_STEWARD, agency_ids=(agency_a.pk,),
                                             password="12345678"))
    assert "password" in caught.value.fields
    assert not User.objects.filter(username="weak").exists()


def test_agency_admin_cannot_change_other_agency_user(admin_a, admin_b):
    from citygov.core.errors import NotFound

    with pytest.raises(NotFound):
        do_update_user(admin_a, admin_b.pk, {"display_name": "hijacked"})
    admin_b.refresh_from_db()
    assert admin_b.display_name == ""


def test_update_user_logs_before_and_after(city_admin, admin_a):
    do_update_user(city_admin, admin_a.pk, {"role": Role.SECURITY_ANALYST})
    row = ChangeLog.objects.get(action=ChangeAction.UPDATE)
    assert row.before == {"role": "agency_admin"}
    assert row.after == {"role": "security_analyst"}


def test_visible_agencies_include_descendants(make_agency, make_user):
    parent = make_agency("parent")
    child = make_agency("child", parent=parent)
    grandchild = make_agency("grandchild", parent=child)
    other = make_agency("other")
    user = make_user("u", Role.DATA_STEWARD, [parent])
    assert user.visible_agency_ids() == frozenset({parent.pk, child.pk, grandchild.pk})
    assert other.pk not in user.visible_agency_ids()


def test_city_wide_roles_see_everything(city_admin, auditor):
    assert city_admin.visible_agency_ids() is None
    assert auditor.visible_agency_ids() is None
    assert auditor.is_read_only
    assert not city_admin.is_read_only
