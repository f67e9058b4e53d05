"""Merchant services: validation, district from the address, lifecycle (R9), points switch, terminals, roles."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import translation

from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeAction, ChangeLog
from citygov.core.roles import Role
from citygov.points.models import Hold, HoldStatus, Merchant, MerchantStatus, Terminal
from citygov.points.services import ledger
from citygov.points.services.merchants import (
    MerchantInput,
    do_approve_merchant,
    do_close_merchant,
    do_create_merchant,
    do_create_terminal,
    do_deactivate_terminal,
    do_mark_not_renewed,
    do_reinstate_merchant,
    do_set_points_enabled,
    do_suspend_merchant,
    do_update_merchant,
    list_merchants,
)
from citygov.points.tests.support import balance, now_plus

pytestmark = pytest.mark.django_db
S = MerchantStatus


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (the default language is zh-Hant)."""
    with translation.override("en"):
        yield


def merchant_log() -> list[tuple[str, str, dict | None, dict | None, str]]:
    return [(row.action, row.object_id, row.before, row.after, row.note)
            for row in ChangeLog.objects.filter(object_type="points.merchant").order_by("id")]


ZHONGLI = MerchantInput(tax_id="04595257", name="中壢好食堂", category="餐飲", address="桃園市中壢區中正路100號",
                        bank_code="0081234", bank_account="1234-5678-9012", contract_start=dt.date(2024, 1, 1),
                        contract_end=dt.date(2026, 12, 31), lon=121.2249, lat=24.9537)


# --- create and validate ------------------------------------------------------------------------

def test_create_merchant_starts_applied_with_the_district_of_its_address(operator, reference_data):
    merchant = do_create_merchant(operator, ZHONGLI)
    merchant.refresh_from_db()
    assert (merchant.tax_id, merchant.name, merchant.status, merchant.points_enabled) == (
        "04595257", "中壢好食堂", S.APPLIED, False)
    assert merchant.district.name_zh == "中壢區"
    assert merchant.bank_account == "123456789012"  # the digits only
    log = merchant_log()
    assert len(log) == 1
    action, object_id, before, after, _note = log[0]
    assert (action, object_id, before) == (ChangeAction.CREATE, str(merchant.pk), None)
    assert after["tax_id"] == "04595257"
    assert after["district"] == merchant.district_id
    assert after["status"] == "applied"


def test_address_outside_taoyuan_gets_no_district(operator, reference_data):
    merchant = do_create_merchant(operator, MerchantInput(tax_id="22099131", name="臺北分店",
                                                          address="臺北市信義區市府路1號"))
    assert merchant.district is None


def test_ambiguous_address_gets_no_district_not_a_guess(operator, reference_data):
    # 桃園市 without a district may be the whole city or the old 桃園市 (now 桃園區): no guess.
    merchant = do_create_merchant(operator, MerchantInput(tax_id="22099131", name="無區商店",
                                                          address="桃園市中正路100號"))
    assert merchant.district is None


def test_full_width_tax_id_is_folded(operator):
    merchant = do_create_merchant(operator, MerchantInput(tax_id="０４５９５２５７", name="全形商店"))
    assert merchant.tax_id == "04595257"


def test_bad_tax_id_is_refused_with_a_field_error_and_nothing_is_stored(operator):
    with pytest.raises(InvalidInput) as caught:
        do_create_merchant(operator, MerchantInput(tax_id="04595258", name="錯號商店"))
    assert caught.value.fields == {
        "tax_id": ["Not a valid business ID (統一編號): 8 digits with a correct check digit."]}
    assert Merchant.objects.count() == 0
    assert ChangeLog.objects.count() == 0


def test_every_field_rule_is_reported_at_once(operator):
    data = MerchantInput(tax_id="", name=" ", bank_code="12", bank_account="12345", contract_start=dt.date(2024, 5, 1),
                         contract_end=dt.date(2024, 5, 1), lon=119.5, lat=25.3)
    with pytest.raises(InvalidInput) as caught:
        do_create_merchant(operator, data)
    assert caught.value.fields == {
        "tax_id": ["Required."],
        "name": ["Required."],
        "bank_code": ["A bank code has 3 or 7 digits."],
        "bank_account": ["A bank account number has 6 to 16 digits."],
        "contract_end": ["The contract must end after it starts."],
        "lon": ["Longitude must be between 120.9 and 121.5 (Taoyuan)."],
        "lat": ["Latitude must be between 24.5 and 25.2 (Taoyuan)."],
    }
    assert Merchant.objects.count() == 0
    assert ChangeLog.objects.count() == 0


