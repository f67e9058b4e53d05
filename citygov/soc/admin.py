"""Django admin for the SOC tables city administrators maintain by hand: the ordered classification
rules, the agency network table and the dated incident policies (the legal
deadlines). Every change is written to the change log."""

from __future__ import annotations

from django.contrib import admin

from citygov.core.admin import ChangeLoggedAdmin
from citygov.soc.models import AgencyNetwork, ClassificationRule, IncidentPolicy


@admin.register(ClassificationRule)
class ClassificationRuleAdmin(ChangeLoggedAdmin):
    list_display = ("position", "name", "kind", "pattern", "category", "source", "active")
    list_editable = ("active",)
    list_filter = ("kind", "category", "active")
    ordering = ("position", "id")


@admin.register(AgencyNetwork)
class AgencyNetworkAdmin(ChangeLoggedAdmin):
    list_display = ("cidr", "agency", "note")
    search_fields = ("cidr", "note")


@admin.register(IncidentPolicy)
class IncidentPolicyAdmin(ChangeLoggedAdmin):
    list_display = ("effective_from", "name", "notify_hours", "review_hours_low", "review_hours_high",
                    "recover_hours_low", "recover_hours_high", "report_months")
    ordering = ("-effective_from",)
