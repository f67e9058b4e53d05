"""Settlement pages: batches, a batch's positions and instruction files, and the trust exception queue.

Reading needs ``points.settlement`` (the operator, auditors, city administrators): the pages show
merchants' bank accounts, so agencies do not see them. Acting (building, signing, assigning and
resolving exceptions) needs ``points.settle``; every action posts with CSRF to one service.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citygov.core.errors import ServiceError
from citygov.core.pages import capability_page
from citygov.core.roles import Capability
from citygov.points.models import SettlementBatch, SettlementPosition, TrustException, TrustExceptionStatus
from citygov.points.services import settlement

PAGE_SIZE = 50
DOWNLOADS = {
    "json": ("application/json", ".json"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "pdf": ("application/pdf", ".pdf"),
    "sig": ("text/plain; charset=us-ascii", ".sig"),
}


# Signed in (else the sign-in page) and holding ``VIEW_SETTLEMENT`` (else 403).
settlement_page = capability_page(Capability.VIEW_SETTLEMENT)


def _batch(batch_id: str) -> SettlementBatch:
    batch = SettlementBatch.objects.filter(batch_id=batch_id).first()
    if batch is None:
        raise Http404(_("No such batch."))
    return batch


@settlement_page
def batch_list(request: HttpRequest) -> HttpResponse:
    """Every batch, newest first, with what it pays and whether the bank has confirmed it."""
    page = Paginator(SettlementBatch.objects.order_by("-business_day"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "points/settlement/batch_list.html", {
        "page": page,
        "open_exceptions": TrustException.objects.filter(status=TrustExceptionStatus.OPEN).count(),
        "can_settle": request.user.has_capability(Capability.SETTLE_POINTS),
    })


@require_POST
@settlement_page
def build_due(request: HttpRequest) -> HttpResponse:
    """Build every batch that is due now (what the 00:05 job does)."""
    try:
        result = settlement.do_build_due_batches_for(request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if result.built:
            messages.success(request, _("Built {batches}.").format(batches=", ".join(b.batch_id for b in result.built)))
        else:
            messages.info(request, _("Every batch that is due is already built."))
    return redirect("points:settlement")


@settlement_page
def batch_detail(request: HttpRequest, batch_id: str) -> HttpResponse:
    """A batch: its lines (what the trust bank is told to pay) and every other merchant position."""
    batch = _batch(batch_id)
    positions = SettlementPosition.objects.filter(batch=batch).select_related("merchant").order_by(
        "merchant__tax_id")
    return render(request, "points/settlement/batch_detail.html", {
        "batch": batch,
        "lines": [p for p in positions if p.amount > 0],
        "others": [p for p in positions if p.amount == 0],
        "exceptions": batch.exceptions.order_by("-created_at"),
        "can_settle": request.user.has_capability(Capability.SETTLE_POINTS),
    })


@settlement_page
def batch_download(request: HttpRequest, batch_id: str, fmt: str) -> HttpResponse:
    """The instruction as JSON (exactly as signed), CSV, PDF, or the detached signature."""
    if fmt not in DOWNLOADS:
        raise Http404
    batch = _batch(batch_id)
    try:
        files = settlement.instruction_files(batch, with_pdf=fmt == "pdf")
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("points:settlement_batch", batch_id=batch.batch_id)
    data = {"json": files.json, "csv": files.csv, "pdf": files.pdf, "sig": files.signature}[fmt]
    if data is None:
        raise Http404(_("This batch is not signed yet."))
    content_type, suffix = DOWNLOADS[fmt]
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{batch.batch_id}{suffix}"'
    return response


@require_POST
@settlement_page
def batch_sign(request: HttpRequest, batch_id: str) -> HttpResponse:
    """Sign a batch built while no key was configured."""
    try:
        batch = settlement.do_sign_batch(request.user, _batch(batch_id).batch_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("{batch} signed.").format(batch=batch.batch_id))
    return redirect("points:settlement_batch", batch_id=batch_id)


class ResolveForm(forms.Form):
    """How an exception was resolved (required, kept with the exception and in the change log)."""

    resolution = forms.CharField(label=gettext_lazy("Resolution notes"), min_length=5, max_length=4000,
                                 widget=forms.Textarea(attrs={"rows": 3}))


class AssignForm(forms.Form):
    """Who owns an exception."""

    owner = forms.CharField(label=gettext_lazy("Owner (user name)"), max_length=150)


@settlement_page
def exception_list(request: HttpRequest) -> HttpResponse:
    """The trust exception queue: open first, each with its owner and resolution notes."""
    status = request.GET.get("status", TrustExceptionStatus.OPEN)
    rows = TrustException.objects.select_related("merchant", "batch", "owner", "resolved_by")
    if status in TrustExceptionStatus.values:
        rows = rows.filter(status=status)
    page = Paginator(rows.order_by("-created_at"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "points/settlement/exception_list.html", {
        "page": page, "status": status, "statuses": TrustExceptionStatus.choices,
        "can_settle": request.user.has_capability(Capability.SETTLE_POINTS),
        "resolve_form": ResolveForm(), "assign_form": AssignForm(),
    })


@require_POST
@settlement_page
def exception_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Assign or resolve one exception."""
    back = reverse("points:settlement_exceptions")
    try:
        if action == "resolve":
            form = ResolveForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Write down how the exception was resolved (at least 5 characters)."))
                return redirect(back)
            settlement.do_resolve_exception(request.user, pk, form.cleaned_data["resolution"])
            messages.success(request, _("Exception resolved."))
        elif action == "assign":
            form = AssignForm(request.POST)
            owner = get_user_model().objects.filter(
                username=form.data.get("owner", "").strip(), is_active=True).first()
            settlement.do_assign_exception(request.user, pk, owner)
            messages.success(request, _("Owner set."))
        else:
            raise Http404
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(back)


