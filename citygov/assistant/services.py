"""Writes of the assistant: asking (logs a masked turn), feedback, and purging old logs.

Citizens are anonymous: a conversation is known only by its random id. The question is masked by the
engine before it reaches the database, so the log never holds personal data as typed.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.assistant import serving
from citygov.assistant.engine.bank import Entry, RowError, entry_from_mapping, format_of, iter_rows
from citygov.assistant.engine.retrieval import Reply, answer
from citygov.assistant.engine.text import Synonyms
from citygov.assistant.models import (
    CATEGORIES,
    Conversation,
    Decision,
    EntryStatus,
    FaqEntry,
    FaqVersion,
    Feedback,
    ReviewStatus,
    SynonymList,
    Turn,
)
from citygov.core.changelog import record_change
from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.roles import Capability
from citygov.core.scoping import can_reach_agency

MAX_QUESTION = 500
CHANNELS = ("page", "widget", "api", "cli")


@dataclass(frozen=True)
class AskResult:
    """The reply and the logged turn."""

    reply: Reply
    turn: Turn
    conversation_id: uuid.UUID


def check_ask(question: str, conversation_id: str | None = None, channel: str = "api") -> str:
    """Validate a question; returns it stripped. ``InvalidInput`` for empty, over-long or bad ids."""
    text = (question or "").strip()
    if not text:
        raise InvalidInput(_("Please type a question."), fields={"question": [_("This field is required.")]})
    if len(text) > MAX_QUESTION:
        raise InvalidInput(_("The question is too long (at most %(n)d characters).") % {"n": MAX_QUESTION},
                           fields={"question": [_("Too long.")]})
    if channel not in CHANNELS:
        raise InvalidInput(_("Unknown channel."), fields={"channel": [_("Unknown channel.")]})
    if conversation_id:
        try:
            uuid.UUID(str(conversation_id))
        except ValueError as exc:
            raise InvalidInput(_("Unknown conversation."), fields={"conversation": [_("Not a valid id.")]}) from exc
    return text


def do_ask(question: str, conversation_id: str | None = None, channel: str = "api",
           now: dt.datetime | None = None) -> AskResult:
    """Answer a question from the shared index and log the masked turn (a new conversation if none given)."""
    text = check_ask(question, conversation_id, channel)
    loaded = serving.current()
    started = time.perf_counter()
    reply = answer(loaded.index, text, top=5, handoff_text=serving.handoff_text())
    latency = (time.perf_counter() - started) * 1000
    now = now or timezone.now()
    best = reply.best
    decision = Decision.CHITCHAT if reply.chitchat else reply.decision
    with transaction.atomic():
        conversation = None
        if conversation_id:
            conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is None:
            conversation = Conversation.objects.create(channel=channel, started_at=now)
        turn = Turn.objects.create(
            conversation=conversation, asked_at=now, question=reply.question_masked[:1000], decision=decision,
            confidence=reply.confidence,
            faq_id=best.entry.faq_id if best and decision == Decision.ANSWER else "",
            category=best.entry.category if best and decision != Decision.HANDOFF else "",
            suggestions=[hit.entry.faq_id for hit in reply.hits[:3]] if decision == Decision.SUGGEST else [],
            personal_data=list(reply.personal_data), bank_version=loaded.version, latency_ms=round(latency, 3),
        )
    return AskResult(reply, turn, conversation.pk)


def do_record_feedback(conversation_id: str, turn_id: int, value: int) -> Turn:
    """Record thumbs up (1) or down (-1) on a turn of the caller's own conversation."""
    if value not in (Feedback.UP, Feedback.DOWN):
        raise InvalidInput(_("Feedback must be 1 or -1."), fields={"value": [_("Must be 1 or -1.")]})
    try:
        uuid.UUID(str(conversation_id))
    except ValueError as exc:
        raise NotFound(_("No such conversation turn.")) from exc
    with transaction.atomic():
        turn = Turn.objects.select_for_update().filter(pk=turn_id, conversation_id=conversation_id).first()
        if turn is None:
            raise NotFound(_("No such conversation turn."))
        turn.feedback = value
        turn.save(update_fields=["feedback"])
    return turn


