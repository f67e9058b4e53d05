"""Security services: inventory import with identification and CVE matching, and analysts' mappings.

``check_*`` validates and authorises; ``do_*`` writes inside a transaction and records the change log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citygov.agencies.models import Agency
from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.roles import Capability
from citygov.core.scoping import can_reach_agency
from citygov.security.engine.bundle import load_products, load_vulns
from citygov.security.engine.identify import Identifier, InventoryRow, load_tables, normalize_name
from citygov.security.engine.inventory import InventoryError, iter_csv, iter_rows
from citygov.security.engine.pipeline import cves_for
from citygov.security.engine.systems import parse_budgets, parse_date
from citygov.security.models import (
    BackupMethod,
    CoreSystem,
    Device,
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
    "hostname": ("hostname", "host", "computer_name", "device", "hostidentifier"),
    "display_name": ("display_name", "displayname", "name", "package"),
    "display_version": ("display_version", "displayversion", "version"),
    "publisher": ("publisher", "vendor", "maintainer"),
    "arch": ("arch", "architecture"),
}
DEVICE_COLUMNS = {
    "hostname": ("hostname", "host", "computer_name", "主機名稱", "電腦名稱"),
    "device_type": ("device_type", "type", "設備類型", "類型"),
    "os": ("os", "operating_system", "os_name", "作業系統"),
    "agency": ("owner_agency", "agency", "agency_code", "所屬機關", "機關"),
    "vans_enrolled": ("vans_enrolled", "vans", "VANS"),
    "edr_installed": ("edr_installed", "edr", "EDR"),
    "last_seen": ("last_seen", "lastseen", "last_seen_at", "最後上線"),
}
_DEVICE_TYPE_WORDS = {
    "": "pc", "pc": "pc", "desktop": "pc", "workstation": "pc", "桌上型電腦": "pc", "桌機": "pc", "個人電腦": "pc",
    "laptop": "laptop", "notebook": "laptop", "筆電": "laptop", "筆記型電腦": "laptop",
    "server": "server", "伺服器": "server", "主機": "server",
    "other": "other", "其他": "other",
}
_TRUE = {"1", "true", "yes", "y", "是", "有", "v"}
_FALSE = {"", "0", "false", "no", "n", "否", "無"}
_SEVERITY_ORDER = ["", "unknown", "low", "medium", "high", "critical"]


@dataclass(frozen=True)
class ImportProblem:
    """One rejected row: its line and why (``message`` may be a lazy translation: ``str()`` it in the
    language wanted, as the CLI does to print English and Chinese)."""

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


def do_import_inventory(actor, agency_id: int, path: Path, hostname: str = "") -> ImportReport:
    """Import a software inventory for one agency: CSV (hostname, display_name, display_version,
    publisher) or JSON — an array of objects, JSON lines, osquery ``programs``/``deb_packages`` results
    (``osqueryi --json``) or osquery daemon logs, whose ``hostIdentifier`` names the device.

    ``hostname`` is the device of rows that name none (an ``osqueryi`` run on one machine). Streams the
    file in chunks of 500 rows, each in its own transaction; every row is identified and matched against
    the CVE index. Devices are created on first sight. Re-importing the same file changes nothing. Rows
    without a host name or display name are reported by line; the others are imported. A bad file
    (encoding, columns, broken JSON before the first row) raises :class:`InvalidInput` before anything
    is written.
    """
    agency = check_import_inventory(actor, agency_id, path)
    hostname = hostname.strip()[:120]
    identifier = identifier_with_mappings()
    report = ImportReport()
    cache: dict = {}
    chunk: list[tuple[int, dict]] = []
    required = ("display_name",) if hostname else ("hostname", "display_name")
    try:
        for line, values in iter_rows(path, INVENTORY_COLUMNS, required=required):
            report.rows += 1
            if hostname and not values["hostname"]:
                values["hostname"] = hostname
            if not values["hostname"] or not values["display_name"]:
                report.problems.append(ImportProblem(line, gettext_lazy("host name and display name are required")))
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


class RowError(ValueError):
    """A rejected import row; ``message`` is translated when shown (so the CLI can print both languages)."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def _row_error(message, **params) -> RowError:
    return RowError(format_lazy(message, **params) if params else message)