# --- fees ----------------------------------------------------------------------------------------

class ContractForm(forms.Form):
    """The fee terms of a contract year."""

    royalty = forms.IntegerField(label=gettext_lazy("Royalty (NT$ per year)"), min_value=0)
    feedback_rate = forms.DecimalField(label=gettext_lazy("Feedback fee rate (e.g. 0.05)"), min_value=0, max_value=1,
                                       decimal_places=4)
    threshold = forms.IntegerField(label=gettext_lazy("Income threshold (NT$)"), min_value=0)


class IncomeForm(forms.Form):
    """A month's operating income (a restatement when the month already has one)."""

    month = forms.IntegerField(label=gettext_lazy("Month"), min_value=1, max_value=12)
    income = forms.IntegerField(label=gettext_lazy("Operating income (NT$)"), min_value=0)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=300, required=False)


def _year(request: HttpRequest) -> int:
    from django.utils import timezone

    try:
        year = int(request.GET.get("year") or request.POST.get("year") or timezone.localdate().year)
    except ValueError:
        raise Http404 from None
    if not 2000 <= year <= 2200:
        raise Http404
    return year


@settlement_page
def fee_page(request: HttpRequest) -> HttpResponse:
    """A year's royalty and feedback fee: terms, monthly income, the schedule and the bills."""
    from citygov.points.services import fees

    year = _year(request)
    can_settle = request.user.has_capability(Capability.SETTLE_POINTS)
    contract_form, income_form = ContractForm(prefix="contract"), IncomeForm(prefix="income")
    if request.method == "POST":
        if not can_settle:
            raise PermissionDenied
        try:
            if "contract-royalty" in request.POST:
                contract_form = ContractForm(request.POST, prefix="contract")
                if contract_form.is_valid():
                    fees.do_set_fee_contract(request.user, year=year, **contract_form.cleaned_data)
                    messages.success(request, _("Fee terms saved."))
                    return redirect(f"{reverse('points:fees')}?year={year}")
            else:
                income_form = IncomeForm(request.POST, prefix="income")
                if income_form.is_valid():
                    fees.do_enter_income(request.user, year=year, **income_form.cleaned_data)
                    messages.success(request, _("Income saved; the feedback fee is recomputed."))
                    return redirect(f"{reverse('points:fees')}?year={year}")
        except ServiceError as exc:
            messages.error(request, exc.message)
    statement = fees.fee_statement(year)
    if statement is not None and not contract_form.is_bound:
        contract_form = ContractForm(prefix="contract", initial={
            "royalty": statement.contract.royalty, "feedback_rate": statement.contract.feedback_rate,
            "threshold": statement.contract.threshold})
    return render(request, "points/settlement/fees.html", {
        "year": year, "statement": statement, "contract_form": contract_form, "income_form": income_form,
        "can_settle": can_settle,
    })


