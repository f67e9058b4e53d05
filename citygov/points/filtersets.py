"""Filters for the points lists, shared by the points pages and the REST API.

Choices that name agency-owned rows (agencies, campaigns) offer only what the requesting user may
reach, so a filter never confirms that another agency's campaign exists.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.apps import apps
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citygov.core.filtersets import DatePickerRangeWidget
from citygov.core.text.normalize import normalize
from citygov.points.models import (
    Campaign,
    CampaignStatus,
    Lot,
    Member,
    Merchant,
    MerchantStatus,
    Purchase,
    PurchaseStatus,
    Transfer,
    TransferKind,
)


def reachable_agencies(request):
    """The agencies the requesting user may reach (none without a request)."""
    agency_model = apps.get_model("agencies", "Agency")
    if request is None:
        return agency_model.objects.none()
    return agency_model.objects.for_agency(request.user).order_by("code")


def _reachable_campaigns(request):
    if request is None:
        return Campaign.objects.none()
    return Campaign.objects.for_agency(request.user).order_by("-created_at")


def _districts(_request=None):
    return apps.get_model("agencies", "District").objects.order_by("code")


def _all_merchants(_request=None):
    return Merchant.objects.order_by("tax_id")


class DateTimeLocalInput(forms.DateTimeInput):
    """A native date-and-time picker; its value is ISO (YYYY-MM-DDTHH:MM) whatever the page language."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _yes_no():
    # "All / Yes / No" rather than Django's "Unknown / Yes / No" for a filter that may be left open.
    return forms.Select(choices=(("", _("All")), ("true", _("Yes")), ("false", _("No"))))


EXPIRY_WINDOWS = (("7", _("7 days")), ("30", _("30 days")), ("60", _("60 days")), ("90", _("90 days")))


class PurchaseFilterSet(django_filters.FilterSet):
    """Purchases by agency and funding status."""

    agency = django_filters.ModelChoiceFilter(label=_("Agency"), queryset=reachable_agencies, empty_label=_("All"))
    status = django_filters.ChoiceFilter(label=_("Status"), choices=PurchaseStatus.choices, empty_label=_("All"))

    class Meta:
        model = Purchase
        fields = ["agency", "status"]


class CampaignFilterSet(django_filters.FilterSet):
    """Campaigns by agency and status, and a search on the name."""

    q = django_filters.CharFilter(label=_("Search"), method="search")
    agency = django_filters.ModelChoiceFilter(label=_("Agency"), queryset=reachable_agencies, empty_label=_("All"))
    status = django_filters.ChoiceFilter(label=_("Status"), choices=CampaignStatus.choices, empty_label=_("All"))

    class Meta:
        model = Campaign
        fields = ["q", "agency", "status"]

    def search(self, queryset, name, value):
        """Substring of the name, after NFKC folding (full-width input matches)."""
        value = normalize(value)
        return queryset.filter(name__icontains=value) if value else queryset


class LotFilterSet(django_filters.FilterSet):
    """Lots by member, campaign, agency and expiry.

    ``expiring_before`` is an instant (exclusive); ``expiring_within`` (days) keeps the lots that still
    hold points and expire between now and that many days from now.
    """

    member = django_filters.NumberFilter(label=_("Member id"), field_name="member_id")
    card_number = django_filters.CharFilter(label=_("Card number"), field_name="member__card_number",
                                            lookup_expr="iexact")
    campaign = django_filters.ModelChoiceFilter(label=_("Campaign"), queryset=_reachable_campaigns,
                                                empty_label=_("All"))
    agency = django_filters.ModelChoiceFilter(label=_("Agency"), queryset=reachable_agencies, empty_label=_("All"))
    expiring_before = django_filters.IsoDateTimeFilter(label=_("Expiring before"), field_name="expires_at",
                                                       lookup_expr="lt", widget=DateTimeLocalInput)
    expiring_within = django_filters.ChoiceFilter(label=_("Expiring within"), choices=EXPIRY_WINDOWS,
                                                  empty_label=_("Any time"), method="within")

    class Meta:
        model = Lot
        fields = ["card_number", "member", "campaign", "agency", "expiring_before", "expiring_within"]

    def within(self, queryset, name, value):
        """Lots with points left that expire in the next ``value`` days (from now, exclusive of past)."""
        now = timezone.now()
        return queryset.filter(expires_at__gt=now, expires_at__lte=now + dt.timedelta(days=int(value)),
                               reversed_at__isnull=True, account__balance__gt=0)


class TransferFilterSet(django_filters.FilterSet):
    """Transfers by kind, agency, merchant, lot and an inclusive date range (site time zone)."""

    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=TransferKind.choices, empty_label=_("All"))
    agency = django_filters.ModelChoiceFilter(label=_("Agency"), queryset=reachable_agencies, empty_label=_("All"))
    merchant = django_filters.ModelChoiceFilter(label=_("Merchant"), queryset=_all_merchants, empty_label=_("All"))
    campaign = django_filters.ModelChoiceFilter(label=_("Campaign"), queryset=_reachable_campaigns,
                                                empty_label=_("All"))
    lot = django_filters.NumberFilter(label=_("Lot"), field_name="lot_id")
    created = django_filters.DateFromToRangeFilter(label=_("Date"), field_name="created_at",
                                                   widget=DatePickerRangeWidget)

    class Meta:
        model = Transfer
        fields = ["kind", "agency", "merchant", "campaign", "lot", "created"]


class MemberFilterSet(django_filters.FilterSet):
    """Members by card number or name, and whether they consent to notices."""

    q = django_filters.CharFilter(label=_("Search"), method="search")
    consent = django_filters.BooleanFilter(label=_("Consents to notices"), widget=_yes_no())

    class Meta:
        model = Member
        fields = ["q", "consent"]

    def search(self, queryset, name, value):
        """Card number (any case, half-width) or name substring."""
        value = normalize(value)
        if not value:
            return queryset
        return queryset.filter(Q(card_number__icontains=value) | Q(name__icontains=value))


class MerchantFilterSet(django_filters.FilterSet):
    """Merchants by status, district and points switch, and a search on name, 統一編號 and address."""

    q = django_filters.CharFilter(label=_("Search"), method="search")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=MerchantStatus.choices, empty_label=_("All"))
    district = django_filters.ModelChoiceFilter(label=_("District"), queryset=_districts, empty_label=_("All"))
    points_enabled = django_filters.BooleanFilter(label=_("Points payment enabled"), widget=_yes_no())

    class Meta:
        model = Merchant
        fields = ["q", "status", "district", "points_enabled"]

    def search(self, queryset, name, value):
        """Substring of the name, 統一編號 or address, after NFKC folding."""
        value = normalize(value)
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(tax_id__icontains=value) | Q(address__icontains=value))
