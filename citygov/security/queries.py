"""Read-side helpers of the security module; every query is scoped with ``for_agency(user)``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from citygov.agencies.models import Agency
from citygov.security.models import Device, IdentificationStatus, InstalledSoftware


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