def check_purge_turns(actor) -> None:
    """Only a user allowed to manage the assistant (not a read-only role) may purge logs."""
    if actor is None or actor.is_read_only or not actor.has_capability(Capability.MANAGE_ASSISTANT):
        raise Forbidden(_("You may not purge conversation logs."))


def do_purge_turns(actor, older_than_days: int, now: dt.datetime | None = None) -> int:
    """Delete conversations started more than ``older_than_days`` ago (retention); logged in the change log."""
    check_purge_turns(actor)
    if older_than_days < 1:
        raise InvalidInput(_("Retention must be at least one day."))
    cutoff = (now or timezone.now()) - dt.timedelta(days=older_than_days)
    with transaction.atomic():
        old = Conversation.objects.filter(started_at__lt=cutoff)
        count = Turn.objects.filter(conversation__in=old).count()
        old.delete()
        record_change(actor=actor, action=ChangeAction.DELETE, object_repr="assistant conversation logs",
                      note="retention purge",
                      after={"older_than_days": older_than_days, "cutoff": cutoff.isoformat(), "turns": count})
    return count


# --- FAQ bank: import, review, export ---------------------------------------------------------------

@dataclass(frozen=True)
class ImportReport:
    """What an import did: counts, the batch id of the new versions, and the refused rows by line."""

    batch: str
    rows: int
    created: int
    changed: int
    unchanged: int
    errors: tuple[RowError, ...]


def check_manage_bank(actor) -> None:
    """Managing the bank needs ``assistant.manage`` and a role that may write."""
    if actor is None or not actor.is_authenticated or actor.is_read_only \
            or not actor.has_capability(Capability.MANAGE_ASSISTANT):
        raise Forbidden(_("You may not manage the FAQ bank."))


def _content(entry: Entry) -> dict:
    def day(value: str):
        return dt.date.fromisoformat(value) if value else None

    return {"category": entry.category, "question": entry.question, "alternates": list(entry.alternates),
            "answer": entry.answer, "keywords": list(entry.keywords), "status": entry.status,
            "valid_from": day(entry.valid_from), "valid_to": day(entry.valid_to)}


IMPORT_CHUNK = 500


def do_import_bank(actor, path: Path, agency=None) -> ImportReport:
    """Stream a CSV or JSONL bank file: each new or changed row becomes a version awaiting a second
    person's review; unchanged rows (same content as the entry's latest version) are skipped, so
    re-importing a file changes nothing. Bad rows are reported by line and the good rows still imported.
    Rows are written in chunks of 500, each chunk in one transaction.
    """
    check_manage_bank(actor)
    if agency is not None and not can_reach_agency(actor, agency.pk):
        raise Forbidden(_("You may not manage this agency's FAQ entries."))
    try:
        fmt = format_of(path)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="unreadable_file") from exc
    batch = timezone.now().strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    counts = {"created": 0, "changed": 0, "unchanged": 0}
    rows = 0
    errors: list[RowError] = []
    seen: set[str] = set()
    chunk: list[tuple[int, Entry]] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            for line, row, error in iter_rows(stream, fmt):
                if error is not None:
                    if line == 1 and row is None and fmt == "csv":
                        raise InvalidInput(error, code="bad_header")
                    errors.append(RowError(line, error))
                    continue
                rows += 1
                try:
                    value = entry_from_mapping(row)
                    if value.category and value.category not in CATEGORIES:
                        raise ValueError(f"unknown category {value.category!r} / 類別不在 24 類中")
                    _content(value)
                except ValueError as exc:
                    errors.append(RowError(line, str(exc)))
                    continue
                if value.faq_id in seen:
                    errors.append(RowError(line, f"duplicate faq_id {value.faq_id} / faq_id 重複"))
                    continue
                seen.add(value.faq_id)
                chunk.append((line, value))
                if len(chunk) >= IMPORT_CHUNK:
                    _import_chunk(actor, chunk, agency, batch, counts, errors)
                    chunk = []
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(_("The file cannot be read as UTF-8 text."), code="unreadable_file") from exc
    if chunk:
        _import_chunk(actor, chunk, agency, batch, counts, errors)
    errors.sort(key=lambda error: error.line)
    with transaction.atomic():
        record_change(actor=actor, action=ChangeAction.ACTION, object_repr=f"FAQ import {path.name}",
                      note="assistant.import", after={"batch": batch, "rows": rows, **counts, "errors": len(errors)},
                      agency_id=agency.pk if agency is not None else None)
    return ImportReport(batch, rows, counts["created"], counts["changed"], counts["unchanged"], tuple(errors))


