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
from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.roles import Capability
from citygov.core.scoping import can_reach_agency
from citygov.security.engine.bundle import load_products, load_vulns
from citygov.security.engine.identify import Identifier, InventoryRow, load_tables, normalize_name
from citygov.security.engine.inventory import InventoryError, iter_csv
from citygov.security.engine.pipeline import cves_for
from citygov.security.engine.systems import parse_budgets, parse_date
from citygov.security.models import (
    BackupMethod,
    CoreSystem,
    Device,
    DeviceType,
    DrillResult,
    Finding,
    FindingSeverity,
    InstalledSoftware,
    ManualMapping,
    SecurityTest,
    SecurityTestKind,
    SystemComponent,
    SystemStatus,
)

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


def _identify_and_match(identifier: Identifier, row: InventoryRow) -> tuple[dict, list]:
    """The :class:`~citygov.security.models.IdentifiedSoftware` fields of ``row`` (CPE identification
    and the CVEs matched to it), and the matched CVEs themselves."""
    result = identifier.identify(row)
    analysed, _awaiting = cves_for(result, load_vulns(), row.display_name)
    worst = max((h.severity for h in analysed), key=_SEVERITY_ORDER.index, default="")
    fields = {"status": result.status, "cpe": result.cpe[:300], "vendor": result.vendor[:120],
              "product": result.product[:160], "version": result.version[:100], "confidence": result.confidence,
              "rule": result.rule[:40], "reason": result.reason[:300], "cve_count": len(analysed),
              "worst_severity": worst, "cve_ids": [h.cve_id for h in analysed[:50]]}
    return fields, analysed


def _identified_fields(identifier: Identifier, row: InventoryRow, cache: dict | None = None) -> dict:
    # Inventories repeat the same programs on many devices: identify and match each distinct row once.
    if cache is not None and row in cache:
        return cache[row]
    fields, _analysed = _identify_and_match(identifier, row)
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


# --- Core information systems, off-site backup, penetration tests and exercises -------------------------

SYSTEM_COLUMNS = {
    "name": ("name", "system", "system_name", "系統名稱"),
    "is_core": ("is_core", "core", "核心系統"),
    "description": ("description", "說明"),
    "vendor": ("vendor", "contractor", "廠商"),
    "budgets": ("budgets", "budget", "預算"),
    "software_warranty_end": ("software_warranty_end", "軟體保固到期"),
    "hardware_warranty_end": ("hardware_warranty_end", "硬體保固到期"),
    "last_patch": ("last_patch", "最後修補"),
    "status": ("status", "狀態"),
    "backup_method": ("backup_method", "異地備份方式"),
    "backup_location": ("backup_location", "備份地點"),
    "backup_frequency": ("backup_frequency", "備份頻率"),
    "last_backup": ("last_backup", "最後備份"),
    "last_restore_drill": ("last_restore_drill", "最後還原演練"),
    "drill_result": ("drill_result", "演練結果"),
    "rpo_target_hours": ("rpo_target_hours", "rpo_target"),
    "rto_target_hours": ("rto_target_hours", "rto_target"),
    "rpo_achieved_hours": ("rpo_achieved_hours", "rpo_achieved"),
    "rto_achieved_hours": ("rto_achieved_hours", "rto_achieved"),
}
COMPONENT_COLUMNS = {
    "system": ("system", "system_name", "系統名稱"),
    "display_name": ("display_name", "displayname", "name", "component", "package"),
    "display_version": ("display_version", "displayversion", "version"),
    "publisher": ("publisher", "vendor", "maintainer"),
    "arch": ("arch", "architecture"),
}
_DATE_FIELDS = ("software_warranty_end", "hardware_warranty_end", "last_patch", "last_backup", "last_restore_drill")
_HOUR_FIELDS = ("rpo_target_hours", "rto_target_hours", "rpo_achieved_hours", "rto_achieved_hours")
_DRILL_WORDS = {"": "", "passed": "passed", "pass": "passed", "ok": "passed", "成功": "passed", "通過": "passed",
                "partial": "partial", "部分": "partial", "部分成功": "partial",
                "failed": "failed", "fail": "failed", "失敗": "failed"}
_METHOD_WORDS = {"": "none", "none": "none", "無": "none", "city_site": "city_site", "異地": "city_site",
                 "本府異地機房": "city_site", "cloud": "cloud", "雲端": "cloud", "idc": "idc"}


def _manager_of(actor, agency_id: int) -> Agency:
    if not actor.has_capability(Capability.MANAGE_SECURITY) or actor.is_read_only:
        raise Forbidden(_("Your role may not change information systems."))
    agency = Agency.objects.filter(pk=agency_id).first()
    if agency is None or not can_reach_agency(actor, agency.pk):
        raise NotFound(_("No such agency."))
    return agency


