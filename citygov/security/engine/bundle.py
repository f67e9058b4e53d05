"""The bundled offline NVD index: how it is built from NVD files and how it is loaded. Pure Python.

Two package-data files under ``engine/data``:

* ``nvd_products.csv`` — every (part, vendor, product) known to the bundled NVD data, with its CVE count
  and a sample dictionary title (the product index the identifier searches);
* ``nvd_cves.json.gz`` (gzip) — CVE records in the CVE API 2.0 layout (descriptions shortened), limited to the
  products the curated rules name, plus records still "Awaiting Analysis".

:func:`build_bundle` regenerates both from a directory of NVD files (see ``data/README.md`` for the
provenance of the shipped copy); ``citygov security sync-nvd`` is the production path.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from citygov.security.engine.cpe import CpeError, parse, split_unescaped
from citygov.security.engine.identify import ProductEntry, load_tables
from citygov.security.engine.matching import VulnIndex
from citygov.security.engine.nvd import Configuration, CveRecord, MatchCriterion, Node, iter_cve_records

PRODUCTS_FILE = "nvd_products.csv"
CVES_FILE = "nvd_cves.json.gz"  # gzip: the 11.6 MB of JSON ships as 1.0 MB


def _open_text(path: Path) -> io.TextIOBase:
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def rule_products() -> set[tuple[str, str]]:
    """Every vendor:product the curated rules can produce (main names and aliases)."""
    keys: set[tuple[str, str]] = set()
    for rule in load_tables().rules:
        keys.add((rule.vendor, rule.product))
        keys.update(tuple(a.split(":", 1)) for a in rule.aliases)
    return keys


def _record_products(record: CveRecord) -> set[tuple[str, str]]:
    found = set()

    def walk(node):
        for criterion in node.criteria:
            if criterion.vulnerable:
                with suppress(CpeError):
                    found.add(parse(criterion.criteria).key)
        for child in node.children:
            walk(child)

    for configuration in record.configurations:
        for node in configuration.nodes:
            walk(node)
    return found


def restrict(record: CveRecord, wanted: set[tuple[str, str]]) -> CveRecord:
    """``record`` with only the vulnerable criteria naming a ``wanted`` product (the rest cannot match).

    Platform criteria (``vulnerable: false``) are dropped too: matching treats platforms as present.
    """
    def keep(criterion) -> bool:
        try:
            return criterion.vulnerable and parse(criterion.criteria).key in wanted
        except CpeError:
            return False

    def node(n: Node) -> Node:
        return replace(n, criteria=tuple(c for c in n.criteria if keep(c)), children=tuple(
            node(c) for c in n.children))

    configurations = []
    for configuration in record.configurations:
        nodes = tuple(node(n) for n in configuration.nodes)
        nodes = tuple(n for n in nodes if n.criteria or n.children)
        if nodes:
            configurations.append(replace(configuration, nodes=nodes))
    return replace(record, configurations=tuple(configurations))


COMPACT_FORMAT = "citygov-cve-compact-1"


def _short(cpe: str) -> str:
    # "cpe:2.3:a:v:p:1.0:*:*:*:*:*:*:*" → "a:v:p:1.0": the prefix and trailing ANY fields are implied.
    body = cpe[len("cpe:2.3:"):] if cpe.startswith("cpe:2.3:") else cpe
    while body.endswith(":*") and not body.endswith("\\:*"):
        body = body[:-2]
    return body


def to_compact(record: CveRecord, description_limit: int = 160) -> list:
    """One record as a compact JSON array (the bundled layout); :func:`from_compact` reverses it.

    ``[id, status, cvss3, cvss2, published, last_modified, description, configurations]`` where a
    configuration is ``[operator, [node...]]``, a node ``[operator, negate, [criterion...], [child...]]``
    and a criterion ``[short_cpe, start_incl, start_excl, end_incl, end_excl, vulnerable]`` with trailing
    defaults dropped.
    """
    def criterion(c: MatchCriterion) -> list:
        values = [_short(c.criteria), c.start_including, c.start_excluding, c.end_including, c.end_excluding,
                  c.vulnerable]
        while len(values) > 1 and values[-1] in ("", True):
            values.pop()
        return values

    def node(n: Node) -> list:
        return [n.operator, int(n.negate), [criterion(c) for c in n.criteria], [node(c) for c in n.children]]

    description = record.description
    if len(description) > description_limit:
        description = description[: description_limit - 1] + "…"
    return [record.id, record.status, record.cvss3, record.cvss2, record.published[:10], record.last_modified[:10],
            description, [[c.operator, [node(n) for n in c.nodes]] for c in record.configurations]]


def from_compact(item: list) -> CveRecord:
    """A :class:`CveRecord` from one compact array (see :func:`to_compact`)."""
    def criterion(values: list) -> MatchCriterion:
        values = values + ["", "", "", "", True][len(values) - 1:]
        return MatchCriterion("cpe:2.3:" + values[0] + ":*" * (11 - len(split_unescaped(values[0]))),
                              vulnerable=bool(values[5]), start_including=values[1], start_excluding=values[2],
                              end_including=values[3], end_excluding=values[4])

    def node(values: list) -> Node:
        return Node(values[0], bool(values[1]), tuple(criterion(c) for c in values[2]),
                    tuple(node(c) for c in values[3]))

    return CveRecord(id=item[0], status=item[1], cvss3=item[2], cvss2=item[3], published=item[4],
                     last_modified=item[5], description=item[6],
                     configurations=tuple(Configuration(c[0], tuple(node(n) for n in c[1])) for c in item[7]))


def build_bundle(source: Path, target: Path, cve_files: Iterable[str] = (
        "nvdcve-1.1_subset.json.gz", "nvdcve-1.1-modified_2025-02-25.json.gz", "nvd_cve_api2_samples.json"), since: str = "2012") -> dict:
    """Write ``nvd_products.csv`` and ``nvd_cves.json.gz`` into ``target`` from the NVD files in ``source``.

    CVEs published before ``since`` (a year) are left out: they concern software long replaced.
    Returns counts (products, CVEs kept, CVEs awaiting analysis).
    """
    target.mkdir(parents=True, exist_ok=True)
    with _open_text(source / "cpe_products_index.tsv.gz") as handle, \
            (target / PRODUCTS_FILE).open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["part", "vendor", "product", "cves", "title"])
        products = 0
        for row in csv.DictReader(handle, delimiter="\t"):
            writer.writerow([row["part"], row["vendor"], row["product"], row["n_cves"], row["sample_title_2015"]])
            products += 1
    wanted = rule_products()
    kept: dict[str, CveRecord] = {}
    for name in cve_files:
        path = source / name
        if not path.exists():
            continue
        with _open_text(path) as handle:
            for record in iter_cve_records(json.load(handle)):
                if record.published[:4] < since or record.id[4:8] < since:
                    continue
                if record.awaiting_analysis or _record_products(record) & wanted:
                    previous = kept.get(record.id)
                    if previous is None or record.last_modified >= previous.last_modified:
                        kept[record.id] = restrict(record, wanted) if record.configurations else record
    ordered = sorted(kept.values(), key=lambda r: r.id)
    by_product: dict[str, list[int]] = {}
    for position, record in enumerate(ordered):
        for vendor, product in sorted(_record_products(record)):
            by_product.setdefault(f"{vendor}:{product}", []).append(position)
    document = {"format": COMPACT_FORMAT, "timestamp": "bundled (see data/README.md)",
                "cves": [to_compact(r) for r in ordered], "by_product": by_product}
    # mtime=0: the same content gives the same bytes, so a rebuild with no change leaves git clean.
    with gzip.GzipFile(target / CVES_FILE, "wb", mtime=0) as out:
        out.write(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return {"products": products, "cves": len(kept), "awaiting": sum(r.awaiting_analysis for r in kept.values())}


def _data_path(name: str):
    return resources.files("citygov.security.engine").joinpath("data", name)


def parse_products(text: str) -> dict[tuple[str, str], ProductEntry]:
    """The product index from ``nvd_products.csv`` text; vendor and product are unescaped."""
    from citygov.security.engine.cpe import unescape

    products = {}
    for row in csv.DictReader(io.StringIO(text)):
        entry = ProductEntry(row["part"], unescape(row["vendor"]), unescape(row["product"]), int(row["cves"] or 0),
                             row["title"])
        key = (entry.vendor, entry.product)
        if key not in products or products[key].cves < entry.cves:
            products[key] = entry
    return products


# The directory ``citygov security sync-nvd`` writes (None: the bundled data only). Set by the app's ready().
_SYNC_DIR: Path | None = None
SYNC_CVES = "cves.jsonl"
SYNC_PRODUCTS = "products.jsonl"


def configure(sync_dir: Path | None) -> None:
    """Merge the records ``sync-nvd`` fetched into ``sync_dir`` over the bundled data from now on."""
    global _SYNC_DIR
    _SYNC_DIR = sync_dir
    load_products.cache_clear()
    load_vulns.cache_clear()


def _sync_items(name: str) -> Iterable[dict]:
    if _SYNC_DIR is None or not (_SYNC_DIR / name).exists():
        return
    with (_SYNC_DIR / name).open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                with suppress(ValueError):  # a line cut short by a crash mid-write is skipped
                    yield json.loads(line)


@lru_cache(maxsize=1)
def load_products() -> dict[tuple[str, str], ProductEntry]:
    """The bundled product index plus products fetched by ``sync-nvd`` (loaded once per process)."""
    from citygov.security.engine.nvd import iter_cpe_api2

    products = parse_products(_data_path(PRODUCTS_FILE).read_text(encoding="utf-8"))
    for entry in iter_cpe_api2({"products": list(_sync_items(SYNC_PRODUCTS))}):
        if entry.deprecated:
            continue
        try:
            cpe = parse(entry.cpe)
        except CpeError:
            continue
        products.setdefault(cpe.key, ProductEntry(cpe.part, cpe.vendor, cpe.product, 0, entry.title))
    return products


@lru_cache(maxsize=1)
def load_vulns() -> VulnIndex:
    """The bundled CVE index with the records fetched by ``sync-nvd`` merged over it (loaded once per process)."""
    from citygov.security.engine.nvd import cve_from_20

    index = CompactVulnIndex(json.loads(gzip.decompress(_data_path(CVES_FILE).read_bytes())))
    for item in _sync_items(SYNC_CVES):
        index.update(cve_from_20(item.get("cve", item)))
    return index


class CompactVulnIndex(VulnIndex):
    """A :class:`VulnIndex` over the compact layout: records are decoded only when a match needs them.

    Loading is then one ``json.loads`` and a dictionary build, well under the 3-second target.
    """

    def __init__(self, document: dict) -> None:
        """Index a compact document (``format`` ``citygov-cve-compact-1``)."""
        if document.get("format") != COMPACT_FORMAT:
            raise ValueError(f"not a {COMPACT_FORMAT} document")
        super().__init__()
        self._raw = {item[0]: item for item in document["cves"]}
        ids = [item[0] for item in document["cves"]]
        for key, positions in document["by_product"].items():
            vendor, _, product = key.partition(":")
            self.by_product[(vendor, product)] = {ids[p] for p in positions}
        for item in document["cves"]:
            if not item[7]:
                self.awaiting[item[0]] = from_compact(item)

    def update(self, record: CveRecord) -> None:
        """Add or replace one record (a newer copy from ``sync-nvd``); NVD's "Rejected" records are removed."""
        self.records.pop(record.id, None)
        self._matchers.clear()
        self._awaiting_cache.clear()
        if record.status == "Rejected":
            old = self._raw.pop(record.id, None)
            for key in _record_products(from_compact(old)) if old else ():
                self.by_product.get(key, set()).discard(record.id)
            self.awaiting.pop(record.id, None)
            return
        self._raw[record.id] = to_compact(record)
        if record.awaiting_analysis:
            self.awaiting[record.id] = record
            return
        self.awaiting.pop(record.id, None)
        for key in _record_products(record):
            self.by_product[key].add(record.id)

    def record(self, cve_id: str) -> CveRecord:
        """Decode (once) and return the record with this id."""
        found = self.records.get(cve_id)
        if found is None:
            found = self.records[cve_id] = from_compact(self._raw[cve_id])
        return found

    def __len__(self) -> int:
        """Number of CVE records held."""
        return len(self._raw)
