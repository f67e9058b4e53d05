"""Streaming readers for software-inventory files (CSV from VANS/SCCM exports, osquery CSV). Pure Python.

Rows are read one at a time, so a file of any size streams in constant memory. The encoding is decided
from the first 64 KiB: UTF-8 (with or without BOM), else Big5/CP950 (common in Taiwanese exports); any
other bytes, a missing ``display_name`` column or a broken line raise :class:`InventoryError` with the
line number and a message in English and Chinese.
"""

from __future__ import annotations

import codecs
import csv
import io
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
    """Yield ``(line, InventoryRow)`` for every data row of a CSV inventory; extra columns are ignored.

    Blank lines are skipped. Raises :class:`InventoryError` for an unreadable file.
    """
    for line, values in iter_csv(path, COLUMNS, progress=progress):
        yield line, InventoryRow(values["display_name"], values["display_version"], values["publisher"],
                                 values["arch"])
