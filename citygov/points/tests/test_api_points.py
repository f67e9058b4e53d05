"""The operator/agency points API: agency scoping (another agency sees nothing and gets 404 on every
detail and action, with nothing changed), roles (operator confirms deposits, auditors never write),
the bulk-grant CSV report, wallets and the ledger health endpoint. The ledger auditor runs after each
test that uses ``programme``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.points.models import (
    Account,
    Campaign,
    Lot,
    Member,
    Merchant,
    MerchantStatus,
    Purchase,
    PurchaseStatus,
    Transfer,
)
from citygov.points.services import ledger
from citygov.points.tests.support import T0, make_campaign, now_plus

pytestmark = pytest.mark.django_db

BASE = "/api/points/"
PROBLEM = "application/problem+json"


def api(user) -> APIClient:
    """A session-authenticated API client for ``user``, answering in English."""
    client = APIClient()
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def state() -> tuple:
    """Everything an action could change: transfers, balances, the change log and row statuses."""
    return (
        Transfer.objects.count(),
        ChangeLog.objects.count(),
        sorted(Account.objects.values_list("pk", "balance")),
        sorted(Purchase.objects.values_list("pk", "status", "bank_reference")),
        sorted(Campaign.objects.values_list("pk", "status")),
        sorted(Lot.objects.values_list("pk", "reversed_at")),
        Member.objects.count(),
        sorted(Merchant.objects.values_list("pk", "status", "points_enabled")),
    )


@dataclass
class World:
    """The programme (agency 社會局) with lots, a redemption, an unfunded purchase and a draft campaign,
    plus another agency with its own administrator."""

    p: object
    lots: list
    unfunded: Purchase
    draft: Campaign
    other_admin: object


@pytest.fixture
def world(programme, make_agency, make_user) -> World:
    p = programme
    lots = [ledger.do_grant(p.agency_admin, p.campaign.pk, m.card_number, now=T0) for m in p.members[:3]]
    ledger.do_redeem(p.ctx, p.members[0].card_number, 50, now=now_plus(hours=1))
    unfunded = ledger.do_create_purchase(p.agency_admin, agency_id=p.agency.pk, reference="PO-2026-002",
                                         points=5_000, now=T0)
    draft = ledger.do_create_campaign(p.agency_admin, ledger.CampaignInput(
        agency_id=p.agency.pk, name="草稿活動", budget=1_000, grant_points=100, per_member_limit=100,
        claim_start=T0, claim_end=now_plus(days=30)))
    other = make_agency("culture", "文化局")
    return World(p, lots, unfunded, draft, make_user("culture-admin", Role.AGENCY_ADMIN, [other]))


# --- agency scoping -----------------------------------------------------------------------------

LISTS = ("purchases", "campaigns", "lots", "transfers")


def test_another_agency_lists_nothing_of_social_welfare(world):
    theirs = api(world.other_admin)
    ours = api(world.p.operator)

    assert {name: theirs.get(f"{BASE}{name}/").data["count"] for name in LISTS} == dict.fromkeys(LISTS, 0)
    # purchase, fund, reserve; 3 grants; 1 redemption; the second purchase
    assert {name: ours.get(f"{BASE}{name}/").data["count"] for name in LISTS} == {
        "purchases": 2, "campaigns": 2, "lots": 3, "transfers": 8}


def test_another_agency_gets_404_on_every_detail(world):
    client = api(world.other_admin)
    transfer = Transfer.objects.filter(agency=world.p.agency).first()
    urls = [f"{BASE}purchases/{world.unfunded.pk}/", f"{BASE}campaigns/{world.p.campaign.pk}/",
            f"{BASE}lots/{world.lots[0].pk}/", f"{BASE}transfers/{transfer.pk}/"]

    answers = [(client.get(url).status_code, client.get(url)["Content-Type"]) for url in urls]

    assert answers == [(404, PROBLEM)] * 4


def test_another_agency_gets_404_on_every_action_and_nothing_changes(world):
    client = api(world.other_admin)
    p = world.p
    before = state()
    upload = SimpleUploadedFile("cards.csv", b"CARD0001\n", content_type="text/csv")
    calls = [
        (f"{BASE}purchases/{world.unfunded.pk}/confirm-deposit/", {"bank_reference": "TRUST-X"}, "json"),
        (f"{BASE}campaigns/{world.draft.pk}/approve/", {}, "json"),
        (f"{BASE}campaigns/{p.campaign.pk}/close/", {}, "json"),
        (f"{BASE}campaigns/{p.campaign.pk}/grants/", {"card_number": "CARD0004"}, "json"),
        (f"{BASE}campaigns/{p.campaign.pk}/bulk-grants/", {"file": upload}, "multipart"),
        (f"{BASE}lots/{world.lots[1].pk}/reverse/", {"reason": "mistake"}, "json"),
    ]

    answers = [client.post(url, body, format=fmt) for url, body, fmt in calls]

    assert [(r.status_code, r["Content-Type"], r.data["code"]) for r in answers] == [(404, PROBLEM, "not_found")] * 6
    assert state() == before


def test_another_agency_cannot_create_in_social_welfares_name(world):
    client = api(world.other_admin)
    before = state()

    purchase = client.post(f"{BASE}purchases/", {"agency": world.p.agency.pk, "reference": "PO-X", "points": 10})
    campaign = client.post(f"{BASE}campaigns/", {
        "agency": world.p.agency.pk, "name": "x", "budget": 100, "grant_points": 10, "per_member_limit": 10,
        "claim_start": "2026-03-01T00:00:00+08:00", "claim_end": "2026-04-01T00:00:00+08:00"})

    assert (purchase.status_code, purchase.data["code"]) == (403, "agency_scope")
    assert (campaign.status_code, campaign.data["code"]) == (403, "agency_scope")
    assert state() == before


def test_agency_wallet_shows_only_its_own_lots(world):
    member = world.p.members[0]

    theirs = api(world.other_admin).get(f"{BASE}members/{member.pk}/wallet/")
    ours = api(world.p.agency_admin).get(f"{BASE}members/{member.pk}/wallet/")

    assert theirs.data == {"card_number": "CARD0001", "spendable": 0, "held": 0, "lots": []}
    # The lot (granted at T0, valid 30 days) has expired by today: listed, not spendable.
    assert (ours.data["spendable"], ours.data["held"]) == (0, 0)
    assert [(lot["lot_id"], lot["points"], lot["remaining"], lot["spendable"]) for lot in ours.data["lots"]] == [
        (world.lots[0].pk, 100, 50, False)]


# --- roles ----------------------------------------------------------------------------------------

def test_agency_admin_records_a_purchase_and_only_the_operator_confirms_it(world):
    p = world.p
    created = api(p.agency_admin).post(f"{BASE}purchases/", {"agency": p.agency.pk, "reference": "PO-2026-003",
                                                             "points": 20_000})
    assert created.status_code == 201
    assert (created.data["status"], created.data["points"], created.data["agency_code"]) == (
        "unfunded", 20_000, "social-welfare")
    url = f"{BASE}purchases/{created.data['id']}/confirm-deposit/"
    before = state()

    refused = api(p.agency_admin).post(url, {"bank_reference": "TRUST-0003"})

    assert (refused.status_code, refused["Content-Type"], refused.data["code"]) == (403, PROBLEM,
                                                                                    "capability_required")
    assert state() == before

    confirmed = api(p.operator).post(url, {"bank_reference": "TRUST-0003"})

    assert confirmed.status_code == 200
    assert (confirmed.data["status"], confirmed.data["bank_reference"]) == ("funded", "TRUST-0003")
    assert Purchase.objects.get(pk=created.data["id"]).status == PurchaseStatus.FUNDED


def test_confirming_twice_is_a_conflict(world):
    client = api(world.p.operator)
    url = f"{BASE}purchases/{world.unfunded.pk}/confirm-deposit/"
    assert client.post(url, {"bank_reference": "TRUST-0002"}).status_code == 200
    before = state()

    again = client.post(url, {"bank_reference": "TRUST-0002"})

    assert (again.status_code, again.data["code"]) == (409, "already_funded")
    assert state() == before


def test_operator_cannot_record_purchases(world):
    before = state()

    response = api(world.p.operator).post(f"{BASE}purchases/", {"agency": world.p.agency.pk,
                                                                "reference": "PO-OP", "points": 10})

    assert (response.status_code, response.data["code"]) == (403, "capability_required")
    assert state() == before


def test_campaign_lifecycle_through_the_api(world):
    client = api(world.p.agency_admin)
    created = client.post(f"{BASE}campaigns/", {
        "agency": world.p.agency.pk, "name": "端午加碼", "budget": 3_000, "grant_points": 100,
        "per_member_limit": 200, "claim_start": "2026-05-01T00:00:00+08:00",
        "claim_end": "2026-06-01T00:00:00+08:00", "lot_validity_days": 90})
    assert created.status_code == 201
    assert (created.data["status"], created.data["issued"], created.data["unissued"]) == ("draft", 0, 0)

    approved = client.post(f"{BASE}campaigns/{created.data['id']}/approve/")
    closed = client.post(f"{BASE}campaigns/{created.data['id']}/close/")

    assert (approved.data["status"], approved.data["unissued"]) == ("approved", 3_000)
    assert (closed.data["status"], closed.data["unissued"]) == ("closed", 0)


def test_campaign_detail_shows_budget_issued_and_remaining(world):
    response = api(world.p.operator).get(f"{BASE}campaigns/{world.p.campaign.pk}/")

    assert {k: response.data[k] for k in ("budget", "issued", "lot_count", "unissued", "status")} == {
        "budget": 10_000, "issued": 300, "lot_count": 3, "unissued": 9_700, "status": "approved"}


def test_bad_campaign_input_is_problem_json_with_fields(world):
    response = api(world.p.agency_admin).post(f"{BASE}campaigns/", {
        "agency": world.p.agency.pk, "name": "x", "budget": 100, "grant_points": 10, "per_member_limit": 10,
        "claim_start": "2026-04-01T00:00:00+08:00", "claim_end": "2026-03-01T00:00:00+08:00"})

    assert (response.status_code, response["Content-Type"]) == (400, PROBLEM)
    assert response.data["detail"] == "Claims must close after they open."
    assert response.data["errors"] == {"claim_end": ["before_start"]}


def test_reverse_a_grant_reports_the_shortfall(world):
    spent_lot = world.lots[0]  # 50 of its 100 points were spent

    response = api(world.p.operator).post(f"{BASE}lots/{spent_lot.pk}/reverse/", {"reason": "重複發放"})

    assert response.status_code == 200
    assert (response.data["clawed_back"], response.data["shortfall"]) == (50, 50)
    assert response.data["exception_id"] is not None
    assert response.data["lot"]["remaining"] == 0
    assert response.data["lot"]["reversed_at"] is not None


def test_lot_filters(world):
    client = api(world.p.operator)
    member = world.p.members[1]

    by_member = client.get(f"{BASE}lots/", {"member": member.pk})
    by_campaign = client.get(f"{BASE}lots/", {"campaign": world.p.campaign.pk})
    before_expiry = client.get(f"{BASE}lots/", {"expiring_before": (T0 + dt.timedelta(days=30)).isoformat()})
    after_expiry = client.get(f"{BASE}lots/", {"expiring_before": (T0 + dt.timedelta(days=31)).isoformat()})

    assert [lot["id"] for lot in by_member.data["results"]] == [world.lots[1].pk]
    assert by_campaign.data["count"] == 3
    assert before_expiry.data["count"] == 0  # lots granted at T0 expire at T0 + 30 days
    assert after_expiry.data["count"] == 3


def test_transfer_filters(world):
    client = api(world.p.operator)

    grants = client.get(f"{BASE}transfers/", {"kind": "grant"})
    at_merchant = client.get(f"{BASE}transfers/", {"merchant": world.p.merchant.pk})
    in_range = client.get(f"{BASE}transfers/", {"created_after": "2026-03-01", "created_before": "2026-03-01"})
    out_of_range = client.get(f"{BASE}transfers/", {"created_after": "2026-03-02"})

    assert [t["amount"] for t in grants.data["results"]] == [100, 100, 100]
    assert [(t["kind"], t["amount"]) for t in at_merchant.data["results"]] == [("redeem", 50)]
    assert in_range.data["count"] == 8
    assert out_of_range.data["count"] == 0


# --- auditors -----------------------------------------------------------------------------------

def test_auditor_reads_everything(world, auditor):
    client = api(auditor)

    counts = {name: client.get(f"{BASE}{name}/").data["count"] for name in (*LISTS, "members", "merchants")}
    wallet = client.get(f"{BASE}members/{world.p.members[0].pk}/wallet/")
    health = client.get(f"{BASE}ledger/health/")

    assert counts == {"purchases": 2, "campaigns": 2, "lots": 3, "transfers": 8, "members": 5, "merchants": 1}
    assert [lot["remaining"] for lot in wallet.data["lots"]] == [50]
    assert (health.status_code, health.data["ok"]) == (200, True)


def test_auditor_every_post_is_403_and_nothing_changes(world, auditor):
    client = api(auditor)
    p = world.p
    before = state()
    posts = [
        ("purchases/", {"agency": p.agency.pk, "reference": "PO-A", "points": 10}, "json"),
        (f"purchases/{world.unfunded.pk}/confirm-deposit/", {"bank_reference": "T"}, "json"),
        ("campaigns/", {"agency": p.agency.pk, "name": "x", "budget": 100, "grant_points": 10,
                        "per_member_limit": 10, "claim_start": "2026-03-01T00:00:00Z",
                        "claim_end": "2026-04-01T00:00:00Z"}, "json"),
        (f"campaigns/{world.draft.pk}/approve/", {}, "json"),
        (f"campaigns/{p.campaign.pk}/close/", {}, "json"),
        (f"campaigns/{p.campaign.pk}/grants/", {"card_number": "CARD0004"}, "json"),
        (f"campaigns/{p.campaign.pk}/bulk-grants/",
         {"file": SimpleUploadedFile("c.csv", b"CARD0004\n", content_type="text/csv")}, "multipart"),
        (f"lots/{world.lots[1].pk}/reverse/", {"reason": "x"}, "json"),
        ("members/", {"card_number": "CARD9999"}, "json"),
        ("merchants/", {"tax_id": "10458575", "name": "x"}, "json"),
        ("merchants/import/", {"file": SimpleUploadedFile("m.csv", b"tax_id,name\n10458575,x\n")}, "multipart"),
        *[(f"merchants/{p.merchant.pk}/{action}/", {}, "json")
          for action in ("approve", "suspend", "reinstate", "close", "not-renewed")],
        (f"merchants/{p.merchant.pk}/points-enabled/", {"enabled": False}, "json"),
        (f"merchants/{p.merchant.pk}/terminals/", {}, "json"),
    ]

    answers = [client.post(BASE + url, body, format=fmt) for url, body, fmt in posts]

    assert [(r.status_code, r["Content-Type"]) for r in answers] == [(403, PROBLEM)] * len(posts)
    assert state() == before


def test_roles_without_points_view_are_refused(world, make_user):
    analyst = api(make_user("analyst", Role.SECURITY_ANALYST))

    codes = [analyst.get(f"{BASE}{name}/").status_code for name in (*LISTS, "members", "merchants", "ledger/health")]

    assert codes == [403] * 7
    assert APIClient().get(f"{BASE}purchases/").status_code in (401, 403)


# --- members and merchants ----------------------------------------------------------------------

def test_operator_registers_a_member_and_the_id_never_comes_back(world):
    client = api(world.p.operator)

    response = client.post(f"{BASE}members/", {"card_number": "card 0100 2026", "national_id": "A123456789",
                                               "name": "測試", "consent": True})

    assert response.status_code == 201
    assert response.data["card_number"] == "CARD01002026"
    assert response.data["has_national_id"] is True
    assert "A123456789" not in response.content.decode()
    assert "national_id_hash" not in response.data
    bad = client.post(f"{BASE}members/", {"card_number": "CARD01002027", "national_id": "A123456788"})
    assert (bad.status_code, list(bad.data["errors"])) == (400, ["national_id"])


def test_agency_admin_cannot_manage_members_or_merchants(world):
    client = api(world.p.agency_admin)
    before = state()

    member = client.post(f"{BASE}members/", {"card_number": "CARD9999"})
    suspend = client.post(f"{BASE}merchants/{world.p.merchant.pk}/suspend/")

    assert (member.status_code, suspend.status_code) == (403, 403)
    assert state() == before


def test_operator_moves_a_merchant_through_its_lifecycle(world):
    client = api(world.p.operator)
    url = f"{BASE}merchants/{world.p.merchant.pk}/"

    suspended = client.post(url + "suspend/")
    again = client.post(url + "suspend/")
    reinstated = client.post(url + "reinstate/")
    disabled = client.post(url + "points-enabled/", {"enabled": False})

    assert (suspended.data["status"], suspended.data["can_redeem"]) == ("suspended", False)
    assert (again.status_code, again.data["code"]) == (400, "invalid_transition")
    assert reinstated.data["status"] == "active"
    assert (disabled.data["points_enabled"], disabled.data["can_redeem"]) == (False, False)
    assert Merchant.objects.get(pk=world.p.merchant.pk).status == MerchantStatus.ACTIVE


def test_terminal_secret_is_returned_once(world):
    client = api(world.p.operator)

    created = client.post(f"{BASE}merchants/{world.p.merchant.pk}/terminals/", {"terminal_id": "T-NEW-1"})
    listed = client.get(f"{BASE}merchants/{world.p.merchant.pk}/")

    assert created.status_code == 201
    assert created.data["terminal_id"] == "T-NEW-1"
    assert len(created.data["secret"]) >= 32
    assert created.data["secret"] not in listed.content.decode()


def test_merchant_import_reports_bad_rows_by_line(world):
    csv_bytes = "tax_id,name,address,status,points_enabled\n" \
                "10458575,示範商店,桃園市中壢區中央西路二段30號,active,是\n" \
                "12345678,壞編號,,active,是\n".encode()

    response = api(world.p.operator).post(f"{BASE}merchants/import/",
                                          {"file": SimpleUploadedFile("m.csv", csv_bytes)}, format="multipart")

    assert response.status_code == 200
    assert (response.data["created"], response.data["updated"], response.data["unchanged"]) == (1, 0, 0)
    assert [(row["line"], row["tax_id"]) for row in response.data["problems"]] == [(3, "12345678")]
    assert Merchant.objects.get(tax_id="10458575").status == MerchantStatus.ACTIVE


# --- bulk grants --------------------------------------------------------------------------------

@pytest.fixture
def open_campaign(programme):
    """A campaign open for claims now: 100 points a grant, at most 200 a member, budget for 5 grants."""
    return make_campaign(programme.agency_admin, programme.agency, budget=500, grant_points=100,
                         per_member_limit=200, start=timezone.now(), name="即時活動")


def test_bulk_grant_csv_report_is_exact(programme, open_campaign):
    csv_bytes = (b"card_number,note\n"
                 b"CARD0001,first\n"
                 b"CARD0002,\n"
                 b"NOPE0001,unknown\n"
                 b"\n"
                 b"CARD0001,again\n"
                 b"CARD0001,third time\n"
                 b"CARD0003,\n"
                 b"CARD0004,\n"
                 b",blank card\n"
                 b"CARD0005,\n")

    response = api(programme.agency_admin).post(
        f"{BASE}campaigns/{open_campaign.pk}/bulk-grants/",
        {"file": SimpleUploadedFile("cards.csv", csv_bytes, content_type="text/csv")}, format="multipart")

    assert response.status_code == 200
    assert response.data == {
        "lines": 9,
        "granted": 5,
        "points": 500,
        "refused": [
            {"line": 4, "card_number": "NOPE0001", "reason": "Unknown card number."},
            {"line": 7, "card_number": "CARD0001", "reason": "The member has reached this campaign's limit."},
            {"line": 10, "card_number": "", "reason": "Unknown card number."},
            {"line": 11, "card_number": "CARD0005", "reason": "The campaign's budget is used up."},
        ],
    }
    assert sorted(Lot.objects.filter(campaign=open_campaign).values_list("member__card_number", flat=True)) == [
        "CARD0001", "CARD0001", "CARD0002", "CARD0003", "CARD0004"]


def test_bulk_grant_plain_list_with_bom_and_crlf(programme, open_campaign):
    csv_bytes = "\ufeffCARD0001\r\nCARD0002\r\n\r\nCARD9999\r\n".encode()

    response = api(programme.operator).post(
        f"{BASE}campaigns/{open_campaign.pk}/bulk-grants/",
        {"file": SimpleUploadedFile("cards.txt", csv_bytes)}, format="multipart")

    assert response.data == {"lines": 3, "granted": 2, "points": 200, "refused": [
        {"line": 4, "card_number": "CARD9999", "reason": "Unknown card number."}]}


def test_bulk_grant_outside_the_claim_window_grants_nothing(world):
    before = state()
    closed_window = world.p.campaign  # claims close at T0 + 60 days, long before today

    response = api(world.p.operator).post(
        f"{BASE}campaigns/{closed_window.pk}/bulk-grants/",
        {"file": SimpleUploadedFile("cards.csv", b"CARD0004\n")}, format="multipart")

    assert (response.status_code, response.data["code"]) == (400, "outside_claim_window")
    assert state() == before


def test_single_grant(programme, open_campaign):
    response = api(programme.operator).post(f"{BASE}campaigns/{open_campaign.pk}/grants/",
                                            {"card_number": "CARD0002"})
    limit = [api(programme.operator).post(f"{BASE}campaigns/{open_campaign.pk}/grants/",
                                          {"card_number": "CARD0002"}) for _ in range(2)][-1]

    assert response.status_code == 201
    assert (response.data["card_number"], response.data["points"], response.data["remaining"]) == (
        "CARD0002", 100, 100)
    assert (limit.status_code, limit.data["code"], limit.data["detail"]) == (
        400, "grant_refused", "The member has reached this campaign's limit.")


def test_single_grant_with_an_idempotency_key_grants_once(programme, open_campaign):
    url = f"{BASE}campaigns/{open_campaign.pk}/grants/"
    client = api(programme.operator)
    first = client.post(url, {"card_number": "CARD0002"}, HTTP_IDEMPOTENCY_KEY="g-1")
    again = client.post(url, {"card_number": "CARD0002"}, HTTP_IDEMPOTENCY_KEY="g-1")
    other = client.post(url, {"card_number": "CARD0003"}, HTTP_IDEMPOTENCY_KEY="g-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotency-Replayed"] == "true"
    assert (again.data.pop("replayed"), first.data.pop("replayed")) == (True, False)
    assert again.data == first.data
    assert (other.status_code, other.data["code"]) == (409, "idempotency_conflict")
    assert Lot.objects.filter(campaign=open_campaign).count() == 1
    # The key's scope is the credential: another user's same key is another request.
    assert api(programme.agency_admin).post(url, {"card_number": "CARD0003"},
                                            HTTP_IDEMPOTENCY_KEY="g-1").status_code == 201


def test_grant_batch_keys_each_grant_and_handles_duplicate_keys_inside_the_request(programme, open_campaign):
    url = f"{BASE}campaigns/{open_campaign.pk}/grant-batch/"
    client = api(programme.agency_admin)
    response = client.post(url, {"grants": [
        {"key": "k1", "card_number": "CARD0001"},
        {"key": "k2", "card_number": "CARD0002"},
        {"key": "k1", "card_number": "CARD0001"},  # the same key and card again: a replay, no second lot
        {"key": "k2", "card_number": "CARD0003"},  # the same key, another card: refused, no effect
        {"key": "k3", "card_number": "NOPE0001"},  # unknown card: refused, stored with its key
    ]}, format="json")

    assert response.status_code == 200
    assert (response.data["granted"], response.data["replayed"], response.data["refused"]) == (2, 1, 2)
    statuses = [(row["key"], row["status"], row["replayed"]) for row in response.data["results"]]
    assert statuses == [("k1", 201, False), ("k2", 201, False), ("k1", 201, True), ("k2", 409, False),
                        ("k3", 400, False)]
    results = response.data["results"]
    assert (results[2]["body"].pop("replayed"), results[0]["body"].pop("replayed")) == (True, False)
    assert results[2]["body"] == results[0]["body"]
    assert results[3]["body"]["code"] == "idempotency_conflict"
    assert sorted(Lot.objects.filter(campaign=open_campaign).values_list("member__card_number", flat=True)) == [
        "CARD0001", "CARD0002"]

    # Sending the whole batch again makes nothing new: every key answers as before.
    again = client.post(url, {"grants": [{"key": "k1", "card_number": "CARD0001"},
                                         {"key": "k3", "card_number": "NOPE0001"}]}, format="json")
    assert (again.data["granted"], again.data["replayed"]) == (0, 2)
    assert again.data["results"][1]["status"] == 400
    assert Lot.objects.filter(campaign=open_campaign).count() == 2


def test_grant_batch_refuses_a_malformed_request_whole(programme, open_campaign):
    url = f"{BASE}campaigns/{open_campaign.pk}/grant-batch/"
    client = api(programme.agency_admin)
    assert client.post(url, {"grants": []}, format="json").status_code == 400
    assert client.post(url, {"grants": [{"key": "", "card_number": "CARD0001"}]}, format="json").status_code == 400
    too_many = [{"key": f"k{n}", "card_number": "CARD0001"} for n in range(1001)]
    assert client.post(url, {"grants": too_many}, format="json").status_code == 400
    assert not Lot.objects.filter(campaign=open_campaign).exists()


# --- ledger health ------------------------------------------------------------------------------

def test_ledger_health_reports_the_identity_per_agency(world):
    response = api(world.p.operator).get(f"{BASE}ledger/health/")

    assert response.status_code == 200
    assert (response.data["ok"], response.data["problem_count"], response.data["problems"]) == (True, 0, [])
    assert response.data["transfers_checked"] == 8
    assert response.data["agencies"] == [{
        "agency_id": world.p.agency.pk, "agency_code": "social-welfare", "purchased": 105_000, "unfunded": 5_000,
        "funded_unreserved": 90_000, "campaign_unissued": 9_700, "member_available": 250, "held": 0,
        "merchant_unsettled": 50, "settled": 0, "expired": 0, "refund_pending": 0, "refunded": 0,
        "accounted": 105_000, "balanced": True}]


def test_ledger_health_shows_a_drift_and_only_city_wide_roles_read_the_details(world):
    account_id = world.p.campaign.account_id
    Account.objects.filter(pk=account_id).update(balance=F("balance") + 1)  # a corrupted balance
    try:
        operator = api(world.p.operator).get(f"{BASE}ledger/health/")
        agency = api(world.p.agency_admin).get(f"{BASE}ledger/health/")
        other = api(world.other_admin).get(f"{BASE}ledger/health/")
    finally:
        Account.objects.filter(pk=account_id).update(balance=F("balance") - 1)

    assert operator.data["ok"] is False
    assert operator.data["problem_count"] == len(operator.data["problems"]) == 3
    assert operator.data["problems"][0] == (f"account {account_id} (campaign): stored 9701, rebuilt from "
                                            "transfers 9700")
    assert (agency.data["ok"], agency.data["problem_count"], agency.data["problems"]) == (False, 3, [])
    assert [a["balanced"] for a in agency.data["agencies"]] == [False]
    assert other.data["agencies"] == []


def test_an_unknown_agency_is_a_field_error(world, city_admin):
    before = state()

    response = api(city_admin).post(f"{BASE}purchases/", {"agency": 999_999, "reference": "PO-X", "points": 10})

    assert (response.status_code, response["Content-Type"], list(response.data["errors"])) == (400, PROBLEM,
                                                                                                ["agency"])
    assert state() == before