def _hours(value: str, name: str) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        hours = float(text)
    except ValueError:
        raise ValueError(_("{name} must be a number of hours").format(name=name)) from None
    if hours < 0:
        raise ValueError(_("{name} must not be negative").format(name=name))
    return hours


def system_fields(values: dict[str, str]) -> dict:
    """The model fields of one systems-CSV row; ``ValueError`` (a translated message) on a bad value."""
    wanted: dict = {
        "is_core": values["is_core"].strip().lower() not in _FALSE - {""},
        "description": values["description"].strip(),
        "vendor": values["vendor"].strip()[:200],
        "status": values["status"].strip().lower() or SystemStatus.ACTIVE,
        "backup_location": values["backup_location"].strip()[:200],
        "backup_frequency": values["backup_frequency"].strip()[:60],
    }
    try:
        wanted["budgets"] = parse_budgets(values["budgets"])
    except ValueError:
        raise ValueError(_("budgets: write YEAR:AMOUNT separated by semicolons, e.g. 2023:1200000; 2024:800000")) \
            from None
    if values["is_core"].strip().lower() not in _TRUE | _FALSE:
        raise ValueError(_("is_core must be yes or no"))
    if wanted["status"] not in SystemStatus.values:
        raise ValueError(_("status must be active or retired"))
    method = _METHOD_WORDS.get(values["backup_method"].strip().lower())
    if method is None:
        raise ValueError(_("backup_method must be none, city_site, cloud or idc"))
    wanted["backup_method"] = method
    result = _DRILL_WORDS.get(values["drill_result"].strip().lower())
    if result is None:
        raise ValueError(_("drill_result must be passed, partial, failed or empty"))
    wanted["drill_result"] = result
    for name in _DATE_FIELDS:
        try:
            wanted[name] = parse_date(values[name])
        except ValueError:
            raise ValueError(_("{name}: not a date (write YYYY-MM-DD or 113/12/31)").format(name=name)) from None
    for name in _HOUR_FIELDS:
        wanted[name] = _hours(values[name], name)
    if result and wanted["last_restore_drill"] is None:
        raise ValueError(_("a drill result needs the date of the drill (last_restore_drill)"))
    return wanted


def check_import_systems(actor, agency_id: int, path: Path) -> Agency:
    """Authorise a systems import for ``agency_id`` and check that the file exists."""
    agency = _manager_of(actor, agency_id)
    if not path.is_file():
        raise InvalidInput(_("The file does not exist."), code="unreadable_file")
    return agency


def do_import_systems(actor, agency_id: int, path: Path) -> ImportReport:
    """Import an agency's information systems from CSV (see docs/security.md for the columns).

    Keyed by system name within the agency: new names are created, changed rows updated, identical rows
    left alone (re-importing the same file changes nothing). Each created or changed system gets a
    change-log row. Rows with a bad value are reported by line and skipped; a bad file (encoding, no
    ``name`` column) raises :class:`InvalidInput` before anything is written.
    """
    agency = check_import_systems(actor, agency_id, path)
    report = ImportReport()
    try:
        rows = list(iter_csv(path, SYSTEM_COLUMNS, required=("name",)))
    except InventoryError as exc:
        raise InvalidInput(str(exc), code="bad_header" if exc.line == 1 else "unreadable_file") from None
    with transaction.atomic():
        for line, values in rows:
            report.rows += 1
            name = values["name"].strip()[:200]
            if not name:
                report.problems.append(ImportProblem(line, _("the system name is required")))
                continue
            try:
                wanted = system_fields(values)
            except ValueError as exc:
                report.problems.append(ImportProblem(line, f"{name}: {exc}"))
                continue
            system = CoreSystem.objects.filter(agency=agency, name=name).first()
            if system is None:
                system = CoreSystem.objects.create(agency=agency, name=name, **wanted)
                record_change(actor=actor, action=ChangeAction.CREATE, obj=system, after=snapshot(system),
                              note="information systems import")
                report.created += 1
                continue
            if all(getattr(system, k) == v for k, v in wanted.items()):
                report.unchanged += 1
                continue
            before = snapshot(system)
            CoreSystem.objects.filter(pk=system.pk).update(**wanted)
            system.refresh_from_db()
            record_change(actor=actor, action=ChangeAction.UPDATE, obj=system, before=before, after=snapshot(system),
                          note="information systems import")
            report.updated += 1
    return report


def _component_fields(identifier: Identifier, row: InventoryRow) -> dict:
    fields, analysed = _identify_and_match(identifier, row)
    fields["critical_cve_ids"] = [h.cve_id for h in analysed if h.severity == "critical"][:50]
    return fields


