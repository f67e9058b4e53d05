"""CKAN Action API (v3) responses → catalogue entries. Pure Python: JSON in, :class:`catalog.Entry` out.

A ``package_search`` envelope is ``{"help", "success", "result": {"count", "results": [...]}}``. Core CKAN
has no frequency field: portals add one as an extra or a scheming field (``frequency``,
``update_frequency``, ``data_update_frequency``, ``accrualPeriodicity``); a package without one gets an
empty frequency (not evaluated, never "fresh"). A resource's ``last_modified`` is the data-updated time;
the package's ``metadata_modified`` the metadata-updated time (CKAN stores both in UTC).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from citygov.datagov.engine.catalog import SPATIAL_FORMATS, CatalogError, Entry, Resource

FREQUENCY_KEYS = ("frequency", "update_frequency", "data_update_frequency", "accrualPeriodicity",
                  "accrual_periodicity", "更新頻率")


def parse_time(value: Any) -> dt.datetime | None:
    """A CKAN timestamp (ISO 8601, UTC when it carries no offset); None when empty or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_search(body: bytes) -> tuple[int, list[Mapping[str, Any]]]:
    """(total count, packages of this page) from a ``package_search`` response body."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogError("The CKAN response is not JSON.", "CKAN 回應不是 JSON。") from exc
    if not isinstance(envelope, dict) or envelope.get("success") is not True:
        error = envelope.get("error") if isinstance(envelope, dict) else None
        detail = error.get("message", "") if isinstance(error, dict) else ""
        raise CatalogError(f"CKAN refused the request. {detail}".strip(), f"CKAN 拒絕請求。{detail}".strip())
    result = envelope.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("results"), list) \
            or not isinstance(result.get("count"), int):
        raise CatalogError("The CKAN response has no result list.", "CKAN 回應缺少結果清單。")
    return result["count"], result["results"]


def _extras(package: Mapping[str, Any]) -> dict[str, str]:
    extras = package.get("extras") or []
    return {str(e.get("key")): str(e.get("value") or "") for e in extras if isinstance(e, dict)}


def package_to_entry(package: Mapping[str, Any], position: int) -> Entry:
    """One CKAN package as an entry; ``position`` (1-based, across pages) stands in for a line number.

    Raises ValueError when the package has no id or no title.
    """
    if not package.get("id") or not (package.get("title") or package.get("name")):
        raise ValueError("package without id or title")
    extras = _extras(package)
    frequency = next((str(package[k]) for k in FREQUENCY_KEYS if package.get(k)), "") or next(
        (extras[k] for k in FREQUENCY_KEYS if extras.get(k)), "")
    organization = package.get("organization") or {}
    agency_name = str(organization.get("title") or organization.get("name") or "")
    resources = []
    modified = []
    for res in package.get("resources") or []:
        if not isinstance(res, dict) or not res.get("url"):
            continue
        resources.append(Resource(url=str(res["url"]), format=str(res.get("format") or "").upper(),
                                  encoding="", size=str(res.get("size") or "")))
        stamp = parse_time(res.get("last_modified"))
        if stamp:
            modified.append(stamp)
    formats = {r.format for r in resources}
    spatial_formats = sorted(formats & SPATIAL_FORMATS)
    tags = tuple(str(t.get("display_name") or t.get("name")) for t in package.get("tags") or []
                 if isinstance(t, dict) and (t.get("display_name") or t.get("name")))
    groups = [str(g.get("title") or g.get("name")) for g in package.get("groups") or [] if isinstance(g, dict)]
    return Entry(
        line=position, source_id=str(package["id"]), title=str(package.get("title") or package.get("name")),
        description=str(package.get("notes") or ""), agency_code="", agency_name=agency_name,
        provider_code="", provider_name=agency_name, category=groups[0] if groups else "", keywords=tags,
        licence=str(package.get("license_title") or package.get("license_id") or ""), frequency_text=frequency,
        data_updated=max(modified) if modified else None, metadata_updated=parse_time(package.get("metadata_modified")),
        created=parse_time(package.get("metadata_created")), spatial=bool(spatial_formats or extras.get("spatial")),
        layer_type=spatial_formats[0] if spatial_formats else "",
        contact_name=str(package.get("maintainer") or package.get("author") or ""), contact_phone="",
        contact_email=str(package.get("maintainer_email") or package.get("author_email") or ""),
        resources=tuple(resources), fields=(), landing_url=str(package.get("url") or ""),
    )
