"""Points pages for the operator, agencies and auditors: overview, purchases, campaigns, lots,
transfers, members (with the wallet) and merchants.

Every page needs the ``points.view`` capability; agency-owned rows (purchases, campaigns, lots,
transfers) are read through ``for_agency(user)``, so another agency's row is a 404. Forms post with
CSRF and call one service each; a service's refusal is shown on the form (a role that may not act
gets the 403 page).

Read-side helpers live in ``citygov.points.queries``; the bulk-grant file upload in
``citygov.points.services.grants``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citygov.core.errors import Forbidden, ServiceError
from citygov.core.pages import capability_page
from citygov.core.roles import Capability
from citygov.points import filtersets
from citygov.points.models import (
    Campaign,
    CampaignStatus,
    Member,
    Merchant,
    MerchantStatus,
    Purchase,
    Terminal,
)
from citygov.points.queries import (
    campaigns_with_stats,
    lots_for,
    member_history,
    monthly_series,
    recent_ledger_health,
    scoped_figures,
    scoped_wallet,
    totals_for,
    transfers_for,
)
from citygov.points.services import ledger
from citygov.points.services.grants import BulkGrantResult, do_bulk_grant_from_file

PAGE_SIZE = 50
# Far above any real programme (NT$1 trillion), far below the database's 64-bit limit.
MAX_POINTS = 10**12
HISTORY_PAGE_SIZE = 50

# --- page plumbing ------------------------------------------------------------------------------

# Signed in (else the sign-in page) and holding ``VIEW_POINTS`` (else 403).
points_page = capability_page(Capability.VIEW_POINTS)


def can_act(user, capability: str) -> bool:
    """Whether ``user`` may use forms needing ``capability`` (read-only roles never may)."""
    return not user.is_read_only and user.has_capability(capability)


_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def _is_code(text: str) -> bool:
    # The ledger services name the failing field with a code ("required"); people get the message.
    return bool(_CODE.match(text))


def show_service_error(form: forms.Form, exc: ServiceError) -> None:
    """Put a service's refusal on the form: on the fields it names, else above the form.

    A refusal for lack of rights is a 403, not a form error.
    """
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message)
    placed = False
    for name, field_messages in exc.fields.items():
        target = name if name in form.fields else None
        for message in field_messages:
            form.add_error(target, exc.message if _is_code(str(message)) else str(message))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _page(request: HttpRequest, rows, size: int = PAGE_SIZE):
    return Paginator(rows, size).get_page(request.GET.get("page"))


def _filtered(filterset):
    # An invalid filter shows its error and no rows rather than silently ignoring the criterion.
    return filterset.qs if filterset.is_valid() else filterset.queryset.none()


class _AgencyChoiceForm(forms.Form):
    """A form with an ``agency`` field offering only the agencies the user may reach."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        agencies = filtersets.reachable_agencies(_Request(user))
        self.fields["agency"].queryset = agencies
        if agencies.count() == 1:
            self.fields["agency"].initial = agencies.first().pk


@dataclass(frozen=True)
class _Request:
    user: object


# --- overview -----------------------------------------------------------------------------------

@points_page
def overview(request: HttpRequest) -> HttpResponse:
    """Programme overview: totals, ledger health, the agency identity per agency and a monthly chart."""
    user = request.user
    figures = scoped_figures(user)
    names = {agency.pk: agency for agency in filtersets.reachable_agencies(request)}
    rows = [(names.get(f.agency_id), f) for f in figures if f.agency_id in names]
    health, checked_at = recent_ledger_health()
    context = {
        "checked_at": checked_at,
        "totals": totals_for(user, figures),
        "rows": rows,
        "health": health,
        "show_problems": user.visible_agency_ids() is None,
        "chart": json.dumps(monthly_series(user)),
        "has_purchases": Purchase.objects.for_agency(user).exists(),
    }
    return render(request, "points/overview.html", context)


# --- purchases ----------------------------------------------------------------------------------

