"""FAQ bank files (CSV or JSONL) read as plain values, streaming, with bad rows reported by line.

Columns / keys: ``faq_id`` and ``question`` are required; ``answer``, ``category``, ``source_dept``,
``keywords`` and ``alternates`` (lists, joined with ``|`` in CSV), ``status`` (draft, published, retired;
default published), ``valid_from`` and ``valid_to`` (YYYY-MM-DD) are optional. The Taipei FAQ open data
export has exactly this shape.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_QUESTION = 1000
MAX_ANSWER = 25000
STATUSES = ("draft", "published", "retired")


@dataclass(frozen=True)
class Entry:
    """One FAQ entry as the engine sees it."""

    faq_id: str
    question: str
    answer: str = ""
    category: str = ""
    agency: str = ""
    keywords: tuple[str, ...] = ()
    alternates: tuple[str, ...] = ()
    status: str = "published"
    valid_from: str = ""
    valid_to: str = ""


@dataclass(frozen=True)
class RowError:
    """A row that could not be read: its line in the file and why (English / 中文)."""

    line: int
    message: str


@dataclass
class ReadResult:
    """Entries read in file order and the rows refused."""

    entries: list[Entry] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _as_list(value) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        return tuple(str(item).strip() for item in value if str(item).strip())
    return tuple(part.strip() for part in str(value).split("|") if part.strip())


def entry_from_mapping(row: dict) -> Entry:
    """Build an :class:`Entry` from a CSV row or JSON object; ``ValueError`` explains a bad one."""
    faq_id = str(row.get("faq_id") or "").strip()
    question = str(row.get("question") or "").strip()
    if not faq_id:
        raise ValueError("faq_id is missing / 缺少 faq_id")
    if len(faq_id) > 64:
        raise ValueError("faq_id is longer than 64 characters / faq_id 超過 64 字元")
    if not question:
        raise ValueError("question is missing / 缺少問題")
    if len(question) > MAX_QUESTION:
        raise ValueError(f"question is longer than {MAX_QUESTION} characters / 問題超過 {MAX_QUESTION} 字")
    answer = str(row.get("answer") or "").strip()
    if len(answer) > MAX_ANSWER:
        raise ValueError(f"answer is longer than {MAX_ANSWER} characters / 答案超過 {MAX_ANSWER} 字")
    status = str(row.get("status") or "published").strip().lower()
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r} (draft, published, retired) / 狀態不正確")
    return Entry(
        faq_id=faq_id,
        question=question,
        answer=answer,
        category=str(row.get("category") or "").strip(),
        agency=str(row.get("source_dept") or row.get("agency") or "").strip(),
        keywords=_as_list(row.get("keywords")),
        alternates=_as_list(row.get("alternates")),
        status=status,
        valid_from=str(row.get("valid_from") or "").strip(),
        valid_to=str(row.get("valid_to") or "").strip(),
    )


def iter_rows(stream: io.TextIOBase, fmt: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield ``(line, row, error)`` from a CSV or JSONL text stream without reading it whole."""
    if fmt == "jsonl":
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"not valid JSON ({exc.msg}) / 不是有效的 JSON"
                continue
            if not isinstance(row, dict):
                yield number, None, "a line must be a JSON object / 每行須為 JSON 物件"
                continue
            yield number, row, None
        return
    reader = csv.DictReader(stream)
    if reader.fieldnames is None or "faq_id" not in reader.fieldnames or "question" not in reader.fieldnames:
        yield 1, None, "the header needs faq_id and question columns / 標題列須有 faq_id 與 question 欄"
        return
    line = reader.line_num
    for row in reader:
        yield line + 1, row, None
        line = reader.line_num


def format_of(path: Path) -> str:
    """``csv`` or ``jsonl`` from the file name; ``ValueError`` for anything else."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ValueError(f"{path.name}: use a .csv or .jsonl file / 請使用 .csv 或 .jsonl 檔")


def read_bank(path: Path | str) -> ReadResult:
    """Read a bank file; duplicate ``faq_id`` rows after the first are refused by line."""
    path = Path(path)
    fmt = format_of(path)
    result = ReadResult()
    seen: set[str] = set()
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for line, row, error in iter_rows(stream, fmt):
            if error is not None:
                result.errors.append(RowError(line, error))
                continue
            try:
                entry = entry_from_mapping(row)
            except ValueError as exc:
                result.errors.append(RowError(line, str(exc)))
                continue
            if entry.faq_id in seen:
                result.errors.append(RowError(line, f"duplicate faq_id {entry.faq_id} / faq_id 重複"))
                continue
            seen.add(entry.faq_id)
            result.entries.append(entry)
    return result


def bank_version(entries: Iterable[Entry], synonyms: Iterable[tuple[str, str]] = ()) -> str:
    """A short content hash of the bank and its synonyms: the index is built once per version."""
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(json.dumps(entry.__dict__, ensure_ascii=False, sort_keys=True, default=list).encode())
    for alias, term in synonyms:
        digest.update(f"{alias}={term}\n".encode())
    return digest.hexdigest()[:16]
