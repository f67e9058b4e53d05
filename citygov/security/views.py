"""Security pages: the posture overview per agency and an agency's software to work through."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citygov.agencies.models import Agency
from citygov.core.errors import ServiceError
from citygov.core.pages import capability_page
from citygov.core.roles import Capability
from citygov.core.scoping import can_reach_agency
from citygov.security import queries, services
from citygov.security.models import (
    CoreSystem,
    Device,
    DrillResult,
    Finding,
    FindingSeverity,
    SecurityTest,
    SecurityTestKind,
)
from citygov.security.services import do_map_software
from citygov.security.uploads import IMPORT_KINDS, run_import

# What each security capability lets a user do, shown on the overview (the role decides who holds which).
CAPABILITY_LABELS = {
    Capability.VIEW_SECURITY: gettext_lazy("View IT assets, software identification and vulnerabilities"),
    Capability.MANAGE_SECURITY: gettext_lazy("Import inventories, devices, systems and tests; map software to CPEs"),
}


# Signed in (else the sign-in page) and holding ``VIEW_SECURITY`` (else 403).
security_page = capability_page(Capability.VIEW_SECURITY)


class MappingForm(forms.Form):
    """An analyst's mapping of a software name to an NVD vendor:product."""

    display_name = forms.CharField(label=gettext_lazy("Software name"), max_length=300)
    vendor = forms.CharField(label=gettext_lazy("NVD vendor"), max_length=120)
    product = forms.CharField(label=gettext_lazy("NVD product"), max_length=160)


@security_page
def overview(request: HttpRequest) -> HttpResponse:
    """Per agency: devices, VANS/EDR coverage, identification rate and vulnerable devices."""
    postures = queries.agency_postures(request.user)
    named, total = queries.identification_totals(request.user)
    context = {
        "postures": postures,
        "named": named,
        "total": total,
        "rate": named / total if total else None,
        "levels": queries.coverage_by_level(request.user),
        "devices": sum(p.devices for p in postures),
        "edr": sum(p.edr for p in postures),
        "vans": sum(p.vans for p in postures),
        "abilities": [label for capability, label in CAPABILITY_LABELS.items()
                      if request.user.has_capability(capability) and not (
                          request.user.is_read_only and capability == Capability.MANAGE_SECURITY)],
    }
    return render(request, "security/overview.html", context)


class AgencyImportForm(forms.Form):
    """Upload of a software inventory or a device list for the agency of the page."""

    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=[
        ("inventory", IMPORT_KINDS["inventory"][0]), ("devices", IMPORT_KINDS["devices"][0])])
    file = forms.FileField(label=gettext_lazy("File (CSV or JSON)"))
    hostname = forms.CharField(label=gettext_lazy("Host name for rows that name none (osqueryi output)"),
                               max_length=120, required=False)


def _report_message(report: services.ImportReport) -> str:
    return _("%(rows)d rows read: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
             "%(rejected)d rejected.") % {"rows": report.rows, "created": report.created, "updated": report.updated,
                                          "unchanged": report.unchanged, "rejected": len(report.problems)}


def _chart_series(charts: queries.AgencyCharts) -> dict[str, str]:
    severity_labels = {"critical": _("Critical"), "high": _("High"), "medium": _("Medium"), "low": _("Low"),
                       "unknown": _("Unknown score"), "": _("None known")}
    series = {
        "identification": {"labels": [_("Identified"), _("Product only"), _("Not identified")],
                           "values": [charts.identified, charts.product_only, charts.unidentified]},
        "coverage": {"labels": [_("VANS"), _("EDR")], "yes": [charts.vans, charts.edr],
                     "no": [charts.devices - charts.vans, charts.devices - charts.edr]},
        "severity": {"labels": [severity_labels[k] for k in queries.SEVERITY_ORDER],
                     "values": [charts.devices_by_severity[k] for k in queries.SEVERITY_ORDER]},
    }
    return {key: json.dumps(value, ensure_ascii=False) for key, value in series.items()}