# --- statements ----------------------------------------------------------------------------------

MAX_STATEMENT_BYTES = 20 * 1024 * 1024


class StatementForm(forms.Form):
    """A trust-account statement file, and a column mapping when it is not in the documented format."""

    file = forms.FileField(label=gettext_lazy("Statement (CSV)"))
    mapping = forms.CharField(label=gettext_lazy("Column mapping (optional)"), max_length=1000, required=False)


@require_POST
@settlement_page
def statement_import(request: HttpRequest) -> HttpResponse:
    """Import and reconcile a statement; bad rows are listed by line, good rows imported."""
    from citygov.points.engine import statement as statement_engine
    from citygov.points.services import reconciliation

    form = StatementForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a statement file."))
        return redirect("points:settlement")
    upload = form.cleaned_data["file"]
    if upload.size > MAX_STATEMENT_BYTES:
        messages.error(request, _("The file is larger than 20 MB."))
        return redirect("points:settlement")
    try:
        mapping = statement_engine.parse_mapping(form.cleaned_data["mapping"]) if form.cleaned_data["mapping"] \
            else None
        report = reconciliation.do_import_statement(request.user, upload, file_name=upload.name, mapping=mapping)
    except ValueError as exc:
        messages.error(request, str(exc))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Statement {statement}: {new} new lines ({already} already imported), {payouts} "
                                    "payouts, {refunds} refunds to agencies and {deposits} deposits matched, "
                                    "{exceptions} exceptions.").format(
            statement=report.statement_id or "-", new=report.new, already=report.already_imported,
            payouts=report.matched_payouts, refunds=report.matched_refunds, deposits=report.matched_deposits,
            exceptions=report.exceptions))
        for error in report.errors[:20]:
            messages.error(request, _("Line {line}: {message}").format(line=error.line_number,
                                                                        message=error.message_zh))
    return redirect("points:settlement")


# --- the monthly report pack ---------------------------------------------------------------------

PACK_DOWNLOADS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _pack(month: str | None):
    from django.utils import timezone

    from citygov.points.services import report_pack

    if not month:
        today = timezone.localdate()
        first = today.replace(day=1)
        # Default: the last month that is over.
        last_month = first - dt.timedelta(days=1)
        month = f"{last_month:%Y-%m}"
    year, month_number = report_pack.parse_month(month)
    return report_pack.month_pack(year, month_number)


@settlement_page
def month_pack(request: HttpRequest) -> HttpResponse:
    """A month's report pack on screen (points, ledger roll-forward, trust, payouts, exceptions, fees)
    with the PDF and XLSX to download."""
    try:
        pack = _pack(request.GET.get("month"))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("points:month_pack")
    return render(request, "points/settlement/month_pack.html", {"pack": pack})