class PurchaseForm(_AgencyChoiceForm):
    """A new purchase order of points for an agency."""

    agency = forms.ModelChoiceField(label=gettext_lazy("Agency"), queryset=None)
    reference = forms.CharField(label=gettext_lazy("Purchase reference"), max_length=60)
    points = forms.IntegerField(label=gettext_lazy("Points"), min_value=1, max_value=MAX_POINTS)


class ConfirmDepositForm(forms.Form):
    """The bank reference of the trust deposit that funds a purchase."""

    bank_reference = forms.CharField(label=gettext_lazy("Bank reference"), max_length=60)


def _purchase_page(request: HttpRequest, *, form=None, confirm: tuple[int, forms.Form] | None = None,
                   status: int = 200) -> HttpResponse:
    user = request.user
    filterset = filtersets.PurchaseFilterSet(request.GET, queryset=Purchase.objects.for_agency(user)
                                             .select_related("agency").order_by("-created_at", "-id"),
                                             request=request)
    page = _page(request, _filtered(filterset))
    can_create = can_act(user, Capability.MANAGE_CAMPAIGNS)
    context = {
        "filterset": filterset,
        "page": page,
        "form": form or (PurchaseForm(user=user) if can_create else None),
        "can_confirm": can_act(user, Capability.CONFIRM_DEPOSITS),
        "confirm_id": confirm[0] if confirm else None,
        "confirm_form": confirm[1] if confirm else ConfirmDepositForm(),
    }
    return render(request, "points/purchase_list.html", context, status=status)


@points_page
def purchase_list(request: HttpRequest) -> HttpResponse:
    """Purchases of the reachable agencies; POST creates one (agency staff who manage campaigns)."""
    if request.method != "POST":
        return _purchase_page(request)
    form = PurchaseForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            purchase = ledger.do_create_purchase(request.user, agency_id=form.cleaned_data["agency"].pk,
                                                 reference=form.cleaned_data["reference"],
                                                 points=form.cleaned_data["points"])
        except ServiceError as exc:
            show_service_error(form, exc)
        else:
            messages.success(request, _("Purchase {reference} recorded: unfunded until the trust deposit is "
                                        "confirmed.").format(reference=purchase.reference))
            return redirect("points:purchase_list")
    return _purchase_page(request, form=form)


@points_page
@require_POST
def purchase_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm a purchase's trust deposit with the bank reference (the operator)."""
    purchase = get_object_or_404(Purchase.objects.for_agency(request.user), pk=pk)
    form = ConfirmDepositForm(request.POST)
    if form.is_valid():
        try:
            ledger.do_confirm_deposit(request.user, purchase.pk, bank_reference=form.cleaned_data["bank_reference"])
        except ServiceError as exc:
            show_service_error(form, exc)
        else:
            messages.success(request, _("Deposit confirmed: {reference} is funded.").format(
                reference=purchase.reference))
            return redirect("points:purchase_list")
    return _purchase_page(request, confirm=(purchase.pk, form))


# --- campaigns ----------------------------------------------------------------------------------

class CampaignForm(_AgencyChoiceForm):
    """A new (draft) campaign."""

    agency = forms.ModelChoiceField(label=gettext_lazy("Agency"), queryset=None)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    budget = forms.IntegerField(label=gettext_lazy("Budget (points)"), min_value=1, max_value=MAX_POINTS)
    grant_points = forms.IntegerField(label=gettext_lazy("Points per grant"), min_value=1, max_value=MAX_POINTS)
    per_member_limit = forms.IntegerField(label=gettext_lazy("Points per member (limit)"), min_value=1,
                                          max_value=MAX_POINTS)
    claim_start = forms.DateTimeField(label=gettext_lazy("Claims open"), widget=filtersets.DateTimeLocalInput)
    claim_end = forms.DateTimeField(label=gettext_lazy("Claims close"), widget=filtersets.DateTimeLocalInput)
    lot_validity_days = forms.IntegerField(label=gettext_lazy("Points valid for (days)"), min_value=1,
                                           max_value=3660, initial=365)


class GrantForm(forms.Form):
    """One grant: the member's card number."""

    card_number = forms.CharField(label=gettext_lazy("Card number"), max_length=32)


class BulkGrantForm(forms.Form):
    """A CSV of card numbers to grant to."""

    file = forms.FileField(label=gettext_lazy("CSV file of card numbers"))


