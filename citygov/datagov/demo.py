"""Demo data for the datagov module: the real Taoyuan open-data catalogue of 2018-07-07 (1,444 datasets).

Imported through the same service as any catalogue file, so the change log and the import report are
real. Idempotent: re-importing the same file changes nothing.

The demo also approves one cross-agency sharing grant (文化局 asks 地政局 for a parcel dataset), through
the request and decision services; the exchange demo links its access right to it, so a call over
the secure exchange is checked against a live grant.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import timezone

from citygov.agencies.models import Agency
from citygov.datagov.models import Dataset, SharingRequest, SharingStatus
from citygov.datagov.services import (
    ImportResult,
    SharingInput,
    do_decide_sharing,
    do_import_catalog,
    do_request_sharing,
)

DEMO_CATALOGUE = Path(__file__).resolve().parent / "data" / "taoyuan_tycg_catalog_2018-07-07.csv"


def seed_datagov_demo(admin) -> ImportResult:
    """Import the Taoyuan catalogue as ``admin`` (a city administrator)."""
    with DEMO_CATALOGUE.open("rb") as stream:
        result = do_import_catalog(admin, stream, DEMO_CATALOGUE.name)
    seed_sharing_grant(admin)
    return result


def seed_sharing_grant(admin) -> SharingRequest | None:
    """One approved grant covering today: 文化局 may use a 地政局 parcel dataset (idempotent)."""
    if SharingRequest.objects.filter(status=SharingStatus.APPROVED).exists():
        return None
    culture = Agency.objects.filter(code="culture").first()
    dataset = (Dataset.objects.filter(agency__code="land", title__contains="地號").order_by("pk").first()
               or Dataset.objects.filter(agency__code="land").order_by("pk").first())
    if culture is None or dataset is None:
        return None
    today = timezone.localdate()
    request = do_request_sharing(admin, SharingInput(
        dataset_id=dataset.pk, requesting_agency_id=culture.pk, purpose="文化資產場館周邊地籍查詢",
        legal_basis="個人資料保護法第16條", period_start=today - dt.timedelta(days=30),
        period_end=today + dt.timedelta(days=330)))
    do_decide_sharing(admin, request.pk, approve=True)
    return request
