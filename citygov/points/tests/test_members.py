"""Member services: national ID checksum, only its keyed hash stored and never logged, card numbers unique."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeAction, ChangeLog
from citygov.points.models import Member, hash_national_id
from citygov.points.services.members import (
    MemberInput,
    do_register_member,
    do_update_member,
    find_member_by_national_id,
    is_valid_national_id,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (the default language is zh-Hant)."""
    with translation.override("en"):
        yield


def all_log_text() -> str:
    return json.dumps([[row.before, row.after, row.note, row.object_repr] for row in ChangeLog.objects.all()],
                      ensure_ascii=False)


# --- the checksum (pure function, no database needed) -------------------------------------------

@pytest.mark.parametrize("national_id", [
    # A=10 → 1×1 + 0×9; 1,2,3,4,5,6,7,8 × 8..1 = 120; check 9×1 → 1 + 120 + 9 = 130
    "A123456789",
    # F=15 → 1×1 + 5×9 = 46; + 120 + 4 = 170
    "F123456784",
    "a123456789",  # case is folded
    "Ａ１２３４５６７８９",  # and width
    # resident certificate, old form: second letter A=10 counts 0: 1 + 0 + 0×8 + (7+12+15+16+15+12+7) + 5 = 90
    "AA12345675",
    # C=12 counts 2: 1 + 0 + 2×8 + 0 + 3 = 20
    "AC00000003",
    # resident certificate, 2021 form: 1 + 0 + 8×8 + 1×1 (9th digit) + 4 = 70
    "A800000014",
    "A900000016",
])
def test_valid_national_ids(national_id):
    assert is_valid_national_id(national_id) is True


@pytest.mark.parametrize("national_id", [
    "A123456788",  # wrong check digit
    "A323456789",  # second digit must be 1, 2, 8 or 9 (or A-D)
    "A023456789",
    "AE12345675",  # second letter beyond D
    "1123456789",  # must start with a letter
    "A12345678",  # too short
    "A1234567890",  # too long
    "",
    "A12345678X",
])
def test_invalid_national_ids(national_id):
    assert is_valid_national_id(national_id) is False


# --- register -----------------------------------------------------------------------------------

def test_register_stores_the_hash_never_the_id(operator):
    member = do_register_member(operator, MemberInput(card_number="tyc 0000 0001",
                                                      national_id="a123456789", name="王小明", consent=True))
    member.refresh_from_db()
    assert member.card_number == "TYC00000001"
    assert member.national_id_hash == hash_national_id("A123456789")
    stored = json.dumps(list(Member.objects.values()), default=str)
    assert "A123456789" not in stored.upper()
    assert member.consent is True
    assert member.consent_at is not None


def test_the_id_never_reaches_the_change_log(operator):
    member = do_register_member(operator, MemberInput(card_number="TYC00000002", national_id="F123456784"))
    do_update_member(operator, member.pk, {"national_id": "A123456789"})
    rows = list(ChangeLog.objects.filter(object_type="points.member").order_by("id"))
    assert [row.action for row in rows] == [ChangeAction.CREATE, ChangeAction.UPDATE]
    assert rows[0].after["national_id_hash"] == "[redacted]"
    assert rows[1].note == "national ID changed"
    text = all_log_text()
    for secret in ("F123456784", "A123456789", hash_national_id("F123456784"), hash_national_id("A123456789")):
        assert secret not in text


def test_the_input_repr_hides_the_id():
    assert "A123456789" not in repr(MemberInput(card_number="TYC00000003", national_id="A123456789"))


def test_a_bad_national_id_is_refused_without_echoing_it(operator):
    with pytest.raises(InvalidInput) as caught:
        do_register_member(operator, MemberInput(card_number="TYC00000004", national_id="A123456788"))
    assert caught.value.fields == {"national_id": ["Not a valid national ID or resident certificate number."]}
    assert "A123456788" not in str(caught.value) + json.dumps(caught.value.fields)
    assert Member.objects.count() == 0
    assert ChangeLog.objects.count() == 0