@pytest.mark.parametrize(("lon", "lat", "field"), [(121.2, None, "lat"), (None, 24.9, "lon")])
def test_coordinates_come_in_pairs(operator, lon, lat, field):
    with pytest.raises(InvalidInput) as caught:
        do_create_merchant(operator, MerchantInput(tax_id="04595257", name="半座標", lon=lon, lat=lat))
    assert caught.value.fields == {field: ["Give both longitude and latitude, or neither."]}
    assert Merchant.objects.count() == 0


@pytest.mark.parametrize(("code", "account"), [("008", "123456"), ("0081234", "1234567890123456"), ("", "")])
def test_bank_code_and_account_lengths_accepted(operator, code, account):
    merchant = do_create_merchant(operator, MerchantInput(tax_id="04595257", name="銀行", bank_code=code,
                                                          bank_account=account))
    assert (merchant.bank_code, merchant.bank_account) == (code, account)


def test_a_known_tax_id_is_a_conflict(operator, merchant_factory):
    merchant_factory("04595257", "原有商店")
    with pytest.raises(Conflict) as caught:
        do_create_merchant(operator, MerchantInput(tax_id="04595257", name="重複"))
    assert caught.value.code == "duplicate_tax_id"
    assert list(Merchant.objects.values_list("name", flat=True)) == ["原有商店"]
    assert ChangeLog.objects.count() == 0


# --- roles --------------------------------------------------------------------------------------

def test_agency_admin_may_not_manage_merchants(admin_a, merchant_factory):
    merchant = merchant_factory(status=S.APPLIED)
    with pytest.raises(Forbidden):
        do_create_merchant(admin_a, MerchantInput(tax_id="22099131", name="不准"))
    with pytest.raises(Forbidden):
        do_approve_merchant(admin_a, merchant.pk)
    merchant.refresh_from_db()
    assert merchant.status == S.APPLIED
    assert Merchant.objects.count() == 1
    assert ChangeLog.objects.count() == 0


def test_auditor_is_read_only(auditor, merchant_factory):
    merchant = merchant_factory()
    with pytest.raises(Forbidden) as caught:
        do_suspend_merchant(auditor, merchant.pk)
    assert caught.value.code == "read_only"
    with pytest.raises(Forbidden):
        do_create_terminal(auditor, merchant.pk)
    merchant.refresh_from_db()
    assert merchant.status == S.ACTIVE
    assert Terminal.objects.count() == 0
    assert ChangeLog.objects.count() == 0
    # Reading is allowed.
    assert list(list_merchants(auditor)) == [merchant]


@pytest.mark.parametrize("role", [Role.POINTS_OPERATOR, Role.CITY_ADMIN])
def test_operator_and_city_admin_may_manage_merchants(make_user, role):
    user = make_user("manager", role)
    merchant = do_create_merchant(user, MerchantInput(tax_id="04595257", name="可建立"))
    assert do_approve_merchant(user, merchant.pk).status == S.ACTIVE


def test_merchant_role_may_not_list(make_user, merchant_factory):
    merchant_factory()
    with pytest.raises(Forbidden):
        list_merchants(make_user("shop", Role.MERCHANT))


def test_unknown_merchant_is_not_found(operator):
    with pytest.raises(NotFound):
        do_approve_merchant(operator, 999_999)
    with pytest.raises(NotFound):
        do_update_merchant(operator, 999_999, {"name": "x"})


# --- update -------------------------------------------------------------------------------------

