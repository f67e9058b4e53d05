"""Filters for the change log, shared by the change-log page and the REST API."""

from __future__ import annotations

import django_filters
from django import forms
from django.apps import apps
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import DateRangeWidget, RangeWidget

from citygov.core.models import ChangeAction, ChangeLog


def _reachable_agencies(request):
    """The agencies the requesting user may reach: the agency filter never offers (or accepts) others."""
    # Looked up through the app registry so core does not import the agencies app's modules.
    agency_model = apps.get_model("agencies", "Agency")
    if request is None:
        return agency_model.objects.none()
    return agency_model.objects.for_agency(request.user).order_by("code")


class _DateInput(forms.DateInput):
    """A native date picker; its value is always ISO (YYYY-MM-DD) whatever the page language."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DatePickerRangeWidget(DateRangeWidget):
    """The ``<name>_after``/``<name>_before`` pair rendered as two date pickers."""

    def __init__(self, attrs=None):
        # Skip RangeWidget.__init__, which hard-codes two text inputs.
        super(RangeWidget, self).__init__(
            (_DateInput(attrs={"aria-label": _("From")}), _DateInput(attrs={"aria-label": _("To")})), attrs
        )


class ChangeLogFilterSet(django_filters.FilterSet):
    """Filter change-log rows by action, object, actor, agency and a date range.

    The date range is inclusive and read in the site time zone: ``at_after=2024-01-01`` starts at
    midnight in Taipei, ``at_before=2024-01-31`` ends at the last instant of that day.
    """

    action = django_filters.ChoiceFilter(label=_("Action"), choices=ChangeAction.choices, empty_label=_("All"))
    object_type = django_filters.CharFilter(label=_("Object type"))
    object_id = django_filters.CharFilter(label=_("Object id"))
    actor_name = django_filters.CharFilter(label=_("Actor"), lookup_expr="icontains")
    agency = django_filters.ModelChoiceFilter(label=_("Agency"), queryset=_reachable_agencies, empty_label=_("All"))
    at = django_filters.DateFromToRangeFilter(label=_("Date"), widget=DatePickerRangeWidget)

    class Meta:
        model = ChangeLog
        fields = ["action", "object_type", "object_id", "actor_name", "agency", "at"]
