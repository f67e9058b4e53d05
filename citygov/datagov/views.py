"""Datagov pages: the catalogue (search and filters), a dataset's detail, the overdue dashboard and imports.

Every page needs ``datagov.view``. Catalogue metadata is shared with every agency; the overdue dashboard
and the review queue are read through ``for_agency(user)``. The import form calls one service.
"""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citygov.agencies.models import Agency
from citygov.core.errors import ServiceError
from citygov.core.pages import capability_page
from citygov.core.roles import Capability
from citygov.datagov import queries
from citygov.datagov.engine import freshness as fr
from citygov.datagov.models import (
    Axis,
    Dataset,
    FrequencyClass,
    ImportRun,
    LinkCheck,
    SharingStatus,
    SuggestionStatus,
    VocabularyTerm,
)
from citygov.datagov.services import (
    SharingInput,
    do_decide_sharing,
    do_import_catalog,
    do_request_sharing,
    do_review_suggestion,
)

PAGE_SIZE = 50
# The capabilities of this module, as the import page names them (the same labels as in core.roles).
CAPABILITY_LABELS = {
    Capability.VIEW_DATAGOV: gettext_lazy("View the dataset catalogue and its freshness"),
    Capability.MANAGE_DATAGOV: gettext_lazy("Import and manage the dataset catalogue"),
}
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


# Signed in (else the sign-in page) and holding ``VIEW_DATAGOV`` (else 403).
datagov_page = capability_page(Capability.VIEW_DATAGOV)


class CatalogueFilter(forms.Form):
    """Search text and filters of the catalogue page."""

    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=200)
    agency = forms.ModelChoiceField(label=gettext_lazy("Agency"), queryset=Agency.objects.filter(datasets__isnull=False)
                                    .distinct().order_by("code"), required=False)
    frequency_class = forms.ChoiceField(label=gettext_lazy("Frequency class"), required=False,
                                        choices=[("", "—"), *FrequencyClass.choices])
    spatial = forms.BooleanField(label=gettext_lazy("Map layers only"), required=False)


