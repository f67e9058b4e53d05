"""CPE + installed version → CVEs, from the configurations' match criteria. Pure Python.

Rules (NVD semantics): only ``vulnerable`` criteria name affected software; range bounds
(``versionStart/End Including/Excluding``) apply only when the criteria's version is ``*``; a
configuration whose nodes are joined by AND means "this application running on that platform" — the
platform nodes (no vulnerable criteria) are taken as satisfied because an inventory row does not say
what it runs on, which errs towards reporting. Records still "Awaiting Analysis" have no configurations;
they are found separately by product keywords so they are not invisible.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from citygov.security.engine import versions
from citygov.security.engine.cpe import ANY, NA, Cpe, CpeError, parse
from citygov.security.engine.nvd import Configuration, CveRecord, MatchCriterion, Node


@dataclass(frozen=True)
class CveHit:
    """One CVE affecting an installed (CPE, version): id, base score, severity and whether it is confirmed."""

    cve_id: str
    score: float | None
    severity: str
    awaiting_analysis: bool = False


def severity(score: float | None) -> str:
    """CVSS v3 qualitative rating of a base score (``none`` for 0, ``unknown`` without a score).

    Examples
    --------
    >>> severity(9.8), severity(7.8), severity(5.0), severity(None)
    ('critical', 'high', 'medium', 'unknown')
    """
    if score is None:
        return "unknown"
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0:
        return "low"
    return "none"


def _same(a: str, b: str) -> bool:
    return a == ANY or b == ANY or a.lower() == b.lower()


@lru_cache(maxsize=262144)
def _parsed(criteria: str) -> Cpe | None:
    try:
        return parse(criteria)
    except CpeError:
        return None


def criterion_matches(criterion: MatchCriterion, installed: Cpe, wanted: Cpe | None = None) -> bool:
    """Whether ``installed`` (a CPE carrying the installed version) satisfies one criterion.

    ``wanted`` is the criterion's parsed CPE when the caller already has it.
    """
    if wanted is None:
        wanted = _parsed(criterion.criteria)
        if wanted is None:
            return False
    if wanted.part != installed.part or wanted.vendor != installed.vendor or wanted.product != installed.product:
        return False
    version = installed.version
    if wanted.version == ANY:
        if version in (ANY, NA, ""):
            # Unknown installed version: only an unbounded criterion is certain to apply.
            return not (criterion.start_including or criterion.start_excluding
                        or criterion.end_including or criterion.end_excluding)
        key = versions.sort_key(version)
        if criterion.start_including and key < versions.sort_key(criterion.start_including):
            return False
        if criterion.start_excluding and key <= versions.sort_key(criterion.start_excluding):
            return False
        if criterion.end_including and key > versions.sort_key(criterion.end_including):
            return False
        if criterion.end_excluding and key >= versions.sort_key(criterion.end_excluding):
            return False
    elif wanted.version == NA:
        if version not in (NA,):
            return False
    elif version in (ANY, "") or versions.sort_key(version) != versions.sort_key(wanted.version):
        return False
    if wanted.update not in (ANY, NA) and installed.update not in (ANY,) and \
            wanted.update.lower() != installed.update.lower():
        return False
    return _same(wanted.sw_edition, installed.sw_edition) and _same(wanted.target_sw, installed.target_sw)


def _node_matches(node: Node, installed: Cpe) -> bool:
    vulnerable = [c for c in node.criteria if c.vulnerable]
    results = [criterion_matches(c, installed) for c in vulnerable] + [
        _node_matches(child, installed) for child in node.children if _has_vulnerable(child)]
    if not results:
        return False
    hit = all(results) if node.operator == "AND" else any(results)
    return not hit if node.negate else hit


def _has_vulnerable(node: Node) -> bool:
    return any(c.vulnerable for c in node.criteria) or any(_has_vulnerable(c) for c in node.children)


def configuration_matches(configuration: Configuration, installed: Cpe) -> bool:
    """Whether the installed CPE is affected under one configuration (platform-only nodes assumed present)."""
    relevant = [n for n in configuration.nodes if _has_vulnerable(n)]
    if not relevant:
        return False
    if configuration.operator == "AND":
        return all(_node_matches(n, installed) for n in relevant)
    return any(_node_matches(n, installed) for n in relevant)


def _criteria(node: Node) -> Iterable[MatchCriterion]:
    yield from node.criteria
    for child in node.children:
        yield from _criteria(child)


def version_key(version: str) -> tuple:
    """A hashable form of a version under which equal versions (``7`` and ``7.0``) coincide."""
    parts = versions.tokens(version)
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _vulnerable_nodes(configuration: Configuration) -> list[Node]:
    return [n for n in configuration.nodes if _has_vulnerable(n)]


def _is_simple(record: CveRecord) -> bool:
    """True when each configuration reduces to one plain OR node: then any one criterion decides."""
    for configuration in record.configurations:
        nodes = _vulnerable_nodes(configuration)
        if configuration.operator == "AND" and len(nodes) > 1:
            return False
        for node in nodes:
            if node.negate or node.operator != "OR" or any(_has_vulnerable(c) for c in node.children):
                return False
    return True


class _ProductMatcher:
    """Pre-compiled criteria of one vendor:product: exact versions in a hash, ranges in a list."""

    def __init__(self, records: Iterable[CveRecord], key: tuple[str, str]) -> None:
        self.exact: dict[tuple, list[tuple[MatchCriterion, Cpe, str]]] = defaultdict(list)
        self.other: list[tuple[MatchCriterion, Cpe, str]] = []
        self.complex: list[CveRecord] = []
        for record in records:
            if not _is_simple(record):
                self.complex.append(record)
                continue
            for configuration in record.configurations:
                for node in _vulnerable_nodes(configuration):
                    for criterion in node.criteria:
                        if not criterion.vulnerable:
                            continue
                        try:
                            wanted = parse(criterion.criteria)
                        except CpeError:
                            continue
                        if wanted.key != key:
                            continue
                        entry = (criterion, wanted, record.id)
                        if wanted.version in (ANY, NA):
                            self.other.append(entry)
                        else:
                            self.exact[version_key(wanted.version)].append(entry)

    def match(self, installed: Cpe) -> set[str]:
        found = set()
        candidates = self.other
        if installed.version not in (ANY, NA, ""):
            candidates = self.exact.get(version_key(installed.version), []) + self.other
        for criterion, wanted, cve_id in candidates:
            if cve_id not in found and criterion_matches(criterion, installed, wanted):
                found.add(cve_id)
        for record in self.complex:
            if any(configuration_matches(c, installed) for c in record.configurations):
                found.add(record.id)
        return found


class VulnIndex:
    """CVE records indexed by the (vendor, product) of their vulnerable criteria, plus the awaiting backlog."""

    def __init__(self, records: Iterable[CveRecord] = ()) -> None:
        """Index ``records`` (later records with the same id replace earlier ones)."""
        self.records: dict[str, CveRecord] = {}
        self.by_product: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.awaiting: dict[str, CveRecord] = {}
        self._matchers: dict[tuple[str, str], _ProductMatcher] = {}
        self._awaiting_cache: dict[frozenset, list[CveHit]] = {}
        for record in records:
            self.add(record)

    def add(self, record: CveRecord) -> None:
        """Add or replace one record."""
        self.records[record.id] = record
        self._matchers.clear()
        self._awaiting_cache.clear()
        if record.awaiting_analysis:
            self.awaiting[record.id] = record
            return
        self.awaiting.pop(record.id, None)
        for configuration in record.configurations:
            for node in configuration.nodes:
                for criterion in _criteria(node):
                    if criterion.vulnerable:
                        try:
                            self.by_product[parse(criterion.criteria).key].add(record.id)
                        except CpeError:
                            continue

    def record(self, cve_id: str) -> CveRecord:
        """The record with this id (KeyError if unknown)."""
        return self.records[cve_id]

    def __len__(self) -> int:
        """Number of CVE records held."""
        return len(self.records)

    def match(self, installed: Cpe) -> list[CveHit]:
        """Analysed CVEs affecting ``installed`` (its version in the version field), highest score first."""
        matcher = self._matchers.get(installed.key)
        if matcher is None:
            ids = self.by_product.get(installed.key, ())
            matcher = self._matchers[installed.key] = _ProductMatcher((self.record(i) for i in ids), installed.key)
        hits = []
        for cve_id in matcher.match(installed):
            record = self.record(cve_id)
            hits.append(CveHit(cve_id, record.score, severity(record.score)))
        return sorted(hits, key=lambda h: (-(h.score or 0), h.cve_id))

    def awaiting_for(self, keywords: Iterable[str]) -> list[CveHit]:
        """CVEs awaiting analysis whose description names one of ``keywords`` (whole words, any case)."""
        key = frozenset(k.lower() for k in keywords)
        cached = self._awaiting_cache.get(key)
        if cached is None:
            cached = self._awaiting_cache[key] = self._awaiting_for(key)
        return list(cached)

    def _awaiting_for(self, keywords: Iterable[str]) -> list[CveHit]:
        patterns = [re.compile(r"\b" + re.escape(k.lower()) + r"\b") for k in keywords if len(k) >= 3]
        hits = []
        for record in self.awaiting.values():
            text = record.description.lower()
            if any(p.search(text) for p in patterns):
                hits.append(CveHit(record.id, record.score, severity(record.score), awaiting_analysis=True))
        return sorted(hits, key=lambda h: h.cve_id)
