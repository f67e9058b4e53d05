"""Inventory rows → CPE 2.3 vendor, product and version, with confidence, evidence and alternatives.

Pure Python. The layers, tried in order (the first that decides wins):

1. **manual** — an analyst's mapping for this exact normalised name ("learn once", applied city-wide);
2. **local software** — names known to have no CPE (HiCOS, 公文製作系統, fonts, IMEs): ``unidentified``
   with the reason, never a forced guess;
3. **rule** — the curated table (``data/rules.csv``): a regex on the normalised name → vendor:product,
   the other NVD names of the same product, and how to read the version;
4. **dictionary** — every word of an NVD product name found in the row's name, and the vendor confirmed
   by the publisher (through ``data/publishers.csv``) or named in the row — a lower confidence;
5. otherwise ``unidentified`` with the reason.

Names are normalised first: NFKC width folding, the editable zh-TW → English term table
(``data/terms_zh_tw.csv``: 專業增強版 → professional plus, 位元 → bit, …), then architecture and language
suffixes ("(64 位元)", "- zh-tw", "x64") and brackets are removed. A version newer than the dictionary
is never a reason to fail: the vendor:product is identified and the installed version kept.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from citygov.core.text.normalize import to_halfwidth
from citygov.security.engine import versions
from citygov.security.engine.cpe import ANY, Cpe

IDENTIFIED = "identified"
PRODUCT_ONLY = "product_only"
UNIDENTIFIED = "unidentified"
STATUSES = (IDENTIFIED, PRODUCT_ONLY, UNIDENTIFIED)

_NOISE = [
    re.compile(p) for p in (
        r"\((?:x64|x86|64-bit|32-bit|64 bit|32 bit|amd64|arm64|x86_64|64位元|32位元)\)",
        r"\s-\s?(?:zh-tw|zh-hant|zh-cn|en-us|en|tw|chinese \(traditional\))\b",
        r"\b(?:zh-tw|zh-hant|zh_tw|en-us|x64|x86|amd64|x86_64|arm64|win64|win32|64-bit|32-bit|64bit|32bit)\b",
        r"\b(?:traditional chinese|chinese traditional|english)\b",
        r"\(remove only\)|\(僅移除\)",
    )
]
_BRACKETS = re.compile(r"[()\[\]{}【】,;:\"'®™©]")
_SPACES = re.compile(r"\s+")
_MARKS = str.maketrans({"™": " ", "®": " ", "©": " ", "℠": " "})
_VERSION_IN_NAME = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+){1,4}(?:[a-z]\d*)?)(?![\w.])")
_YEAR = re.compile(r"(?<!\d)(20[0-3]\d)(?!\d)")
_WORD = re.compile(r"[a-z][a-z0-9+#.\-]*")
_STOPWORDS = frozenset(["a", "an", "and", "the", "for", "of", "to", "in", "on", "with", "by", "x64", "x86", "bit", "edition", "version", "update", "updates", "setup", "installer", "install", "client", "server", "driver", "tools", "tool", "pack", "package", "runtime", "components", "component", "professional", "plus", "standard", "home", "enterprise", "community", "personal", "business", "language", "app", "application", "software", "program", "system", "service", "services", "microsoft", "windows", "for_windows", "desktop", "free", "lite", "pro"])


@dataclass(frozen=True)
class InventoryRow:
    """One installed program (Windows Uninstall key, osquery ``programs``) or OS package (``deb_packages``)."""

    display_name: str
    display_version: str = ""
    publisher: str = ""
    arch: str = ""


@dataclass(frozen=True)
class Identification:
    """The result for one row: status, CPE, confidence, the deciding rule/evidence, alternatives, reason."""

    status: str
    vendor: str = ""
    product: str = ""
    version: str = ""
    update: str = ""
    cpe: str = ""
    confidence: float = 0.0
    rule: str = ""
    evidence: str = ""
    alternatives: tuple[str, ...] = ()
    reason: str = ""

    @property
    def key(self) -> str:
        """``vendor:product`` or the empty string."""
        return f"{self.vendor}:{self.product}" if self.vendor else ""

    def keys(self) -> frozenset[str]:
        """This product's vendor:product and every alias NVD uses for it."""
        found = {self.key} if self.key else set()
        found.update(a.rsplit(":", 1)[0] if a.count(":") > 1 else a for a in self.alternatives)
        return frozenset(found)