class AsOfForm(forms.Form):
    """The moment the overdue dashboard judges (the start of a day, Asia/Taipei) and the stale period."""

    as_of = forms.DateField(label=gettext_lazy("As of"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    stale_months = forms.IntegerField(label=gettext_lazy("Irregular datasets are stale after (months)"),
                                      required=False, min_value=1, max_value=120)


class ImportForm(forms.Form):
    """A catalogue file to import."""

    file = forms.FileField(label=gettext_lazy("Catalogue file (CSV or JSON-LD)"))


class form_holder:  # noqa: N801 - the shared filter-form partial reads ``filterset.form``
    """Lends a plain form to the shared filter-form partial."""

    def __init__(self, form: forms.Form):
        self.form = form


@datagov_page
def catalogue(request: HttpRequest) -> HttpResponse:
    """Browse and search the catalogue."""
    form = CatalogueFilter(request.GET or None)
    qs = queries.catalogue(request.user).select_related("agency")
    if form.is_valid():
        data = form.cleaned_data
        qs = queries.search(qs, data["q"])
        if data["agency"]:
            qs = qs.filter(agency=data["agency"])
        if data["frequency_class"]:
            qs = qs.filter(frequency_class=data["frequency_class"])
        if data["spatial"]:
            qs = qs.filter(spatial=True)
    page = Paginator(qs.order_by("title", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "datagov/catalogue.html", {
        "filterset": form_holder(form), "page": page, "total": queries.catalogue(request.user).count(),
        "query": params.urlencode()})


class SharingRequestForm(forms.Form):
    """A request for access to another agency's dataset."""

    requesting_agency = forms.ModelChoiceField(label=gettext_lazy("Requesting agency"), queryset=Agency.objects.none())
    purpose = forms.CharField(label=gettext_lazy("Purpose"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    legal_basis = forms.CharField(label=gettext_lazy("Legal basis"), max_length=300)
    fields = forms.MultipleChoiceField(label=gettext_lazy("Fields"), required=False,
                                       widget=forms.CheckboxSelectMultiple)
    period_start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label=gettext_lazy("Until"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, dataset: Dataset, **kwargs):
        super().__init__(*args, **kwargs)
        ids = user.visible_agency_ids()
        agencies = Agency.objects.all() if ids is None else Agency.objects.filter(pk__in=ids)
        self.fields["requesting_agency"].queryset = agencies.exclude(pk=dataset.agency_id).order_by("code")
        self.fields["fields"].choices = [(f["name"], f["name"]) for f in dataset.schema]


def _can_request(user, dataset: Dataset) -> bool:
    return dataset.agency_id is not None and not user.is_read_only and user.visible_agency_ids() != frozenset()


@datagov_page
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A dataset's metadata, resources, field schema, freshness now, and a data-access request form."""
    dataset = get_object_or_404(queries.catalogue(request.user).select_related("agency", "provider_agency"), pk=pk)
    verdict = queries.judge(Dataset.objects.filter(pk=dataset.pk), timezone.now())[0].result
    form = None
    status = 200
    if _can_request(request.user, dataset):
        form = SharingRequestForm(request.POST or None, user=request.user, dataset=dataset)
        if request.method == "POST":
            if form.is_valid():
                data = form.cleaned_data
                try:
                    do_request_sharing(request.user, SharingInput(
                        dataset_id=dataset.pk, requesting_agency_id=data["requesting_agency"].pk,
                        purpose=data["purpose"], legal_basis=data["legal_basis"], period_start=data["period_start"],
                        period_end=data["period_end"], fields=tuple(data["fields"])))
                except ServiceError as exc:
                    form.add_error(None, exc.message)
                    for name, errors in exc.fields.items():
                        for error in errors:
                            form.add_error(name if name in form.fields else None, error)
                    status = 400
                else:
                    messages.success(request, _("Request sent to {agency}.").format(agency=dataset.agency.name_zh))
                    return redirect("datagov:sharing")
            else:
                status = 400
    elif request.method == "POST":
        raise PermissionDenied
    resources = list(dataset.resources.all())
    latest: dict[int, LinkCheck] = {}
    for check in LinkCheck.objects.filter(resource__dataset=dataset).order_by("resource_id", "-checked_at", "-id"):
        latest.setdefault(check.resource_id, check)
    for resource in resources:
        resource.latest_check = latest.get(resource.pk)
    return render(request, "datagov/dataset_detail.html", {
        "dataset": dataset, "verdict": verdict, "resources": resources, "form": form,
        "grants": queries.sharing_for(request.user).filter(dataset=dataset)}, status=status)


@datagov_page
def sharing(request: HttpRequest) -> HttpResponse:
    """Sharing requests the user's agencies sent or received; pending ones can be decided here."""
    rows = queries.sharing_for(request.user).order_by("-created_at", "-id")
    can_decide = request.user.has_capability(Capability.MANAGE_DATAGOV) and not request.user.is_read_only
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "datagov/sharing.html", {"page": page, "can_decide": can_decide,
                                                    "pending": SharingStatus.PENDING, "today": timezone.localdate()})


@require_POST
@datagov_page
def sharing_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject a pending request (the owning agency's data steward)."""
    get_object_or_404(queries.sharing_for(request.user), pk=pk)
    approve = request.POST.get("decision") == "approve"
    try:
        do_decide_sharing(request.user, pk, approve=approve, reason=request.POST.get("reason", "")[:2000])
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        messages.error(request, " ".join([exc.message, *[" ".join(map(str, v)) for v in exc.fields.values()]]))
    else:
        messages.success(request, _("Request approved.") if approve else _("Request rejected."))
    return redirect("datagov:sharing")


def _as_of(form: AsOfForm) -> tuple[dt.datetime, fr.Policy]:
    data = form.cleaned_data if form.is_valid() else {}
    as_of = queries.as_of_start(data["as_of"]) if data.get("as_of") else timezone.now()
    policy = fr.Policy(stale_after_months=data.get("stale_months") or 12)
    return as_of, policy


@datagov_page
def overdue(request: HttpRequest) -> HttpResponse:
    """The overdue dashboard for the user's agencies: counts, per-agency table, overdue and stale lists."""
    form = AsOfForm(request.GET or None)
    as_of, policy = _as_of(form)
    judged = queries.freshness_for(request.user, as_of, policy)
    summary = queries.summary(judged)
    evaluated = summary[fr.OVERDUE] + summary[fr.ON_TIME]
    agencies = {a.pk: a for a in Agency.objects.filter(pk__in={j.agency_id for j in judged if j.agency_id})}
    per_agency: dict[int | None, dict[str, int]] = {}
    for item in judged:
        row = per_agency.setdefault(item.agency_id, dict.fromkeys(fr.STATUSES, 0))
        row[item.result.status] += 1
    rows = []
    for agency_id, counts in per_agency.items():
        judged_count = counts[fr.OVERDUE] + counts[fr.ON_TIME]
        rate = 100 * counts[fr.OVERDUE] / judged_count if judged_count else None
        rows.append({"agency": agencies.get(agency_id), "counts": counts, "rate": rate})
    rows.sort(key=lambda r: (-(r["counts"][fr.OVERDUE]), r["agency"].code if r["agency"] else "~"))
    late = sorted((j for j in judged if j.result.status in (fr.OVERDUE, fr.STALE)),
                  key=lambda j: -j.result.days_overdue)
    datasets = Dataset.objects.in_bulk([j.dataset_id for j in late[:200]])
    overdue_list = [(datasets[j.dataset_id], j.result) for j in late if j.result.status == fr.OVERDUE
                    and j.dataset_id in datasets][:100]
    stale_list = [(datasets[j.dataset_id], j.result) for j in late if j.result.status == fr.STALE
                  and j.dataset_id in datasets][:100]
    chart = {"agencies": [r["agency"].name_zh if r["agency"] else _("Unmatched agency") for r in rows[:20]],
             "overdue": [r["counts"][fr.OVERDUE] for r in rows[:20]],
             "on_time": [r["counts"][fr.ON_TIME] for r in rows[:20]]}
    trend = [(day, overdue_count, evaluated_count, 100 * overdue_count / evaluated_count if evaluated_count else None)
             for day, overdue_count, evaluated_count in queries.snapshots_for(request.user)[-30:]]
    return render(request, "datagov/overdue.html", {
        "form": form, "as_of": as_of, "summary": summary, "evaluated": evaluated,
        "rate": 100 * summary[fr.OVERDUE] / evaluated if evaluated else None, "rows": rows,
        "overdue_list": overdue_list, "stale_list": stale_list, "chart": json.dumps(chart, ensure_ascii=False),
        "review_count": queries.review_queue(request.user).count(), "stale_months": policy.stale_after_months,
        "trend": trend})


@datagov_page
def import_catalogue(request: HttpRequest) -> HttpResponse:
    """Upload a catalogue export; the result (or why the file was refused) is shown on the page."""
    can_import = request.user.has_capability(Capability.MANAGE_DATAGOV) and not request.user.is_read_only
    form = ImportForm()
    result = None
    status = 200
    if request.method == "POST":
        if not can_import:
            raise PermissionDenied
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_UPLOAD_BYTES:
                form.add_error("file", _("The file is larger than 200 MB."))
                status = 400
            else:
                try:
                    result = do_import_catalog(request.user, upload.file, upload.name)
                except ServiceError as exc:
                    form.add_error("file", exc.message)
                    status = 400
                else:
                    messages.success(request, _("Imported {name}: {created} created, {updated} updated, "
                                                "{unchanged} unchanged, {rejected} rejected.").format(
                        name=result.run.file_name, created=result.run.created, updated=result.run.updated,
                        unchanged=result.run.unchanged, rejected=result.run.rejected))
                    return redirect("datagov:import_detail", pk=result.run.pk)
        else:
            status = 400
    return render(request, "datagov/import.html", {
        "form": form, "can_import": can_import, "runs": ImportRun.objects.all()[:20],
        "needed": CAPABILITY_LABELS[Capability.MANAGE_DATAGOV]}, status=status)


@datagov_page
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One import: counts, rejected rows by line, unmatched agencies."""
    run = get_object_or_404(ImportRun, pk=pk)
    return render(request, "datagov/import_detail.html", {"run": run})


# --- classification ---------------------------------------------------------------------------------

def _labels(axis: str) -> dict[str, str]:
    return dict(VocabularyTerm.objects.filter(axis=axis).values_list("code", "label_zh"))


@datagov_page
def classification(request: HttpRequest) -> HttpResponse:
    """Pending theme and scenario suggestions for the user's agencies: accept, correct or reject each."""
    axis = request.GET.get("axis") if request.GET.get("axis") in Axis.values else Axis.THEME
    rows = (queries.suggestions_for(request.user).filter(axis=axis, status=SuggestionStatus.PENDING)
            .select_related("dataset", "dataset__agency").order_by("-score", "id"))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    labels = _labels(axis)
    items = [{"suggestion": s, "label": labels.get(s.code, s.code),
              "alternatives": [{**a, "label": labels.get(a["code"], a["code"])} for a in s.alternatives]}
             for s in page]
    can_decide = request.user.has_capability(Capability.MANAGE_DATAGOV) and not request.user.is_read_only
    terms = VocabularyTerm.objects.filter(axis=axis, active=True).order_by("position", "code")
    return render(request, "datagov/classification.html", {
        "page": page, "items": items, "axis": axis, "axes": Axis.choices, "terms": terms,
        "can_decide": can_decide, "decided": queries.suggestions_for(request.user).filter(axis=axis).exclude(
            status=SuggestionStatus.PENDING).count()})


@require_POST
@datagov_page
def classification_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept, correct (with another term) or reject one suggestion."""
    suggestion = get_object_or_404(queries.suggestions_for(request.user), pk=pk)
    decision = request.POST.get("decision", "")
    try:
        do_review_suggestion(request.user, pk, decision, request.POST.get("code", "")[:20])
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        messages.error(request, " ".join([exc.message, *[" ".join(map(str, v)) for v in exc.fields.values()]]))
    else:
        messages.success(request, _("Decision recorded for {title}.").format(title=suggestion.dataset.title))
    return redirect(f"{reverse('datagov:classification')}?axis={suggestion.axis}")


@datagov_page
def layers(request: HttpRequest) -> HttpResponse:
    """The layer browser: map layers by business theme and usage scenario, with counts."""
    theme = request.GET.get("theme", "")
    scenario = request.GET.get("scenario", "")
    base = queries.catalogue(request.user).filter(spatial=True)
    themes, scenarios = _labels(Axis.THEME), _labels(Axis.SCENARIO)
    theme_counts = dict(base.values_list("theme").annotate(n=Count("id")).values_list("theme", "n"))
    scenario_counts: dict[str, int] = {}
    for codes in base.values_list("scenarios", flat=True):
        for code in codes or ():
            scenario_counts[code] = scenario_counts.get(code, 0) + 1
    rows = base.select_related("agency")
    if theme:
        rows = rows.filter(theme=theme)
    if scenario:
        rows = [d for d in rows.order_by("title", "id") if scenario in (d.scenarios or ())]
    else:
        rows = rows.order_by("title", "id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for dataset in page.object_list:
        dataset.theme_label = themes.get(dataset.theme, dataset.theme)
        dataset.scenario_labels = [scenarios.get(code, code) for code in dataset.scenarios or ()]
    return render(request, "datagov/layers.html", {
        "page": page, "theme": theme, "scenario": scenario,
        "themes": [(code, label, theme_counts.get(code, 0)) for code, label in themes.items()],
        "scenarios": [(code, label, scenario_counts.get(code, 0)) for code, label in scenarios.items()],
        "unclassified": theme_counts.get("", 0), "theme_labels": themes, "scenario_labels": scenarios,
        "total": base.count()})


@datagov_page
def scorecards(request: HttpRequest) -> HttpResponse:
    """Agency scorecards: overdue and stale counts, freshness, classification, links and sharing."""
    form = AsOfForm(request.GET or None)
    as_of, policy = _as_of(form)
    cards = queries.scorecards(request.user, as_of, policy)
    agencies = Agency.objects.in_bulk([c.agency_id for c in cards if c.agency_id])
    rows = [{"card": c, "agency": agencies.get(c.agency_id),
             "overdue_pct": None if c.overdue_rate is None else 100 * c.overdue_rate} for c in cards]
    return render(request, "datagov/scorecards.html", {"form": form, "as_of": as_of, "rows": rows,
                                                       "stale_months": policy.stale_after_months})