def do_import_components(actor, agency_id: int, path: Path) -> ImportReport:
    """Import the software components of an agency's systems (CSV ``system, display_name, display_version,
    publisher``): each is identified to a CPE and matched against the CVE index like an inventory row.

    A row naming a system the agency does not have is reported by line and skipped. Idempotent.
    """
    agency = check_import_systems(actor, agency_id, path)
    identifier = identifier_with_mappings()
    report = ImportReport()
    try:
        rows = list(iter_csv(path, COMPONENT_COLUMNS, required=("system", "display_name")))
    except InventoryError as exc:
        raise InvalidInput(str(exc), code="bad_header" if exc.line == 1 else "unreadable_file") from None
    systems = {s.name: s for s in CoreSystem.objects.filter(agency=agency)}
    with transaction.atomic():
        for line, values in rows:
            report.rows += 1
            system = systems.get(values["system"].strip())
            if system is None:
                report.problems.append(ImportProblem(line, _("no system named {name} in this agency").format(
                    name=values["system"].strip() or "-")))
                continue
            name, version = values["display_name"].strip()[:300], values["display_version"].strip()[:100]
            if not name:
                report.problems.append(ImportProblem(line, _("the component name is required")))
                continue
            fields = {"publisher": values["publisher"][:200], **_component_fields(
                identifier, InventoryRow(name, version, values["publisher"], values["arch"]))}
            current = SystemComponent.objects.filter(system=system, display_name=name, display_version=version).first()
            if current is None:
                component = SystemComponent.objects.create(agency=agency, system=system, display_name=name,
                                                           display_version=version, **fields)
                record_change(actor=actor, action=ChangeAction.CREATE, obj=component, after=snapshot(component))
                report.created += 1
            elif any(getattr(current, k) != v for k, v in fields.items()):
                before = snapshot(current)
                SystemComponent.objects.filter(pk=current.pk).update(**fields)
                current.refresh_from_db()
                record_change(actor=actor, action=ChangeAction.UPDATE, obj=current, before=before,
                              after=snapshot(current))
                report.updated += 1
            else:
                report.unchanged += 1
    return report


def _system_for(actor, system_id: int) -> CoreSystem:
    system = CoreSystem.objects.filter(pk=system_id).first()
    if system is None or not can_reach_agency(actor, system.agency_id):
        raise NotFound(_("No such system."))
    _manager_of(actor, system.agency_id)
    return system


@dataclass(frozen=True)
class DrillInput:
    """A restore drill: when, its result, and the RPO/RTO it achieved (hours)."""

    performed_on: dt.date
    result: str
    rpo_achieved_hours: float | None = None
    rto_achieved_hours: float | None = None


def check_record_restore_drill(actor, system_id: int, drill: DrillInput) -> CoreSystem:
    """Authorise and validate a restore drill of a system."""
    system = _system_for(actor, system_id)
    errors = {}
    if drill.result not in (DrillResult.PASSED, DrillResult.PARTIAL, DrillResult.FAILED):
        errors["result"] = [_("Choose passed, partial or failed.")]
    if drill.performed_on > dt.date.today():
        errors["performed_on"] = [_("A drill cannot be in the future.")]
    for name in ("rpo_achieved_hours", "rto_achieved_hours"):
        value = getattr(drill, name)
        if value is not None and value < 0:
            errors[name] = [_("Hours must not be negative.")]
    if system.backup_method == BackupMethod.NONE:
        errors["result"] = [_("This system has no off-site backup to restore from: record the backup method first.")]
    if errors:
        raise InvalidInput(_("The drill has invalid fields."), fields=errors)
    return system


def do_record_restore_drill(actor, system_id: int, drill: DrillInput) -> CoreSystem:
    """Record the last restore drill of a system's off-site backup and what RPO/RTO it achieved."""
    system = check_record_restore_drill(actor, system_id, drill)
    with transaction.atomic():
        before = snapshot(system)
        CoreSystem.objects.filter(pk=system.pk).update(
            last_restore_drill=drill.performed_on, drill_result=drill.result,
            rpo_achieved_hours=drill.rpo_achieved_hours, rto_achieved_hours=drill.rto_achieved_hours)
        system.refresh_from_db()
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=system, before=before, after=snapshot(system),
                      note=f"restore drill {drill.performed_on.isoformat()}: {drill.result}")
    return system


def check_record_patch(actor, system_id: int, patched_on: dt.date) -> CoreSystem:
    """Authorise and validate a patch date."""
    system = _system_for(actor, system_id)
    if patched_on > dt.date.today():
        raise InvalidInput(_("A patch date cannot be in the future."), fields={"patched_on": [_("In the future.")]})
    return system