def _import_chunk(actor, chunk: list[tuple[int, Entry]], agency, batch: str, counts: dict,
                  errors: list[RowError]) -> None:
    with transaction.atomic():
        ids = [value.faq_id for _, value in chunk]
        existing = {entry.faq_id: entry for entry in FaqEntry.objects.select_for_update().filter(faq_id__in=ids)}
        latest: dict[int, FaqVersion] = {}
        for version in FaqVersion.objects.filter(entry__in=list(existing.values())).order_by("entry_id", "number"):
            latest[version.entry_id] = version
        new_entries = [FaqEntry(faq_id=value.faq_id, agency=agency, source_agency=value.agency[:100],
                                question=value.question, category=value.category, status=EntryStatus.DRAFT)
                       for _, value in chunk if value.faq_id not in existing]
        FaqEntry.objects.bulk_create(new_entries)
        if new_entries:
            created = {entry.faq_id: entry for entry in FaqEntry.objects.filter(
                faq_id__in=[entry.faq_id for entry in new_entries])}
        else:
            created = {}
        versions = []
        for line, value in chunk:
            content = _content(value)
            if value.faq_id in created:
                versions.append(FaqVersion(entry=created[value.faq_id], number=1, batch=batch, author=actor, **content))
                counts["created"] += 1
                continue
            entry = existing[value.faq_id]
            if not can_reach_agency(actor, entry.agency_id):
                errors.append(RowError(line, f"{value.faq_id}: another agency's entry / 屬於其他機關的問答"))
                continue
            previous = latest.get(entry.pk)
            if previous is not None and previous.content() == content:
                counts["unchanged"] += 1
                continue
            versions.append(FaqVersion(entry=entry, number=(previous.number + 1 if previous else 1), batch=batch,
                                       author=actor, **content))
            counts["changed"] += 1
        FaqVersion.objects.bulk_create(versions)


def check_review(reviewer, version: FaqVersion) -> None:
    """A version is approved or rejected by someone who may manage the bank and who did not write it."""
    check_manage_bank(reviewer)
    if not can_reach_agency(reviewer, version.entry.agency_id):
        raise NotFound(_("No such FAQ version."))
    if version.author_id == reviewer.pk:
        raise Forbidden(_("A second person must review this version: you wrote it."), code="same_person")
    if version.review != ReviewStatus.PENDING:
        raise Conflict(_("This version has already been reviewed."))


def _apply_review(reviewer, version: FaqVersion, approve: bool, now) -> None:
    version.review = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    version.reviewer = reviewer
    version.reviewed_at = now
    version.save(update_fields=["review", "reviewer", "reviewed_at"])
    entry = version.entry
    if approve and version.number > entry.version:
        for field, value in version.content().items():
            setattr(entry, field, value)
        entry.version = version.number
        entry.save()


def do_review_version(reviewer, version_id: int, approve: bool) -> FaqVersion:
    """Approve (publish its content) or reject one version; the previous versions stay as they were."""
    with transaction.atomic():
        version = FaqVersion.objects.select_for_update().select_related("entry").filter(pk=version_id).first()
        if version is None:
            raise NotFound(_("No such FAQ version."))
        check_review(reviewer, version)
        _apply_review(reviewer, version, approve, timezone.now())
        record_change(actor=reviewer, action=ChangeAction.UPDATE, obj=version.entry,
                      before={"version": version.number, "review": ReviewStatus.PENDING},
                      after={"version": version.number, "review": version.review},
                      agency_id=version.entry.agency_id)
        transaction.on_commit(serving.bank_changed)
    return version


