"""Streaming readers for software-inventory files. Pure Python.

Accepted: CSV (VANS/SCCM exports, osquery CSV) and JSON — an array of objects (``osqueryi --json
"select * from programs"`` or ``deb_packages``), JSON lines, osquery daemon result logs (``columns`` or
``snapshot`` entries with ``hostIdentifier``) and ``{"hostname": ..., "software": [...]}`` documents.
The format is decided from the first non-blank character (``[`` or ``{`` is JSON).

Rows are read one at a time, so a file of any size streams in constant memory. The CSV encoding is
decided from the first 64 KiB: UTF-8 (with or without BOM), else Big5/CP950 (common in Taiwanese
exports); JSON must be UTF-8. Other bytes, a missing ``display_name`` column or a broken line raise
:class:`InventoryError` with the line number and a message in English and Chinese.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from citygov.security.engine.identify import InventoryRow

SAMPLE = 64 * 1024
# Column names accepted for each field: the documented ones first, then osquery's programs/deb_packages.
COLUMNS = {
    "display_name": ("display_name", "displayname", "name", "package"),
    "display_version": ("display_version", "displayversion", "version"),
    "publisher": ("publisher", "vendor", "maintainer", "source"),
    "arch": ("arch", "architecture"),
}
# A single CSV field larger than this is not an inventory row (a binary or a broken quote).
MAX_FIELD = 64 * 1024


class InventoryError(ValueError):
    """An inventory file that cannot be read: message in English and Chinese, with the line when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        """``message`` for people; ``line`` the 1-based line number, if the problem is on one line."""
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class InventoryFile:
    """An opened inventory: its encoding and the column mapping chosen from the header."""

    path: Path
    encoding: str
    columns: dict[str, int]


