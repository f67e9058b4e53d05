"""Read-side helpers of the security module; every query is scoped with ``for_agency(user)``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q

from citygov import config
from citygov.agencies.models import Agency
from citygov.security.engine import systems as rules
from citygov.security.models import (
    CoreSystem,
    Device,
    Finding,
    IdentificationStatus,
    InstalledSoftware,
    SystemComponent,
    SystemStatus,
)


@dataclass(frozen=True)
class AgencyPosture:
    """One agency's figures: devices, VANS/EDR coverage, identification of its software, vulnerable devices."""

    agency_id: int
    name: str
    security_level: str
    devices: int
    vans: int
    edr: int
    identified: int
    product_only: int
    unidentified: int
    critical_devices: int
    high_devices: int

    @property
    def software(self) -> int:
        """Installed-software rows."""
        return self.identified + self.product_only + self.unidentified

    @property
    def identification_rate(self) -> float | None:
        """Share of rows identified at least to vendor:product (None without software)."""
        return (self.identified + self.product_only) / self.software if self.software else None

    @property
    def vans_rate(self) -> float | None:
        """Share of devices enrolled in VANS."""
        return self.vans / self.devices if self.devices else None

    @property
    def edr_rate(self) -> float | None:
        """Share of devices with EDR."""
        return self.edr / self.devices if self.devices else None


def agency_postures(user) -> list[AgencyPosture]:
    """The posture of every agency the user can reach that has devices, ordered by agency code."""
    devices = Device.objects.for_agency(user).values("agency_id").annotate(
        n=Count("id"), vans=Count("id", filter=Q(vans_enrolled=True)), edr=Count("id", filter=Q(edr_installed=True)))
    by_agency = {row["agency_id"]: row for row in devices}
    statuses = InstalledSoftware.objects.for_agency(user).values("agency_id", "status").annotate(n=Count("id"))
    counts: dict[int, dict[str, int]] = {}
    for row in statuses:
        counts.setdefault(row["agency_id"], {})[row["status"]] = row["n"]
    vulnerable = InstalledSoftware.objects.for_agency(user).filter(worst_severity__in=["critical", "high"]).values(
        "agency_id", "worst_severity").annotate(n=Count("device_id", distinct=True))
    worst: dict[int, dict[str, int]] = {}
    for row in vulnerable:
        worst.setdefault(row["agency_id"], {})[row["worst_severity"]] = row["n"]
    agencies = Agency.objects.filter(pk__in=by_agency).order_by("code")
    result = []
    for agency in agencies:
        d, c, w = by_agency[agency.pk], counts.get(agency.pk, {}), worst.get(agency.pk, {})
        result.append(AgencyPosture(
            agency.pk, agency.name_zh, agency.security_level, d["n"], d["vans"], d["edr"],
            c.get(IdentificationStatus.IDENTIFIED, 0), c.get(IdentificationStatus.PRODUCT_ONLY, 0),
            c.get(IdentificationStatus.UNIDENTIFIED, 0), w.get("critical", 0), w.get("high", 0)))
    return result


def identification_totals(user) -> tuple[int, int]:
    """(rows identified at least to vendor:product, all rows) over the agencies the user can reach."""
    rows = InstalledSoftware.objects.for_agency(user)
    total = rows.count()
    named = rows.exclude(status=IdentificationStatus.UNIDENTIFIED).count() if total else 0
    return named, total


def unidentified_names(user, agency_id: int | None = None, limit: int = 200) -> list[dict]:
    """Distinct unidentified software names to work through, most installed first."""
    rows = InstalledSoftware.objects.for_agency(user).filter(status=IdentificationStatus.UNIDENTIFIED)
    if agency_id is not None:
        rows = rows.filter(agency_id=agency_id)
    return list(rows.values("display_name", "publisher", "reason").annotate(installs=Count("id"))
                .order_by("-installs", "display_name")[:limit])


def coverage_by_level(user) -> list[dict]:
    """VANS and EDR coverage per security responsibility level (A–E, then unassigned)."""
    rows = Device.objects.for_agency(user).values("agency__security_level").annotate(
        devices=Count("id"), vans=Count("id", filter=Q(vans_enrolled=True)), edr=Count("id", filter=Q(edr_installed=True)))
    result = [{"level": r["agency__security_level"] or "-", "devices": r["devices"], "vans": r["vans"],
               "edr": r["edr"]} for r in rows]
    return sorted(result, key=lambda r: r["level"])


def thresholds() -> config.SecuritySettings:
    """The alert thresholds (and NVD settings) from ``CITYGOV_*`` variables, validated by citygov/config.py."""
    return config.security_settings(config.environment(), settings.VAR_DIR)


@dataclass(frozen=True)
class SystemRow:
    """One information system with what the pages flag about it."""

    system: CoreSystem
    offsite: bool
    tested: bool
    warranty: rules.WarrantyAlert | None
    critical_components: int
    rpo_met: bool | None
    rto_met: bool | None