@pytest.mark.parametrize("card_number", ["", "1234567", "x" * 33, "TYC-0001-0001", "桃園卡00000001"])
def test_card_number_shape(operator, card_number):
    with pytest.raises(InvalidInput) as caught:
        do_register_member(operator, MemberInput(card_number=card_number))
    assert caught.value.fields == {"card_number": ["A card number has 8 to 32 letters or digits."]}
    assert Member.objects.count() == 0


def test_national_id_is_optional(operator):
    member = do_register_member(operator, MemberInput(card_number="12345678"))
    assert (member.national_id_hash, member.consent, member.consent_at) == ("", False, None)


def test_duplicate_card_is_refused(operator, member_factory):
    member_factory("TYC00000005", name="原持卡人")
    with pytest.raises(Conflict) as caught:
        do_register_member(operator, MemberInput(card_number="tyc00000005", name="他人"))
    assert caught.value.code == "duplicate_card_number"
    assert list(Member.objects.values_list("name", flat=True)) == ["原持卡人"]
    assert ChangeLog.objects.count() == 0


def test_duplicate_national_id_is_refused(operator, member_factory):
    member_factory("TYC00000006", national_id="A123456789")
    with pytest.raises(Conflict) as caught:
        do_register_member(operator, MemberInput(card_number="TYC00000007", national_id="A123456789"))
    assert caught.value.code == "duplicate_national_id"
    assert Member.objects.count() == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("phone", "call me", "Not a valid phone number."),
    ("email", "not-an-address", "Not a valid e-mail address."),
])
def test_contact_details_are_checked(operator, field, value, message):
    with pytest.raises(InvalidInput) as caught:
        do_register_member(operator, MemberInput(card_number="TYC00000008", **{field: value}))
    assert caught.value.fields == {field: [message]}
    assert Member.objects.count() == 0


def test_agency_admin_and_auditor_may_not_register(admin_a, auditor):
    for user in (admin_a, auditor):
        with pytest.raises(Forbidden):
            do_register_member(user, MemberInput(card_number="TYC00000009"))
    assert Member.objects.count() == 0
    assert ChangeLog.objects.count() == 0


# --- update and find ----------------------------------------------------------------------------

def test_consent_is_stamped_and_withdrawn(operator, member_factory):
    member = member_factory("TYC00000010")
    do_update_member(operator, member.pk, {"consent": True})
    member.refresh_from_db()
    given = member.consent_at
    assert member.consent is True and given is not None
    do_update_member(operator, member.pk, {"consent": True, "phone": "0912-345-678"})
    member.refresh_from_db()
    assert (member.consent_at, member.phone) == (given, "0912-345-678")
    do_update_member(operator, member.pk, {"consent": False})
    member.refresh_from_db()
    assert (member.consent, member.consent_at) == (False, None)


def test_update_to_another_members_card_is_refused(operator, member_factory):
    member_factory("TYC00000011")
    member = member_factory("TYC00000012")
    with pytest.raises(Conflict):
        do_update_member(operator, member.pk, {"card_number": "TYC00000011"})
    member.refresh_from_db()
    assert member.card_number == "TYC00000012"
    assert ChangeLog.objects.count() == 0


def test_update_refuses_unknown_fields_and_members(operator, member_factory):
    member = member_factory("TYC00000013")
    with pytest.raises(InvalidInput) as caught:
        do_update_member(operator, member.pk, {"national_id_hash": "0" * 64})
    assert caught.value.code == "not_editable"
    with pytest.raises(NotFound):
        do_update_member(operator, 999_999, {"name": "x"})
    member.refresh_from_db()
    assert member.national_id_hash == ""


def test_removing_the_national_id(operator, member_factory):
    member = member_factory("TYC00000014", national_id="A123456789")
    do_update_member(operator, member.pk, {"national_id": ""})
    member.refresh_from_db()
    assert member.national_id_hash == ""
    assert find_member_by_national_id("A123456789") is None


def test_find_member_by_national_id(member_factory):
    member = member_factory("TYC00000015", national_id="A123456789")
    member_factory("TYC00000016", national_id="F123456784")
    assert find_member_by_national_id("a123456789 ") == member
    assert find_member_by_national_id("AA12345675") is None
    assert find_member_by_national_id("A123456788") is None  # invalid: not even looked up
