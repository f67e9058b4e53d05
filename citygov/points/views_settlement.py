"""Settlement pages: batches, a batch's positions and instruction files, and the trust exception queue.

Reading needs ``points.settlement`` (the operator, auditors, city administrators): the pages show
merchants' bank accounts, so agencies do not see them. Acting (building, signing, assigning and
resolving exceptions) needs ``points.settle``; every action posts with CSRF to one service.
"""

from __future__ import annotations

from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citygov.core.errors import ServiceError
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


def settlement_page(view):
    """Signed in and allowed to see settlement (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.has_capability(Capability.VIEW_SETTLEMENT):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


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
