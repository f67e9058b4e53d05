"""Shared setup for the points ledger tests: a funded programme with members and a merchant.

Setup goes through the services (so the ledger is whole); the ledger auditor runs after each test
that uses ``programme``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from citygov.core.roles import Role
from citygov.points.models import Member, Merchant, MerchantStatus, Terminal
from citygov.points.queries import check_ledger
from citygov.points.services import ledger

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@dataclass
class Programme:
    agency: object
    operator: object
    agency_admin: object
    campaign: object
    merchant: Merchant
    terminal: Terminal
    ctx: ledger.TerminalContext
    members: list[Member]


def make_merchant(tax_id: str, name: str, *, status=MerchantStatus.ACTIVE, enabled=True) -> Merchant:
    return Merchant.objects.create(tax_id=tax_id, name=name, status=status, points_enabled=enabled)


def make_campaign(admin, agency, *, budget=10_000, grant_points=100, per_member_limit=300, days=30, start=T0,
                  name="春節加碼"):
    campaign = ledger.do_create_campaign(admin, ledger.CampaignInput(
        agency_id=agency.pk, name=name, budget=budget, grant_points=grant_points,
        per_member_limit=per_member_limit, claim_start=start - dt.timedelta(days=1),
        claim_end=start + dt.timedelta(days=60), lot_validity_days=days))
    return ledger.do_approve_campaign(admin, campaign.pk, now=start)


@pytest.fixture
def programme(db, make_agency, make_user):
    agency = make_agency("social-welfare", "社會局")
    operator = make_user("operator", Role.POINTS_OPERATOR)
    agency_admin = make_user("welfare-admin", Role.AGENCY_ADMIN, [agency])
    purchase = ledger.do_create_purchase(agency_admin, agency_id=agency.pk, reference="PO-2026-001",
                                         points=100_000, now=T0)
    ledger.do_confirm_deposit(operator, purchase.pk, bank_reference="TRUST-0001", now=T0)
    campaign = make_campaign(agency_admin, agency)
    merchant = make_merchant("04595257", "桃園好店")
    terminal = Terminal.objects.create(merchant=merchant, terminal_id="T-001", secret="s" * 32)
    members = [Member.objects.create(card_number=f"CARD{n:04d}") for n in range(1, 6)]
    programme = Programme(agency, operator, agency_admin, campaign, merchant, terminal,
                          ledger.terminal_context(terminal), members)
    yield programme
    health = check_ledger()
    assert health.problems == []


def now_plus(**kwargs) -> dt.datetime:
    return T0 + dt.timedelta(**kwargs)


def balance(lot) -> int:
    lot.account.refresh_from_db()
    return lot.account.balance


__all__ = ["T0", "Programme", "balance", "make_campaign", "make_merchant", "now_plus", "programme", "timezone"]
