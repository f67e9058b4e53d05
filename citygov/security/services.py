"""Security services: inventory import with identification and CVE matching, and analysts' mappings.

``check_*`` validates and authorises; ``do_*`` writes inside a transaction and records the change log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from citygov.agencies.models import Agency
from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.roles import Capability
from citygov.core.scoping import can_reach_agency
from citygov.security.engine.bundle import load_products, load_vulns
from citygov.security.engine.identify import Identifier, InventoryRow, load_tables, normalize_name
from citygov.security.engine.inventory import InventoryError, iter_csv
from citygov.security.engine.pipeline import cves_for
from citygov.security.models import Device, DeviceType, InstalledSoftware, ManualMapping

CHUNK = 500
INVENTORY_COLUMNS = {
    "hostname": ("hostname", "host", "computer_name", "device"),
    "display_name": ("display_name", "displayname", "name", "package"),
    "display_version": ("display_version", "displayversion", "version"),
    "publisher": ("publisher", "vendor", "maintainer"),
    "arch": ("arch", "architecture"),
}
DEVICE_COLUMNS = {
    "hostname": ("hostname", "host", "computer_name"),
    "device_type": ("device_type", "type"),
    "os": ("os", "operating_system"),
    "vans_enrolled": ("vans_enrolled", "vans"),
    "edr_installed": ("edr_installed", "edr"),
    "last_seen": ("last_seen",),
}
_TRUE = {"1", "true", "yes", "y", "是", "有", "v"}
_FALSE = {"", "0", "false", "no", "n", "否", "無"}
_SEVERITY_ORDER = ["", "unknown", "low", "medium", "high", "critical"]


@dataclass(frozen=True)
class ImportProblem:
    """One rejected row: its line and why."""

    line: int
    message: str


@dataclass
class ImportReport:
    """What an import did: rows read, rows created/updated/unchanged, devices created, rejected rows."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    devices_created: int = 0
    problems: list[ImportProblem] = field(default_factory=list)


def _agency_for(actor, agency_id: int) -> Agency:
    if not actor.has_capability(Capability.MANAGE_SECURITY) or actor.is_read_only:
        raise Forbidden(_("Your role may not import security inventories."))
    agency = Agency.objects.filter(pk=agency_id).first()
    if agency is None or not can_reach_agency(actor, agency.pk):
        raise NotFound(_("No such agency."))
    return agency


def identifier_with_mappings() -> Identifier:
    """An identifier over the bundled tables that knows every analyst mapping ("learn once")."""
    manual = {m.normalized_name: f"{m.vendor}:{m.product}" for m in ManualMapping.objects.all()}
    return Identifier(load_tables(), load_products(), manual)


def _identified_fields(identifier: Identifier, row: InventoryRow, cache: dict | None = None) -> dict:
    # Inventories repeat the same programs on many devices: identify and match each distinct row once.
    if cache is not None and row in cache:
        return cache[row]
    result = identifier.identify(row)
    analysed, awaiting = cves_for(result, load_vulns(), row.display_name)
    worst = max((h.severity for h in analysed), key=_SEVERITY_ORDER.index, default="")
    fields = {"status": result.status, "cpe": result.cpe[:300], "vendor": result.vendor[:120],
            "product": result.product[:160], "version": result.version[:100], "confidence": result.confidence,
            "rule": result.rule[:40], "reason": result.reason[:300], "cve_count": len(analysed),
            "worst_severity": worst, "cve_ids": [h.cve_id for h in analysed[:50]]}
    if cache is not None and len(cache) < 50_000:
        cache[row] = fields
    return fields


def check_import_inventory(actor, agency_id: int, path: Path) -> Agency:
    """Authorise an inventory import for ``agency_id`` and check that the file exists."""
    agency = _agency_for(actor, agency_id)
    if not path.is_file():
        raise InvalidInput(_("The file does not exist."), code="unreadable_file")
    return agency


