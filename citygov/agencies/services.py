"""Writes to agencies, districts and memberships. Each owns its transaction, checks and change-log row."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from citygov.agencies import reference
from citygov.agencies.engine.geo import shape_of
from citygov.agencies.models import Agency, AgencyKind, District, Membership, SecurityLevel
from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.permissions import require_agency, require_capability, require_writer
from citygov.core.roles import Capability

AGENCY_EDITABLE_FIELDS = ("name_zh", "name_en", "parent", "kind", "district", "security_level", "note", "is_active")


@dataclass
class LoadReport:
    """What a reference load did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def _upsert(model, lookup: dict, values: dict, report: LoadReport, actor) -> object:
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values)
        obj.full_clean()
        obj.save()
        record_change(actor=actor, action=ChangeAction.CREATE, obj=obj, after=snapshot(obj),
                      note="reference data")
        report.created += 1
        return obj
    if all(_same(getattr(obj, key), value) for key, value in values.items()):
        report.unchanged += 1
        return obj
    before = snapshot(obj)
    for key, value in values.items():
        setattr(obj, key, value)
    after = snapshot(obj)
    obj.full_clean()
    obj.save()
    record_change(actor=actor, action=ChangeAction.UPDATE, obj=obj, before=before, after=after,
                  note="reference data")
    report.updated += 1
    return obj


def _same(current, new) -> bool:
    if hasattr(current, "pk") or hasattr(new, "pk"):
        return getattr(current, "pk", current) == getattr(new, "pk", new)
    return current == new


def do_load_districts(*, actor=None, path: Path | None = None) -> LoadReport:
    """Load Taoyuan's districts from GeoJSON; re-loading the same file changes nothing."""
    report = LoadReport()
    with transaction.atomic():
        for record in reference.read_districts(path):
            shape = shape_of(record.geometry)
            values = {
                "town_id": record.town_id,
                "name_zh": record.name_zh,
                "name_en": record.name_en,
                "boundary": record.geometry,
                "centroid_lon": round(shape.centroid_lon, 6),
                "centroid_lat": round(shape.centroid_lat, 6),
                "area_km2": round(shape.area_km2, 3),
            }
            _upsert(District, {"code": record.code}, values, report, actor)
    return report


def do_load_agencies(*, actor=None, path: Path | None = None) -> LoadReport:
    """Load agencies from the reference CSV, resolving parents and districts; idempotent.

    Rows with an unknown parent, district, kind or level are reported with their line and skipped.
    """
    report = LoadReport()
    districts = {d.name_zh: d for d in District.objects.all()}
    records = reference.read_agencies(path)
    known_codes = {r.code for r in records} | set(Agency.objects.values_list("code", flat=True))
    with transaction.atomic():
        pending = list(records)
        # Parents may appear after children in an edited file: repeat until no progress.
        while pending:
            progressed = False
            waiting = []
            for record in pending:
                problem = _record_problem(record, districts, known_codes)
                if problem:
                    report.errors.append(f"line {record.line}: {record.code}: {problem}")
                    progressed = True
                    continue
                parent = None
                if record.parent_code:
                    parent = Agency.objects.filter(code=record.parent_code).first()
                    if parent is None:
                        waiting.append(record)
                        continue
                values = {
                    "name_zh": record.name_zh,
                    "name_en": record.name_en,
                    "parent": parent,
                    "kind": record.kind,
                    "district": districts.get(record.district) if record.district else None,
                    "security_level": record.security_level,
                    "note": record.note,
                }
                existing = Agency.objects.filter(code=record.code).first()
                if existing is not None and existing.security_level and not record.security_level:
                    # Levels are set by administrators; a blank in the reference file must not erase them.
                    values["security_level"] = existing.security_level
                _upsert(Agency, {"code": record.code}, values, report, actor)
                progressed = True
            if not progressed:
                for record in waiting:
                    report.errors.append(f"line {record.line}: {record.code}: parent {record.parent_code!r} never loaded")
                break
            pending = waiting
    return report


def _record_problem(record: reference.AgencyRecord, districts: dict, known_codes: set[str]) -> str:
    if not record.code or not record.name_zh:
        return "code and name_zh are required"
    if record.kind not in AgencyKind.values:
        return f"unknown kind {record.kind!r}"
    if record.district and record.district not in districts:
        return f"unknown district {record.district!r}"
    if record.security_level and record.security_level not in SecurityLevel.values:
        return f"security level {record.security_level!r} is not one of A-E"
    if record.parent_code and record.parent_code not in known_codes:
        return f"unknown parent {record.parent_code!r}"
    return ""


def do_load_reference_data(*, actor=None) -> dict[str, LoadReport]:
    """Districts then agencies, from the bundled files."""
    return {"districts": do_load_districts(actor=actor), "agencies": do_load_agencies(actor=actor)}