def test_update_moves_the_merchant_to_its_new_district_and_logs_only_changes(operator, merchant_factory,
                                                                             reference_data):
    from citygov.agencies.models import District

    zhongli = District.objects.get(name_zh="中壢區")
    bade = District.objects.get(name_zh="八德區")
    merchant = merchant_factory(address="桃園市中壢區中正路100號", district=zhongli, category="餐飲")
    do_update_merchant(operator, merchant.pk, {"address": "桃園市八德區介壽路一段1號", "category": "餐飲"})
    merchant.refresh_from_db()
    assert merchant.district == bade
    assert merchant_log() == [(ChangeAction.UPDATE, str(merchant.pk),
                               {"address": "桃園市中壢區中正路100號", "district": zhongli.pk},
                               {"address": "桃園市八德區介壽路一段1號", "district": bade.pk}, "")]


def test_update_with_the_same_values_logs_nothing(operator, merchant_factory):
    merchant = merchant_factory(name="同名", category="零售")
    do_update_merchant(operator, merchant.pk, {"name": "同名", "category": "零售"})
    assert merchant_log() == []


@pytest.mark.parametrize("changes", [{"status": "active"}, {"tax_id": "22099131"}, {"points_enabled": True}])
def test_update_refuses_fields_with_their_own_service(operator, merchant_factory, changes):
    merchant = merchant_factory(status=S.APPLIED, points_enabled=False)
    with pytest.raises(InvalidInput) as caught:
        do_update_merchant(operator, merchant.pk, changes)
    assert caught.value.code == "not_editable"
    merchant.refresh_from_db()
    assert (merchant.status, merchant.points_enabled) == (S.APPLIED, False)
    assert merchant_log() == []


def test_invalid_update_changes_nothing(operator, merchant_factory):
    merchant = merchant_factory(contract_start=dt.date(2024, 1, 1), contract_end=dt.date(2025, 1, 1))
    with pytest.raises(InvalidInput) as caught:
        do_update_merchant(operator, merchant.pk, {"contract_end": dt.date(2023, 12, 31), "name": "新名"})
    assert caught.value.fields == {"contract_end": ["The contract must end after it starts."]}
    merchant.refresh_from_db()
    assert (merchant.name, merchant.contract_end) == ("桃園測試商店", dt.date(2025, 1, 1))
    assert merchant_log() == []


# --- lifecycle ----------------------------------------------------------------------------------

SERVICES = {
    "approve": do_approve_merchant,
    "suspend": do_suspend_merchant,
    "reinstate": do_reinstate_merchant,
    "close": do_close_merchant,
    "not_renewed": do_mark_not_renewed,
}
# Every allowed (service, from) → to; every other pair must be refused.
ALLOWED = {
    ("approve", S.APPLIED): S.ACTIVE,
    ("suspend", S.ACTIVE): S.SUSPENDED,
    ("reinstate", S.SUSPENDED): S.ACTIVE,
    ("close", S.ACTIVE): S.CLOSED,
    ("close", S.SUSPENDED): S.CLOSED,
    ("not_renewed", S.ACTIVE): S.NOT_RENEWED,
    ("not_renewed", S.SUSPENDED): S.NOT_RENEWED,
}
REFUSED = [(service, status) for service in SERVICES for status in S.values if (service, status) not in ALLOWED]


def test_the_refused_table_is_complete():
    assert len(ALLOWED) + len(REFUSED) == len(SERVICES) * len(S.values) == 25
    assert len(REFUSED) == 18


@pytest.mark.parametrize(("service", "current"), list(ALLOWED), ids=lambda v: str(v))
def test_allowed_transition(operator, merchant_factory, service, current):
    merchant = merchant_factory(status=current)
    target = ALLOWED[(service, current)]
    result = SERVICES[service](operator, merchant.pk)
    merchant.refresh_from_db()
    assert result.status == merchant.status == target
    assert merchant_log() == [(ChangeAction.UPDATE, str(merchant.pk), {"status": current}, {"status": target},
                               f"{current} → {target}; open holds voided: 0")]


@pytest.mark.parametrize(("service", "current"), REFUSED, ids=lambda v: str(v))
def test_refused_transition_changes_nothing(operator, merchant_factory, service, current):
    merchant = merchant_factory(status=current)
    with pytest.raises(InvalidInput) as caught:
        SERVICES[service](operator, merchant.pk)
    assert caught.value.code == "invalid_transition"
    merchant.refresh_from_db()
    assert merchant.status == current
    assert merchant_log() == []


