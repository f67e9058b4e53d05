"""Points pages: who may open them, what they show, and forms that write through the services and
show a service's refusal on the form (never a 500). The ledger auditor runs after each test."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.points.models import (
    Campaign,
    CampaignStatus,
    Lot,
    Merchant,
    MerchantStatus,
    Purchase,
    Redemption,
    Transfer,
)
from citygov.points.queries import month_start, monthly_series
from citygov.points.services import ledger
from citygov.points.tests.support import T0, make_campaign, now_plus

pytestmark = pytest.mark.django_db


def page_client(user) -> Client:
    """A browser-like client signed in as ``user`` that asks for English pages."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def lots(programme):
    p = programme
    granted = [ledger.do_grant(p.operator, p.campaign.pk, m.card_number, now=T0) for m in p.members[:2]]
    ledger.do_redeem(p.ctx, p.members[0].card_number, 30, now=now_plus(hours=2))
    return granted


def urls(p, lots) -> list[str]:
    member = p.members[0]
    return ["/points/", "/points/purchases/", "/points/campaigns/", f"/points/campaigns/{p.campaign.pk}/",
            "/points/lots/", "/points/lots/?expiring_within=30", "/points/transfers/",
            "/points/transfers/?kind=grant&created_after=2026-03-01", "/points/members/",
            f"/points/members/{member.pk}/", f"/points/members/{member.pk}/wallet/", "/points/merchants/",
            f"/points/merchants/{p.merchant.pk}/"]


@pytest.mark.parametrize("who", ["operator", "agency_admin", "auditor"])
def test_every_page_renders_for_roles_that_view_points(programme, lots, auditor, who):
    user = auditor if who == "auditor" else getattr(programme, who)
    client = page_client(user)

    statuses = {url: client.get(url).status_code for url in urls(programme, lots)}

    assert set(statuses.values()) == {200}, statuses


def test_roles_without_points_view_get_403_and_anonymous_users_sign_in(programme, lots, make_user):
    analyst = page_client(make_user("analyst", Role.SECURITY_ANALYST))
    anonymous = Client()

    assert {analyst.get(url).status_code for url in urls(programme, lots)} == {403}
    answers = [anonymous.get(url) for url in urls(programme, lots)]
    assert {r.status_code for r in answers} == {302}
    assert all(r["Location"].startswith("/login/") for r in answers)


def test_points_nav_link_only_for_roles_that_view_points(programme, make_user):
    link = '<a href="/points/"'

    assert link in page_client(programme.operator).get("/").content.decode()
    assert link not in page_client(make_user("analyst", Role.SECURITY_ANALYST)).get("/").content.decode()


def test_another_agencys_rows_are_404(programme, lots, make_agency, make_user):
    other = page_client(make_user("culture-admin", Role.AGENCY_ADMIN, [make_agency("culture", "文化局")]))
    purchase = Purchase.objects.get()
    before = (Transfer.objects.count(), ChangeLog.objects.count())

    detail = other.get(f"/points/campaigns/{programme.campaign.pk}/")
    grant = other.post(f"/points/campaigns/{programme.campaign.pk}/grant/", {"card_number": "CARD0003"})
    close = other.post(f"/points/campaigns/{programme.campaign.pk}/close/")
    confirm = other.post(f"/points/purchases/{purchase.pk}/confirm-deposit/", {"bank_reference": "X"})
    listing = other.get("/points/lots/")
    history = other.get(f"/points/members/{programme.members[0].pk}/wallet/")

    assert (detail.status_code, grant.status_code, close.status_code, confirm.status_code) == (404, 404, 404, 404)
    assert listing.context["page"].paginator.count == 0
    assert history.context["history"].paginator.count == 0
    assert history.context["wallet"].lots == ()
    assert (Transfer.objects.count(), ChangeLog.objects.count()) == before


def test_overview_shows_totals_identity_and_health(programme, lots):
    response = page_client(programme.operator).get("/points/")

    totals = response.context["totals"]
    assert (totals.purchased, totals.issued, totals.spent, totals.expired, totals.outstanding) == (
        100_000, 200, 30, 0, 170)
    assert response.context["health"].ok is True
    html = response.content.decode()
    assert 'data-ledger="ok"' in html
    assert '<tr data-agency="social-welfare">' in html
    assert "data-points-chart" in html and "points/overview.js" in html
    assert "<script>" not in html  # no inline scripts