# --- agency edits by people -------------------------------------------------------------------

@dataclass(frozen=True)
class AgencyInput:
    """Fields a person may set on an agency."""

    code: str
    name_zh: str
    kind: str
    name_en: str = ""
    parent_id: int | None = None
    district_id: int | None = None
    security_level: str = ""
    note: str = ""
    is_active: bool = True


def _validated(agency: Agency) -> None:
    from django.core.exceptions import ValidationError

    try:
        agency.full_clean()
    except ValidationError as exc:
        raise InvalidInput(_("The agency has invalid fields."), fields=exc.message_dict) from None


def check_create_agency(actor, data: AgencyInput) -> None:
    """Only city administrators create agencies; an agency administrator may add bodies under their own."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_AGENCIES)
    if not actor.is_city_wide:
        require_agency(actor, data.parent_id)


def do_create_agency(actor, data: AgencyInput) -> Agency:
    """Create an agency and log it."""
    check_create_agency(actor, data)
    with transaction.atomic():
        agency = Agency(code=data.code, name_zh=data.name_zh, name_en=data.name_en, kind=data.kind,
                        parent_id=data.parent_id, district_id=data.district_id,
                        security_level=data.security_level, note=data.note, is_active=data.is_active)
        _validated(agency)
        agency.save()
        record_change(actor=actor, action=ChangeAction.CREATE, obj=agency, after=snapshot(agency))
    return agency


def get_agency_for(actor, agency_id: int) -> Agency:
    """The agency if ``actor`` may reach it; :class:`NotFound` otherwise (no existence leak)."""
    agency = Agency.objects.for_agency(actor).filter(pk=agency_id).first()
    if agency is None:
        raise NotFound(_("No such agency."))
    return agency


def do_update_agency(actor, agency_id: int, changes: dict) -> Agency:
    """Change an agency's editable fields; only the fields that changed reach the change log."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_AGENCIES)
    unknown = set(changes) - set(AGENCY_EDITABLE_FIELDS) - {"parent_id", "district_id"}
    if unknown:
        raise InvalidInput(_("These fields cannot be changed: {fields}").format(fields=", ".join(sorted(unknown))))
    with transaction.atomic():
        agency = get_agency_for(actor, agency_id)
        agency = Agency.objects.select_for_update().get(pk=agency.pk)
        if not actor.is_city_wide and ("parent" in changes or "parent_id" in changes):
            new_parent = changes.get("parent_id", getattr(changes.get("parent"), "pk", None))
            require_agency(actor, new_parent)
        before = snapshot(agency)
        for key, value in changes.items():
            setattr(agency, key, value)
        _validated(agency)
        _check_no_cycle(agency)
        agency.save()
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=agency, before=before, after=snapshot(agency))
    return agency


def _check_no_cycle(agency: Agency) -> None:
    seen = {agency.pk}
    cursor = agency.parent_id
    parents = dict(Agency.objects.values_list("id", "parent_id"))
    while cursor is not None:
        if cursor in seen:
            raise InvalidInput(_("An agency cannot be its own ancestor."), fields={"parent": ["cycle"]})
        seen.add(cursor)
        cursor = parents.get(cursor)


def do_delete_agency(actor, agency_id: int) -> None:
    """Delete an agency without children or members (city administrators only)."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_AGENCIES)
    if not actor.is_city_wide:
        raise InvalidInput(_("Only a city administrator may delete an agency."), code="city_admin_only")
    with transaction.atomic():
        agency = get_agency_for(actor, agency_id)
        if agency.children.exists() or agency.memberships.exists():
            raise InvalidInput(_("The agency still has sub-agencies or members."), code="agency_in_use")
        before = snapshot(agency)
        record_change(actor=actor, action=ChangeAction.DELETE, obj=agency, before=before)
        agency.delete()


def do_add_membership(actor, user, agency: Agency) -> Membership:
    """Make ``user`` a member of ``agency`` (idempotent)."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_USERS)
    require_agency(actor, agency.pk)
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(user=user, agency=agency)
        if created:
            record_change(actor=actor, action=ChangeAction.CREATE, obj=membership, agency_id=agency.pk,
                          after={"user": user.pk, "agency": agency.pk})
    return membership


def do_remove_membership(actor, user, agency: Agency) -> None:
    """Remove ``user`` from ``agency``; nothing happens when they were not a member."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_USERS)
    require_agency(actor, agency.pk)
    with transaction.atomic():
        membership = Membership.objects.filter(user=user, agency=agency).first()
        if membership is None:
            return
        record_change(actor=actor, action=ChangeAction.DELETE, obj=membership, agency_id=agency.pk,
                      before={"user": user.pk, "agency": agency.pk})
        membership.delete()
