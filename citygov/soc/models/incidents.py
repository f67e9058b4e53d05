"""Information-security incidents (資安事件) with their legal clocks, and the dated policies that set
the deadlines (one row per version of the regulation; editable in the admin)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citygov.soc.engine import clocks as engine
from citygov.soc.models.alerts import SocQuerySet
from citygov.soc.models.cases import CaseKind


class IncidentPolicy(models.Model):
    """The deadlines of one version of the incident regulation, in force from ``effective_from``.
    An incident keeps the policy in force on the day the agency became aware of it."""

    name = models.CharField(_("regulation"), max_length=200)
    effective_from = models.DateField(_("in force from"), unique=True)
    notify_hours = models.DecimalField(_("notify within (hours)"), max_digits=6, decimal_places=2, default=1,
                                       validators=[MinValueValidator(0.01)])
    review_hours_low = models.DecimalField(_("level review, levels 1-2 (hours)"), max_digits=6, decimal_places=2,
                                           default=8, validators=[MinValueValidator(0.01)])
    review_hours_high = models.DecimalField(_("level review, levels 3-4 (hours)"), max_digits=6, decimal_places=2,
                                            default=2, validators=[MinValueValidator(0.01)])
    recover_hours_low = models.DecimalField(_("recovery, levels 1-2 (hours)"), max_digits=6, decimal_places=2,
                                            default=72, validators=[MinValueValidator(0.01)])
    recover_hours_high = models.DecimalField(_("recovery, levels 3-4 (hours)"), max_digits=6, decimal_places=2,
                                             default=36, validators=[MinValueValidator(0.01)])
    report_months = models.PositiveSmallIntegerField(_("report within (months after recovery)"), default=1,
                                                     validators=[MinValueValidator(1)])
    due_soon_percent = models.PositiveSmallIntegerField(_("due soon below this share of the time left (percent)"),
                                                        default=25, validators=[MaxValueValidator(99)])
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("incident policy")
        verbose_name_plural = _("incident policies")
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.name} ({self.effective_from:%Y-%m-%d})"

    def to_engine(self) -> engine.Policy:
        """The engine's policy with these values."""
        return engine.Policy(name=self.name, effective_from=self.effective_from,
                             notify_hours=float(self.notify_hours), review_hours_low=float(self.review_hours_low),
                             review_hours_high=float(self.review_hours_high),
                             recover_hours_low=float(self.recover_hours_low),
                             recover_hours_high=float(self.recover_hours_high), report_months=self.report_months,
                             due_soon_percent=self.due_soon_percent)


class Incident(models.Model):
    """An information-security incident of one agency: level 1-4, type, the time the agency became
    aware of it (the clocks start there), the milestones met, and the alerts and forensic case
    linked to it. The incident is closed once its report is recorded."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="soc_incidents")
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("incident type"), max_length=20, choices=CaseKind.choices, default=CaseKind.OTHER)
    level = models.PositiveSmallIntegerField(_("level"), choices=[(n, str(n)) for n in engine.LEVELS],
                                             validators=[MinValueValidator(1), MaxValueValidator(4)])
    description = models.TextField(_("description"), blank=True)
    aware_at = models.DateTimeField(_("became aware at"))
    policy = models.ForeignKey(IncidentPolicy, verbose_name=_("policy"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="incidents")
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("level reviewed at"), null=True, blank=True)
    recovered_at = models.DateTimeField(_("recovered at"), null=True, blank=True)
    reported_at = models.DateTimeField(_("report submitted at"), null=True, blank=True)
    case = models.ForeignKey("soc.ForensicCase", verbose_name=_("forensic case"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="incidents")
    alerts = models.ManyToManyField("soc.Alert", verbose_name=_("alerts"), blank=True, related_name="incidents")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = SocQuerySet.as_manager()

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-aware_at", "-id"]
        indexes = [models.Index(fields=["reported_at"], name="soc_incident_open")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_closed(self) -> bool:
        return self.reported_at is not None

    def milestones(self) -> engine.Milestones:
        return engine.Milestones(notified_at=self.notified_at, reviewed_at=self.reviewed_at,
                                 recovered_at=self.recovered_at, reported_at=self.reported_at)

    def engine_policy(self) -> engine.Policy:
        return self.policy.to_engine() if self.policy_id else engine.DEFAULT_POLICY

    def clocks(self, now: dt.datetime | None = None) -> tuple[engine.Clock, ...]:
        """The four legal clocks at ``now``."""
        return engine.clocks(self.engine_policy(), self.level, self.aware_at, self.milestones(),
                             now or timezone.now())

    def clock_state(self, now: dt.datetime | None = None) -> str:
        """The worst state of its clocks."""
        return engine.worst([c.state for c in self.clocks(now)])


class IncidentNotice(models.Model):
    """A notice sent because a clock of an incident became due soon or overdue. The unique
    (incident, clock, state) sends each notice once."""

    incident = models.ForeignKey(Incident, verbose_name=_("incident"), on_delete=models.CASCADE,
                                 related_name="notices")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    clock = models.CharField(_("clock"), max_length=20, choices=[(k, v[1]) for k, v in engine.CLOCK_LABELS.items()])
    state = models.CharField(_("state"), max_length=20)
    due = models.DateTimeField(_("due"))
    message = models.CharField(_("message"), max_length=500)
    recipients = models.PositiveIntegerField(_("e-mail recipients"), default=0)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)

    objects = SocQuerySet.as_manager()

    class Meta:
        verbose_name = _("incident notice")
        verbose_name_plural = _("incident notices")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["incident", "clock", "state"], name="soc_incident_notice_once")]

    def __str__(self) -> str:
        return self.message