@settlement_page
def month_pack_download(request: HttpRequest, month: str, fmt: str) -> HttpResponse:
    """The pack of ``month`` (YYYY-MM) as PDF or XLSX."""
    from citygov.points.engine import report_pack as pack_engine

    if fmt not in PACK_DOWNLOADS:
        raise Http404(_("No such format."))
    try:
        pack = _pack(month)
    except ServiceError as exc:
        raise Http404(exc.message) from None
    body = pack_engine.to_pdf(pack) if fmt == "pdf" else pack_engine.to_xlsx(pack)
    response = HttpResponse(body, content_type=PACK_DOWNLOADS[fmt])
    response["Content-Disposition"] = f'attachment; filename="points-month-{pack.label}.{fmt}"'
    return response


# --- refunds to agencies -------------------------------------------------------------------------

class RefundForm(forms.Form):
    """A refund to an agency, on the agency's written request."""

    agency = forms.ModelChoiceField(label=gettext_lazy("Agency"), queryset=None)
    source = forms.ChoiceField(label=gettext_lazy("Refund from"), choices=())
    amount = forms.IntegerField(label=gettext_lazy("Amount (NT$)"), min_value=1)
    bank_code = forms.CharField(label=gettext_lazy("Agency's bank code (3 or 7 digits)"), max_length=7)
    bank_account = forms.CharField(label=gettext_lazy("Agency's bank account"), max_length=20)
    request_reference = forms.CharField(label=gettext_lazy("Agency's request (document number)"), max_length=60)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        from citygov.agencies.models import Agency
        from citygov.points.models import RefundSource

        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.order_by("code")
        self.fields["source"].choices = RefundSource.choices


@settlement_page
def refund_list(request: HttpRequest) -> HttpResponse:
    """Refunds to agencies: what was instructed, what the bank confirmed, what was cancelled."""
    from citygov.points.models import AgencyRefund

    rows = AgencyRefund.objects.select_related("agency", "created_by").order_by("-created_at")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    can_settle = request.user.has_capability(Capability.SETTLE_POINTS)
    return render(request, "points/settlement/refund_list.html", {
        "page": page, "can_settle": can_settle, "form": RefundForm() if can_settle else None,
    })


@require_POST
@settlement_page
def refund_create(request: HttpRequest) -> HttpResponse:
    """Instruct a refund (``points.settle``); the service checks every field and the agency's balance."""
    from citygov.points.services import agency_refunds

    data = request.POST
    try:
        refund = agency_refunds.do_instruct_agency_refund(
            request.user, agency_id=data.get("agency", ""), amount=data.get("amount", ""),
            source=data.get("source", ""), bank_code=data.get("bank_code", ""),
            bank_account=data.get("bank_account", ""), request_reference=data.get("request_reference", ""),
            reason=data.get("reason", ""))
    except ServiceError as exc:
        messages.error(request, exc.message)
        for field_name, problems in exc.fields.items():
            messages.error(request, f"{field_name}: {' '.join(map(str, problems))}")
    else:
        messages.success(request, _("Refund {reference} instructed: NT${amount} to {agency}.").format(
            reference=refund.reference, amount=f"{refund.amount:,}", agency=refund.agency.name_zh))
    return redirect("points:settlement_refunds")


@require_POST
@settlement_page
def refund_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a refund the bank has not paid (the reason is required)."""
    from citygov.points.services import agency_refunds

    try:
        refund = agency_refunds.do_cancel_agency_refund(request.user, pk, reason=request.POST.get("reason", ""))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Refund {reference} cancelled.").format(reference=refund.reference))
    return redirect("points:settlement_refunds")


@settlement_page
def refund_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """A refund's instruction JSON exactly as signed, or its detached signature."""
    from citygov.points.models import AgencyRefund
    from citygov.points.services import agency_refunds

    refund = AgencyRefund.objects.filter(pk=pk).first()
    if refund is None or fmt not in ("json", "sig"):
        raise Http404
    data = refund.instruction.encode("utf-8") if fmt == "json" else agency_refunds.refund_signature_file(refund)
    if data is None:
        raise Http404(_("This refund is not signed."))
    content_type, suffix = DOWNLOADS[fmt]
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{refund.reference}{suffix}"'
    return response