def do_review_batch(reviewer, batch: str, approve: bool) -> int:
    """Approve or reject every pending version of an import batch the reviewer may reach and did not write."""
    check_manage_bank(reviewer)
    now = timezone.now()
    with transaction.atomic():
        versions = list(FaqVersion.objects.select_for_update().select_related("entry")
                        .filter(batch=batch, review=ReviewStatus.PENDING).order_by("entry_id", "number"))
        reachable = [v for v in versions if can_reach_agency(reviewer, v.entry.agency_id)]
        if not reachable:
            raise NotFound(_("No pending versions in this batch."))
        if any(v.author_id == reviewer.pk for v in reachable):
            raise Forbidden(_("A second person must review this batch: you imported it."), code="same_person")
        for version in reachable:
            _apply_review(reviewer, version, approve, now)
        record_change(actor=reviewer, action=ChangeAction.ACTION, object_repr=f"FAQ batch {batch}",
                      note="assistant.review", after={"batch": batch, "versions": len(reachable),
                                                      "review": "approved" if approve else "rejected"})
        transaction.on_commit(serving.bank_changed)
    return len(reachable)


# --- synonym list: edited by city administrators, versioned ---------------------------------------------

MAX_SYNONYM_TEXT = 100_000


def check_edit_synonyms(actor, text: str) -> Synonyms:
    """The synonym list changes every agency's answers, so only a city-wide role that may manage the
    assistant (a city administrator) edits it. Returns the parsed list; ``InvalidInput`` names a bad line."""
    if actor is None or not actor.is_authenticated or actor.is_read_only or not actor.is_city_wide \
            or not actor.has_capability(Capability.MANAGE_ASSISTANT):
        raise Forbidden(_("Only a city administrator may edit the synonym list."))
    if len(text) > MAX_SYNONYM_TEXT:
        raise InvalidInput(_("The synonym list is too long (at most %(n)d characters).") % {"n": MAX_SYNONYM_TEXT},
                           fields={"text": [_("Too long.")]})
    try:
        synonyms = Synonyms.parse(text.splitlines())
    except ValueError as exc:
        # the engine's message names the line, in English and Chinese
        raise InvalidInput(str(exc), fields={"text": [str(exc)]}) from None
    if not synonyms.table:
        raise InvalidInput(_("The synonym list is empty: give at least one 'term = alias' line."),
                           fields={"text": [_("This field is required.")]})
    return synonyms


def do_save_synonyms(actor, text: str, note: str = "") -> SynonymList | None:
    """Save a new version of the synonym list (``None`` when it is the same as the one in force).

    The change log records the aliases added and removed; on commit every worker is told the bank
    changed, so each rebuilds its index once (the list is part of the bank version).
    """
    text = text.replace("\r\n", "\n").strip() + "\n"
    synonyms = check_edit_synonyms(actor, text)
    with transaction.atomic():
        current = SynonymList.objects.select_for_update().order_by("-number").first()
        before = dict(Synonyms.parse(current.text.splitlines()).table) if current else {}
        after = dict(synonyms.table)
        if current is not None and current.text == text:
            return None
        row = SynonymList.objects.create(number=(current.number + 1) if current else 1, text=text,
                                         pairs=len(after), note=note.strip()[:200], author=actor)
        added = sorted(f"{alias}={term}" for alias, term in after.items() if before.get(alias) != term)
        removed = sorted(f"{alias}={term}" for alias, term in before.items() if alias not in after)
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=row, note=note.strip()[:200] or "assistant.synonyms",
                      before={"version": current.number if current else 0, "aliases": len(before)},
                      after={"version": row.number, "aliases": len(after),
                             "added": added[:200], "removed": removed[:200]})
        transaction.on_commit(serving.bank_changed)
    return row
