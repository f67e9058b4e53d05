"""DCAT-AP 3 JSON-LD → catalogue entries. Pure Python (no RDF library): compacted or expanded JSON-LD.

Accepted shapes: a ``dcat:Catalog`` node with ``dcat:dataset``, a ``@graph`` list, or a list of nodes.
Property names are matched on their local name (``dct:title``, ``http://purl.org/dc/terms/title`` and
``title`` are the same), values may be plain, ``{"@value": ..., "@language": ...}``, ``{"@id": ...}`` or
lists, and nodes may be nested or referenced by ``@id`` inside the graph. ``dct:accrualPeriodicity``
(usually an EU Frequency NAL URI) is kept as the declared frequency text for the normaliser;
``dct:modified`` is the metadata-updated time, a distribution's ``dct:modified`` the data-updated time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from citygov.datagov.engine.catalog import SPATIAL_FORMATS, TAIPEI, CatalogError, Entry, Resource, RowError

DATASET_TYPES = frozenset({"Dataset", "DatasetSeries"})


def _local(name: str) -> str:
    for sep in ("#", "/", ":"):
        if sep in name:
            name = name.rsplit(sep, 1)[-1]
    return name


def _node(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {(_local(k) if not k.startswith("@") else k): v for k, v in raw.items()}


def _types(node: Mapping[str, Any]) -> set[str]:
    value = node.get("@type") or node.get("type") or []
    values = value if isinstance(value, list) else [value]
    return {_local(str(v)) for v in values}


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict) and "@list" in value:
        return list(value["@list"])
    return list(value) if isinstance(value, list) else [value]


class _Graph:
    def __init__(self, document: Any):
        self.by_id: dict[str, dict[str, Any]] = {}
        self.datasets: list[dict[str, Any]] = []
        self._walk(document)

    def _walk(self, value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                self._walk(item)
        elif isinstance(value, dict):
            if "@graph" in value:
                self._walk(value["@graph"])
            node = _node(value)
            if node.get("@id") and len(node) > 1:
                self.by_id[str(node["@id"])] = node
            if _types(node) & DATASET_TYPES:
                self.datasets.append(node)
            for key, child in node.items():
                if not key.startswith("@") and isinstance(child, dict | list):
                    self._walk(child)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"@id"}:
            return self.by_id.get(str(value["@id"]), value)
        return _node(value) if isinstance(value, dict) else value

    def text(self, value: Any, prefer: str = "zh") -> str:
        """A literal: the ``prefer``-language value when there are several, else the first."""
        items = [self.resolve(v) for v in _list(value)]
        if not items:
            return ""
        for item in items:
            if isinstance(item, dict) and str(item.get("@language", "")).lower().startswith(prefer):
                return str(item.get("@value", "")).strip()
        first = items[0]
        if isinstance(first, dict):
            return str(first.get("@value") or first.get("@id") or "").strip()
        return str(first).strip()


def _time(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = dt.datetime.combine(dt.date.fromisoformat(text[:10]), dt.time())
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=TAIPEI)


def _format(graph: _Graph, node: Mapping[str, Any]) -> str:
    text = graph.text(node.get("format")) or graph.text(node.get("mediaType"))
    return _local(text).upper() if text else ""


def read_jsonld(data: bytes) -> tuple[list[Entry], list[RowError]]:
    """Every dataset of a DCAT-AP JSON-LD document; a dataset without identifier or title is a RowError
    (numbered by its position in the document)."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogError("The file is not JSON-LD (JSON) text.", "檔案不是 JSON-LD（JSON）文字。") from exc
    graph = _Graph(document)
    if not graph.datasets:
        raise CatalogError("The document holds no dcat:Dataset.", "文件中沒有 dcat:Dataset。")
    entries: list[Entry] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    for position, node in enumerate(graph.datasets, start=1):
        identifier = graph.text(node.get("identifier")) or str(node.get("@id") or "")
        title = graph.text(node.get("title"))
        if not identifier or not title:
            errors.append(RowError(position, "dataset without identifier or title", "資料集缺少識別碼或名稱"))
            continue
        if identifier in seen:
            errors.append(RowError(position, f"identifier {identifier} repeats", f"識別碼 {identifier} 重複"))
            continue
        seen.add(identifier)
        publisher = graph.resolve((_list(node.get("publisher")) or [None])[0])
        agency = graph.text(publisher.get("name")) if isinstance(publisher, dict) else graph.text(publisher)
        contact = graph.resolve((_list(node.get("contactPoint")) or [None])[0])
        contact = contact if isinstance(contact, dict) else {}
        resources, modified = [], []
        for item in _list(node.get("distribution")):
            dist = graph.resolve(item)
            if not isinstance(dist, dict):
                continue
            url = graph.text(dist.get("downloadURL")) or graph.text(dist.get("accessURL"))
            if url:
                resources.append(Resource(url=url, format=_format(graph, dist),
                                          size=graph.text(dist.get("byteSize"))))
            stamp = _time(graph.text(dist.get("modified")))
            if stamp:
                modified.append(stamp)
        spatial = sorted({r.format for r in resources} & SPATIAL_FORMATS)
        themes = [_local(graph.text(t)) for t in _list(node.get("theme"))]
        entries.append(Entry(
            line=position, source_id=identifier[:100], title=title, description=graph.text(node.get("description")),
            agency_code="", agency_name=agency, provider_code="", provider_name=agency,
            category=themes[0] if themes else "",
            keywords=tuple(graph.text(k) for k in _list(node.get("keyword")) if graph.text(k)),
            licence=graph.text(node.get("license")), frequency_text=graph.text(node.get("accrualPeriodicity")),
            data_updated=max(modified) if modified else None, metadata_updated=_time(graph.text(node.get("modified"))),
            created=_time(graph.text(node.get("issued"))), spatial=bool(spatial or node.get("spatial")),
            layer_type=spatial[0] if spatial else "", contact_name=graph.text(contact.get("fn")),
            contact_phone=graph.text(contact.get("hasTelephone")).removeprefix("tel:"),
            contact_email=graph.text(contact.get("hasEmail")).removeprefix("mailto:"),
            resources=tuple(resources), fields=(), landing_url=graph.text(node.get("landingPage")),
        ))
    return entries, errors
