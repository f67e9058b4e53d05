"""Reading catalogue exports: the city portal CSV (Taoyuan 2018 layout) and the data.gov.tw bulk export.

Pure Python, streaming: rows are read one at a time from a binary stream. The encoding (UTF-8 with or
without a BOM, Big5/cp950) and the layout are detected from the start of the file. Each good row becomes
an :class:`Entry`; each bad row a :class:`RowError` with its line number. Problems that make the whole
file unusable (wrong encoding part-way, missing columns, a quoted cell cut off by the end of the file)
raise :class:`CatalogError`, so a caller that imports in one transaction imports nothing.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

LAYOUT_CITY = "city_portal"
LAYOUT_DATAGOVTW = "data_gov_tw"

TAIPEI = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")

CITY_REQUIRED = ("編號", "資料名稱", "更新頻率", "最後更新時間", "資料集提供機關")
DATAGOVTW_REQUIRED = ("資料集識別碼", "資料集名稱", "提供機關", "更新頻率", "詮釋資料更新時間")
SPATIAL_FORMATS = frozenset({"SHP", "KML", "KMZ", "GEOJSON", "WMS", "WMTS", "WFS", "GML", "GPX", "TOPOJSON"})
_SNIFF_BYTES = 65536


class CatalogError(Exception):
    """The file cannot be read at all; ``message_zh`` is the same in Chinese."""

    def __init__(self, message: str, message_zh: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh
        self.line = line


@dataclass(frozen=True)
class RowError:
    """A rejected row: its line in the file (1 = header), and why (English and Chinese)."""

    line: int
    message: str
    message_zh: str


@dataclass(frozen=True)
class Resource:
    """One distribution of a dataset."""

    url: str
    format: str = ""
    encoding: str = ""
    size: str = ""


@dataclass(frozen=True)
class Field:
    """One column of the data dictionary parsed from 主要欄位說明."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class Entry:
    """One dataset row, in a layout-independent form (times are Asia/Taipei, timezone-aware)."""

    line: int
    source_id: str
    title: str
    description: str
    agency_code: str
    agency_name: str
    provider_code: str
    provider_name: str
    category: str
    keywords: tuple[str, ...]
    licence: str
    frequency_text: str
    data_updated: dt.datetime | None
    metadata_updated: dt.datetime | None
    created: dt.datetime | None
    spatial: bool
    layer_type: str
    contact_name: str
    contact_phone: str
    contact_email: str
    resources: tuple[Resource, ...]
    fields: tuple[Field, ...]
    landing_url: str = ""


@dataclass(frozen=True)
class Header:
    """What was detected about a file."""

    encoding: str
    layout: str
    columns: tuple[str, ...]