def test_refused_transition_message_names_both_statuses(operator, merchant_factory):
    merchant = merchant_factory(status=S.CLOSED)
    with pytest.raises(InvalidInput) as caught:
        do_reinstate_merchant(operator, merchant.pk)
    assert caught.value.message == "A merchant cannot go from closed to active."


# --- R9: suspension voids open holds --------------------------------------------------------------

def test_suspension_voids_open_holds_at_once(programme):
    p = programme
    lot = ledger.do_grant(p.operator, p.campaign.pk, p.members[0].card_number, now=now_plus(minutes=1))
    other = ledger.do_grant(p.operator, p.campaign.pk, p.members[1].card_number, now=now_plus(minutes=1))
    first = ledger.do_hold(p.ctx, p.members[0].card_number, 30, now=now_plus(minutes=2))
    second = ledger.do_hold(p.ctx, p.members[1].card_number, 40, now=now_plus(minutes=2))
    captured = ledger.do_hold(p.ctx, p.members[1].card_number, 10, now=now_plus(minutes=2))
    ledger.do_capture(p.ctx, captured.pk, now=now_plus(minutes=2, seconds=30))
    assert (balance(lot), balance(other)) == (70, 50)

    do_suspend_merchant(p.operator, p.merchant.pk, now=now_plus(minutes=3))

    assert {h.pk: h.status for h in Hold.objects.all()} == {
        first.pk: HoldStatus.VOIDED, second.pk: HoldStatus.VOIDED, captured.pk: HoldStatus.CAPTURED}
    assert (balance(lot), balance(other)) == (100, 90)
    assert merchant_log()[-1][2:] == ({"status": "active"}, {"status": "suspended"},
                                      "active → suspended; open holds voided: 2")
    # And no new hold while suspended.
    with pytest.raises(InvalidInput) as caught:
        ledger.do_hold(p.ctx, p.members[0].card_number, 10, now=now_plus(minutes=4))
    assert caught.value.code == "merchant_not_active"
    assert Hold.objects.count() == 3


@pytest.mark.parametrize("service", [do_close_merchant, do_mark_not_renewed])
def test_closing_voids_open_holds(programme, service):
    p = programme
    lot = ledger.do_grant(p.operator, p.campaign.pk, p.members[0].card_number, now=now_plus(minutes=1))
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 25, now=now_plus(minutes=2))
    service(p.operator, p.merchant.pk, now=now_plus(minutes=3))
    hold.refresh_from_db()
    assert (hold.status, hold.released, balance(lot)) == (HoldStatus.VOIDED, 25, 100)


def test_refused_suspension_leaves_holds_open(programme):
    p = programme
    ledger.do_grant(p.operator, p.campaign.pk, p.members[0].card_number, now=now_plus(minutes=1))
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 25, now=now_plus(minutes=2))
    with pytest.raises(Forbidden):
        do_suspend_merchant(p.agency_admin, p.merchant.pk, now=now_plus(minutes=3))
    hold.refresh_from_db()
    assert hold.status == HoldStatus.OPEN
    p.merchant.refresh_from_db()
    assert p.merchant.status == S.ACTIVE
    ledger.do_void(p.ctx, hold.pk, now=now_plus(minutes=3))  # leave the ledger tidy for the auditor


# --- points payment switch ------------------------------------------------------------------------

def test_points_switch_on_and_off_is_logged(operator, merchant_factory):
    merchant = merchant_factory(points_enabled=False)
    do_set_points_enabled(operator, merchant.pk, True)
    merchant.refresh_from_db()
    assert merchant.points_enabled is True
    assert merchant.can_redeem is True
    do_set_points_enabled(operator, merchant.pk, True)  # already on: nothing to log
    do_set_points_enabled(operator, merchant.pk, False)
    merchant.refresh_from_db()
    assert merchant.points_enabled is False
    assert [(before, after) for _a, _id, before, after, _n in merchant_log()] == [
        ({"points_enabled": False}, {"points_enabled": True}),
        ({"points_enabled": True}, {"points_enabled": False}),
    ]