@points_page
def campaign_list(request: HttpRequest) -> HttpResponse:
    """Campaigns of the reachable agencies with budget, issued and remaining; POST creates a draft."""
    user = request.user
    can_create = can_act(user, Capability.MANAGE_CAMPAIGNS)
    form = CampaignForm(user=user) if can_create else None
    if request.method == "POST":
        form = CampaignForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = ledger.do_create_campaign(user, ledger.CampaignInput(
                    agency_id=data["agency"].pk, name=data["name"], budget=data["budget"],
                    grant_points=data["grant_points"], per_member_limit=data["per_member_limit"],
                    claim_start=data["claim_start"], claim_end=data["claim_end"],
                    lot_validity_days=data["lot_validity_days"]))
            except ServiceError as exc:
                show_service_error(form, exc)
            else:
                messages.success(request, _("Campaign created as a draft; approve it to reserve its budget."))
                return redirect("points:campaign_detail", pk=campaign.pk)
    filterset = filtersets.CampaignFilterSet(request.GET, queryset=campaigns_with_stats(
        Campaign.objects.for_agency(user)).order_by("-created_at", "-id"), request=request)
    return render(request, "points/campaign_list.html",
                  {"filterset": filterset, "page": _page(request, _filtered(filterset)), "form": form})


def _campaign_page(request: HttpRequest, campaign_id: int, *, grant_form=None, bulk_form=None, action_error="",
                   bulk_result: BulkGrantResult | None = None) -> HttpResponse:
    user = request.user
    campaign = get_object_or_404(campaigns_with_stats(Campaign.objects.for_agency(user)), pk=campaign_id)
    now = timezone.now()
    can_manage = can_act(user, Capability.MANAGE_CAMPAIGNS)
    can_issue = can_act(user, Capability.ISSUE_POINTS) and campaign.status == CampaignStatus.APPROVED
    context = {
        "campaign": campaign,
        "claim_open": campaign.claim_start <= now < campaign.claim_end,
        "can_approve": can_manage and campaign.status == CampaignStatus.DRAFT,
        "can_close": can_manage and campaign.status != CampaignStatus.CLOSED,
        "can_issue": can_issue,
        "grant_form": grant_form or GrantForm(),
        "bulk_form": bulk_form or BulkGrantForm(),
        "bulk_result": bulk_result,
        "action_error": action_error,
        "recent_lots": lots_for(user).filter(campaign=campaign).order_by("-created_at", "-id")[:20],
        "member_count": campaign.lots.values("member_id").distinct().count(),
    }
    return render(request, "points/campaign_detail.html", context)


@points_page
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One campaign: budget, issued, remaining, claim window, actions and the grant forms."""
    return _campaign_page(request, pk)


CAMPAIGN_ACTIONS = {
    "approve": (ledger.do_approve_campaign, gettext_lazy("Campaign approved: its budget is reserved.")),
    "close": (ledger.do_close_campaign, gettext_lazy("Campaign closed: the unissued budget went back to the agency.")),
}


@points_page
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Approve or close a campaign; a refusal is shown on the campaign page."""
    if action not in CAMPAIGN_ACTIONS:
        raise Http404
    campaign = get_object_or_404(Campaign.objects.for_agency(request.user), pk=pk)
    service, done = CAMPAIGN_ACTIONS[action]
    try:
        service(request.user, campaign.pk)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except ServiceError as exc:
        return _campaign_page(request, campaign.pk, action_error=exc.message)
    messages.success(request, str(done))
    return redirect("points:campaign_detail", pk=campaign.pk)


@points_page
@require_POST
def campaign_grant(request: HttpRequest, pk: int) -> HttpResponse:
    """Grant the campaign's points to one member by card number."""
    campaign = get_object_or_404(Campaign.objects.for_agency(request.user), pk=pk)
    form = GrantForm(request.POST)
    if form.is_valid():
        try:
            lot = ledger.do_grant(request.user, campaign.pk, form.cleaned_data["card_number"])
        except ServiceError as exc:
            show_service_error(form, exc)
        else:
            messages.success(request, _("Granted {points} points to card {card}.").format(
                points=lot.points, card=lot.member.card_number))
            return redirect("points:campaign_detail", pk=campaign.pk)
    return _campaign_page(request, campaign.pk, grant_form=form)


