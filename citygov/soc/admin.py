"""Django admin for the SOC tables city administrators maintain by hand: the ordered classification
rules and the agency network table. Every change is written to the change log."""

from __future__ import annotations

from django.contrib import admin

from citygov.core.admin import ChangeLoggedAdmin
from citygov.soc.models import AgencyNetwork, ClassificationRule


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