@dataclass(frozen=True)
class Rule:
    """One curated rule: name pattern → vendor:product, aliases and the version style."""

    pattern: re.Pattern
    vendor: str
    product: str
    aliases: tuple[str, ...]
    version_style: str
    line: int


@dataclass(frozen=True)
class LocalSoftware:
    """A name pattern of software that has no CPE, with the reason shown to the analyst."""

    pattern: re.Pattern
    reason: str


@dataclass(frozen=True)
class ProductEntry:
    """One NVD (part, vendor, product) of the index, with its popularity (CVE count) and a sample title."""

    part: str
    vendor: str
    product: str
    cves: int = 0
    title: str = ""


@dataclass
class Tables:
    """The editable tables the identifier works from (all loaded from package data by default)."""

    terms: list[tuple[str, str]]
    publishers: list[tuple[str, tuple[str, ...]]]
    rules: list[Rule]
    local: list[LocalSoftware]
    products: dict[tuple[str, str], ProductEntry] = field(default_factory=dict)


def _csv_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    lines = text.splitlines()
    body = [(n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(line for _, line in body)
    return [(body[i + 1][0], row) for i, row in enumerate(reader)]


def _data(name: str) -> str:
    return resources.files("citygov.security.engine").joinpath("data", name).read_text(encoding="utf-8")


def parse_terms(text: str) -> list[tuple[str, str]]:
    """The zh-TW → English term table (columns ``zh_tw,english``), longest term first."""
    terms = [(to_halfwidth(row["zh_tw"]).lower(), (row.get("english") or "").strip()) for _, row in _csv_rows(text)
             if row.get("zh_tw")]
    return sorted(terms, key=lambda t: -len(t[0]))


def load_tables(terms_path: Path | None = None) -> Tables:
    """The bundled tables; ``terms_path`` replaces the zh-TW term table with an edited copy."""
    terms = parse_terms(terms_path.read_text(encoding="utf-8") if terms_path else _data("terms_zh_tw.csv"))
    publishers = [(row["publisher"].lower(), tuple(row["vendors"].split()))
                  for _, row in _csv_rows(_data("publishers.csv"))]
    publishers.sort(key=lambda p: -len(p[0]))
    rules = [Rule(re.compile(row["pattern"]), row["vendor"], row["product"], tuple(row["aliases"].split()),
                  row["version"] or "display", line) for line, row in _csv_rows(_data("rules.csv"))]
    local = [LocalSoftware(re.compile(row["pattern"]), row["reason"]) for _, row in _csv_rows(_data("local_software.csv"))]
    return Tables(terms=terms, publishers=publishers, rules=rules, local=local)


def normalize_name(name: str, terms: Iterable[tuple[str, str]]) -> str:
    """The matching form of a display name: folded, lower case, zh-TW terms translated, noise removed.

    Examples
    --------
    >>> terms = parse_terms("zh_tw,english\\n專業增強版,professional plus\\n64 位元,64-bit\\n位元,bit\\n")
    >>> normalize_name("Microsoft Office 專業增強版 2019 - zh-tw", terms)
    'microsoft office professional plus 2019'
    >>> normalize_name("7-Zip 24.08 (x64)", terms)
    '7-zip 24.08'
    """
    # Trade-mark signs go before NFKC, which would turn "Skype™" into "SkypeTM".
    text = to_halfwidth(name.translate(_MARKS)).lower()
    for zh, en in terms:
        if zh in text:
            text = text.replace(zh, f" {en} " if en else " ")
    for pattern in _NOISE:
        text = pattern.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    return _SPACES.sub(" ", text).strip(" -")


def vendors_for_publisher(publisher: str, tables: Tables) -> tuple[str, ...]:
    """NVD vendor names for a publisher string (alias table, prefix match on the lower-cased publisher)."""
    text = to_halfwidth(publisher).lower().strip()
    if not text:
        return ()
    for prefix, vendors in tables.publishers:
        if text.startswith(prefix):
            return vendors
    return ()


def _version_for(rule: Rule, name: str, row: InventoryRow) -> tuple[str, str, str]:
    """(version, update, why-not) for a rule's version style; an empty version means product only."""
    display = row.display_version.strip()
    style = rule.version_style
    if style == "none":
        return "", "", "NVD has no versioned CPE for this product"
    if style == "java":
        java = versions.java_version(name, display)
        if java:
            return java[0], java[1], ""
        style = "display"
    if style == "year":
        match = _YEAR.search(name)
        return (match.group(1), "", "") if match else ("", "", "no year in the name")
    if style in ("debian", "patchlevel"):
        upstream = versions.debian_upstream(display) if display else ""
        if not upstream:
            found = _VERSION_IN_NAME.search(name)
            upstream = found.group(1) if found else ""
        if style == "patchlevel":
            version, update = versions.split_patch_level(upstream)
            return version, update, "" if version else "no version"
        return upstream, "", "" if upstream else "no version"
    in_name = _VERSION_IN_NAME.search(name)
    if style == "name" and in_name:
        return in_name.group(1), "", ""
    # Package versions ("3.12.3-1ubuntu0.3", "1:2.39.5-0+deb12u1") carry an epoch/revision NVD never has.
    cleaned = versions.clean(versions.debian_upstream(display) if re.search(r"^\d+:|\d-\d", display) else display)
    if cleaned:
        return cleaned, "", ""
    if in_name:
        return in_name.group(1), "", ""
    return "", "", "no version in the row"


class Identifier:
    """Identifies inventory rows; build once (tables and product index), then call :meth:`identify`."""

    def __init__(self, tables: Tables | None = None, products: Mapping[tuple[str, str], ProductEntry] | None = None,
                 manual: Mapping[str, str] | None = None) -> None:
        """``products`` is the NVD product index; ``manual`` maps normalised names to analyst CPEs/keys."""
        self.tables = tables or load_tables()
        self.products = dict(products or {})
        self.manual = dict(manual or {})
        # Word index for the dictionary layer: a product is a candidate when one of its words is in the name.
        self._by_word: dict[str, list[tuple[ProductEntry, frozenset[str]]]] = {}
        for entry in self.products.values():
            if entry.part != "a":
                continue
            words = frozenset(w for w in re.split(r"[_\s]+", entry.product) if w)
            if not words or all(w in _STOPWORDS or len(w) < 3 for w in words):
                continue
            for word in words:
                self._by_word.setdefault(word, []).append((entry, words))
        self._cache: dict[InventoryRow, Identification] = {}

    def learn(self, display_name: str, vendor_product: str) -> str:
        """Remember an analyst's mapping for every row with the same normalised name; returns that name."""
        key = normalize_name(display_name, self.tables.terms)
        self.manual[key] = vendor_product
        self._cache.clear()
        return key

    def identify(self, row: InventoryRow) -> Identification:
        """Identify one row (results are cached per distinct row: inventories repeat names a lot)."""
        cached = self._cache.get(row)
        if cached is None:
            cached = self._identify(row)
            if len(self._cache) < 200_000:
                self._cache[row] = cached
        return cached

    def _identify(self, row: InventoryRow) -> Identification:
        name = normalize_name(row.display_name, self.tables.terms)
        if not name:
            return Identification(UNIDENTIFIED, reason="empty display name")
        publisher_vendors = vendors_for_publisher(row.publisher, self.tables)
        manual = self.manual.get(name)
        if manual:
            vendor, _, product = manual.partition(":")
            rule = Rule(re.compile(""), vendor, product, (), "display", 0)
            return self._result(rule, name, row, confidence=1.0, rule_name="manual", evidence=f"analyst mapping for '{name}'")
        for local in self.tables.local:
            if local.pattern.search(name):
                return Identification(UNIDENTIFIED, rule="local", evidence=f"'{local.pattern.pattern}'",
                                      reason=f"not in NVD: {local.reason}")
        for rule in self.tables.rules:
            if rule.pattern.search(name):
                vendors = {rule.vendor, *(a.split(":", 1)[0] for a in rule.aliases)}
                agrees = not publisher_vendors or bool(vendors & set(publisher_vendors))
                confidence = 0.97 if agrees and publisher_vendors else 0.9 if agrees else 0.75
                evidence = f"name matches '{rule.pattern.pattern}'"
                if publisher_vendors:
                    evidence += f"; publisher → {' '.join(publisher_vendors)}" + ("" if agrees else " (disagrees)")
                return self._result(rule, name, row, confidence, f"rule:{rule.line}", evidence)
        found = self._dictionary(name, publisher_vendors, row)
        if found:
            return found
        return Identification(UNIDENTIFIED, reason="no rule and no NVD product matched the name"
                              + ("" if publisher_vendors else " (publisher unknown)"))

    def _result(self, rule: Rule, name: str, row: InventoryRow, confidence: float, rule_name: str,
                evidence: str) -> Identification:
        version, update, why = _version_for(rule, name, row)
        part = self.products.get((rule.vendor, rule.product), ProductEntry("a", rule.vendor, rule.product)).part
        cpe = Cpe(part=part, vendor=rule.vendor, product=rule.product, version=version or ANY, update=update or ANY)
        if row.arch:
            arch = row.arch.lower()
            hw = {"amd64": "x64", "x86_64": "x64", "x64": "x64", "i386": "x86", "x86": "x86", "arm64": "arm64"}.get(arch)
            if hw:
                cpe = Cpe(**{**cpe.__dict__, "target_hw": hw})
        status = IDENTIFIED if version else PRODUCT_ONLY
        if (rule.vendor, rule.product) not in self.products and self.products:
            evidence += "; product newer than the bundled dictionary"
        return Identification(status=status, vendor=rule.vendor, product=rule.product, version=version,
                              update=update, cpe=cpe.formatted(), confidence=confidence if version else round(confidence - 0.1, 2),
                              rule=rule_name, evidence=evidence, alternatives=rule.aliases,
                              reason="" if version else f"product only: {why}")

    def _dictionary(self, name: str, publisher_vendors: tuple[str, ...], row: InventoryRow) -> Identification | None:
        words = set(_WORD.findall(name))
        flat = name.replace(" ", "_")
        candidates: dict[tuple[str, str], tuple[float, ProductEntry]] = {}
        for word in words:
            for entry, product_words in self._by_word.get(word, ()):
                if not product_words <= words and entry.product not in flat:
                    continue
                vendor_named = entry.vendor in words or entry.vendor.replace("_", " ") in name
                if not (entry.vendor in publisher_vendors or vendor_named):
                    continue
                # More of the name explained, a confirmed vendor and a popular product rank higher.
                covered = sum(len(w) for w in product_words) / max(1, len(name.replace(" ", "")))
                score = 0.55 + 0.25 * min(1.0, covered * 2) + (0.1 if entry.vendor in publisher_vendors else 0.0) \
                    + min(0.05, entry.cves / 2000)
                key = (entry.vendor, entry.product)
                if key not in candidates or candidates[key][0] < score:
                    candidates[key] = (score, entry)
        if not candidates:
            return None
        ranked = sorted(candidates.values(), key=lambda c: (-c[0], -c[1].cves, c[1].product))
        score, best = ranked[0]
        rule = Rule(re.compile(""), best.vendor, best.product, tuple(f"{e.vendor}:{e.product}" for _, e in ranked[1:4]),
                    "display", 0)
        return self._result(rule, name, row, round(min(score, 0.89), 2), "dictionary",
                            f"all words of NVD product '{best.product}' in the name; vendor '{best.vendor}' confirmed")


@lru_cache(maxsize=1)
def default_identifier() -> Identifier:
    """The identifier over the bundled tables and product index (built once per process)."""
    from citygov.security.engine.bundle import load_products

    return Identifier(load_tables(), load_products())
