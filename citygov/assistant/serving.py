"""The bank index a serving process answers from: built once per bank version, shared by every request.

Each worker process loads the bank file and builds the index on first use (under a lock, so concurrent
first requests build it once), then keeps it. :func:`reload` builds the new version beside the old one
and swaps the reference atomically; the old index is freed when the last request using it finishes.
Settings (read and validated through ``citygov.config.assistant_settings``): ``CITYGOV_ASSISTANT_BANK``
(CSV or JSONL; default: the packaged Taipei FAQ bank), ``CITYGOV_ASSISTANT_SYNONYMS`` (default: the
packaged list), ``CITYGOV_ASSISTANT_HANDOFF`` (hand-off text).

Once the database holds published FAQ entries (imported and approved by a second person), they are the
bank and the file is only the fallback. Workers notice a new bank through a stamp in the shared cache
(count and last change of the published entries, and the synonym list's version once administrators
have saved one), cleared on every approval and every synonym edit: one cache read per request,
one small query when the stamp is missing, and a rebuild only when the stamp changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from citygov.assistant.engine.bank import Entry, bank_version, read_bank
from citygov.assistant.engine.index import BankIndex
from citygov.assistant.engine.retrieval import DEFAULT_HANDOFF
from citygov.assistant.engine.text import Synonyms
from citygov.config import AssistantSettings, assistant_settings, environment

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


def settings() -> AssistantSettings:
    """The ``CITYGOV_ASSISTANT_*`` settings, validated (``ConfigError`` names a malformed variable).

    Read from the environment on each call (a few string checks), so a test or an operator changing a
    variable is seen without a restart of the settings module; the app checks them once at start-up.
    """
    return assistant_settings(environment())


def bank_path() -> Path:
    """The configured bank file."""
    return settings().bank or DEFAULT_BANK


def handoff_text() -> str:
    """The hand-off message (configurable: office hours and numbers change)."""
    return settings().handoff or DEFAULT_HANDOFF


def synonyms_file() -> Path:
    """The configured synonym list file (the fallback when administrators have saved none)."""
    return settings().synonyms or DEFAULT_SYNONYMS


def _synonyms(synonyms_path: Path | None = None) -> Synonyms:
    synonyms_path = synonyms_path or synonyms_file()
    return Synonyms.parse(synonyms_path.read_text(encoding="utf-8").splitlines())


def saved_synonyms() -> Synonyms | None:
    """The synonym list administrators saved last (``None`` before anyone has saved one)."""
    from citygov.assistant.models import SynonymList

    row = SynonymList.objects.order_by("-number").first()
    return Synonyms.parse(row.text.splitlines()) if row else None


def build(path: Path, synonyms_path: Path | None = None, synonyms: Synonyms | None = None) -> Loaded:
    """Read a bank file and its synonyms and build the index (no caching, no database)."""
    synonyms = synonyms if synonyms is not None else _synonyms(synonyms_path)
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

    from citygov.assistant.models import EntryStatus, FaqEntry, SynonymList

    value = cache.get(STAMP_KEY)
    if value is None:
        figures = FaqEntry.objects.filter(status=EntryStatus.PUBLISHED).aggregate(n=Count("id"), last=Max("updated_at"))
        value = f"{figures['n']}:{figures['last'].isoformat() if figures['last'] else ''}"
        words = SynonymList.objects.aggregate(last=Max("number"))["last"]
        if words:
            value += f":s{words}"
        cache.set(STAMP_KEY, value, STAMP_SECONDS)
    return value


def bank_changed() -> None:
    """Tell every worker the database bank changed (call after a publish, on commit)."""
    from django.core.cache import cache

    cache.delete(STAMP_KEY)


def _build_current(current_stamp: str) -> Loaded:
    entries = published_entries() if not current_stamp.startswith("0:") else []
    synonyms = saved_synonyms() if ":s" in current_stamp else None
    if not entries:
        loaded = build(bank_path(), synonyms=synonyms)
        return Loaded(loaded.index, loaded.path, loaded.version, loaded.rejected_rows, current_stamp)
    synonyms = synonyms or _synonyms()
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