def _flag(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _row_error(gettext_lazy("{name} must be yes or no (got {value})"), name=name, value=value.strip()[:40])


def _seen_date(text: str) -> dt.date | None:
    # Exports write "2025-11-01", "2025/11/01 08:30:00", "2025-11-01T08:30:00Z" or the ROC "114/11/01".
    head = text.strip().replace("T", " ").split(" ")[0]
    try:
        return parse_date(head)
    except ValueError:
        raise _row_error(gettext_lazy("last_seen: not a date (write YYYY-MM-DD or 114/12/31), got {value}"),
                         value=text.strip()[:40]) from None


def _device_fields(values: dict[str, str]) -> dict:
    device_type = _DEVICE_TYPE_WORDS.get(values["device_type"].strip().lower())
    if device_type is None:
        raise _row_error(gettext_lazy("unknown device type {value}: use pc, laptop, server or other"),
                         value=values["device_type"].strip()[:40])
    return {"device_type": device_type, "os": values["os"].strip()[:120],
            "vans_enrolled": _flag(values["vans_enrolled"], "vans_enrolled"),
            "edr_installed": _flag(values["edr_installed"], "edr_installed"),
            "last_seen": _seen_date(values["last_seen"])}


def check_import_devices(actor, agency_id: int | None, path: Path) -> Agency | None:
    """Authorise a device list import (into ``agency_id``, or the owner agency each row names) and check
    that the file exists."""
    if agency_id is None:
        if not actor.has_capability(Capability.MANAGE_SECURITY) or actor.is_read_only:
            raise Forbidden(_("Your role may not import security inventories."))
        if not path.is_file():
            raise InvalidInput(_("The file does not exist."), code="unreadable_file")
        return None
    return check_import_inventory(actor, agency_id, path)


def do_import_devices(actor, agency_id: int | None, path: Path) -> ImportReport:
    """Import a device list exported from an asset or EDR console (CSV or JSON): ``hostname, device_type
    (pc/laptop/server/other or 桌機/筆電/伺服器), os, owner_agency (code or Chinese name), vans_enrolled,
    edr_installed (yes/no/是/否), last_seen (a date, optionally with a time)``.

    A row whose ``owner_agency`` names an agency goes to that agency (the actor must be able to reach it);
    other rows go to ``agency_id`` (a row with neither is rejected). Keyed by host name within the agency:
    unchanged devices are left alone; each created or changed device gets a change-log row. Rows with a bad
    value are reported by line (message translated when shown) and skipped; a bad file raises
    :class:`InvalidInput` before anything is written.
    """
    default = check_import_devices(actor, agency_id, path)
    report = ImportReport()
    try:
        rows = list(iter_rows(path, DEVICE_COLUMNS, required=("hostname",)))
    except InventoryError as exc:
        raise InvalidInput(str(exc), code="bad_header" if exc.line == 1 else "unreadable_file") from None
    agencies: dict[str, Agency | None] = {}

    def owner(text: str) -> Agency:
        key = text.strip()
        if not key:
            if default is None:
                raise _row_error(gettext_lazy("no owner agency: fill owner_agency or choose the agency to import into"))
            return default
        if key not in agencies:
            found = Agency.objects.filter(code=key).first() or Agency.objects.filter(name_zh=key).first()
            agencies[key] = found if found is not None and can_reach_agency(actor, found.pk) else None
        if agencies[key] is None:
            raise _row_error(gettext_lazy("owner agency {value} is unknown or not one of yours"), value=key[:60])
        return agencies[key]

    with transaction.atomic():
        for line, values in rows:
            report.rows += 1
            hostname = values["hostname"].strip()[:120]
            try:
                if not hostname:
                    raise _row_error(gettext_lazy("the host name is required"))
                agency = owner(values["agency"])
                wanted = _device_fields(values)
            except RowError as exc:
                report.problems.append(ImportProblem(line, exc.message if not hostname else format_lazy(
                    gettext_lazy("{host}: {message}"), host=hostname, message=exc.message)))
                continue
            device = Device.objects.filter(agency=agency, hostname=hostname).first()
            if device is None:
                device = Device.objects.create(agency=agency, hostname=hostname, **wanted)
                record_change(actor=actor, action=ChangeAction.CREATE, obj=device, after=snapshot(device),
                              note="device list import")
                report.created += 1
                continue
            if all(getattr(device, k) == v for k, v in wanted.items()):
                report.unchanged += 1
                continue
            before = snapshot(device)
            Device.objects.filter(pk=device.pk).update(**wanted)
            device.refresh_from_db()
            record_change(actor=actor, action=ChangeAction.UPDATE, obj=device, before=before, after=snapshot(device),
                          note="device list import")
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


# --- Information systems, backup and components edited one by one (API) ----------------------------------

@dataclass(frozen=True)
class SystemInput:
    """Every editable field of an information system, including its off-site backup record."""

    name: str
    is_core: bool = True
    description: str = ""
    vendor: str = ""
    budgets: dict = field(default_factory=dict)
    software_warranty_end: dt.date | None = None
    hardware_warranty_end: dt.date | None = None
    last_patch: dt.date | None = None
    status: str = SystemStatus.ACTIVE
    backup_method: str = BackupMethod.NONE
    backup_location: str = ""
    backup_frequency: str = ""
    last_backup: dt.date | None = None
    last_restore_drill: dt.date | None = None
    drill_result: str = ""
    rpo_target_hours: float | None = None
    rto_target_hours: float | None = None
    rpo_achieved_hours: float | None = None
    rto_achieved_hours: float | None = None


SYSTEM_INPUT_FIELDS = tuple(SystemInput.__dataclass_fields__)


def system_input_of(system: CoreSystem) -> SystemInput:
    """The current values of ``system`` as a :class:`SystemInput` (to apply a partial change to)."""
    return SystemInput(**{name: getattr(system, name) for name in SYSTEM_INPUT_FIELDS})


def _system_errors(agency: Agency, data: SystemInput, system_id: int | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    today = dt.date.today()
    name = data.name.strip()
    if not name:
        errors["name"] = [_("The system name is required.")]
    elif len(name) > 200:
        errors["name"] = [_("At most 200 characters.")]
    elif CoreSystem.objects.filter(agency=agency, name=name).exclude(pk=system_id).exists():
        errors["name"] = [_("This agency already has a system with this name.")]
    if data.status not in SystemStatus.values:
        errors["status"] = [_("Choose active or retired.")]
    if data.backup_method not in BackupMethod.values:
        errors["backup_method"] = [_("Choose none, city_site, cloud or idc.")]
    if data.drill_result not in DrillResult.values:
        errors["drill_result"] = [_("Choose passed, partial, failed or leave it empty.")]
    elif data.drill_result and data.last_restore_drill is None:
        errors["last_restore_drill"] = [_("A drill result needs the date of the drill.")]
    if data.drill_result and data.backup_method == BackupMethod.NONE:
        errors["drill_result"] = [_("This system has no off-site backup to restore from: record the backup "
                                    "method first.")]
    for name_ in ("last_patch", "last_backup", "last_restore_drill"):
        value = getattr(data, name_)
        if value is not None and value > today:
            errors[name_] = [_("This date cannot be in the future.")]
    for name_ in _HOUR_FIELDS:
        value = getattr(data, name_)
        if value is not None and value < 0:
            errors[name_] = [_("Hours must not be negative.")]
    if not isinstance(data.budgets, dict) or not all(
            str(year).isdigit() and len(str(year)) == 4 and isinstance(amount, int) and not isinstance(amount, bool)
            and amount >= 0 for year, amount in data.budgets.items()):
        errors["budgets"] = [_("Give the budget as {\"YEAR\": amount in NT$}, e.g. {\"2024\": 800000}, "
                               "with whole non-negative amounts.")]
    return errors


def _clean_system(data: SystemInput) -> dict:
    values = {name: getattr(data, name) for name in SYSTEM_INPUT_FIELDS}
    for name in ("name", "vendor", "backup_location", "backup_frequency"):
        values[name] = values[name].strip()
    values["budgets"] = {str(year): amount for year, amount in sorted(data.budgets.items())}
    return values


def check_create_system(actor, agency_id: int, data: SystemInput) -> Agency:
    """Authorise (role and agency) and validate a new information system."""
    agency = _manager_of(actor, agency_id)
    errors = _system_errors(agency, data, None)
    if errors:
        raise InvalidInput(_("The system has invalid fields."), fields=errors)
    return agency


def do_create_system(actor, agency_id: int, data: SystemInput) -> CoreSystem:
    """Create an information system of an agency (with its off-site backup record), with a change-log row."""
    agency = check_create_system(actor, agency_id, data)
    with transaction.atomic():
        system = CoreSystem.objects.create(agency=agency, **_clean_system(data))
        record_change(actor=actor, action=ChangeAction.CREATE, obj=system, after=snapshot(system))
    return system


def check_update_system(actor, system_id: int, data: SystemInput) -> CoreSystem:
    """Authorise (role and agency) and validate new values for a system."""
    system = _system_for(actor, system_id)
    errors = _system_errors(system.agency, data, system.pk)
    if errors:
        raise InvalidInput(_("The system has invalid fields."), fields=errors)
    return system


def do_update_system(actor, system_id: int, data: SystemInput) -> CoreSystem:
    """Replace the editable fields of a system (and its backup record) with ``data``; nothing is written
    and no change is logged when nothing differs."""
    system = check_update_system(actor, system_id, data)
    wanted = _clean_system(data)
    if all(getattr(system, k) == v for k, v in wanted.items()):
        return system
    with transaction.atomic():
        before = snapshot(system)
        CoreSystem.objects.filter(pk=system.pk).update(**wanted)
        system.refresh_from_db()
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=system, before=before, after=snapshot(system))
    return system


@dataclass(frozen=True)
class ComponentInput:
    """A software component of a system as an inventory would list it."""

    display_name: str
    display_version: str = ""
    publisher: str = ""
    arch: str = ""


def _component_errors(system: CoreSystem, data: ComponentInput, component_id: int | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not data.display_name.strip():
        errors["display_name"] = [_("The component name is required.")]
    elif SystemComponent.objects.filter(system=system, display_name=data.display_name.strip()[:300],
                                        display_version=data.display_version.strip()[:100]).exclude(
            pk=component_id).exists():
        errors["display_name"] = [_("This system already has this component in this version.")]
    return errors


def check_add_component(actor, system_id: int, data: ComponentInput) -> CoreSystem:
    """Authorise and validate a new component of a system."""
    system = _system_for(actor, system_id)
    errors = _component_errors(system, data, None)
    if errors:
        raise InvalidInput(_("The component has invalid fields."), fields=errors)
    return system


def _component_values(data: ComponentInput) -> dict:
    name, version, publisher = data.display_name.strip()[:300], data.display_version.strip()[:100], \
        data.publisher.strip()[:200]
    fields = _component_fields(identifier_with_mappings(), InventoryRow(name, version, publisher, data.arch.strip()))
    return {"display_name": name, "display_version": version, "publisher": publisher, **fields}


def do_add_component(actor, system_id: int, data: ComponentInput) -> SystemComponent:
    """Add a component to a system: identified to a CPE and matched against the CVE index, change-logged."""
    system = check_add_component(actor, system_id, data)
    values = _component_values(data)
    with transaction.atomic():
        component = SystemComponent.objects.create(agency_id=system.agency_id, system=system, **values)
        record_change(actor=actor, action=ChangeAction.CREATE, obj=component, after=snapshot(component))
    return component


def _component_for(actor, component_id: int) -> SystemComponent:
    component = SystemComponent.objects.filter(pk=component_id).select_related("system").first()
    if component is None or not can_reach_agency(actor, component.agency_id):
        raise NotFound(_("No such component."))
    _manager_of(actor, component.agency_id)
    return component


def check_update_component(actor, component_id: int, data: ComponentInput) -> SystemComponent:
    """Authorise and validate new values for a component."""
    component = _component_for(actor, component_id)
    errors = _component_errors(component.system, data, component.pk)
    if errors:
        raise InvalidInput(_("The component has invalid fields."), fields=errors)
    return component


def do_update_component(actor, component_id: int, data: ComponentInput) -> SystemComponent:
    """Change a component (e.g. its version after an upgrade): identified and matched again, change-logged."""
    component = check_update_component(actor, component_id, data)
    values = _component_values(data)
    if all(getattr(component, k) == v for k, v in values.items()):
        return component
    with transaction.atomic():
        before = snapshot(component)
        SystemComponent.objects.filter(pk=component.pk).update(**values)
        component.refresh_from_db()
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=component, before=before,
                      after=snapshot(component))
    return component


def do_remove_component(actor, component_id: int) -> None:
    """Remove a component from its system (it was uninstalled), with a change-log row keeping its values."""
    component = _component_for(actor, component_id)
    with transaction.atomic():
        before = snapshot(component)
        record_change(actor=actor, action=ChangeAction.DELETE, obj=component, before=before)
        component.delete()


# --- Penetration tests and red/blue exercises imported from CSV --------------------------------------------

TEST_COLUMNS = {
    "kind": ("kind", "type", "類型"),
    "title": ("title", "test", "test_title", "名稱", "測試名稱"),
    "performed_on": ("performed_on", "date", "test_date", "執行日期"),
    "conducted_by": ("conducted_by", "tester", "執行單位"),
    "system": ("system", "system_name", "系統名稱"),
    "finding": ("finding", "finding_title", "發現事項"),
    "severity": ("severity", "風險等級", "嚴重度"),
    "due_date": ("due_date", "remediate_by", "改善期限"),
    "remediated_on": ("remediated_on", "改善完成日"),
    "note": ("note", "備註"),
}
_KIND_WORDS = {"pentest": "pentest", "penetration test": "pentest", "滲透測試": "pentest",
               "red_blue": "red_blue", "red/blue": "red_blue", "red-blue": "red_blue", "紅藍隊演練": "red_blue",
               "攻防演練": "red_blue", "紅隊演練": "red_blue"}
_FINDING_SEVERITY_WORDS = {"low": "low", "低": "low", "medium": "medium", "中": "medium", "high": "high",
                           "高": "high", "critical": "critical", "嚴重": "critical", "極高": "critical"}


@dataclass(frozen=True)
class _TestRow:
    kind: str
    title: str
    performed_on: dt.date
    conducted_by: str
    system: CoreSystem | None
    finding: str
    severity: str
    due_date: dt.date | None
    remediated_on: dt.date | None
    note: str


def _row_date(values: dict[str, str], name: str) -> dt.date | None:
    try:
        return parse_date(values[name])
    except ValueError:
        raise _row_error(gettext_lazy("{name}: not a date (write YYYY-MM-DD or 113/12/31), got {value}"),
                         name=name, value=values[name].strip()[:40]) from None


def _test_row(values: dict[str, str], systems: dict[str, CoreSystem]) -> _TestRow:
    kind = _KIND_WORDS.get(values["kind"].strip().lower())
    if kind is None:
        raise _row_error(gettext_lazy("kind must be pentest or red_blue (滲透測試 / 紅藍隊演練), got {value}"),
                         value=values["kind"].strip()[:40] or "-")
    title = values["title"].strip()[:200]
    if not title:
        raise _row_error(gettext_lazy("the test title is required"))
    performed_on = _row_date(values, "performed_on")
    if performed_on is None:
        raise _row_error(gettext_lazy("performed_on is required"))
    if performed_on > dt.date.today():
        raise _row_error(gettext_lazy("performed_on cannot be in the future"))
    system = None
    if values["system"].strip():
        system = systems.get(values["system"].strip())
        if system is None:
            raise _row_error(gettext_lazy("no system named {name} in this agency"), name=values["system"].strip())
    finding = values["finding"].strip()[:300]
    severity, due, remediated = "", None, None
    if finding:
        severity = _FINDING_SEVERITY_WORDS.get(values["severity"].strip().lower() or "medium")
        if severity is None:
            raise _row_error(gettext_lazy("severity must be low, medium, high or critical, got {value}"),
                             value=values["severity"].strip()[:40])
        due = _row_date(values, "due_date")
        if due is None:
            raise _row_error(gettext_lazy("a finding needs its due_date"))
        if due < performed_on:
            raise _row_error(gettext_lazy("due_date cannot be before the test"))
        remediated = _row_date(values, "remediated_on")
        if remediated is not None and remediated > dt.date.today():
            raise _row_error(gettext_lazy("remediated_on cannot be in the future"))
    elif any(values[n].strip() for n in ("severity", "due_date", "remediated_on")):
        raise _row_error(gettext_lazy("severity, due_date or remediated_on given without a finding"))
    return _TestRow(kind, title, performed_on, values["conducted_by"].strip()[:200], system, finding, severity,
                    due, remediated, values["note"].strip()[:300])


def check_import_security_tests(actor, agency_id: int, path: Path) -> Agency:
    """Authorise a penetration-test / exercise import for ``agency_id`` and check that the file exists."""
    return check_import_systems(actor, agency_id, path)


def do_import_security_tests(actor, agency_id: int, path: Path) -> ImportReport:
    """Import penetration tests and red/blue exercises with their findings from CSV (UTF-8 or Big5).

    One row per finding (``kind, title, performed_on, conducted_by, system, finding, severity, due_date,
    remediated_on, note``); a row without ``finding`` records the test alone. A test is keyed by kind,
    title and date within the agency, a finding by its title within the test: re-importing the same
    file changes nothing, a changed severity, due date or remediation updates the finding. Each created or
    changed test and finding gets a change-log row. Rows with a bad value are reported by line (in the
    active language; the message is lazy) and skipped; a bad file raises :class:`InvalidInput` first.
    ``report.created``/``updated``/``unchanged`` count findings and tests without findings.
    """
    agency = check_import_security_tests(actor, agency_id, path)
    report = ImportReport()
    try:
        rows = list(iter_csv(path, TEST_COLUMNS, required=("kind", "title", "performed_on")))
    except InventoryError as exc:
        raise InvalidInput(str(exc), code="bad_header" if exc.line == 1 else "unreadable_file") from None
    systems = {s.name: s for s in CoreSystem.objects.filter(agency=agency)}
    note = f"security tests import: {path.name}"
    with transaction.atomic():
        for line, values in rows:
            report.rows += 1
            try:
                row = _test_row(values, systems)
            except RowError as exc:
                title = values["title"].strip()
                report.problems.append(ImportProblem(line, format_lazy(
                    gettext_lazy("{title}: {message}"), title=title, message=exc.message) if title else exc.message))
                continue
            test = SecurityTest.objects.filter(agency=agency, kind=row.kind, title=row.title,
                                               performed_on=row.performed_on).first()
            test_values = {"conducted_by": row.conducted_by, "system": row.system}
            test_change = ""
            if test is None:
                test = SecurityTest.objects.create(agency=agency, kind=row.kind, title=row.title,
                                                   performed_on=row.performed_on, **test_values)
                record_change(actor=actor, action=ChangeAction.CREATE, obj=test, after=snapshot(test), note=note)
                test_change = "created"
            elif (row.conducted_by and test.conducted_by != row.conducted_by) or (
                    row.system is not None and test.system_id != row.system.pk):
                # A test spans several rows: a blank conductor or system on one row keeps what another row said.
                before = snapshot(test)
                test.conducted_by = row.conducted_by or test.conducted_by
                test.system = row.system or test.system
                SecurityTest.objects.filter(pk=test.pk).update(conducted_by=test.conducted_by, system=test.system)
                record_change(actor=actor, action=ChangeAction.UPDATE, obj=test, before=before,
                              after=snapshot(test), note=note)
                test_change = "updated"
            if not row.finding:
                setattr(report, test_change or "unchanged", getattr(report, test_change or "unchanged") + 1)
                continue
            wanted = {"severity": row.severity, "due_date": row.due_date, "remediated_on": row.remediated_on,
                      "note": row.note}
            finding = Finding.objects.filter(test=test, title=row.finding).first()
            if finding is None:
                finding = Finding.objects.create(agency=agency, test=test, title=row.finding, **wanted)
                record_change(actor=actor, action=ChangeAction.CREATE, obj=finding, after=snapshot(finding), note=note)
                report.created += 1
            elif all(getattr(finding, k) == v for k, v in wanted.items()):
                report.unchanged += 1
            else:
                before = snapshot(finding)
                Finding.objects.filter(pk=finding.pk).update(**wanted)
                finding.refresh_from_db()
                record_change(actor=actor, action=ChangeAction.UPDATE, obj=finding, before=before,
                              after=snapshot(finding), note=note)
                report.updated += 1
    return report
