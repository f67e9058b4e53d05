"""Forensic cases and the follow-up actions their recommendations become."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from citygov.soc.models.alerts import SocQuerySet


class CaseKind(models.TextChoices):
    """The incident-notification types (資安事件通報類型)."""

    WEB_ATTACK = "web_attack", _("Web attack (網頁攻擊)")
    INTRUSION = "intrusion", _("Unauthorised intrusion (非法入侵)")
    DOS = "dos", _("Denial of service (阻斷服務)")
    EQUIPMENT = "equipment", _("Equipment problem (設備問題)")
    OTHER = "other", _("Other (其他)")


class CaseStatus(models.TextChoices):
    """A case is open while any of its actions is neither verified nor waived."""

    OPEN = "open", pgettext_lazy("soc case status", "Open")
    CLOSED = "closed", pgettext_lazy("soc case status", "Closed")


class ForensicCase(models.Model):
    """A forensic investigation of one agency's incident: vendor, scope, findings, root cause and the
    report; its recommendations are tracked as :class:`FollowUpAction` rows."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="soc_cases")
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("incident type"), max_length=20, choices=CaseKind.choices, default=CaseKind.OTHER)
    vendor = models.CharField(_("investigating vendor"), max_length=200, blank=True)
    scope = models.TextField(_("scope"), blank=True)
    findings = models.TextField(_("findings"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    report_file = models.FileField(_("report file"), upload_to="soc/reports/", blank=True)
    aware_at = models.DateTimeField(_("became aware at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = SocQuerySet.as_manager()

    class Meta:
        verbose_name = _("forensic case")
        verbose_name_plural = _("forensic cases")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class ActionStatus(models.TextChoices):
    """open → in progress → done (agency, with evidence) → verified (bureau); or waived with a reason.
    "Overdue" is not stored: it is an open, in-progress (or returned) action past its due date."""

    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done, awaiting verification")
    VERIFIED = "verified", _("Verified")
    WAIVED = "waived", _("Waived")


OPEN_STATES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


class FollowUpAction(models.Model):
    """One recommendation of a forensic report as a tracked action: owning agency, owner, due date,
    status, evidence of completion and the bureau's verification."""

    case = models.ForeignKey(ForensicCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="actions")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("owning agency"), on_delete=models.PROTECT,
                               related_name="soc_actions")
    recommendation = models.TextField(_("recommendation"))
    owner = models.CharField(_("owner"), max_length=120, blank=True)
    due_date = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=20, choices=ActionStatus.choices, default=ActionStatus.OPEN,
                              db_index=True)
    evidence_note = models.TextField(_("evidence of completion"), blank=True)
    evidence_file = models.FileField(_("evidence file"), upload_to="soc/evidence/", blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("verified by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    waived_reason = models.TextField(_("reason for waiving"), blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)

    objects = SocQuerySet.as_manager()

    class Meta:
        verbose_name = _("follow-up action")
        verbose_name_plural = _("follow-up actions")
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return self.recommendation[:60]

    def is_overdue(self, today: dt.date | None = None) -> bool:
        """Still open (or in progress) after its due date (Asia/Taipei)."""
        today = today or timezone.localdate()
        return self.status in OPEN_STATES and self.due_date < today

    @property
    def display_status(self) -> str:
        """The status, or "overdue" when the action is late."""
        return "overdue" if self.is_overdue() else self.status


class Reminder(models.Model):
    """A reminder sent about a follow-up action (before the due date, when overdue, or an escalation).
    The unique (action, kind, day) keeps the daily job idempotent."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", _("Due soon")
        OVERDUE = "overdue", _("Overdue")
        ESCALATED = "escalated", _("Escalated to the bureau")

    action = models.ForeignKey(FollowUpAction, verbose_name=_("action"), on_delete=models.CASCADE,
                               related_name="reminders")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    day = models.DateField(_("day"))
    message = models.CharField(_("message"), max_length=500)
    recipients = models.PositiveIntegerField(_("e-mail recipients"), default=0)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)

    objects = SocQuerySet.as_manager()

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-day", "-id"]
        constraints = [models.UniqueConstraint(fields=["action", "kind", "day"], name="soc_reminder_once_a_day")]

    def __str__(self) -> str:
        return self.message
