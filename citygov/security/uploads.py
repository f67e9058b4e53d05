"""Uploaded import files: spooled to a temporary file for the import services, which read a path
(the CLI hands them files on disk, and they stream large files rather than hold them in memory)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.utils.translation import gettext_lazy

from citygov.security import services

# What can be imported, by the name the page form and the API use (values: label, service call).
IMPORT_KINDS: dict[str, tuple[str, Callable[..., services.ImportReport]]] = {
    "inventory": (gettext_lazy("Software inventory (CSV, JSON or osquery JSON)"),
                  lambda user, agency_id, path, hostname="": services.do_import_inventory(
                      user, agency_id, path, hostname=hostname)),
    "devices": (gettext_lazy("Device list"),
                lambda user, agency_id, path, hostname="": services.do_import_devices(user, agency_id, path)),
    "systems": (gettext_lazy("Information systems"),
                lambda user, agency_id, path, hostname="": services.do_import_systems(user, agency_id, path)),
    "components": (gettext_lazy("System components"),
                   lambda user, agency_id, path, hostname="": services.do_import_components(user, agency_id, path)),
    "tests": (gettext_lazy("Penetration tests and red/blue exercises with findings"),
              lambda user, agency_id, path, hostname="": services.do_import_security_tests(user, agency_id, path)),
}


@contextmanager
def spooled(upload) -> Iterator[Path]:
    """The uploaded file written to a temporary directory (removed afterwards), under its own base name."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(upload.name or "upload.csv").name or "upload.csv")
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        yield path


def run_import(user, kind: str, agency_id: int | None, upload, hostname: str = "") -> services.ImportReport:
    """Spool ``upload`` and run the import service for ``kind`` (a key of :data:`IMPORT_KINDS`)."""
    with spooled(upload) as path:
        return IMPORT_KINDS[kind][1](user, agency_id, path, hostname=hostname)