def do_record_patch(actor, system_id: int, patched_on: dt.date) -> CoreSystem:
    """Record that a system was patched on ``patched_on`` (an older date than the current one is ignored)."""
    system = check_record_patch(actor, system_id, patched_on)
    if system.last_patch is not None and system.last_patch >= patched_on:
        return system
    with transaction.atomic():
        before = snapshot(system)
        CoreSystem.objects.filter(pk=system.pk).update(last_patch=patched_on)
        system.refresh_from_db()
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=system, before=before, after=snapshot(system),
                      note=f"patched {patched_on.isoformat()}")
    return system


@dataclass(frozen=True)
class SecurityTestInput:
    """A penetration test or red/blue exercise."""

    kind: str
    title: str
    performed_on: dt.date
    conducted_by: str = ""
    system_id: int | None = None


def check_record_security_test(actor, agency_id: int, test: SecurityTestInput) -> tuple[Agency, CoreSystem | None]:
    """Authorise and validate a test record."""
    agency = _manager_of(actor, agency_id)
    errors = {}
    if test.kind not in SecurityTestKind.values:
        errors["kind"] = [_("Choose a penetration test or a red/blue team exercise.")]
    if not test.title.strip():
        errors["title"] = [_("A title is required.")]
    system = None
    if test.system_id is not None:
        system = CoreSystem.objects.filter(pk=test.system_id, agency=agency).first()
        if system is None:
            errors["system_id"] = [_("No such system in this agency.")]
    if errors:
        raise InvalidInput(_("The test has invalid fields."), fields=errors)
    return agency, system


def do_record_security_test(actor, agency_id: int, test: SecurityTestInput) -> SecurityTest:
    """Record a penetration test or a red/blue exercise of an agency (and optionally one system)."""
    agency, system = check_record_security_test(actor, agency_id, test)
    with transaction.atomic():
        record = SecurityTest.objects.create(agency=agency, system=system, kind=test.kind, title=test.title.strip()[:200],
                                             conducted_by=test.conducted_by.strip()[:200],
                                             performed_on=test.performed_on)
        record_change(actor=actor, action=ChangeAction.CREATE, obj=record, after=snapshot(record))
    return record


def check_add_finding(actor, test_id: int, title: str, severity: str, due_date: dt.date) -> SecurityTest:
    """Authorise and validate a finding of a test."""
    test = SecurityTest.objects.filter(pk=test_id).first()
    if test is None or not can_reach_agency(actor, test.agency_id):
        raise NotFound(_("No such test."))
    _manager_of(actor, test.agency_id)
    errors = {}
    if not title.strip():
        errors["title"] = [_("A title is required.")]
    if severity not in FindingSeverity.values:
        errors["severity"] = [_("Choose low, medium, high or critical.")]
    if due_date < test.performed_on:
        errors["due_date"] = [_("The due date cannot be before the test.")]
    if errors:
        raise InvalidInput(_("The finding has invalid fields."), fields=errors)
    return test


def do_add_finding(actor, test_id: int, title: str, severity: str, due_date: dt.date) -> Finding:
    """Add a finding to a test, to be remediated by ``due_date``."""
    test = check_add_finding(actor, test_id, title, severity, due_date)
    with transaction.atomic():
        finding = Finding.objects.create(agency_id=test.agency_id, test=test, title=title.strip()[:300],
                                         severity=severity, due_date=due_date)
        record_change(actor=actor, action=ChangeAction.CREATE, obj=finding, after=snapshot(finding))
    return finding


def check_remediate_finding(actor, finding_id: int, remediated_on: dt.date) -> Finding:
    """Authorise and validate closing a finding."""
    finding = Finding.objects.filter(pk=finding_id).first()
    if finding is None or not can_reach_agency(actor, finding.agency_id):
        raise NotFound(_("No such finding."))
    _manager_of(actor, finding.agency_id)
    if finding.remediated_on is not None:
        raise Conflict(_("This finding is already remediated."))
    if remediated_on > dt.date.today():
        raise InvalidInput(_("The remediation date cannot be in the future."),
                           fields={"remediated_on": [_("In the future.")]})
    return finding


def do_remediate_finding(actor, finding_id: int, remediated_on: dt.date, note: str = "") -> Finding:
    """Mark a finding remediated on ``remediated_on``."""
    finding = check_remediate_finding(actor, finding_id, remediated_on)
    with transaction.atomic():
        before = snapshot(finding)
        Finding.objects.filter(pk=finding.pk).update(remediated_on=remediated_on, note=note.strip()[:300])
        finding.refresh_from_db()
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=finding, before=before, after=snapshot(finding))
    return finding
