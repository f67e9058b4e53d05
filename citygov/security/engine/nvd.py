"""NVD data loaders: the XML 2.3 dictionary, CPE API 2.0, CPE match criteria, CVE JSON 1.1 and API 2.0.

Every loader yields plain frozen dataclasses, streams where the format allows it (the XML dictionary is
read with ``iterparse`` and elements are cleared as they are consumed), and accepts records in "Awaiting
Analysis" that have no configurations at all. Pure Python (``defusedxml`` guards the XML parser against
entity-expansion attacks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from defusedxml.ElementTree import iterparse

_CPE23_NS = "{http://scap.nist.gov/schema/cpe-extension/2.3}"
_DICT_NS = "{http://cpe.mitre.org/dictionary/2.0}"


class NvdFormatError(ValueError):
    """A document that is not in any of the NVD layouts this module reads."""


@dataclass(frozen=True)
class CpeEntry:
    """One dictionary entry: the CPE 2.3 formatted string, its English title, deprecation."""

    cpe: str
    title: str = ""
    deprecated: bool = False


@dataclass(frozen=True)
class MatchCriterion:
    """One ``cpeMatch`` / ``cpe_match`` entry: a criteria CPE with optional version range bounds."""

    criteria: str
    vulnerable: bool = True
    start_including: str = ""
    start_excluding: str = ""
    end_including: str = ""
    end_excluding: str = ""
    criteria_id: str = ""


@dataclass(frozen=True)
class Node:
    """A configuration node: OR/AND over its criteria and child nodes, optionally negated."""

    operator: str = "OR"
    negate: bool = False
    criteria: tuple[MatchCriterion, ...] = ()
    children: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Configuration:
    """A CVE configuration: nodes joined by ``operator`` (AND means "application running on platform")."""

    operator: str = "OR"
    nodes: tuple[Node, ...] = ()


@dataclass(frozen=True)
class CveRecord:
    """One CVE with what matching needs: status, scores, an English description and configurations."""

    id: str
    status: str = ""
    description: str = ""
    cvss3: float | None = None
    cvss2: float | None = None
    published: str = ""
    last_modified: str = ""
    configurations: tuple[Configuration, ...] = ()

    @property
    def awaiting_analysis(self) -> bool:
        """True for records NVD has not analysed yet: no configurations to match against."""
        return not self.configurations

    @property
    def score(self) -> float | None:
        """The CVSS v3 base score, else v2."""
        return self.cvss3 if self.cvss3 is not None else self.cvss2


def _text(element: Any) -> str:
    return (element.text or "").strip() if element is not None else ""


def iter_xml_dictionary(stream: IO[bytes]) -> Iterator[CpeEntry]:
    """Stream the official CPE dictionary XML (2.3 schema); 2.2-only items without a 2.3 name are skipped.

    Raises :class:`NvdFormatError` when the root is not a ``cpe-list``.
    """
    context = iterparse(stream, events=("start", "end"))
    root = None
    for event, element in context:
        if event == "start":
            if root is None:
                root = element
                if not element.tag.endswith("cpe-list"):
                    raise NvdFormatError(f"not a CPE dictionary: root element is {element.tag}")
            continue
        if element.tag != f"{_DICT_NS}cpe-item":
            continue
        item23 = element.find(f"{_CPE23_NS}cpe23-item")
        if item23 is not None:
            titles = element.findall(f"{_DICT_NS}title")
            title = next((_text(t) for t in titles if t.get("{http://www.w3.org/XML/1998/namespace}lang", "")
                          .startswith("en")), _text(titles[0]) if titles else "")
            yield CpeEntry(cpe=item23.get("name", ""), title=title,
                           deprecated=element.get("deprecated", "false") == "true")
        element.clear()
        if root is not None:
            root.clear()


def iter_cpe_api2(document: dict) -> Iterator[CpeEntry]:
    """Products of a CPE API 2.0 response (``format`` ``NVD_CPE``)."""
    if "products" not in document:
        raise NvdFormatError("not a CPE API 2.0 response: no 'products'")
    for product in document["products"]:
        cpe = product.get("cpe", {})
        titles = cpe.get("titles", [])
        title = next((t.get("title", "") for t in titles if t.get("lang", "").startswith("en")), "")
        yield CpeEntry(cpe=cpe.get("cpeName", ""), title=title, deprecated=bool(cpe.get("deprecated", False)))


def _criterion(entry: dict, criteria_key: str) -> MatchCriterion:
    return MatchCriterion(
        criteria=entry.get(criteria_key, ""),
        vulnerable=bool(entry.get("vulnerable", True)),
        start_including=entry.get("versionStartIncluding", ""),
        start_excluding=entry.get("versionStartExcluding", ""),
        end_including=entry.get("versionEndIncluding", ""),
        end_excluding=entry.get("versionEndExcluding", ""),
        criteria_id=entry.get("matchCriteriaId", ""),
    )


def iter_cpematch_api2(document: dict) -> Iterator[tuple[MatchCriterion, tuple[str, ...]]]:
    """Match criteria of a CPE Match API 2.0 response, each with the dictionary CPE names it expands to."""
    if "matchStrings" not in document:
        raise NvdFormatError("not a CPE Match API 2.0 response: no 'matchStrings'")
    for item in document["matchStrings"]:
        match = item.get("matchString", item)
        yield (_criterion(match, "criteria"), tuple(m.get("cpeName", "") for m in match.get("matches", [])))


def _node_11(node: dict) -> Node:
    return Node(operator=node.get("operator", "OR"), negate=bool(node.get("negate", False)),
                criteria=tuple(_criterion(c, "cpe23Uri") for c in node.get("cpe_match", [])),
                children=tuple(_node_11(c) for c in node.get("children", [])))


def _node_20(node: dict) -> Node:
    return Node(operator=node.get("operator", "OR"), negate=bool(node.get("negate", False)),
                criteria=tuple(_criterion(c, "criteria") for c in node.get("cpeMatch", [])))


def _first_score(metrics: dict, keys: Iterable[str]) -> float | None:
    for key in keys:
        entries = metrics.get(key) or []
        primary = [e for e in entries if e.get("type") == "Primary"] or entries
        if primary:
            return float(primary[0]["cvssData"]["baseScore"])
    return None


def cve_from_11(item: dict) -> CveRecord:
    """One ``CVE_Items`` entry of a JSON 1.1 feed."""
    cve = item.get("cve", {})
    descriptions = cve.get("description", {}).get("description_data", [])
    impact = item.get("impact", {})
    v3 = impact.get("baseMetricV3", {}).get("cvssV3", {}).get("baseScore")
    v2 = impact.get("baseMetricV2", {}).get("cvssV2", {}).get("baseScore")
    nodes = tuple(_node_11(n) for n in item.get("configurations", {}).get("nodes", []))
    return CveRecord(
        id=cve.get("CVE_data_meta", {}).get("ID", ""),
        status="Analyzed" if nodes else "Awaiting Analysis",
        description=next((d.get("value", "") for d in descriptions if d.get("lang") == "en"), ""),
        cvss3=float(v3) if v3 is not None else None, cvss2=float(v2) if v2 is not None else None,
        published=item.get("publishedDate", ""), last_modified=item.get("lastModifiedDate", ""),
        # In the 1.1 layout each top-level node is one configuration.
        configurations=tuple(Configuration(operator="OR", nodes=(n,)) for n in nodes),
    )


def cve_from_20(cve: dict) -> CveRecord:
    """One ``vulnerabilities[].cve`` object of the CVE API 2.0 (or a 2.0 feed file)."""
    metrics = cve.get("metrics", {})
    return CveRecord(
        id=cve.get("id", ""), status=cve.get("vulnStatus", ""),
        description=next((d.get("value", "") for d in cve.get("descriptions", []) if d.get("lang") == "en"), ""),
        cvss3=_first_score(metrics, ("cvssMetricV31", "cvssMetricV30")),
        cvss2=_first_score(metrics, ("cvssMetricV2",)),
        published=cve.get("published", ""), last_modified=cve.get("lastModified", ""),
        configurations=tuple(
            Configuration(operator=c.get("operator", "OR"), nodes=tuple(_node_20(n) for n in c.get("nodes", [])))
            for c in cve.get("configurations", [])),
    )


def iter_cve_records(document: dict) -> Iterator[CveRecord]:
    """CVE records of a JSON 1.1 feed (``CVE_Items``) or a CVE API 2.0 response/feed (``vulnerabilities``)."""
    if "CVE_Items" in document:
        for item in document["CVE_Items"]:
            yield cve_from_11(item)
    elif "vulnerabilities" in document:
        for item in document["vulnerabilities"]:
            yield cve_from_20(item.get("cve", item))
    else:
        raise NvdFormatError("not an NVD CVE document: neither 'CVE_Items' (1.1) nor 'vulnerabilities' (2.0)")


def cve_to_20(record: CveRecord, description_limit: int = 300) -> dict:
    """A record in the CVE API 2.0 layout (only the fields this module reads), for the bundled index."""
    metrics: dict[str, list] = {}
    if record.cvss3 is not None:
        metrics["cvssMetricV31"] = [{"type": "Primary", "cvssData": {"baseScore": record.cvss3}}]
    if record.cvss2 is not None:
        metrics["cvssMetricV2"] = [{"type": "Primary", "cvssData": {"baseScore": record.cvss2}}]

    def node(n: Node) -> list[dict]:
        # 2.0 has no nested children: a 1.1 AND node with children becomes one configuration per child set.
        own = {"operator": n.operator, "negate": n.negate, "cpeMatch": [
            {k: v for k, v in (("criteria", c.criteria), ("vulnerable", c.vulnerable),
                               ("versionStartIncluding", c.start_including),
                               ("versionStartExcluding", c.start_excluding),
                               ("versionEndIncluding", c.end_including),
                               ("versionEndExcluding", c.end_excluding)) if v != ""}
            for c in n.criteria]}
        return ([own] if n.criteria else []) + [x for child in n.children for x in node(child)]

    configurations = []
    for configuration in record.configurations:
        for top in configuration.nodes:
            nodes = node(top)
            operator = "AND" if top.children and top.operator == "AND" else configuration.operator
            configurations.append({"operator": operator, "nodes": nodes} if operator == "AND" else {"nodes": nodes})
    description = record.description
    if len(description) > description_limit:
        description = description[: description_limit - 1] + "…"
    result: dict[str, Any] = {"id": record.id, "vulnStatus": record.status,
                              "descriptions": [{"lang": "en", "value": description}],
                              "published": record.published, "lastModified": record.last_modified,
                              "metrics": metrics}
    if configurations:
        result["configurations"] = configurations
    return result