def detect_encoding(sample: bytes) -> str:
    """``utf-8-sig`` or ``cp950`` for a sample of the file; raise :class:`InventoryError` otherwise."""
    if b"\x00" in sample:
        raise InventoryError("the file is binary (UTF-16 or not text); save it as UTF-8 CSV "
                             "(檔案不是文字檔，請另存為 UTF-8 CSV)")
    for encoding in ("utf-8-sig", "cp950"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            decoder.decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    raise InventoryError("the file is neither UTF-8 nor Big5; save it as UTF-8 CSV (檔案編碼不是 UTF-8 或 Big5)")


def _header(header: list[str], aliases: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> dict[str, int]:
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    columns = {}
    for field, accepted in aliases.items():
        for alias in accepted:
            if alias in names:
                columns[field] = names.index(alias)
                break
    missing = [f for f in required if f not in columns]
    if missing:
        found = ", ".join(h for h in header if h.strip())[:200] or "(empty)"
        raise InventoryError(f"no {', '.join(missing)} column (columns found: {found}); the file needs "
                             f"{','.join(aliases)} (缺少 {', '.join(missing)} 欄位)", line=1)
    return columns


def iter_csv(path: Path, aliases: dict[str, tuple[str, ...]], required: tuple[str, ...] = ("display_name",),
             progress=None) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, {field: value})`` for every non-blank data row of a CSV file, streaming.

    ``aliases`` maps each field to the header names accepted for it; fields whose column is absent are
    returned as empty strings; other columns are ignored. ``progress`` is called with the bytes read so far.
    Raises :class:`InventoryError` for an unreadable file, a missing ``required`` column or a broken line.
    """
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InventoryError(f"cannot open {path}: {exc.strerror} (無法開啟檔案)") from None
    with raw:
        encoding = detect_encoding(raw.read(SAMPLE))
        raw.seek(0)
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text)
        line = 0
        try:
            header = next(reader, None)
            if header is None:
                raise InventoryError("the file is empty (檔案是空的)")
            columns = _header(header, aliases, required)
            for record in reader:
                line = reader.line_num
                if not record or not any(field.strip() for field in record):
                    continue
                if any(len(field) > MAX_FIELD for field in record):
                    raise InventoryError("a field is longer than 64 KiB: not an inventory row (欄位過長)", line)
                yield line, {name: (record[index].strip() if index < len(record) else "")
                             for name, index in columns.items()} | {
                                 name: "" for name in aliases if name not in columns}
                if progress is not None and line % 2000 == 0:
                    progress(raw.tell())
        except UnicodeDecodeError:
            raise InventoryError(f"bytes that are not {encoding} after line {line}; save the file as UTF-8 "
                                 "(檔案中有無法解碼的位元組)", line + 1) from None
        except csv.Error as exc:
            raise InventoryError(f"broken CSV: {exc} (CSV 格式錯誤)", reader.line_num) from None


def read_inventory(path: Path, progress=None) -> Iterator[tuple[int, InventoryRow]]:
    """Yield ``(line, InventoryRow)`` for every row of a CSV or JSON inventory; extra columns are ignored.

    Blank lines are skipped. Raises :class:`InventoryError` for an unreadable file.
    """
    for line, values in iter_rows(path, COLUMNS, progress=progress):
        yield line, InventoryRow(values["display_name"], values["display_version"], values["publisher"],
                                 values["arch"])


# --- JSON and osquery ---------------------------------------------------------------------------------

# One JSON value (a row, or a daemon log entry with a host's snapshot) larger than this is refused.
MAX_JSON_VALUE = 16 * 1024 * 1024
JSON_CHUNK = 1024 * 1024
# Keys of a document holding a list of rows, e.g. {"hostname": "PC-1", "software": [...]}.
ROW_LISTS = ("software", "programs", "deb_packages", "packages", "rows", "snapshot")
# Keys naming the host in a document or an osquery daemon log entry.
HOST_KEYS = ("hostname", "hostidentifier", "host", "computer_name")


def detect_format(path: Path) -> str:
    """``json`` when the first non-blank character of the file is ``[`` or ``{``, else ``csv``."""
    try:
        with path.open("rb") as raw:
            sample = raw.read(4096)
    except OSError as exc:
        raise InventoryError(f"cannot open {path}: {exc.strerror} (無法開啟檔案)") from None
    text = sample.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if text[:1] in (b"[", b"{") else "csv"


def iter_rows(path: Path, aliases: dict[str, tuple[str, ...]], required: tuple[str, ...] = ("display_name",),
              progress=None) -> Iterator[tuple[int, dict[str, str]]]:
    """Like :func:`iter_csv`, for a CSV or a JSON file (decided by :func:`detect_format`)."""
    if detect_format(path) == "json":
        return iter_json(path, aliases, required, progress)
    return iter_csv(path, aliases, required, progress)


class _JsonValues:
    """Top-level JSON values of a text stream, or the elements of a top-level array, with their lines."""

    def __init__(self, text: io.TextIOBase) -> None:
        self.text = text
        self.buf = ""
        self.pos = 0
        self.line = 1  # line of buf[pos]
        self.eof = False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.text.read(JSON_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        return True

    def _advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def _peek(self) -> str:
        """The next non-blank character ('' at the end), skipping blanks."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                if self.buf[self.pos] == "\n":
                    self.line += 1
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def _value(self) -> tuple[int, object]:
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos > MAX_JSON_VALUE:
                    raise InventoryError("a JSON value is larger than 16 MiB: split the file "
                                         "(JSON 單筆資料過大)", self.line) from None
                if self._fill():
                    continue
                line = self.line + self.buf.count("\n", self.pos, exc.pos)
                raise InventoryError(f"broken JSON: {exc.msg} (JSON 格式錯誤)", line) from None
            # A number or a literal cut at the end of the buffer may continue in the next chunk.
            if end == len(self.buf) and not self.eof and not isinstance(value, dict | list) and self._fill():
                continue
            line = self.line
            self._advance(end)
            return line, value

    def __iter__(self) -> Iterator[tuple[int, object]]:
        first = self._peek()
        if first == "":
            raise InventoryError("the file is empty (檔案是空的)")
        if first != "[":
            while self._peek():
                yield self._value()
            return
        self._advance(self.pos + 1)
        state = "start"  # start: after [; value: after a comma; next: after a value
        while True:
            char = self._peek()
            if char == "":
                raise InventoryError("broken JSON: the array is not closed with ] (JSON 格式錯誤)", self.line)
            if char == "]" and state != "value":
                self._advance(self.pos + 1)
                if self._peek():
                    raise InventoryError("broken JSON: text after the closing ] (JSON 格式錯誤)", self.line)
                return
            if state == "next":
                if char != ",":
                    raise InventoryError("broken JSON: expected , between rows (JSON 格式錯誤)", self.line)
                self._advance(self.pos + 1)
                state = "value"
                continue
            yield self._value()
            state = "next"


def _host_of(document: dict) -> str:
    for key, value in document.items():
        if key.lower() in HOST_KEYS and isinstance(value, str | int):
            return str(value)
    return ""


def _expand(value: object) -> Iterator[tuple[dict, str]]:
    """The rows of one top-level JSON value, each with the host its envelope names ('' if none)."""
    if not isinstance(value, dict):
        yield value, ""
        return
    if isinstance(value.get("columns"), dict):
        # An osquery daemon differential log entry: one row added (or removed: not installed any more).
        if value.get("action") != "removed":
            yield value["columns"], _host_of(value)
        return
    for key in ROW_LISTS:
        rows = value.get(key)
        if isinstance(rows, list):
            host = _host_of(value)
            for row in rows:
                yield row, host
            return
    yield value, ""


def _text(value: object) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).strip()


def iter_json(path: Path, aliases: dict[str, tuple[str, ...]], required: tuple[str, ...] = ("display_name",),
              progress=None) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, {field: value})`` for every row of a JSON inventory, streaming (see the module doc).

    ``line`` is the line on which the row's JSON value (or its daemon log entry) starts. Keys are matched
    to fields case-insensitively through ``aliases``; other keys are ignored; a host named by the envelope
    (``hostIdentifier``) fills a ``hostname`` field the row lacks. Raises :class:`InventoryError` when the
    file is not UTF-8, the JSON is broken, a row is not an object, or the first row has none of the
    names of a ``required`` field.
    """
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InventoryError(f"cannot open {path}: {exc.strerror} (無法開啟檔案)") from None
    with raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        count = 0
        line = 1
        try:
            for line, value in _JsonValues(text):
                for row, host in _expand(value):
                    if not isinstance(row, dict):
                        raise InventoryError("a row is not a JSON object ({...}) (資料列不是 JSON 物件)", line)
                    keys = {str(k).strip().lower(): v for k, v in row.items()}
                    values = {}
                    for name, accepted in aliases.items():
                        found = next((a for a in accepted if a in keys), None)
                        values[name] = _text(keys[found]) if found is not None else ""
                    if "hostname" in values and not values["hostname"] and host:
                        values["hostname"] = host
                    if count == 0:
                        missing = [f for f in required if not any(a in keys for a in aliases[f])
                                   and not (f == "hostname" and host)]
                        if missing:
                            found_keys = ", ".join(list(keys)[:20]) or "(none)"
                            raise InventoryError(
                                f"no {', '.join(missing)} field in the first row (fields found: {found_keys}); "
                                f"the rows need {','.join(aliases)} (缺少 {', '.join(missing)} 欄位)", line)
                    count += 1
                    if not any(values.values()):
                        continue
                    yield line, values
                    if progress is not None and count % 2000 == 0:
                        progress(raw.tell())
        except UnicodeDecodeError:
            raise InventoryError(f"bytes that are not UTF-8 after line {line}: JSON must be UTF-8 "
                                 "(JSON 檔案必須是 UTF-8 編碼)", line) from None