def system_rows(user, today: dt.date | None = None, agency_id: int | None = None) -> list[SystemRow]:
    """Active and retired systems the user can reach, each with its backup, warranty and CVE flags."""
    today = today or dt.date.today()
    limits = thresholds()
    systems = CoreSystem.objects.for_agency(user).select_related("agency").annotate(
        critical=Count("components", filter=Q(components__worst_severity="critical")))
    if agency_id is not None:
        systems = systems.filter(agency_id=agency_id)
    result = []
    for s in systems.order_by("agency__code", "name"):
        warranty = None if s.status == SystemStatus.RETIRED else rules.warranty_alert(
            software_end=s.software_warranty_end, hardware_end=s.hardware_warranty_end, last_patch=s.last_patch,
            today=today, max_unpatched_days=limits.unpatched_days)
        result.append(SystemRow(
            s, rules.has_offsite_backup(s.backup_method),
            rules.backup_tested(method=s.backup_method, drill_date=s.last_restore_drill, drill_result=s.drill_result,
                                today=today, max_drill_age_days=limits.drill_max_age_days),
            warranty, s.critical, rules.target_met(s.rpo_target_hours, s.rpo_achieved_hours),
            rules.target_met(s.rto_target_hours, s.rto_achieved_hours)))
    return result


@dataclass(frozen=True)
class BackupCoverage:
    """The headline: active core systems with tested off-site backup, with off-site backup at all, and all."""

    tested: int
    offsite: int
    total: int


def backup_coverage(rows: list[SystemRow]) -> BackupCoverage:
    """Count the headline over active core systems."""
    core = [r for r in rows if r.system.is_core and r.system.status == SystemStatus.ACTIVE]
    return BackupCoverage(sum(r.tested for r in core), sum(r.offsite for r in core), len(core))


def critical_components(user, agency_id: int | None = None) -> list[SystemComponent]:
    """Components of active systems with known critical CVEs, worst first."""
    rows = SystemComponent.objects.for_agency(user).filter(
        worst_severity="critical", system__status=SystemStatus.ACTIVE).select_related("system")
    if agency_id is not None:
        rows = rows.filter(agency_id=agency_id)
    return list(rows.order_by("-cve_count", "display_name")[:500])


def overdue_findings(user, today: dt.date | None = None, agency_id: int | None = None) -> list[Finding]:
    """Findings past their due date and not remediated, oldest due first."""
    today = today or dt.date.today()
    rows = Finding.objects.for_agency(user).filter(remediated_on__isnull=True, due_date__lt=today).select_related(
        "test", "test__system", "agency")
    if agency_id is not None:
        rows = rows.filter(agency_id=agency_id)
    return list(rows.order_by("due_date", "id")[:500])


def installs_of(user, component: SystemComponent) -> int:
    """Devices of the component's agency whose inventory has the same NVD vendor:product (the inventory link)."""
    if not component.vendor or not component.product:
        return 0
    return InstalledSoftware.objects.for_agency(user).filter(
        agency_id=component.agency_id, vendor=component.vendor, product=component.product).values(
        "device_id").distinct().count()


SEVERITY_ORDER = ("critical", "high", "medium", "low", "unknown", "")


@dataclass(frozen=True)
class AgencyCharts:
    """The figures the agency posture charts draw (all zero for an agency without devices)."""

    identified: int
    product_only: int
    unidentified: int
    devices: int
    vans: int
    edr: int
    # Devices by the worst severity of a known CVE on them, in SEVERITY_ORDER ("" = none known).
    devices_by_severity: dict[str, int]

    @property
    def identification_rate(self) -> float | None:
        """Share of installed-software rows identified at least to vendor:product (None without software)."""
        total = self.identified + self.product_only + self.unidentified
        return (self.identified + self.product_only) / total if total else None


def agency_charts(user, agency_id: int) -> AgencyCharts:
    """Identification, VANS/EDR coverage and vulnerable devices by severity for one agency (scoped)."""
    devices = Device.objects.for_agency(user).filter(agency_id=agency_id).aggregate(
        n=Count("id"), vans=Count("id", filter=Q(vans_enrolled=True)), edr=Count("id", filter=Q(edr_installed=True)))
    software = InstalledSoftware.objects.for_agency(user).filter(agency_id=agency_id)
    statuses = dict(software.values_list("status").annotate(n=Count("id")).order_by())
    worst: dict[int, int] = {}
    rank = {level: index for index, level in enumerate(SEVERITY_ORDER)}
    for device_id, severity in software.values_list("device_id", "worst_severity").distinct().order_by():
        index = rank.get(severity, rank[""])
        worst[device_id] = min(worst.get(device_id, index), index)
    by_severity = dict.fromkeys(SEVERITY_ORDER, 0)
    for index in worst.values():
        by_severity[SEVERITY_ORDER[index]] += 1
    # Devices with no software rows at all have no known CVE either.
    by_severity[""] += max(devices["n"] - len(worst), 0)
    return AgencyCharts(statuses.get(IdentificationStatus.IDENTIFIED, 0), statuses.get(IdentificationStatus.PRODUCT_ONLY, 0),
                        statuses.get(IdentificationStatus.UNIDENTIFIED, 0), devices["n"], devices["vans"],
                        devices["edr"], by_severity)
