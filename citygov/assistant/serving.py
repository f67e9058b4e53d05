"""The bank index a serving process answers from: built once per bank version, shared by every request.

Each worker process loads the bank file and builds the index on first use (under a lock, so concurrent
first requests build it once), then keeps it. :func:`reload` builds the new version beside the old one
and swaps the reference atomically; the old index is freed when the last request using it finishes.
Settings: ``CITYGOV_ASSISTANT_BANK`` (CSV or JSONL; default: the packaged Taipei FAQ bank),
``CITYGOV_ASSISTANT_SYNONYMS`` (default: the packaged list), ``CITYGOV_ASSISTANT_HANDOFF`` (hand-off text).

Once the database holds published FAQ entries (imported and approved by a second person), they are the
bank and the file is only the fallback. Workers notice a new bank through a stamp in the shared cache
(count and last change of the published entries), cleared on every approval: one cache read per request,
one small query when the stamp is missing, and a rebuild only when the stamp changes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from citygov.assistant.engine.bank import Entry, bank_version, read_bank
from citygov.assistant.engine.index import BankIndex
from citygov.assistant.engine.retrieval import DEFAULT_HANDOFF
from citygov.assistant.engine.text import Synonyms

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_BANK = DATA / "taipei_faq.csv"
DEFAULT_SYNONYMS = DATA / "synonyms.txt"


STAMP_KEY = "assistant:bank-stamp"
STAMP_SECONDS = 300


@dataclass(frozen=True)
class Loaded:
    """The index in use and where it came from (``path`` is None for the database bank)."""

    index: BankIndex
    path: Path | None
    version: str
    rejected_rows: int
    stamp: str = ""


_lock = threading.Lock()
_current: Loaded | None = None


def bank_path() -> Path:
    """The configured bank file."""
    return Path(os.environ.get("CITYGOV_ASSISTANT_BANK") or DEFAULT_BANK)


def handoff_text() -> str:
    """The hand-off message (configurable: office hours and numbers change)."""
    return os.environ.get("CITYGOV_ASSISTANT_HANDOFF") or DEFAULT_HANDOFF


def _synonyms(synonyms_path: Path | None = None) -> Synonyms:
    synonyms_path = synonyms_path or Path(os.environ.get("CITYGOV_ASSISTANT_SYNONYMS") or DEFAULT_SYNONYMS)
    return Synonyms.parse(synonyms_path.read_text(encoding="utf-8").splitlines())


def build(path: Path, synonyms_path: Path | None = None) -> Loaded:
    """Read a bank file and its synonyms and build the index (no caching, no database)."""
    synonyms = _synonyms(synonyms_path)
    result = read_bank(path)
    version = bank_version(result.entries, synonyms.table)
    return Loaded(BankIndex(result.entries, synonyms, version=version), path, version, len(result.errors))


def published_entries() -> list[Entry]:
    """The database bank: published entries as engine values (empty when none is published)."""
    from citygov.assistant.models import EntryStatus, FaqEntry

    rows = FaqEntry.objects.filter(status=EntryStatus.PUBLISHED).order_by("faq_id")
    return [Entry(faq_id=row.faq_id, question=row.question, answer=row.answer, category=row.category,
                  agency=row.source_agency, keywords=tuple(row.keywords), alternates=tuple(row.alternates),
                  valid_from=row.valid_from.isoformat() if row.valid_from else "",
                  valid_to=row.valid_to.isoformat() if row.valid_to else "")
            for row in rows.iterator(chunk_size=1000)]


def stamp() -> str:
    """The shared bank stamp (computed from the database when the cache has none)."""
    from django.core.cache import cache
    from django.db.models import Count, Max

    from citygov.assistant.models import EntryStatus, FaqEntry

    value = cache.get(STAMP_KEY)
    if value is None:
        figures = FaqEntry.objects.filter(status=EntryStatus.PUBLISHED).aggregate(n=Count("id"), last=Max("updated_at"))
        value = f"{figures['n']}:{figures['last'].isoformat() if figures['last'] else ''}"
        cache.set(STAMP_KEY, value, STAMP_SECONDS)
    return value


def bank_changed() -> None:
    """Tell every worker the database bank changed (call after a publish, on commit)."""
    from django.core.cache import cache

    cache.delete(STAMP_KEY)


def _build_current(current_stamp: str) -> Loaded:
    entries = published_entries() if not current_stamp.startswith("0:") else []
    if not entries:
        loaded = build(bank_path())
        return Loaded(loaded.index, loaded.path, loaded.version, loaded.rejected_rows, current_stamp)
    synonyms = _synonyms()
    version = bank_version(entries, synonyms.table)
    return Loaded(BankIndex(entries, synonyms, version=version), None, version, 0, current_stamp)


def current() -> Loaded:
    """The process's index: built on first use and again only when the bank stamp changes."""
    global _current
    current_stamp = stamp()
    loaded = _current
    if loaded is not None and loaded.stamp == current_stamp:
        return loaded
    with _lock:
        if _current is None or _current.stamp != current_stamp:
            fresh = _build_current(current_stamp)
            # same content (e.g. the stamp expired): keep the old index, so nothing is rebuilt in memory twice
            _current = fresh if _current is None or _current.version != fresh.version else \
                Loaded(_current.index, _current.path, _current.version, _current.rejected_rows, current_stamp)
        return _current


def reload() -> Loaded:
    """Drop the stamp and rebuild if the bank changed (e.g. after the bank file was replaced)."""
    global _current
    bank_changed()
    current_stamp = stamp()
    fresh = _build_current(current_stamp)
    with _lock:
        if _current is None or _current.version != fresh.version:
            _current = fresh
        else:
            _current = Loaded(_current.index, _current.path, _current.version, _current.rejected_rows, current_stamp)
        return _current
