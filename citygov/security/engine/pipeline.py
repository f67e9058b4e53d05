"""Row → output record, and identified software → CVEs (with the aliases NVD uses). Pure Python."""

from __future__ import annotations

from citygov.security.engine.cpe import ANY, Cpe, CpeError, parse
from citygov.security.engine.identify import UNIDENTIFIED, Identification, InventoryRow
from citygov.security.engine.matching import CveHit, VulnIndex


def identification_record(line: int, row: InventoryRow, result: Identification) -> dict:
    """The documented JSON line of ``citygov security identify`` for one row."""
    return {
        "line": line, "display_name": row.display_name, "display_version": row.display_version,
        "status": result.status, "cpe": result.cpe or None, "vendor": result.vendor or None,
        "product": result.product or None, "version": result.version or None,
        "confidence": result.confidence, "alternatives": list(result.alternatives),
        "reason": result.reason or None,
    }


def installed_cpes(result: Identification) -> list[Cpe]:
    """The identified CPE and the same version under every alias vendor:product."""
    if result.status == UNIDENTIFIED or not result.cpe:
        return []
    try:
        main = parse(result.cpe)
    except CpeError:
        return []
    found = [main]
    for alias in result.alternatives:
        vendor, _, product = alias.partition(":")
        if vendor and product and (vendor, product) != main.key:
            found.append(Cpe(part=main.part, vendor=vendor, product=product, version=main.version,
                             update=main.update))
    return found


def cves_for(result: Identification, index: VulnIndex, display_name: str = "") -> tuple[list[CveHit], list[CveHit]]:
    """(analysed CVEs, CVEs awaiting analysis) for one identification.

    Analysed CVEs come from the configurations of every alias; a product-only result (no version) only
    matches criteria without a version bound. Awaiting-analysis CVEs are found by product keyword.
    """
    cpes = installed_cpes(result)
    if not cpes:
        return [], []
    seen: dict[str, CveHit] = {}
    for cpe in cpes:
        if cpe.version == ANY and result.version:
            continue
        for hit in index.match(cpe):
            seen.setdefault(hit.cve_id, hit)
    analysed = sorted(seen.values(), key=lambda h: (-(h.score or 0), h.cve_id))
    keywords = {c.product.replace("_", " ") for c in cpes}
    awaiting = index.awaiting_for(keywords)
    return analysed, awaiting


def hit_record(hit: CveHit) -> dict:
    """One CVE as JSON."""
    return {"id": hit.cve_id, "score": hit.score, "severity": hit.severity}
