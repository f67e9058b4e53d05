"""Fixtures for the points tests: a points operator, and factories for merchants and members.

Setup only: plain ORM here; the code under test goes through the services.
"""

from __future__ import annotations

import itertools

import pytest

from citygov.core.roles import Role
from citygov.points.engine.taxid import is_valid_tax_id
from citygov.points.models import Member, Merchant, MerchantStatus, hash_national_id


def valid_tax_ids():
    """Valid 統一編號 in ascending order, starting at 10000000 (an endless supply for factories)."""
    return (f"{n:08d}" for n in itertools.count(10_000_000) if is_valid_tax_id(f"{n:08d}"))


@pytest.fixture
def operator(make_user):
    """A points operator (manages merchants and members for every agency)."""
    return make_user("points-operator", Role.POINTS_OPERATOR)


@pytest.fixture
def merchant_factory(db):
    """Create a merchant; by default active with points payment on, with the next unused valid 統一編號."""
    supply = valid_tax_ids()

    def make(tax_id: str | None = None, name: str = "桃園測試商店", *, status: str = MerchantStatus.ACTIVE,
             points_enabled: bool = True, **extra) -> Merchant:
        if tax_id is None:
            tax_id = next(t for t in supply if not Merchant.objects.filter(tax_id=t).exists())
        return Merchant.objects.create(tax_id=tax_id, name=name, status=status, points_enabled=points_enabled,
                                       **extra)

    return make


@pytest.fixture
def member_factory(db):
    """Create a member with a card number (CARD00000001, …) and optionally a national ID (stored hashed)."""
    counter = itertools.count(1)

    def make(card_number: str | None = None, *, national_id: str = "", **extra) -> Member:
        return Member.objects.create(card_number=card_number or f"CARD{next(counter):08d}",
                                     national_id_hash=hash_national_id(national_id) if national_id else "",
                                     **extra)

    return make


@pytest.fixture(autouse=True)
def _ledger_auditor(request):
    """After every points test that touched the database, the ledger must pass the auditor and the
    trust account its identities (book = deposits − payouts − refunds to agencies; statement = book +
    open exceptions; settled and refunded totals confirmed by the bank).

    A test that tampers with balances on purpose marks itself ``@pytest.mark.ledger_tampered``.
    """
    yield
    if "ledger_tampered" in request.keywords or "django_db_setup" not in request.fixturenames:
        return
    if not any(name in request.fixturenames for name in ("db", "transactional_db")) \
            and request.node.get_closest_marker("django_db") is None:
        return
    from citygov.points.queries import check_ledger
    from citygov.points.services.reconciliation import check_trust

    problems = check_ledger().problems + check_trust()
    assert problems == [], problems
