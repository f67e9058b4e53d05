"""Demo data for a new installation: one account per role, attached to real Taoyuan agencies.

Everything is written through services, so the demo also fills the change log the way real use would.
Re-running is idempotent: existing demo accounts are kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.module_loading import import_string

from citygov.agencies.models import Agency, SecurityLevel
from citygov.agencies.services import do_update_agency
from citygov.core.roles import Role
from citygov.core.services import UserInput, do_create_user, do_ensure_admin, generate_password

# (user name, role, agency codes, display name)
DEMO_ACCOUNTS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("demo-agency-admin", Role.AGENCY_ADMIN, ("culture",), "文化局 資訊聯絡人"),
    ("demo-analyst", Role.SECURITY_ANALYST, ("sccdc",), "資安分析師"),
    ("demo-steward", Role.DATA_STEWARD, ("land",), "地政局 資料管理員"),
    ("demo-operator", Role.POINTS_OPERATOR, ("sccdc",), "點數營運人員"),
    ("demo-district", Role.AGENCY_ADMIN, ("do-zhongli",), "中壢區公所 管理員"),
    ("demo-auditor", Role.AUDITOR, (), "審計人員"),
)

# Demo responsibility levels: the real ones are assigned by the supervising authority and not public.
DEMO_LEVELS = {"tycg": SecurityLevel.A, "sccdc": SecurityLevel.A, "police": SecurityLevel.A,
               "culture": SecurityLevel.C, "land": SecurityLevel.B, "do-zhongli": SecurityLevel.C}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    agencies: tuple[str, ...]


@dataclass(frozen=True)
class DemoResult:
    created: tuple[DemoAccount, ...]
    password: str | None


# Each domain app's demo seeder, called in this order with the administrator.
# Datagov before exchange: the exchange demo links an access right to the datagov demo's sharing grant.
APP_DEMOS = (
    "citygov.points.demo.seed_points_demo",
    "citygov.soc.demo.seed_soc_demo",
    "citygov.security.demo.seed_security_demo",
    "citygov.datagov.demo.seed_datagov_demo",
    "citygov.exchange.demo.seed_exchange_demo",
    "citygov.assistant.demo.seed_assistant_demo",
)


def seed_demo() -> DemoResult:
    """Create the demo accounts (one shared generated password, returned once) and demo levels."""
    admin, _ = do_ensure_admin()
    user_model = get_user_model()
    codes = {code for _, _, agencies, _ in DEMO_ACCOUNTS for code in agencies} | set(DEMO_LEVELS)
    agencies = {a.code: a for a in Agency.objects.filter(code__in=codes)}
    password = generate_password()
    created = []
    with transaction.atomic():
        for username, role, agency_codes, display in DEMO_ACCOUNTS:
            if user_model.objects.filter(username=username).exists():
                continue
            ids = tuple(agencies[c].pk for c in agency_codes if c in agencies)
            do_create_user(admin, UserInput(username=username, role=role, agency_ids=ids, display_name=display,
                                            password=password))
            created.append(DemoAccount(username, role, agency_codes))
        for code, level in DEMO_LEVELS.items():
            agency = agencies.get(code)
            if agency is not None and agency.security_level != level:
                do_update_agency(admin, agency.pk, {"security_level": level})
    for path in APP_DEMOS:
        # Imported by name: a static import would make every module that imports core.demo depend on
        # every domain app. A failure in one app's demo must not stop the others.
        try:
            import_string(path)(admin)
        except Exception:
            logging.getLogger(__name__).exception("demo data could not be seeded: %s", path)
    return DemoResult(created=tuple(created), password=password if created else None)
