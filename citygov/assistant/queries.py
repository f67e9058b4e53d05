"""Read-side helpers for the analytics page and the dashboard tile."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from citygov.assistant.engine.text import canonical
from citygov.assistant.models import Decision, Feedback, Turn


@dataclass(frozen=True)
class Rates:
    """Counts and shares of the decisions over a period."""

    total: int
    answered: int
    suggested: int
    handed_off: int
    chitchat: int
    helpful: int
    not_helpful: int

    def share(self, count: int) -> float | None:
        """``count`` as a percentage of the consultations (small talk excluded); ``None`` when there are none."""
        base = self.total - self.chitchat
        return round(100 * count / base, 1) if base else None

    @property
    def answered_pct(self):
        return self.share(self.answered)

    @property
    def suggested_pct(self):
        return self.share(self.suggested)

    @property
    def handed_off_pct(self):
        return self.share(self.handed_off)


def rates(since: dt.datetime | None = None) -> Rates:
    """Decision and feedback counts (all time, or since a moment)."""
    turns = Turn.objects.all() if since is None else Turn.objects.filter(asked_at__gte=since)
    figures = turns.aggregate(
        total=Count("id"),
        answered=Count("id", filter=Q(decision=Decision.ANSWER)),
        suggested=Count("id", filter=Q(decision=Decision.SUGGEST)),
        handed_off=Count("id", filter=Q(decision=Decision.HANDOFF)),
        chitchat=Count("id", filter=Q(decision=Decision.CHITCHAT)),
        helpful=Count("id", filter=Q(feedback=Feedback.UP)),
        not_helpful=Count("id", filter=Q(feedback=Feedback.DOWN)),
    )
    return Rates(**figures)


def per_day(days: int = 30) -> list[dict]:
    """Consultations per day and decision, most recent ``days`` days that have any."""
    rows = (Turn.objects.annotate(day=TruncDate("asked_at")).values("day", "decision")
            .annotate(n=Count("id")).order_by("day"))
    table: dict = {}
    for row in rows:
        table.setdefault(row["day"], Counter())[row["decision"]] += row["n"]
    return [{"day": day, "total": sum(c.values()), **{d: c.get(d, 0) for d in Decision.values}}
            for day, c in list(table.items())[-days:]]


def per_category() -> list[tuple[str, int]]:
    """Answered or suggested consultations per FAQ category, largest first."""
    rows = (Turn.objects.exclude(category="").values("category").annotate(n=Count("id")).order_by("-n", "category"))
    return [(row["category"], row["n"]) for row in rows]


def top_unanswered(limit: int = 20, scan: int = 5000) -> list[tuple[str, int, str]]:
    """Questions handed off or only suggested, grouped by their canonical form: (example, count, form).

    The grouping folds width, script, punctuation and personal-data tokens, so 「垃圾車幾點來？」 and
    「垃圾车几点来」 are one cluster: the editors' list of entries to write (active learning).
    """
    groups: dict[str, list] = {}
    recent = (Turn.objects.filter(decision__in=(Decision.HANDOFF, Decision.SUGGEST))
              .order_by("-asked_at").values_list("question", flat=True)[:scan])
    for question in recent:
        form = canonical(question).replace(" ", "")
        if not form:
            continue
        group = groups.setdefault(form, [question, 0])
        group[1] += 1
    ranked = sorted(groups.items(), key=lambda item: (-item[1][1], item[0]))[:limit]
    return [(example, count, form) for form, (example, count) in ranked]


EXPORT_FIELDS = ("faq_id", "category", "question", "answer", "source_dept", "keywords", "alternates", "status",
                 "valid_from", "valid_to")


def export_rows(user):
    """The entries ``user`` reaches, as rows of the import format (lists as lists; CSV joins them with |)."""
    from citygov.assistant.models import FaqEntry

    for entry in FaqEntry.objects.for_agency(user).order_by("faq_id").iterator(chunk_size=1000):
        yield {"faq_id": entry.faq_id, "category": entry.category, "question": entry.question,
               "answer": entry.answer, "source_dept": entry.source_agency, "keywords": list(entry.keywords),
               "alternates": list(entry.alternates), "status": entry.status,
               "valid_from": entry.valid_from.isoformat() if entry.valid_from else "",
               "valid_to": entry.valid_to.isoformat() if entry.valid_to else ""}


def write_export(user, stream, fmt: str) -> int:
    """Write the export to a text stream in ``csv`` or ``jsonl``; returns the number of entries."""
    import csv
    import json

    count = 0
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(stream, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
    for row in export_rows(user):
        if writer is not None:
            writer.writerow({**row, "keywords": "|".join(row["keywords"]), "alternates": "|".join(row["alternates"])})
        else:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def pending_batches(user) -> list[dict]:
    """Import batches with versions awaiting review, among the entries ``user`` reaches."""
    from citygov.assistant.models import FaqEntry, FaqVersion, ReviewStatus

    reachable = FaqEntry.objects.for_agency(user).values("id")
    rows = (FaqVersion.objects.filter(review=ReviewStatus.PENDING, entry_id__in=reachable).exclude(batch="")
            .values("batch", "author__username", "author_id").annotate(n=Count("id")).order_by("batch"))
    return list(rows)