@pytest.mark.parametrize("status", [S.CLOSED, S.NOT_RENEWED])
def test_a_closed_merchant_cannot_switch_points_on(operator, merchant_factory, status):
    merchant = merchant_factory(status=status, points_enabled=False)
    with pytest.raises(InvalidInput) as caught:
        do_set_points_enabled(operator, merchant.pk, True)
    assert caught.value.code == "merchant_closed"
    merchant.refresh_from_db()
    assert merchant.points_enabled is False
    assert merchant_log() == []


# --- terminals ----------------------------------------------------------------------------------

def test_create_terminal_returns_the_secret_once_and_never_logs_it(operator, merchant_factory):
    merchant = merchant_factory("04595257")
    terminal, secret = do_create_terminal(operator, merchant.pk)
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64
    assert terminal.secret == secret
    assert terminal.terminal_id.startswith("T04595257-")
    assert terminal.is_active is True
    rows = list(ChangeLog.objects.filter(object_type="points.terminal"))
    assert [(row.action, row.after) for row in rows] == [(ChangeAction.CREATE, {"terminal_id": terminal.terminal_id})]
    everything = json.dumps([[row.before, row.after, row.note, row.object_repr] for row in ChangeLog.objects.all()])
    assert secret not in everything


def test_two_terminals_get_different_secrets(operator, merchant_factory):
    merchant = merchant_factory()
    (first, secret_1), (second, secret_2) = do_create_terminal(operator, merchant.pk), do_create_terminal(
        operator, merchant.pk)
    assert first.terminal_id != second.terminal_id
    assert secret_1 != secret_2


def test_chosen_terminal_id_and_its_duplicate(operator, merchant_factory):
    merchant = merchant_factory()
    terminal, _secret = do_create_terminal(operator, merchant.pk, "POS-01")
    assert terminal.terminal_id == "POS-01"
    with pytest.raises(Conflict) as caught:
        do_create_terminal(operator, merchant.pk, "POS-01")
    assert caught.value.code == "duplicate_terminal"
    assert Terminal.objects.count() == 1
    assert ChangeLog.objects.filter(object_type="points.terminal").count() == 1


@pytest.mark.parametrize("terminal_id", ["", "POS 01", "x" * 41, "櫃台一", "POS-01\n"])
def test_bad_terminal_id_is_refused(operator, merchant_factory, terminal_id):
    merchant = merchant_factory()
    with pytest.raises(InvalidInput):
        do_create_terminal(operator, merchant.pk, terminal_id)
    assert Terminal.objects.count() == 0


def test_a_closed_merchant_gets_no_terminal(operator, merchant_factory):
    merchant = merchant_factory(status=S.CLOSED)
    with pytest.raises(InvalidInput) as caught:
        do_create_terminal(operator, merchant.pk)
    assert caught.value.code == "merchant_closed"
    assert Terminal.objects.count() == 0
    assert ChangeLog.objects.count() == 0


def test_deactivate_terminal(operator, merchant_factory):
    merchant = merchant_factory()
    terminal, _secret = do_create_terminal(operator, merchant.pk, "POS-02")
    do_deactivate_terminal(operator, "POS-02")
    do_deactivate_terminal(operator, "POS-02")  # already inactive: unchanged, not logged again
    terminal.refresh_from_db()
    assert terminal.is_active is False
    assert [(row.action, row.before, row.after) for row in
            ChangeLog.objects.filter(object_type="points.terminal").order_by("id")] == [
        (ChangeAction.CREATE, None, {"terminal_id": "POS-02"}),
        (ChangeAction.UPDATE, {"is_active": True}, {"is_active": False}),
    ]
    with pytest.raises(NotFound):
        do_deactivate_terminal(operator, "POS-99")


def test_list_merchants_by_status(operator, merchant_factory):
    active = merchant_factory("04595257")
    suspended = merchant_factory("22099131", status=S.SUSPENDED)
    assert list(list_merchants(operator)) == [active, suspended]
    assert list(list_merchants(operator, status=S.SUSPENDED)) == [suspended]
