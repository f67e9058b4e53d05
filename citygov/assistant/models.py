"""Conversation logs of the citizen assistant. Questions are stored masked, never as typed."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from citygov.core.scoping import AgencyScopedQuerySet


class Decision(models.TextChoices):
    """What the assistant did with a question."""

    ANSWER = "answer", _("Answered")
    SUGGEST = "suggest", _("Suggested")
    HANDOFF = "handoff", _("Handed off")
    CHITCHAT = "chitchat", _("Small talk")


class Feedback(models.IntegerChoices):
    """A citizen's thumbs up or down on one reply."""

    NONE = 0, _("No feedback")
    UP = 1, _("Helpful")
    DOWN = -1, _("Not helpful")


class Conversation(models.Model):
    """One chat session: anonymous, identified only by a random id the client keeps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(_("channel"), max_length=16, default="page")
    started_at = models.DateTimeField(_("started at"), db_index=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self) -> str:
        return str(self.id)


class Turn(models.Model):
    """One question and the assistant's reply. ``question`` holds the masked text only."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    asked_at = models.DateTimeField(_("asked at"), db_index=True)
    question = models.CharField(_("question (masked)"), max_length=1000)
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices)
    confidence = models.FloatField(_("confidence"))
    faq_id = models.CharField(_("FAQ id"), max_length=64, blank=True)
    category = models.CharField(_("category"), max_length=32, blank=True)
    suggestions = models.JSONField(_("suggested FAQ ids"), default=list, blank=True)
    personal_data = models.JSONField(_("personal data kinds found"), default=list, blank=True)
    bank_version = models.CharField(_("bank version"), max_length=32, blank=True)
    latency_ms = models.FloatField(_("latency (ms)"), default=0.0)
    feedback = models.SmallIntegerField(_("feedback"), choices=Feedback.choices, default=Feedback.NONE)

    class Meta:
        verbose_name = _("conversation turn")
        verbose_name_plural = _("conversation turns")
        ordering = ("asked_at", "id")
        indexes = [models.Index(fields=("decision", "asked_at"))]

    def __str__(self) -> str:
        return f"{self.asked_at:%Y-%m-%d %H:%M} {self.decision}"


CATEGORIES = (
    "戶政", "地政", "稅務", "停車", "交通", "公共運輸", "環保", "社會福利", "衛生", "教育", "勞工", "建管",
    "消防", "警政", "觀光", "文化", "客家", "原住民", "青年", "市民卡", "水利", "工務", "經濟發展", "人事/其他",
)


class EntryStatus(models.TextChoices):
    """Lifecycle of a FAQ entry: only published entries are answered from."""

    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class ReviewStatus(models.TextChoices):
    """Second-person review of a version."""

    PENDING = "pending", _("Awaiting review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class FaqEntry(models.Model):
    """A FAQ entry as served: the content of its last approved version. Owned by an agency (optional for
    entries imported from another city's bank, which only city-wide users then reach)."""

    faq_id = models.CharField(_("FAQ id"), max_length=64, unique=True)
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("owning agency"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    source_agency = models.CharField(_("source agency"), max_length=100, blank=True)
    category = models.CharField(_("category"), max_length=32, blank=True)
    question = models.CharField(_("question"), max_length=1000)
    alternates = models.JSONField(_("alternative questions"), default=list, blank=True)
    answer = models.TextField(_("answer"), blank=True)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=EntryStatus.choices, default=EntryStatus.DRAFT)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    version = models.PositiveIntegerField(_("approved version"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")
        ordering = ("faq_id",)

    def __str__(self) -> str:
        return f"{self.faq_id} {self.question[:40]}"


class FaqVersion(models.Model):
    """One version of an entry's content. Every edit or import adds a version and keeps the previous ones;
    a version goes live only when a second person approves it."""

    entry = models.ForeignKey(FaqEntry, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    batch = models.CharField(_("import batch"), max_length=40, blank=True, db_index=True)
    category = models.CharField(_("category"), max_length=32, blank=True)
    question = models.CharField(_("question"), max_length=1000)
    alternates = models.JSONField(_("alternative questions"), default=list, blank=True)
    answer = models.TextField(_("answer"), blank=True)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=EntryStatus.choices)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    review = models.CharField(_("review"), max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True,
                               on_delete=models.SET_NULL, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reviewer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("FAQ version")
        verbose_name_plural = _("FAQ versions")
        ordering = ("entry", "number")
        constraints = [models.UniqueConstraint(fields=("entry", "number"), name="assistant_version_unique")]

    def __str__(self) -> str:
        return f"{self.entry.faq_id} v{self.number}"

    def content(self) -> dict:
        """The versioned fields, for comparing with an imported row and copying onto the entry."""
        return {"category": self.category, "question": self.question, "alternates": list(self.alternates),
                "answer": self.answer, "keywords": list(self.keywords), "status": self.status,
                "valid_from": self.valid_from, "valid_to": self.valid_to}


class SynonymList(models.Model):
    """One version of the synonym list (``term = alias, alias`` lines) administrators edit.

    Append-only: saving adds a version and keeps every earlier one; the highest number is in force. The
    list is part of the bank version, so the index is rebuilt once when a new list is saved, never per
    request. Before any version is saved the packaged (or ``CITYGOV_ASSISTANT_SYNONYMS``) file is used.
    """

    number = models.PositiveIntegerField(_("version"), unique=True)
    text = models.TextField(_("synonym list"))
    pairs = models.PositiveIntegerField(_("aliases"), default=0)
    note = models.CharField(_("note"), max_length=200, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True,
                               on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("synonym list")
        verbose_name_plural = _("synonym lists")
        ordering = ("-number",)

    def __str__(self) -> str:
        return f"synonyms v{self.number}"