@points_page
@require_POST
def campaign_bulk_grant(request: HttpRequest, pk: int) -> HttpResponse:
    """Grant to every card number of an uploaded CSV and show the report, line by line."""
    campaign = get_object_or_404(Campaign.objects.for_agency(request.user), pk=pk)
    form = BulkGrantForm(request.POST, request.FILES)
    result = None
    if form.is_valid():
        try:
            result = do_bulk_grant_from_file(request.user, campaign.pk, form.cleaned_data["file"])
        except ServiceError as exc:
            show_service_error(form, exc)
    return _campaign_page(request, campaign.pk, bulk_form=form, bulk_result=result)


# --- lots and transfers -------------------------------------------------------------------------

@points_page
def lot_list(request: HttpRequest) -> HttpResponse:
    """Lots with what they still hold and when they expire, earliest expiry first."""
    filterset = filtersets.LotFilterSet(request.GET, queryset=lots_for(request.user).order_by("expires_at", "id"),
                                        request=request)
    return render(request, "points/lot_list.html",
                  {"filterset": filterset, "page": _page(request, _filtered(filterset)), "now": timezone.now()})


@points_page
def transfer_list(request: HttpRequest) -> HttpResponse:
    """Ledger transfers, newest first, filterable by kind, agency, merchant, campaign, lot and date."""
    filterset = filtersets.TransferFilterSet(request.GET, queryset=transfers_for(request.user), request=request)
    return render(request, "points/transfer_list.html",
                  {"filterset": filterset, "page": _page(request, _filtered(filterset))})


# --- members ------------------------------------------------------------------------------------

class MemberForm(forms.Form):
    """A new member (citizen-card holder). The national ID is hashed by the service, never stored."""

    card_number = forms.CharField(label=gettext_lazy("Card number"), max_length=32)
    national_id = forms.CharField(label=gettext_lazy("National ID (optional, stored only as a keyed hash)"),
                                  max_length=20, required=False,
                                  widget=forms.TextInput(attrs={"autocomplete": "off"}))
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, required=False)
    phone = forms.CharField(label=gettext_lazy("Mobile phone"), max_length=20, required=False)
    email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)
    consent = forms.BooleanField(label=gettext_lazy("Consents to notices"), required=False)


@points_page
def member_list(request: HttpRequest) -> HttpResponse:
    """Members of the programme (card holders); POST registers one (the operator)."""
    from citygov.points.services import members as member_services

    user = request.user
    form = MemberForm() if can_act(user, Capability.MANAGE_MEMBERS) else None
    if request.method == "POST":
        form = MemberForm(request.POST)
        if form.is_valid():
            try:
                member = member_services.do_register_member(user, member_services.MemberInput(**form.cleaned_data))
            except ServiceError as exc:
                show_service_error(form, exc)
            else:
                messages.success(request, _("Member {card} registered.").format(card=member.card_number))
                return redirect("points:member_detail", pk=member.pk)
    filterset = filtersets.MemberFilterSet(request.GET, queryset=Member.objects.order_by("card_number"),
                                           request=request)
    return render(request, "points/member_list.html",
                  {"filterset": filterset, "page": _page(request, _filtered(filterset)), "form": form})


@points_page
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One member: card, contact, consent and a summary of the wallet."""
    member = get_object_or_404(Member, pk=pk)
    return render(request, "points/member_detail.html",
                  {"member": member, "wallet": scoped_wallet(request.user, member)})


@points_page
def member_wallet(request: HttpRequest, pk: int) -> HttpResponse:
    """A member's wallet: spendable and held points, lots (earliest expiry first) and their history."""
    member = get_object_or_404(Member, pk=pk)
    return render(request, "points/member_wallet.html", {
        "member": member,
        "wallet": scoped_wallet(request.user, member),
        "history": _page(request, member_history(request.user, member), HISTORY_PAGE_SIZE),
    })


# --- merchants ----------------------------------------------------------------------------------