def do_import_inventory(actor, agency_id: int, path: Path) -> ImportReport:
    """Import a software inventory CSV (hostname, display_name, display_version, publisher) for one agency.

    Streams the file in chunks of 500 rows, each in its own transaction; every row is identified and
    matched against the CVE index. Devices are created on first sight. Re-importing the same file changes
    nothing. Rows without a host name or display name are reported by line; the others are imported.
    A bad file (encoding, columns) raises :class:`InvalidInput` before anything is written.
    """
    agency = check_import_inventory(actor, agency_id, path)
    identifier = identifier_with_mappings()
    report = ImportReport()
    cache: dict = {}
    chunk: list[tuple[int, dict]] = []
    try:
        for line, values in iter_csv(path, INVENTORY_COLUMNS, required=("hostname", "display_name")):
            report.rows += 1
            if not values["hostname"] or not values["display_name"]:
                report.problems.append(ImportProblem(line, _("host name and display name are required")))
                continue
            chunk.append((line, values))
            if len(chunk) >= CHUNK:
                _import_chunk(actor, agency, identifier, chunk, report, cache)
                chunk = []
    except InventoryError as exc:
        raise InvalidInput(str(exc), code="bad_header" if exc.line == 1 else "unreadable_file") from None
    finally:
        if chunk:
            _import_chunk(actor, agency, identifier, chunk, report, cache)
    with transaction.atomic():
        record_change(actor=actor, action=ChangeAction.ACTION, agency_id=agency.pk,
                      object_repr=f"{agency.name_zh}: {path.name}",
                      note=(f"software inventory import: {report.rows} rows, {report.created} created, "
                            f"{report.updated} updated, {report.unchanged} unchanged, "
                            f"{report.devices_created} devices created, {len(report.problems)} rejected"))
    return report


def _import_chunk(actor, agency: Agency, identifier: Identifier, chunk: list[tuple[int, dict]],
                  report: ImportReport, cache: dict) -> None:
    with transaction.atomic():
        hosts = {values["hostname"] for _, values in chunk}
        devices = {d.hostname: d for d in Device.objects.filter(agency=agency, hostname__in=hosts)}
        for host in sorted(hosts - set(devices)):
            device = Device.objects.create(agency=agency, hostname=host[:120])
            record_change(actor=actor, action=ChangeAction.CREATE, obj=device, after=snapshot(device))
            devices[host] = device
            report.devices_created += 1
        existing = {(s.device_id, s.display_name, s.display_version): s for s in InstalledSoftware.objects.filter(
            device__in=devices.values(), display_name__in={v["display_name"][:300] for _, v in chunk})}
        new: dict[tuple, InstalledSoftware] = {}
        for _line, values in chunk:
            device = devices[values["hostname"]]
            name, version = values["display_name"][:300], values["display_version"][:100]
            fields = {"publisher": values["publisher"][:200], **_identified_fields(
                identifier, InventoryRow(name, version, values["publisher"], values["arch"]), cache)}
            key = (device.pk, name, version)
            current = existing.get(key)
            if current is None:
                if key not in new:
                    new[key] = InstalledSoftware(agency=agency, device=device, display_name=name,
                                                 display_version=version, **fields)
                    report.created += 1
                else:
                    report.unchanged += 1
            elif any(getattr(current, k) != v for k, v in fields.items()):
                InstalledSoftware.objects.filter(pk=current.pk).update(**fields)
                report.updated += 1
            else:
                report.unchanged += 1
        InstalledSoftware.objects.bulk_create(new.values())