@security_page
def agency_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One agency's posture: charts (identification, VANS/EDR coverage, vulnerable devices by severity),
    the unidentified software names to work through, its devices, and inventory/device imports."""
    agency = Agency.objects.filter(pk=pk).first()
    if agency is None or not can_reach_agency(request.user, agency.pk):
        raise Http404
    user = request.user
    can_map = _can_manage(user)
    action = request.POST.get("action", "map") if request.method == "POST" else None
    if action and not can_map:
        raise PermissionDenied
    form = MappingForm(request.POST if action == "map" else None) if can_map else None
    import_form = AgencyImportForm(request.POST if action == "import" else None,
                                   request.FILES if action == "import" else None, prefix="import") if can_map else None
    problems: list = []
    if action == "map" and form.is_valid():
        try:
            updated = do_map_software(user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Mapping saved: %(count)d installed programs re-identified.")
                             % {"count": updated})
            return redirect("security:agency", pk=agency.pk)
    elif action == "import" and import_form.is_valid():
        data = import_form.cleaned_data
        try:
            report = run_import(user, data["kind"], agency.pk, data["file"], hostname=data["hostname"])
        except ServiceError as exc:
            import_form.add_error("file", exc.message)
        else:
            messages.success(request, _report_message(report))
            if not report.problems:
                return redirect("security:agency", pk=agency.pk)
            problems = report.problems
    elif action not in (None, "map", "import"):
        raise Http404
    devices = Device.objects.for_agency(user).filter(agency=agency).order_by("hostname")[:500]
    charts = queries.agency_charts(user, agency.pk)
    context = {"agency": agency, "names": queries.unidentified_names(user, agency.pk), "devices": devices,
               "form": form, "import_form": import_form, "problems": problems, "charts": charts,
               "series": _chart_series(charts)}
    return render(request, "security/agency.html", context)


class ImportForm(forms.Form):
    """Upload of an information-systems CSV or a components CSV for one agency."""

    kind = forms.ChoiceField(label=gettext_lazy("File"), choices=[
        (kind, IMPORT_KINDS[kind][0]) for kind in ("systems", "components", "tests")])
    agency = forms.ModelChoiceField(label=gettext_lazy("Agency"), queryset=Agency.objects.none())
    file = forms.FileField(label=gettext_lazy("CSV file"))

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        ids = user.visible_agency_ids() if user is not None else frozenset()
        agencies = Agency.objects.all() if ids is None else Agency.objects.filter(pk__in=ids)
        self.fields["agency"].queryset = agencies.order_by("code")


class DrillForm(forms.Form):
    """A restore drill of the system's off-site backup."""

    performed_on = forms.DateField(label=gettext_lazy("Drill date"), widget=forms.DateInput(attrs={"type": "date"}))
    result = forms.ChoiceField(label=gettext_lazy("Result"), choices=DrillResult.choices[1:])
    rpo_achieved_hours = forms.FloatField(label=gettext_lazy("RPO achieved (hours)"), required=False, min_value=0)
    rto_achieved_hours = forms.FloatField(label=gettext_lazy("RTO achieved (hours)"), required=False, min_value=0)


class PatchForm(forms.Form):
    """The date a patch was applied."""

    patched_on = forms.DateField(label=gettext_lazy("Patched on"), widget=forms.DateInput(attrs={"type": "date"}))


class SecurityTestForm(forms.Form):
    """A penetration test or red/blue exercise of this system."""

    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=SecurityTestKind.choices)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    conducted_by = forms.CharField(label=gettext_lazy("Conducted by"), max_length=200, required=False)
    performed_on = forms.DateField(label=gettext_lazy("Performed on"), widget=forms.DateInput(attrs={"type": "date"}))


class FindingForm(forms.Form):
    """A finding of a test, with its due date."""

    test = forms.ModelChoiceField(label=gettext_lazy("Test"), queryset=SecurityTest.objects.none())
    title = forms.CharField(label=gettext_lazy("Finding"), max_length=300)
    severity = forms.ChoiceField(label=gettext_lazy("Severity"), choices=FindingSeverity.choices)
    due_date = forms.DateField(label=gettext_lazy("Remediate by"), widget=forms.DateInput(attrs={"type": "date"}))


class RemediateForm(forms.Form):
    """Close a finding."""

    finding = forms.ModelChoiceField(label=gettext_lazy("Finding"), queryset=Finding.objects.none())
    remediated_on = forms.DateField(label=gettext_lazy("Remediated on"),
                                    widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=gettext_lazy("Note"), max_length=300, required=False)


