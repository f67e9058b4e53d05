"""Points pages for the operator, agencies and auditors: overview, purchases, campaigns, lots,
transfers, members (with the wallet) and merchants.

Every page needs the ``points.view`` capability; agency-owned rows (purchases, campaigns, lots,
transfers) are read through ``for_agency(user)``, so another agency's row is a 404. Forms post with
CSRF and call one service each; a service's refusal is shown on the form (a role that may not act
gets the 403 page).

The read-side helpers at the top are shared with the REST API and the dashboard tiles.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citygov.core.errors import Forbidden, InvalidInput, ServiceError
from citygov.core.roles import Capability
from citygov.points import filtersets
from citygov.points.models import (
    Campaign,
    CampaignStatus,
    HoldAllocation,
    HoldStatus,
    Lot,
    Member,
    Merchant,
    MerchantStatus,
    Purchase,
    Terminal,
    Transfer,
    TransferKind,
)
from citygov.points.queries import AgencyFigures, LedgerHealth, Wallet, agency_figures, check_ledger, wallet
from citygov.points.services import ledger

PAGE_SIZE = 50
# Far above any real programme (NT$1 trillion), far below the database's 64-bit limit.
MAX_POINTS = 10**12
HISTORY_PAGE_SIZE = 50
CHART_MONTHS = 12

# --- read-side helpers (shared with the API and the dashboard) ----------------------------------

TK = TransferKind
SPENT_KINDS = (TK.REDEEM, TK.CAPTURE)
REFUND_KINDS = (TK.REFUND, TK.REFUND_EXPIRED, TK.REFUND_TO_CAMPAIGN)
EXPIRED_KINDS = (TK.EXPIRE, TK.RELEASE_EXPIRED, TK.REFUND_EXPIRED)


LEDGER_HEALTH_CACHE_KEY = "points:ledger-health"
# Pages and tiles reuse one ledger check this long (it rebuilds every balance); the API runs it live.
LEDGER_HEALTH_CACHE_SECONDS = 60


def recent_ledger_health() -> tuple[LedgerHealth, dt.datetime]:
    """The ledger check's result and when it ran, at most ``LEDGER_HEALTH_CACHE_SECONDS`` old."""
    cached = cache.get(LEDGER_HEALTH_CACHE_KEY)
    if cached is None:
        cached = (check_ledger(), timezone.now())
        cache.set(LEDGER_HEALTH_CACHE_KEY, cached, LEDGER_HEALTH_CACHE_SECONDS)
    return cached


def scoped_figures(user) -> list[AgencyFigures]:
    """The agency identity's terms for each agency ``user`` may reach, by agency id."""
    ids = user.visible_agency_ids()
    return [f for f in agency_figures() if ids is None or f.agency_id in ids]


@dataclass(frozen=True)
class Totals:
    """Programme totals over the agencies a user may reach (points).

    ``spent`` is net of refunds (merchant payables, unsettled and settled); ``issued`` is every
    grant ever made, reversed ones included.
    """

    purchased: int = 0
    unfunded: int = 0
    funded_unreserved: int = 0
    campaign_unissued: int = 0
    issued: int = 0
    available: int = 0
    held: int = 0
    spent: int = 0
    expired: int = 0

    @property
    def outstanding(self) -> int:
        """Points members still have: available in their lots plus held by terminals."""
        return self.available + self.held


def totals_for(user, figures: list[AgencyFigures] | None = None) -> Totals:
    """The programme totals ``user`` may see."""
    figures = scoped_figures(user) if figures is None else figures
    issued = Transfer.objects.for_agency(user).filter(kind=TK.GRANT).aggregate(t=Sum("amount"))["t"] or 0
    return Totals(
        purchased=sum(f.purchased for f in figures),
        unfunded=sum(f.unfunded for f in figures),
        funded_unreserved=sum(f.funded_unreserved for f in figures),
        campaign_unissued=sum(f.campaign_unissued for f in figures),
        issued=issued,
        available=sum(f.member_available for f in figures),
        held=sum(f.held for f in figures),
        spent=sum(f.merchant_unsettled + f.settled for f in figures),
        expired=sum(f.expired for f in figures),
    )