def _flag(value: str, line: int, name: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(_("line {line}: {name} must be yes or no").format(line=line, name=name))


def check_import_devices(actor, agency_id: int, path: Path) -> Agency:
    """Authorise a device list import for ``agency_id`` and check that the file exists."""
    return check_import_inventory(actor, agency_id, path)


def do_import_devices(actor, agency_id: int, path: Path) -> ImportReport:
    """Import an agency's device list (hostname, device_type, os, vans_enrolled, edr_installed, last_seen).

    Idempotent: unchanged devices are left alone; each created or changed device gets a change-log row.
    Rows with a bad value are reported by line and skipped.
    """
    agency = check_import_devices(actor, agency_id, path)
    report = ImportReport()
    try:
        rows = list(iter_csv(path, DEVICE_COLUMNS, required=("hostname",)))
    except InventoryError as exc:
        raise InvalidInput(str(exc), code="bad_header" if exc.line == 1 else "unreadable_file") from None
    with transaction.atomic():
        for line, values in rows:
            report.rows += 1
            try:
                wanted = {
                    "device_type": values["device_type"].lower() or DeviceType.PC,
                    "os": values["os"][:120],
                    "vans_enrolled": _flag(values["vans_enrolled"], line, "vans_enrolled"),
                    "edr_installed": _flag(values["edr_installed"], line, "edr_installed"),
                    "last_seen": dt.date.fromisoformat(values["last_seen"]) if values["last_seen"] else None,
                }
                if wanted["device_type"] not in DeviceType.values:
                    raise ValueError(_("line {line}: unknown device type").format(line=line))
            except ValueError as exc:
                report.problems.append(ImportProblem(line, str(exc)))
                continue
            device = Device.objects.filter(agency=agency, hostname=values["hostname"][:120]).first()
            if device is None:
                device = Device.objects.create(agency=agency, hostname=values["hostname"][:120], **wanted)
                record_change(actor=actor, action=ChangeAction.CREATE, obj=device, after=snapshot(device))
                report.created += 1
                continue
            before = snapshot(device)
            if all(getattr(device, k) == v for k, v in wanted.items()):
                report.unchanged += 1
                continue
            Device.objects.filter(pk=device.pk).update(**wanted)
            device.refresh_from_db()
            record_change(actor=actor, action=ChangeAction.UPDATE, obj=device, before=before, after=snapshot(device))
            report.updated += 1
    return report


def check_map_software(actor, display_name: str, vendor: str, product: str) -> str:
    """Authorise and validate an analyst mapping; returns the normalised name it will apply to."""
    if not actor.has_capability(Capability.MANAGE_SECURITY) or actor.is_read_only:
        raise Forbidden(_("Your role may not map software to CPEs."))
    errors = {}
    key = normalize_name(display_name, load_tables().terms)
    if not key:
        errors["display_name"] = [_("This name is empty after normalisation.")]
    for name, value in (("vendor", vendor), ("product", product)):
        if not value or any(c in value for c in ": *?"):
            errors[name] = [_("Use the NVD name: lower case, no spaces, colons or wildcards.")]
    if errors:
        raise InvalidInput(_("The mapping has invalid fields."), fields=errors)
    return key


def do_map_software(actor, display_name: str, vendor: str, product: str) -> int:
    """Remember ``display_name`` → vendor:product for the whole city and re-identify every matching row.

    Returns the number of installed-software rows updated (in every agency: "learn once").
    """
    key = check_map_software(actor, display_name, vendor.strip().lower(), product.strip().lower())
    vendor, product = vendor.strip().lower(), product.strip().lower()
    with transaction.atomic():
        mapping, created = ManualMapping.objects.update_or_create(
            normalized_name=key, defaults={"vendor": vendor, "product": product, "created_by": actor})
        record_change(actor=actor, action=ChangeAction.CREATE if created else ChangeAction.UPDATE, obj=mapping,
                      after=snapshot(mapping))
        identifier = identifier_with_mappings()
        updated = 0
        terms = identifier.tables.terms
        for software in InstalledSoftware.objects.filter(status__in=["unidentified", "product_only"]).iterator():
            if normalize_name(software.display_name, terms) != key:
                continue
            fields = _identified_fields(identifier, InventoryRow(software.display_name, software.display_version,
                                                                 software.publisher))
            InstalledSoftware.objects.filter(pk=software.pk).update(**fields)
            updated += 1
    return updated