def _can_manage(user) -> bool:
    return not user.is_read_only and user.has_capability(Capability.MANAGE_SECURITY)


@security_page
def systems(request: HttpRequest) -> HttpResponse:
    """Core information systems: the backup headline, warranty and CVE alerts, overdue findings, imports."""
    user = request.user
    form = ImportForm(request.POST or None, request.FILES or None, user=user) if _can_manage(user) else None
    problems: list = []
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                report = run_import(user, form.cleaned_data["kind"], form.cleaned_data["agency"].pk,
                                    form.cleaned_data["file"])
            except ServiceError as exc:
                form.add_error("file", exc.message)
            else:
                messages.success(request, _report_message(report))
                if not report.problems:
                    return redirect("security:systems")
                problems = report.problems
    rows = queries.system_rows(user)
    context = {"rows": rows, "coverage": queries.backup_coverage(rows),
               "warranty_rows": [r for r in rows if r.warranty is not None],
               "critical": queries.critical_components(user), "overdue": queries.overdue_findings(user),
               "form": form, "problems": problems, "limits": queries.thresholds()}
    return render(request, "security/systems.html", context)


@security_page
def system_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One system: components with CVEs and their inventory link, backup and drills, tests and findings."""
    user = request.user
    system = CoreSystem.objects.for_agency(user).filter(pk=pk).select_related("agency").first()
    if system is None:
        raise Http404
    manage = _can_manage(user)
    tests = SecurityTest.objects.for_agency(user).filter(system=system)
    findings = Finding.objects.for_agency(user).filter(test__system=system).select_related("test")
    action = request.POST.get("action") if request.method == "POST" else None
    if action and not manage:
        raise PermissionDenied
    data = request.POST if action else None
    drill_form = DrillForm(data if action == "drill" else None, prefix="drill") if manage else None
    patch_form = PatchForm(data if action == "patch" else None, prefix="patch") if manage else None
    test_form = SecurityTestForm(data if action == "test" else None, prefix="test") if manage else None
    finding_form = FindingForm(data if action == "finding" else None, prefix="finding") if manage else None
    remediate_form = RemediateForm(data if action == "remediate" else None, prefix="remediate") if manage else None
    if manage:
        finding_form.fields["test"].queryset = tests
        remediate_form.fields["finding"].queryset = findings.filter(remediated_on__isnull=True)
    forms_by_action = {"drill": drill_form, "patch": patch_form, "test": test_form, "finding": finding_form,
                       "remediate": remediate_form}
    form = forms_by_action.get(action) if action else None
    if action and form is None:
        raise Http404
    if form is not None and form.is_valid():
        data = form.cleaned_data
        try:
            if action == "drill":
                services.do_record_restore_drill(user, system.pk, services.DrillInput(
                    data["performed_on"], data["result"], data["rpo_achieved_hours"], data["rto_achieved_hours"]))
            elif action == "patch":
                services.do_record_patch(user, system.pk, data["patched_on"])
            elif action == "test":
                services.do_record_security_test(user, system.agency_id, services.SecurityTestInput(
                    data["kind"], data["title"], data["performed_on"], data["conducted_by"], system.pk))
            elif action == "finding":
                services.do_add_finding(user, data["test"].pk, data["title"], data["severity"], data["due_date"])
            else:
                services.do_remediate_finding(user, data["finding"].pk, data["remediated_on"], data["note"])
        except ServiceError as exc:
            form.add_error(None, exc.message)
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("security:system", pk=system.pk)
    row = next(r for r in queries.system_rows(user, agency_id=system.agency_id) if r.system.pk == system.pk)
    components = [(c, queries.installs_of(user, c)) for c in system.components.order_by("display_name")]
    today = dt.date.today()
    context = {"system": system, "row": row, "components": components, "tests": tests,
               "findings": [(f, f.remediated_on is None and f.due_date < today) for f in findings],
               "drill_form": drill_form, "patch_form": patch_form, "test_form": test_form,
               "finding_form": finding_form, "remediate_form": remediate_form, "limits": queries.thresholds()}
    return render(request, "security/system.html", context)