def month_start(moment: dt.datetime, back: int = 0) -> dt.datetime:
    """Midnight of the first day of the month ``back`` months before ``moment``'s (site time zone)."""
    local = timezone.localtime(moment)
    index = local.year * 12 + local.month - 1 - back
    return local.replace(year=index // 12, month=index % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)


def monthly_series(user, *, months: int = CHART_MONTHS, now: dt.datetime | None = None) -> dict:
    """Points issued, spent (net of refunds) and expired per calendar month, oldest first."""
    now = now or timezone.now()
    start = month_start(now, months - 1)
    labels = [month_start(now, back).strftime("%Y-%m") for back in range(months - 1, -1, -1)]
    series = {name: dict.fromkeys(labels, 0) for name in ("issued", "spent", "expired")}
    rows = (Transfer.objects.for_agency(user).filter(created_at__gte=start)
            .filter(kind__in=(TK.GRANT, *SPENT_KINDS, *REFUND_KINDS, *EXPIRED_KINDS))
            .annotate(month=TruncMonth("created_at")).order_by().values("month", "kind").annotate(t=Sum("amount")))
    for row in rows:
        label = timezone.localtime(row["month"]).strftime("%Y-%m") if timezone.is_aware(row["month"]) \
            else row["month"].strftime("%Y-%m")
        if label not in series["issued"]:
            continue
        kind, amount = row["kind"], row["t"] or 0
        if kind == TK.GRANT:
            series["issued"][label] += amount
        if kind in SPENT_KINDS:
            series["spent"][label] += amount
        if kind in REFUND_KINDS:
            series["spent"][label] -= amount
        if kind in EXPIRED_KINDS:
            series["expired"][label] += amount
    return {"months": labels, **{name: list(values.values()) for name, values in series.items()}}


def issued_between(user, start: dt.datetime, end: dt.datetime) -> int:
    """Points granted in [start, end) within ``user``'s agencies."""
    return Transfer.objects.for_agency(user).filter(kind=TK.GRANT, created_at__gte=start, created_at__lt=end) \
        .aggregate(t=Sum("amount"))["t"] or 0


def campaigns_with_stats(queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """Campaigns annotated with ``issued`` (points granted), ``lot_count`` and ``unissued`` (budget left)."""
    return queryset.select_related("agency", "account").annotate(
        issued=Coalesce(Sum("lots__points"), 0), lot_count=Count("lots"),
        unissued=Coalesce(F("account__balance"), 0))


def lots_for(user) -> QuerySet[Lot]:
    """Lots ``user`` may reach, with what they still hold (``remaining``)."""
    return Lot.objects.for_agency(user).select_related("member", "campaign", "agency", "account") \
        .annotate(remaining=F("account__balance"))


def transfers_for(user) -> QuerySet[Transfer]:
    """Transfers ``user`` may reach, newest first, with their accounts and references loaded."""
    return Transfer.objects.for_agency(user).select_related(
        "debit", "credit", "agency", "campaign", "lot__member", "merchant").order_by("-created_at", "-id")


def scoped_wallet(user, member: Member, *, now: dt.datetime | None = None) -> Wallet:
    """The member's wallet as ``user`` may see it: agency users see only their agencies' lots and the
    points held from them; city-wide users see everything."""
    full = wallet(member, now=now)
    if user.visible_agency_ids() is None:
        return full
    visible = set(Lot.objects.for_agency(user).filter(member=member).values_list("pk", flat=True))
    lots = tuple(lot for lot in full.lots if lot.lot_id in visible)
    held = HoldAllocation.objects.filter(hold__member=member, hold__status=HoldStatus.OPEN, lot_id__in=visible) \
        .aggregate(t=Sum("amount"))["t"] or 0
    return Wallet(full.card_number, sum(lot.remaining for lot in lots if lot.spendable), held, lots)


def member_history(user, member: Member) -> QuerySet[Transfer]:
    """Transfers touching the member's lots (that ``user`` may reach), newest first."""
    return transfers_for(user).filter(lot__member=member)


# --- bulk-grant files ---------------------------------------------------------------------------

CARD_COLUMN = "card_number"


@dataclass(frozen=True)
class RefusedLine:
    """One card of a bulk-grant file that got no lot: its physical line, the card and why."""

    line: int
    card_number: str
    reason: str


@dataclass(frozen=True)
class BulkGrantResult:
    """What a bulk grant did: cards read, lots granted, points granted and each refused line."""

    lines: int
    granted: int
    points: int
    refused: tuple[RefusedLine, ...]


def read_card_numbers(upload) -> list[tuple[int, str]]:
    """(physical line, card number) for each card in an uploaded CSV (UTF-8 or Big5).

    The file is one card number per line, or a CSV whose header has a ``card_number`` column (other
    columns are ignored). Blank lines are skipped; line numbers count every physical line.
    """
    raw = upload.read()
    for encoding in ("utf-8-sig", "cp950"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput(_("The file is neither UTF-8 nor Big5 text."), code="unreadable_file",
                           fields={"file": [_("The file is neither UTF-8 nor Big5 text.")]})
    reader = csv.reader(io.StringIO(text, newline=""))
    cards: list[tuple[int, str]] = []
    column: int | None = None
    first = True
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if first:
                first = False
                header = [cell.strip().lower() for cell in cells]
                if CARD_COLUMN in header:
                    column = header.index(CARD_COLUMN)
                    continue
            index = column if column is not None else 0
            cards.append((start, cells[index].strip() if index < len(cells) else ""))
    except csv.Error as exc:
        message = _("The file is not valid CSV near line {line}: {reason}").format(line=line, reason=exc)
        raise InvalidInput(message, code="unreadable_file", fields={"file": [message]}) from None
    return cards


def bulk_grant_from_file(actor, campaign_id: int, upload) -> BulkGrantResult:
    """Read the card numbers of an uploaded file and grant through ``do_bulk_grant``, reporting by line."""
    cards = read_card_numbers(upload)
    if not cards:
        raise InvalidInput(_("The file holds no card numbers."), code="empty_file",
                           fields={"file": [_("The file holds no card numbers.")]})
    report = ledger.do_bulk_grant(actor, campaign_id, [card for _line, card in cards])
    refused = tuple(RefusedLine(cards[index - 1][0], card, reason) for index, card, reason in report.refused)
    return BulkGrantResult(lines=len(cards), granted=report.granted, points=report.points, refused=refused)


# --- page plumbing ------------------------------------------------------------------------------

def points_page(view):
    """Signed in (else the sign-in page) and holding ``points.view`` (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.has_capability(Capability.VIEW_POINTS):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


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
            result = bulk_grant_from_file(request.user, campaign.pk, form.cleaned_data["file"])
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