def test_overview_chart_has_twelve_months(programme, lots):
    response = page_client(programme.operator).get("/points/")

    data = json.loads(response.context["chart"])
    assert len(data["months"]) == len(data["issued"]) == len(data["spent"]) == len(data["expired"]) == 12


def test_monthly_series_counts_issued_spent_net_of_refunds_and_expired(programme, lots):
    redemption = Redemption.objects.get()
    ledger.do_expire_lots(now=now_plus(days=31))  # the lots (valid 30 days) expire at the end of March
    ledger.do_refund(programme.ctx, redemption.pk, 10, now=now_plus(days=40))  # April, into an expired lot

    data = monthly_series(programme.operator, months=3, now=now_plus(days=45))

    assert data == {"months": ["2026-02", "2026-03", "2026-04"], "issued": [0, 200, 0], "spent": [0, 30, -10],
                    "expired": [0, 0, 180]}


# --- purchases ----------------------------------------------------------------------------------

def test_agency_admin_records_a_purchase_from_the_page(programme):
    client = page_client(programme.agency_admin)

    response = client.post("/points/purchases/", {"agency": programme.agency.pk, "reference": "PO-2026-010",
                                                  "points": "25000"})

    assert response.status_code == 302
    purchase = Purchase.objects.get(reference="PO-2026-010")
    assert (purchase.points, purchase.status) == (25_000, "unfunded")


