"""Demo data for the datagov module: the real Taoyuan open-data catalogue of 2018-07-07 (1,444 datasets).

Imported through the same service as any catalogue file, so the change log and the import report are
real. Idempotent: re-importing the same file changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from citygov.datagov.services import ImportResult, do_import_catalog

DEMO_CATALOGUE = Path(__file__).resolve().parent / "data" / "taoyuan_tycg_catalog_2018-07-07.csv"


def seed_datagov_demo(admin) -> ImportResult:
    """Import the Taoyuan catalogue as ``admin`` (a city administrator)."""
    with DEMO_CATALOGUE.open("rb") as stream:
        return do_import_catalog(admin, stream, DEMO_CATALOGUE.name)
