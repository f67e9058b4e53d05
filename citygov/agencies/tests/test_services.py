"""Agency services: reference loading (idempotent, errors by line), edits, memberships."""

from __future__ import annotations

import pytest

from citygov.agencies.models import Agency, District, Membership
from citygov.agencies.services import (
    do_add_membership,
    do_load_agencies,
    do_load_districts,
    do_load_reference_data,
    do_remove_membership,
)
from citygov.core.errors import Forbidden
from citygov.core.models import ChangeAction, ChangeLog

HEADER = "code,name_zh,name_en,parent_code,kind,district,security_level,note\n"


def test_reference_load_counts(db):
    reports = do_load_reference_data()
    assert (reports["districts"].created, reports["agencies"].created) == (13, 100)
    assert reports["agencies"].errors == []
    assert District.objects.count() == 13
    assert Agency.objects.count() == 100
    zhongli = District.objects.get(code="68000020")
    assert zhongli.name_zh == "中壢區"
    assert zhongli.name_en == "Zhongli District"
    assert 121.1 < zhongli.centroid_lon < 121.3 and 24.9 < zhongli.centroid_lat < 25.0
    assert Agency.objects.get(code="do-zhongli").district == zhongli
    assert Agency.objects.get(code="culture").parent.code == "tycg"


def test_reference_load_is_idempotent(db):
    do_load_reference_data()
    rows = ChangeLog.objects.count()
    reports = do_load_reference_data()
    assert (reports["districts"].created, reports["districts"].updated, reports["districts"].unchanged) == (0, 0, 13)
    assert (reports["agencies"].created, reports["agencies"].updated, reports["agencies"].unchanged) == (0, 0, 100)
    assert ChangeLog.objects.count() == rows


def test_reference_load_keeps_levels_set_by_administrators(db, city_admin):
    from citygov.agencies.services import do_update_agency

    do_load_reference_data()
    culture = Agency.objects.get(code="culture")
    do_update_agency(city_admin, culture.pk, {"security_level": "B"})
    do_load_reference_data()
    culture.refresh_from_db()
    assert culture.security_level == "B"


def test_bad_rows_are_reported_by_line_and_good_rows_loaded(db, tmp_path):
    do_load_districts()
    path = tmp_path / "agencies.csv"
    path.write_text(HEADER
                    + "top,頂層,Top,,government,,,\n"
                    + "bad-kind,壞,Bad,top,planet,,,\n"
                    + "bad-district,壞區,Bad,top,office,火星區,,\n"
                    + "bad-level,壞級,Bad,top,office,,Z,\n"
                    + "orphan,孤兒,Orphan,nowhere,office,,,\n"
                    + "child,子,Child,top,office,中壢區,B,\n", encoding="utf-8")
    report = do_load_agencies(path=path)
    assert report.created == 2
    assert report.errors == [
        "line 3: bad-kind: unknown kind 'planet'",
        "line 4: bad-district: unknown district '火星區'",
        "line 5: bad-level: security level 'Z' is not one of A-E",
        "line 6: orphan: unknown parent 'nowhere'",
    ]
    child = Agency.objects.get(code="child")
    assert (child.parent.code, child.district.name_zh, child.security_level) == ("top", "中壢區", "B")


def test_children_before_parents_still_load(db, tmp_path):
    path = tmp_path / "agencies.csv"
    path.write_text(HEADER + "kid,子,Kid,mum,office,,,\nmum,母,Mum,,government,,,\n", encoding="utf-8")
    report = do_load_agencies(path=path)
    assert (report.created, report.errors) == (2, [])
    assert Agency.objects.get(code="kid").parent.code == "mum"


def test_membership_add_and_remove_logged(admin_a, agency_a, make_user):
    user = make_user("new-user", agencies=[])
    do_add_membership(admin_a, user, agency_a)
    do_add_membership(admin_a, user, agency_a)  # idempotent
    assert Membership.objects.filter(user=user).count() == 1
    do_remove_membership(admin_a, user, agency_a)
    assert not Membership.objects.filter(user=user).exists()
    actions = list(ChangeLog.objects.filter(object_type="agencies.membership").order_by("id")
                   .values_list("action", flat=True))
    assert actions == [ChangeAction.CREATE, ChangeAction.DELETE]


def test_membership_in_other_agency_refused(admin_a, agency_b, make_user):
    user = make_user("new-user", agencies=[])
    with pytest.raises(Forbidden):
        do_add_membership(admin_a, user, agency_b)
    assert not Membership.objects.filter(user=user).exists()