def test_a_duplicate_reference_is_shown_on_the_form(programme):
    client = page_client(programme.agency_admin)
    before = Purchase.objects.count()

    response = client.post("/points/purchases/", {"agency": programme.agency.pk, "reference": "PO-2026-001",
                                                  "points": "10"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["This purchase reference already exists."]
    assert "This purchase reference already exists." in response.content.decode()
    assert Purchase.objects.count() == before


def test_operator_confirms_a_deposit_and_an_agency_admin_cannot(programme):
    purchase = ledger.do_create_purchase(programme.agency_admin, agency_id=programme.agency.pk,
                                         reference="PO-2026-011", points=1_000)
    url = f"/points/purchases/{purchase.pk}/confirm-deposit/"

    operator_page = page_client(programme.operator).get("/points/purchases/").content.decode()
    admin_page = page_client(programme.agency_admin).get("/points/purchases/").content.decode()
    refused = page_client(programme.agency_admin).post(url, {"bank_reference": "TRUST-11"})
    blank = page_client(programme.operator).post(url, {"bank_reference": " "})
    purchase.refresh_from_db()
    assert (refused.status_code, purchase.status) == (403, "unfunded")
    assert blank.status_code == 200
    assert blank.context["confirm_id"] == purchase.pk
    assert blank.context["confirm_form"].errors == {"bank_reference": ["This field is required."]}
    assert url in operator_page
    assert url not in admin_page

    done = page_client(programme.operator).post(url, {"bank_reference": "TRUST-11"})

    purchase.refresh_from_db()
    assert (done.status_code, purchase.status, purchase.bank_reference) == (302, "funded", "TRUST-11")


def test_confirming_an_already_funded_purchase_shows_the_error(programme):
    purchase = Purchase.objects.get(reference="PO-2026-001")

    response = page_client(programme.operator).post(f"/points/purchases/{purchase.pk}/confirm-deposit/",
                                                    {"bank_reference": "TRUST-AGAIN"})

    assert response.status_code == 200
    assert response.context["confirm_form"].non_field_errors() == ["This purchase is already funded."]


# --- campaigns ----------------------------------------------------------------------------------

def campaign_post(agency, **changes) -> dict:
    data = {"agency": agency.pk, "name": "中秋加碼", "budget": "2000", "grant_points": "100",
            "per_member_limit": "200", "claim_start": "2026-09-01T00:00", "claim_end": "2026-10-01T00:00",
            "lot_validity_days": "90"}
    data.update(changes)
    return data


def test_campaign_created_approved_and_closed_from_the_pages(programme):
    client = page_client(programme.agency_admin)

    created = client.post("/points/campaigns/", campaign_post(programme.agency))
    campaign = Campaign.objects.get(name="中秋加碼")
    approved = client.post(f"/points/campaigns/{campaign.pk}/approve/")
    closed = client.post(f"/points/campaigns/{campaign.pk}/close/")

    assert created.status_code == approved.status_code == closed.status_code == 302
    assert created["Location"] == f"/points/campaigns/{campaign.pk}/"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CLOSED
    assert campaign.claim_start == timezone.make_aware(dt.datetime(2026, 9, 1))


def test_campaign_service_errors_show_on_the_form(programme):
    client = page_client(programme.agency_admin)
    before = Campaign.objects.count()

    window = client.post("/points/campaigns/", campaign_post(programme.agency, claim_end="2026-08-01T00:00"))
    limit = client.post("/points/campaigns/", campaign_post(programme.agency, grant_points="500"))

    assert window.status_code == limit.status_code == 200
    assert window.context["form"].errors == {"claim_end": ["Claims must close after they open."]}
    assert limit.context["form"].errors == {"grant_points": ["One grant exceeds the per-member limit."]}
    assert Campaign.objects.count() == before


def test_approving_beyond_the_funded_points_shows_the_error_and_changes_nothing(programme):
    draft = ledger.do_create_campaign(programme.agency_admin, ledger.CampaignInput(
        agency_id=programme.agency.pk, name="太大", budget=1_000_000, grant_points=100, per_member_limit=100,
        claim_start=T0, claim_end=now_plus(days=10)))
    before = Transfer.objects.count()

    response = page_client(programme.agency_admin).post(f"/points/campaigns/{draft.pk}/approve/")

    assert response.status_code == 200
    assert response.context["action_error"] == ("The agency does not have enough funded, unreserved points for "
                                                "this budget.")
    assert 'id="action-error"' in response.content.decode()
    draft.refresh_from_db()
    assert (draft.status, Transfer.objects.count()) == (CampaignStatus.DRAFT, before)


def test_campaign_detail_shows_budget_issued_and_remaining(programme, lots):
    response = page_client(programme.operator).get(f"/points/campaigns/{programme.campaign.pk}/")

    campaign = response.context["campaign"]
    assert (campaign.budget, campaign.issued, campaign.unissued, campaign.lot_count) == (10_000, 200, 9_800, 2)
    assert response.context["member_count"] == 2


def test_single_grant_from_the_page_and_a_refusal_inline(programme):
    campaign = make_campaign(programme.agency_admin, programme.agency, budget=1_000, grant_points=100,
                             per_member_limit=100, start=timezone.now(), name="即時活動")
    client = page_client(programme.operator)

    granted = client.post(f"/points/campaigns/{campaign.pk}/grant/", {"card_number": "CARD0001"})
    refused = client.post(f"/points/campaigns/{campaign.pk}/grant/", {"card_number": "CARD0001"})
    unknown = client.post(f"/points/campaigns/{campaign.pk}/grant/", {"card_number": "NOPE"})

    assert granted.status_code == 302
    assert refused.status_code == unknown.status_code == 200
    assert refused.context["grant_form"].non_field_errors() == ["The member has reached this campaign's limit."]
    assert unknown.context["grant_form"].non_field_errors() == ["Unknown card number."]
    assert Lot.objects.filter(campaign=campaign).count() == 1


def test_bulk_grant_upload_shows_the_report_by_line(programme):
    campaign = make_campaign(programme.agency_admin, programme.agency, budget=300, grant_points=100,
                             per_member_limit=100, start=timezone.now(), name="即時活動")
    upload = SimpleUploadedFile("cards.csv", b"card_number\nCARD0001\nCARD0001\nXX\nCARD0002\nCARD0003\nCARD0004\n")

    response = page_client(programme.agency_admin).post(f"/points/campaigns/{campaign.pk}/bulk-grant/",
                                                        {"file": upload})

    assert response.status_code == 200
    result = response.context["bulk_result"]
    assert (result.lines, result.granted, result.points) == (6, 3, 300)
    assert [(r.line, r.card_number, r.reason) for r in result.refused] == [
        (3, "CARD0001", "The member has reached this campaign's limit."),
        (4, "XX", "Unknown card number."),
        (7, "CARD0004", "The campaign's budget is used up."),
    ]
    html = response.content.decode()
    assert '<tr data-line="4">' in html


def test_bulk_grant_of_an_unreadable_file_is_a_form_error(programme):
    campaign = make_campaign(programme.agency_admin, programme.agency, start=timezone.now(), name="即時活動")

    response = page_client(programme.agency_admin).post(
        f"/points/campaigns/{campaign.pk}/bulk-grant/", {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00\x81\x00")})

    assert response.status_code == 200
    assert response.context["bulk_form"].errors == {"file": ["The file is neither UTF-8 nor Big5 text."]}
    assert response.context["bulk_result"] is None


def test_auditor_sees_no_forms_and_cannot_post(programme, lots, auditor):
    client = page_client(auditor)
    before = (Transfer.objects.count(), Purchase.objects.count(), Campaign.objects.count())

    purchases = client.get("/points/purchases/")
    campaign = client.get(f"/points/campaigns/{programme.campaign.pk}/")
    create = client.post("/points/purchases/", {"agency": programme.agency.pk, "reference": "PO-A", "points": "1"})
    close = client.post(f"/points/campaigns/{programme.campaign.pk}/close/")
    suspend = client.post(f"/points/merchants/{programme.merchant.pk}/suspend/")

    assert purchases.context["form"] is None and purchases.context["can_confirm"] is False
    assert not campaign.context["can_close"] and not campaign.context["can_issue"]
    assert (create.status_code, close.status_code, suspend.status_code) == (403, 403, 403)
    assert (Transfer.objects.count(), Purchase.objects.count(), Campaign.objects.count()) == before
    assert Merchant.objects.get(pk=programme.merchant.pk).status == MerchantStatus.ACTIVE


# --- lots, members, merchants --------------------------------------------------------------------

def test_lots_expiring_within_30_days(programme):
    campaign = make_campaign(programme.agency_admin, programme.agency, start=timezone.now(), days=20,
                             name="短期")
    soon = ledger.do_grant(programme.operator, campaign.pk, "CARD0001")
    long_campaign = make_campaign(programme.agency_admin, programme.agency, start=timezone.now(), days=90,
                                  name="長期")
    ledger.do_grant(programme.operator, long_campaign.pk, "CARD0002")

    response = page_client(programme.operator).get("/points/lots/", {"expiring_within": "30"})

    assert [lot.pk for lot in response.context["page"]] == [soon.pk]


def test_wallet_lists_lots_earliest_expiry_first_with_history(programme):
    late = make_campaign(programme.agency_admin, programme.agency, start=timezone.now(), days=90, name="晚到期")
    early = make_campaign(programme.agency_admin, programme.agency, start=timezone.now(), days=10, name="早到期")
    ledger.do_grant(programme.operator, late.pk, "CARD0001")
    ledger.do_grant(programme.operator, early.pk, "CARD0001")
    ledger.do_redeem(programme.ctx, "CARD0001", 150)
    member = programme.members[0]

    response = page_client(programme.operator).get(f"/points/members/{member.pk}/wallet/")

    wallet = response.context["wallet"]
    assert [(lot.campaign, lot.remaining) for lot in wallet.lots] == [("早到期", 0), ("晚到期", 50)]
    assert (wallet.spendable, wallet.held) == (50, 0)
    assert [(t.kind, t.amount) for t in response.context["history"]] == [
        ("redeem", 50), ("redeem", 100), ("grant", 100), ("grant", 100)]


def test_operator_registers_a_member_and_errors_show_inline(programme):
    client = page_client(programme.operator)

    bad = client.post("/points/members/", {"card_number": "x", "national_id": "A123456788"})
    duplicate = client.post("/points/members/", {"card_number": "CARD0001"})
    good = client.post("/points/members/", {"card_number": "CARD20269999", "national_id": "A123456789",
                                            "name": "測試", "consent": "on"})

    assert bad.status_code == duplicate.status_code == 200
    assert bad.context["form"].errors == {
        "card_number": ["A card number has 8 to 32 letters or digits."],
        "national_id": ["Not a valid national ID or resident certificate number."]}
    assert duplicate.context["form"].errors == {"card_number": ["A member with this card number already exists."]}
    assert good.status_code == 302
    detail = client.get(good["Location"]).content.decode()
    assert "CARD20269999" in detail and "A123456789" not in detail


def test_merchant_list_filters_and_share(programme, merchant_factory):
    merchant_factory(name="停權店", status=MerchantStatus.SUSPENDED)
    merchant_factory(name="未開通店", points_enabled=False)

    everything = page_client(programme.operator).get("/points/merchants/")
    suspended = page_client(programme.operator).get("/points/merchants/", {"status": "suspended"})
    disabled = page_client(programme.operator).get("/points/merchants/", {"points_enabled": "false"})

    assert everything.context["page"].paginator.count == 3
    assert (everything.context["summary"]["active"], everything.context["summary"]["active_enabled"]) == (2, 1)
    assert everything.context["share"] == 50.0
    assert [m.name for m in suspended.context["page"]] == ["停權店"]
    assert [m.name for m in disabled.context["page"]] == ["未開通店"]


def test_operator_suspends_a_merchant_and_a_bad_transition_shows_inline(programme):
    client = page_client(programme.operator)
    url = f"/points/merchants/{programme.merchant.pk}/"

    suspended = client.post(url + "suspend/")
    again = client.post(url + "suspend/")

    assert suspended.status_code == 302
    assert again.status_code == 200
    assert again.context["action_error"] == "A merchant cannot go from suspended to suspended."
    assert Merchant.objects.get(pk=programme.merchant.pk).status == MerchantStatus.SUSPENDED


# --- dashboard tiles ----------------------------------------------------------------------------

def tiles(user) -> dict:
    response = page_client(user).get("/")
    return {card.tile.key: card.value for card in response.context["cards"] if card.tile.key.startswith("points.")}


def test_dashboard_tiles_for_the_operator(programme, lots):
    values = tiles(programme.operator)

    assert {key: (v.value, v.status) for key, v in values.items()} == {
        "points.overview": (170, "ok"), "points.issued": (0, "ok"), "points.merchants": (1, "ok"),
        "points.ledger": (0, "ok"), "points.yoy": (0, "ok"), "points.enablement": (100.0, "ok")}
    assert values["points.overview"].detail == "170 available, 0 held; 30 spent and 0 expired so far"
    assert values["points.merchants"].detail == "100.0% of 1 active merchants"


def test_dashboard_tiles_are_empty_for_an_agency_without_purchases(programme, make_agency, make_user):
    other = make_user("culture-admin", Role.AGENCY_ADMIN, [make_agency("culture", "文化局")])

    values = tiles(other)

    assert {key: (v.value, v.status) for key, v in values.items()} == dict.fromkeys(
        ("points.overview", "points.issued", "points.merchants", "points.ledger", "points.yoy", "points.enablement"),
        (None, "empty"))


def test_dashboard_has_no_points_tiles_without_points_view(programme, make_user):
    assert tiles(make_user("analyst", Role.SECURITY_ANALYST)) == {}


def test_dashboard_alerts_on_collapsed_issuance_and_few_enabled_merchants(programme, merchant_factory):
    now = timezone.now()
    this_start, last_start = month_start(now), month_start(now, 1)
    # A grant early last month (before this point of the month), none this month.
    at = last_start + min(dt.timedelta(hours=1), (now - this_start) / 2)
    campaign = make_campaign(programme.agency_admin, programme.agency, start=at, name="上月活動")
    ledger.do_grant(programme.operator, campaign.pk, "CARD0001", now=at)
    merchant_factory(name="未開通一", points_enabled=False)
    merchant_factory(name="未開通二", points_enabled=False)

    values = tiles(programme.operator)

    assert (values["points.issued"].value, values["points.issued"].status) == (0, "alert")
    assert values["points.issued"].detail == "Last month: 100 (100 by this day of the month)"
    assert (values["points.merchants"].value, values["points.merchants"].status) == (1, "alert")
    assert values["points.merchants"].detail == "33.3% of 3 active merchants"