@points_page
def merchant_list(request: HttpRequest) -> HttpResponse:
    """Merchants by status and district, with whether points payment is enabled."""
    merchants = Merchant.objects.select_related("district").order_by("tax_id")
    filterset = filtersets.MerchantFilterSet(request.GET, queryset=merchants, request=request)
    rows = _filtered(filterset)
    summary = rows.aggregate(total=Count("id"), enabled=Count("id", filter=Q(points_enabled=True)),
                             active=Count("id", filter=Q(status=MerchantStatus.ACTIVE)),
                             active_enabled=Count("id", filter=Q(status=MerchantStatus.ACTIVE, points_enabled=True)))
    share = round(100 * summary["active_enabled"] / summary["active"], 1) if summary["active"] else None
    return render(request, "points/merchant_list.html",
                  {"filterset": filterset, "page": _page(request, rows), "summary": summary, "share": share})


MERCHANT_ACTIONS = {
    "approve": ("do_approve_merchant", gettext_lazy("Merchant approved: it is active.")),
    "suspend": ("do_suspend_merchant", gettext_lazy("Merchant suspended: its open holds were voided.")),
    "reinstate": ("do_reinstate_merchant", gettext_lazy("Merchant reinstated.")),
    "close": ("do_close_merchant", gettext_lazy("Merchant closed.")),
    "not-renewed": ("do_mark_not_renewed", gettext_lazy("Merchant marked as not renewed.")),
    "enable-points": ("do_set_points_enabled", gettext_lazy("Points payment enabled.")),
    "disable-points": ("do_set_points_enabled", gettext_lazy("Points payment disabled.")),
}
# Which lifecycle buttons a merchant in each status shows.
MERCHANT_BUTTONS = {
    MerchantStatus.APPLIED: ("approve",),
    MerchantStatus.ACTIVE: ("suspend", "close", "not-renewed"),
    MerchantStatus.SUSPENDED: ("reinstate", "close", "not-renewed"),
}


def _merchant_page(request: HttpRequest, pk: int, *, action_error: str = "") -> HttpResponse:
    merchant = get_object_or_404(Merchant.objects.select_related("district"), pk=pk)
    can_manage = can_act(request.user, Capability.MANAGE_MERCHANTS)
    buttons = list(MERCHANT_BUTTONS.get(merchant.status, ())) if can_manage else []
    if can_manage and merchant.status not in (MerchantStatus.CLOSED, MerchantStatus.NOT_RENEWED):
        buttons.append("disable-points" if merchant.points_enabled else "enable-points")
    labels = {"approve": _("Approve"), "suspend": _("Suspend"), "reinstate": _("Reinstate"), "close": _("Close"),
              "not-renewed": _("Mark not renewed"), "enable-points": _("Enable points payment"),
              "disable-points": _("Disable points payment")}
    return render(request, "points/merchant_detail.html", {
        "merchant": merchant,
        "terminals": Terminal.objects.filter(merchant=merchant).order_by("terminal_id"),
        "buttons": [(name, labels[name]) for name in buttons],
        "action_error": action_error,
        "redemptions": merchant.redemptions.count(),
        "points_redeemed": merchant.redemptions.aggregate(t=Sum("amount"))["t"] or 0,
    })


@points_page
def merchant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One merchant: contract, district, terminals and (for the operator) its lifecycle buttons."""
    return _merchant_page(request, pk)


@points_page
@require_POST
def merchant_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Move a merchant through its lifecycle or switch points payment; a refusal shows on its page."""
    from citygov.points.services import merchants as merchant_services

    if action not in MERCHANT_ACTIONS:
        raise Http404
    merchant = get_object_or_404(Merchant, pk=pk)
    name, done = MERCHANT_ACTIONS[action]
    service = getattr(merchant_services, name)
    try:
        if action in ("enable-points", "disable-points"):
            service(request.user, merchant.pk, action == "enable-points")
        else:
            service(request.user, merchant.pk)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except ServiceError as exc:
        return _merchant_page(request, merchant.pk, action_error=exc.message)
    messages.success(request, str(done))
    return redirect(reverse("points:merchant_detail", args=[merchant.pk]))