_AGENCY_RE = re.compile(r"^\s*(?P<code>[0-9A-Z]{6,12})?\s*[【\[(（]?\s*(?P<name>[^】\])）]*?)\s*[】\])）]?\s*$")
_DATE_RE = re.compile(r"^(?P<y>\d{2,4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
                      r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$")
_UNDECODED = re.compile("[\udc80-\udcff]")
_CATEGORY_RE = re.compile(r"\s*\(\d+\)\s*$")


def parse_agency(text: str) -> tuple[str, str]:
    """``380160000A 【地政局】`` → (``380160000A``, ``地政局``); a bare name → ("", name)."""
    text = (text or "").strip()
    match = _AGENCY_RE.match(text)
    if not match:
        return "", text
    return (match.group("code") or ""), (match.group("name") or "").strip()


def parse_time(text: str) -> dt.datetime | None:
    """A portal date or date-time (Gregorian or ROC year), as Asia/Taipei; None when empty.

    Raises ValueError for text that is not a date.
    """
    text = (text or "").strip()
    if not text:
        return None
    match = _DATE_RE.match(text)
    if not match:
        raise ValueError(text)
    year = int(match.group("y"))
    if year < 1000:
        year += 1911
    return dt.datetime(year, int(match.group("m")), int(match.group("d")), int(match.group("H") or 0),
                       int(match.group("M") or 0), int(match.group("S") or 0), tzinfo=TAIPEI)


_FIELD_PIECES = re.compile(r"[(（]|[)）]|[;；、\n\r]|[^(（)）;；、\n\r]+")
_FIELD_SEPARATORS = re.compile(r"[;；、\n\r]")


def _field(name: str, description: str) -> Field | None:
    name = name.strip().strip(",，")
    return Field(name, description.strip()) if name else None


def parse_fields(text: str) -> tuple[Field, ...]:
    """主要欄位說明 → fields. ``Name(說明);Name2(說明)`` with ``;``, ``；``, ``、`` or newlines between
    fields; separators inside the parentheses belong to the description."""
    text = text or ""
    if "(" not in text and "（" not in text:  # the common case: names only (a stray ")" is part of a name)
        return tuple(f for f in (_field(part, "") for part in _FIELD_SEPARATORS.split(text)) if f)
    fields: list[Field] = []
    name: list[str] = []
    desc: list[str] = []
    depth = 0
    # Pieces are one bracket, one separator, or a run of other characters, so each is handled whole.
    for piece in _FIELD_PIECES.findall(text):
        if piece == "(" or piece == "（":
            if depth:
                desc.append(piece)
            depth += 1
        elif piece == ")" or piece == "）":
            if depth:
                depth -= 1
                if depth:
                    desc.append(piece)
            else:
                name.append(piece)
        elif depth:
            desc.append(piece)
        elif len(piece) == 1 and piece in ";；、\n\r":
            found = _field("".join(name), "".join(desc))
            if found:
                fields.append(found)
            name.clear()
            desc.clear()
        else:
            name.append(piece)
    found = _field("".join(name), "".join(desc))
    if found:
        fields.append(found)
    return tuple(fields)


def _clean(cell: str | None) -> str:
    """Strip whitespace and the doubled outer quotes some crawlers leave (``"PDF, ODT"``)."""
    text = (cell or "").strip()
    if text[:1] != '"':
        return text
    while len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    return text


def _split(text: str, sep: str = ";") -> list[str]:
    return [part.strip() for part in text.split(sep)] if text else []


def detect_encoding(head: bytes) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` or ``cp950`` (Big5), from the first bytes of a file."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the end of the sample is not an error
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("cp950")().decode(head, final=False)
        return "cp950"
    except UnicodeDecodeError as exc:
        raise CatalogError("The file is neither UTF-8 nor Big5 (cp950) text.",
                           "檔案既非 UTF-8 亦非 Big5（cp950）編碼的文字。") from exc


def _layout(columns: tuple[str, ...]) -> str:
    present = set(columns)
    if "資料集識別碼" in present or "資資料集上架方式" in present or "資料集名稱" in present:
        missing = [c for c in DATAGOVTW_REQUIRED if c not in present]
        layout = LAYOUT_DATAGOVTW
    else:
        missing = [c for c in CITY_REQUIRED if c not in present]
        layout = LAYOUT_CITY
    if missing:
        names = "、".join(missing)
        raise CatalogError(f"Missing columns: {names}.", f"缺少欄位：{names}。", line=1)
    return layout


def _city_entry(line: int, row: dict[str, str]) -> Entry:
    code, name = parse_agency(row.get("資料集提供機關") or row.get("資料來源", ""))
    formats = [f.strip().upper() for f in re.split(r"[,;、/]", _clean(row.get("檔案格式", ""))) if f.strip()]
    resource_formats = _clean(row.get("資源格式", "")).upper()
    spatial_formats = [f for f in formats if f in SPATIAL_FORMATS]
    url = _clean(row.get("資料連結網址", ""))
    resources = tuple(Resource(url=url, format=fmt, encoding=_clean(row.get("編碼格式", "")),
                               size=_clean(row.get("資料量", ""))) for fmt in (formats or [resource_formats])) if url else ()
    keywords = tuple(k for k in (part.strip() for part in re.split(r"[,，、;；]", _clean(row.get("標籤/關鍵字", "")))) if k)
    return Entry(
        line=line, source_id=_clean(row["編號"]), title=_clean(row["資料名稱"]),
        description=(row.get("資料集描述") or "").strip(), agency_code=code, agency_name=name,
        provider_code=code, provider_name=name,
        category=_CATEGORY_RE.sub("", _clean(row.get("分類及編號", ""))),
        keywords=keywords, licence=_clean(row.get("授權方式", "")), frequency_text=_clean(row["更新頻率"]),
        data_updated=parse_time(row["最後更新時間"]), metadata_updated=None,
        created=parse_time(row.get("建立日期", "")), spatial=bool(spatial_formats),
        layer_type=spatial_formats[0] if spatial_formats else "",
        contact_name=_clean(row.get("資料集提供機關聯絡人", "")),
        contact_phone=_clean(row.get("資料集提供機關電話", "")),
        contact_email=_clean(row.get("資料集提供機關聯絡人電子郵件", "")),
        resources=resources, fields=parse_fields(_clean(row.get("主要欄位說明") or row.get("主要欄位", ""))),
        landing_url=_clean(row.get("資料集說明網址", "")) or url,
    )


def _datagovtw_entry(line: int, row: dict[str, str]) -> Entry:
    code, name = parse_agency(row["提供機關"])
    formats = _split(_clean(row.get("檔案格式", "")))
    urls = _split(_clean(row.get("資料下載網址", "")))
    encodings = _split(_clean(row.get("編碼格式", "")))
    sizes = _split(_clean(row.get("資料量", "")))
    if urls and formats and len(formats) != len(urls):
        raise ValueError(f"{len(urls)} download URLs but {len(formats)} formats")

    def at(values: list[str], index: int) -> str:
        return values[index] if index < len(values) else ""

    resources = tuple(Resource(url=u, format=at(formats, i).upper(), encoding=at(encodings, i), size=at(sizes, i))
                      for i, u in enumerate(urls) if u)
    spatial_formats = [f.upper() for f in formats if f.upper() in SPATIAL_FORMATS]
    return Entry(
        line=line, source_id=_clean(row["資料集識別碼"]), title=_clean(row["資料集名稱"]),
        description=(row.get("資料集描述") or "").strip(), agency_code=code, agency_name=name,
        provider_code=code, provider_name=name, category=_clean(row.get("服務分類", "")), keywords=(),
        licence=_clean(row.get("授權方式", "")), frequency_text=_clean(row["更新頻率"]), data_updated=None,
        metadata_updated=parse_time(row["詮釋資料更新時間"]), created=parse_time(row.get("上架日期", "")),
        spatial=bool(spatial_formats), layer_type=spatial_formats[0] if spatial_formats else "",
        contact_name=_clean(row.get("提供機關聯絡人姓名", "")), contact_phone=_clean(row.get("提供機關聯絡人電話", "")),
        contact_email="", resources=resources, fields=parse_fields(_clean(row.get("主要欄位說明", ""))),
        landing_url=_clean(row.get("相關網址", "")),
    )


class CatalogReader:
    """Iterate a catalogue export: ``header`` after construction, then (entry, error) pairs by row."""

    def __init__(self, stream: BinaryIO):
        buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
        head = buffered.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
        if not head.strip():
            raise CatalogError("The file is empty.", "檔案是空的。")
        encoding = detect_encoding(head)
        # Bytes that do not decode become lone surrogates, so the row holding them is found exactly.
        self._text = io.TextIOWrapper(buffered, encoding=encoding, newline="", errors="surrogateescape")
        self._reader = csv.reader(self._text, strict=True)
        try:
            columns = tuple(c.strip().lstrip("\ufeff") for c in next(self._reader))
        except (csv.Error, StopIteration) as exc:
            raise CatalogError("The header row cannot be read.", "無法讀取標題列。", line=1) from exc
        if any(_UNDECODED.search(c) for c in columns):
            raise CatalogError("The header row cannot be read.", "無法讀取標題列。", line=1)
        self.header = Header(encoding=encoding, layout=_layout(columns), columns=columns)

    def __iter__(self) -> Iterator[tuple[Entry | None, RowError | None]]:
        columns = self.header.columns
        build = _city_entry if self.header.layout == LAYOUT_CITY else _datagovtw_entry
        seen: dict[str, int] = {}
        while True:
            line = self._reader.line_num + 1
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CatalogError(f"Line {line}: the file ends inside a quoted cell (truncated file?).",
                                   f"第 {line} 行：檔案在引號內的儲存格中結束（檔案不完整？）。", line=line) from exc
            if _UNDECODED.search("\x00".join(cells)):
                raise CatalogError(
                    f"Line {line}: the text is not valid {self.header.encoding} (mixed encodings?).",
                    f"第 {line} 行：文字不是有效的 {self.header.encoding} 編碼（混用編碼？）。", line=line)
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                yield None, RowError(line, f"expected {len(columns)} cells, found {len(cells)} (truncated row?)",
                                     f"應有 {len(columns)} 個欄位，實有 {len(cells)} 個（資料列不完整？）")
                continue
            row = dict(zip(columns, cells, strict=True))
            try:
                entry = build(line, row)
            except ValueError as exc:
                yield None, RowError(line, f"unreadable value: {exc}", f"無法解讀的值：{exc}")
                continue
            if not entry.source_id or not entry.title:
                yield None, RowError(line, "identifier or title missing", "缺少識別碼或名稱")
                continue
            if entry.source_id in seen:
                yield None, RowError(line, f"identifier {entry.source_id} repeats line {seen[entry.source_id]}",
                                     f"識別碼 {entry.source_id} 與第 {seen[entry.source_id]} 行重複")
                continue
            seen[entry.source_id] = line
            yield entry, None
