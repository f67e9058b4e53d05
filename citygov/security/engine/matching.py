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


def _tail_matches(wanted: Cpe, installed: Cpe) -> bool:
    """The part, update, edition and target-software checks of :func:`criterion_matches` (after the version)."""
    if wanted.part != installed.part:
        return False
    if wanted.update not in (ANY, NA) and installed.update != ANY and wanted.update.lower() != installed.update.lower():
        return False
    return _same(wanted.sw_edition, installed.sw_edition) and _same(wanted.target_sw, installed.target_sw)


# A compiled node: True/False when its value cannot depend on the installed version (criteria of other
# products are always False for this product), else (operator, negate, criteria, children, has_false).
_Compiled = bool | tuple


def _compile_node(node: Node, key: tuple[str, str]) -> _Compiled:
    """Partially evaluate ``node`` for installed CPEs of product ``key`` (same result as :func:`_node_matches`)."""
    entries, has_false = [], False
    for criterion in node.criteria:
        if not criterion.vulnerable:
            continue
        wanted = _parsed(criterion.criteria)
        if wanted is None or wanted.key != key:
            has_false = True
        else:
            entries.append((criterion, wanted))
    children = [_compile_node(child, key) for child in node.children if _has_vulnerable(child)]
    if not entries and not children and not has_false:
        return False  # no vulnerable criteria at all: never a match (and negation does not apply)
    if node.operator == "AND":
        if has_false or any(c is False for c in children):
            hit: bool | None = False
        elif not entries and all(c is True for c in children):
            hit = True
        else:
            hit = None
    else:
        if any(c is True for c in children):
            hit = True
        elif not entries and all(c is False for c in children):
            hit = False
        else:
            hit = None
    if hit is not None:
        return not hit if node.negate else hit
    children = [c for c in children if not isinstance(c, bool)] if node.operator == "OR" else \
        [c for c in children if c is not True]
    return (node.operator, node.negate, tuple(entries), tuple(children), False)


def _evaluate(compiled: _Compiled, installed: Cpe) -> bool:
    if isinstance(compiled, bool):
        return compiled
    operator, negate, entries, children, _ = compiled
    if operator == "AND":
        hit = all(criterion_matches(c, installed, w) for c, w in entries) and all(
            _evaluate(child, installed) for child in children)
    else:
        hit = any(criterion_matches(c, installed, w) for c, w in entries) or any(
            _evaluate(child, installed) for child in children)
    return not hit if negate else hit


def _flatten(compiled: _Compiled) -> list[tuple[MatchCriterion, Cpe]] | None:
    """The criteria of a compiled tree that is just "any of these criteria" (None when it is more than that).

    An AND with a single live operand is that operand (the platform side was dropped as always present).
    """
    if isinstance(compiled, bool):
        return None
    operator, negate, entries, children, _ = compiled
    if negate:
        return None
    if operator == "AND" and len(entries) + len(children) != 1:
        return None
    found = list(entries)
    for child in children:
        flat = _flatten(child)
        if flat is None:
            return None
        found.extend(flat)
    return found


def _compile_configuration(configuration: Configuration, key: tuple[str, str]) -> _Compiled:
    nodes = [_compile_node(n, key) for n in configuration.nodes if _has_vulnerable(n)]
    if not nodes:
        return False
    if configuration.operator == "AND":
        if any(n is False for n in nodes):
            return False
        rest = tuple(n for n in nodes if n is not True)
        return True if not rest else ("AND", False, (), rest, False)
    if any(n is True for n in nodes):
        return True
    rest = tuple(n for n in nodes if n is not False)
    return False if not rest else ("OR", False, (), rest, False)


class _ProductMatcher:
    """Pre-compiled criteria of one vendor:product.

    Exact versions sit in a hash; version ranges are kept with their bounds already turned into sort keys,
    so a lookup computes the installed version's key once and compares tuples; records whose
    configurations combine several nodes are partially evaluated for this product (criteria naming other
    products are constant False), which removes most of them before any lookup.
    """

    def __init__(self, records: Iterable[CveRecord], key: tuple[str, str]) -> None:
        self.exact: dict[tuple, list[tuple[MatchCriterion, Cpe, str]]] = defaultdict(list)
        # (start_incl, start_excl, end_incl, end_excl) sort keys or None, the criteria CPE, the CVE id
        self.ranges: list[tuple] = []
        self.other: list[tuple[MatchCriterion, Cpe, str]] = []
        self.complex: list[tuple[str, _Compiled]] = []
        for record in records:
            if _is_simple(record):
                criteria = [(c, _parsed(c.criteria)) for configuration in record.configurations
                            for node in _vulnerable_nodes(configuration) for c in node.criteria if c.vulnerable]
            else:
                compiled = [_compile_configuration(c, key) for c in record.configurations]
                if any(c is True for c in compiled):
                    self.complex.append((record.id, True))
                    continue
                live = tuple(c for c in compiled if c is not False)
                if not live:
                    continue  # can never match this product: pruned before any lookup
                whole = ("OR", False, (), live, False)
                flat = _flatten(whole)
                if flat is None:
                    self.complex.append((record.id, whole))
                    continue
                criteria = flat
            for criterion, wanted in criteria:
                if wanted is None or wanted.key != key:
                    continue
                entry = (criterion, wanted, record.id)
                if wanted.version == ANY:
                    bounds = tuple(versions.sort_key(b) if b else None for b in (
                        criterion.start_including, criterion.start_excluding, criterion.end_including,
                        criterion.end_excluding))
                    self.ranges.append((*bounds, wanted, record.id))
                    self.other.append(entry)
                elif wanted.version == NA:
                    self.other.append(entry)
                else:
                    self.exact[version_key(wanted.version)].append(entry)

    def match(self, installed: Cpe) -> set[str]:
        found: set[str] = set()
        version = installed.version
        if version in (ANY, NA, ""):
            # Rare (no version): the general rules, criterion by criterion.
            for criterion, wanted, cve_id in self.other:
                if cve_id not in found and criterion_matches(criterion, installed, wanted):
                    found.add(cve_id)
        else:
            for criterion, wanted, cve_id in self.exact.get(version_key(version), ()):
                if cve_id not in found and criterion_matches(criterion, installed, wanted):
                    found.add(cve_id)
            key = versions.sort_key(version)
            for start_in, start_ex, end_in, end_ex, wanted, cve_id in self.ranges:
                if cve_id in found:
                    continue
                if (start_in is not None and key < start_in) or (start_ex is not None and key <= start_ex) or \
                        (end_in is not None and key > end_in) or (end_ex is not None and key >= end_ex):
                    continue
                if _tail_matches(wanted, installed):
                    found.add(cve_id)
        for cve_id, compiled in self.complex:
            if cve_id not in found and _evaluate(compiled, installed):
                found.add(cve_id)
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
