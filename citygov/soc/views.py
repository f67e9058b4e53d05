"""SOC pages: alert analytics (charts, exports, import), alerts with triage and escalation, forensic
cases with their follow-up actions, the follow-up list with per-agency scorecards, imports and the
agency network table.

Every page needs ``soc.view``; rows are read through ``for_agency(user)`` (the bureau's analysts
monitor every agency, agency users see their own). Each form posts to one service; a refusal is
shown on the page (a role that may not act gets the 403 page).
"""

from __future__ import annotations

import csv
import io
import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citygov.agencies.models import Agency
from citygov.core.errors import Forbidden, ServiceError
from citygov.core.pages import capability_page
from citygov.core.roles import Capability
from citygov.soc import forms, queries, services
from citygov.soc.engine.taxonomy import CATEGORIES, SEVERITIES
from citygov.soc.models import ActionStatus, AgencyNetwork, Alert, AlertImport, CaseStatus, ForensicCase

PAGE_SIZE = 50
# What each SOC capability lets a user do, shown on the overview (the role decides who holds which).
CAPABILITY_LABELS = {
    Capability.VIEW_SOC: gettext_lazy("View SOC alerts, cases and follow-up actions"),
    Capability.SOC_TRIAGE: gettext_lazy("Import and triage SOC alerts for every agency"),
    Capability.SOC_CASES: gettext_lazy("Manage forensic cases and verify follow-up actions"),
    Capability.SOC_FOLLOW_UP: gettext_lazy("Report progress and evidence on follow-up actions"),
}


# Signed in (else the sign-in page) and holding ``VIEW_SOC`` (else 403).
soc_page = capability_page(Capability.VIEW_SOC)


def can_act(user, capability: str) -> bool:
    """Forms needing ``capability`` are shown (read-only roles never act)."""
    return not user.is_read_only and user.has_capability(capability)


def _agencies(user):
    if user.has_capability(Capability.SOC_TRIAGE) or user.has_capability(Capability.SOC_CASES):
        return Agency.objects.filter(is_active=True).order_by("code")
    return Agency.objects.for_agency(user).order_by("code")


def _refusal(request: HttpRequest, exc: ServiceError) -> None:
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message)
    detail = " ".join(str(m) for messages_ in exc.fields.values() for m in messages_)
    messages.error(request, f"{exc.message} {detail}".strip())


def _filter(request: HttpRequest) -> tuple[forms.FilterForm, queries.AlertFilter]:
    form = forms.FilterForm(request.GET or None, agencies=_agencies(request.user))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        return form, queries.AlertFilter(focus=data["focus"], agency_id=data["agency"].pk if data["agency"] else None,
                                         category=data["category"], severity=data["severity"], since=data["since"],
                                         until=data["until"])
    return form, queries.AlertFilter()


def _chart_data(figures: dict) -> str:
    return json.dumps({
        "categories": [{"name": r["label"], "value": r["count"]} for r in figures["by_category"]],
        "severities": [{"name": r["label"], "value": r["count"], "key": r["key"]} for r in figures["by_severity"]],
        "months": [r["month"] for r in figures["trend"]],
        "counts": [r["count"] for r in figures["trend"]],
        "deviates": [r["deviates"] for r in figures["trend"]],
        "matrix": {"categories": [CATEGORIES[c][0] for c in CATEGORIES],
                   "severities": [SEVERITIES[s][0] for s in SEVERITIES],
                   "cells": [[list(CATEGORIES).index(r["category"]), list(SEVERITIES).index(r["severity"]), r["count"]]
                             for r in figures["category_severity"]]},
    }, ensure_ascii=False)


# --- analytics ------------------------------------------------------------------------------------

@soc_page
def overview(request: HttpRequest) -> HttpResponse:
    """Alert analytics: shares, trend, recurrence groups, medium/high causes; import form."""
    form, flt = _filter(request)
    figures = queries.alert_figures(request.user, flt)
    return render(request, "soc/overview.html", {
        "form": form, "figures": figures, "chart": _chart_data(figures),
        "import_form": forms.ImportForm() if can_act(request.user, Capability.SOC_TRIAGE) else None,
        "query": request.GET.urlencode(),
        "overdue": queries.overdue_actions(request.user).count(),
        "my_capabilities": [label for cap, label in CAPABILITY_LABELS.items()
                            if request.user.has_capability(cap) and (cap == Capability.VIEW_SOC
                                                                     or not request.user.is_read_only)],
    })


@soc_page
@require_POST
def import_alerts(request: HttpRequest) -> HttpResponse:
    """Upload an alert file; the import summary (with rejected lines) is shown next."""
    if not can_act(request.user, Capability.SOC_TRIAGE):
        raise PermissionDenied
    form = forms.ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("soc:overview")
    upload = form.cleaned_data["file"]
    try:
        run = services.do_import_alerts(request.user, upload.file, upload.name, form.cleaned_data["input_format"])
    except ServiceError as exc:
        _refusal(request, exc)
        return redirect("soc:overview")
    messages.success(request, _("{file}: {created} alerts created, {duplicates} already imported, {rejected} lines "
                                "rejected.").format(file=run.file_name, created=run.created,
                                                    duplicates=run.duplicates, rejected=run.rejected))
    return redirect("soc:import_detail", pk=run.pk)


@soc_page
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered alerts as CSV (streamed), or the figures as an XLSX workbook."""
    if not request.user.has_capability(Capability.EXPORT) and not request.user.has_capability(Capability.SOC_TRIAGE):
        raise PermissionDenied
    _form, flt = _filter(request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        return _export_csv(request, flt, stamp)
    if fmt == "xlsx":
        return _export_xlsx(request, flt, stamp)
    raise Http404


CSV_COLUMNS = ("time", "agency", "category", "severity", "source_severity", "source_category", "signature_id",
               "signature", "src_ip", "src_port", "dest_ip", "dest_port", "protocol", "status", "rule")


def _export_csv(request, flt, stamp: str) -> StreamingHttpResponse:
    rows = queries.alerts_for(request.user, flt).select_related("agency").order_by("time", "id")

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(["發生時間", "機關", "事件類型", "嚴重程度", "來源嚴重程度", "來源分類", "事件代碼", "事件名稱",
                         "來源IP", "來源埠", "目的IP", "目的埠", "通訊協定", "處理狀態", "分類規則"])
        for alert in rows.iterator(chunk_size=2000):
            writer.writerow([timezone.localtime(alert.time).isoformat(), alert.agency.name_zh if alert.agency else "",
                             CATEGORIES[alert.category][0], SEVERITIES[alert.severity][0], alert.source_severity,
                             alert.source_category, alert.signature_id, alert.signature, alert.src_ip,
                             alert.src_port or "", alert.dest_ip, alert.dest_port or "", alert.protocol, alert.status,
                             alert.rule])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="soc-alerts-{stamp}.csv"'
    return response


def _export_xlsx(request, flt, stamp: str) -> FileResponse:
    from citygov.soc.exports import figures_workbook

    stream = io.BytesIO(figures_workbook(queries.alert_figures(request.user, flt)))
    return FileResponse(stream, as_attachment=True, filename=f"soc-figures-{stamp}.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --- alerts ---------------------------------------------------------------------------------------

@soc_page
def alert_list(request: HttpRequest) -> HttpResponse:
    """Alerts, newest first, filtered like the analytics page."""
    form, flt = _filter(request)
    rows = queries.alerts_for(request.user, flt).select_related("agency")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "soc/alert_list.html", {"form": form, "page": page, "query": params.urlencode()})


def _alert(request: HttpRequest, pk: int) -> Alert:
    alert = Alert.objects.for_agency(request.user).select_related("agency", "case").filter(pk=pk).first()
    if alert is None:
        raise Http404
    return alert


@soc_page
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One alert: its recurrence group, similar alerts, triage and escalation."""
    alert = _alert(request, pk)
    group = services.group_alerts(request.user, alert)
    cases = queries.cases_for(request.user).filter(status=CaseStatus.OPEN)
    return render(request, "soc/alert_detail.html", {
        "alert": alert, "group_count": group.count(), "group": group.order_by("-time")[:20],
        "similar": queries.similar_alerts(request.user, alert),
        "triage_form": forms.TriageForm() if can_act(request.user, Capability.SOC_TRIAGE) else None,
        "escalate_form": forms.EscalateForm(cases=cases) if can_act(request.user, Capability.SOC_CASES)
        and alert.case_id is None else None,
    })


@soc_page
@require_POST
def alert_triage(request: HttpRequest, pk: int) -> HttpResponse:
    """Acknowledge or dismiss the alert (or its whole group)."""
    alert = _alert(request, pk)
    form = forms.TriageForm(request.POST)
    if form.is_valid():
        try:
            count = services.do_triage_alert(request.user, alert.pk, form.cleaned_data["verb"],
                                             form.cleaned_data["reason"], whole_group=form.cleaned_data["whole_group"])
            messages.success(request, _("{count} alerts updated.").format(count=count))
        except ServiceError as exc:
            _refusal(request, exc)
    return redirect("soc:alert_detail", pk=alert.pk)


@soc_page
@require_POST
def alert_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    """Escalate the alert's recurrence group into one case."""
    alert = _alert(request, pk)
    form = forms.EscalateForm(request.POST, cases=queries.cases_for(request.user).filter(status=CaseStatus.OPEN))
    if not form.is_valid():
        messages.error(request, _("Check the form."))
        return redirect("soc:alert_detail", pk=alert.pk)
    data = form.cleaned_data
    try:
        case = services.do_escalate_alert(request.user, alert.pk, data["title"], data["kind"],
                                          case_id=data["case"].pk if data["case"] else None)
    except ServiceError as exc:
        _refusal(request, exc)
        return redirect("soc:alert_detail", pk=alert.pk)
    return redirect("soc:case_detail", pk=case.pk)


# --- cases ----------------------------------------------------------------------------------------

@soc_page
def case_list(request: HttpRequest) -> HttpResponse:
    """Forensic cases; the bureau opens new ones here."""
    user = request.user
    form = None
    if can_act(user, Capability.SOC_CASES):
        form = forms.CaseForm(request.POST or None, request.FILES or None, agencies=_agencies(user))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                case = services.do_create_case(user, services.CaseInput(
                    agency_id=data["agency"].pk, title=data["title"], kind=data["kind"], vendor=data["vendor"],
                    scope=data["scope"], findings=data["findings"], root_cause=data["root_cause"],
                    aware_at=data["aware_at"]), report_file=data["report_file"])
                return redirect("soc:case_detail", pk=case.pk)
            except ServiceError as exc:
                _refusal(request, exc)
    elif request.method == "POST":
        raise PermissionDenied
    cases = queries.cases_for(user)
    return render(request, "soc/case_list.html", {"cases": cases, "form": form})


def _case(request: HttpRequest, pk: int) -> ForensicCase:
    case = ForensicCase.objects.for_agency(request.user).select_related("agency", "created_by").filter(pk=pk).first()
    if case is None:
        # An agency sees a case of another agency only through its own actions.
        case = ForensicCase.objects.filter(pk=pk, actions__in=queries.actions_for(request.user)).select_related(
            "agency").first()
    if case is None:
        raise Http404
    return case


@soc_page
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A case: details, timeline, escalated alerts, and its follow-up actions with their forms."""
    user = request.user
    case = _case(request, pk)
    actions = list(queries.actions_for(user).filter(case=case).prefetch_related("reminders"))
    can_cases = can_act(user, Capability.SOC_CASES)
    for action in actions:
        action.can_progress = action.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS) and (
            can_cases or can_act(user, Capability.SOC_FOLLOW_UP))
        action.can_verify = can_cases and action.status == ActionStatus.DONE
        action.can_waive = can_cases and action.status not in (ActionStatus.VERIFIED, ActionStatus.WAIVED)
    return render(request, "soc/case_detail.html", {
        "case": case, "actions": actions,
        "alerts": case.alerts.order_by("-time")[:50] if user.has_capability(Capability.SOC_TRIAGE)
        or case.agency_id in (user.visible_agency_ids() or {case.agency_id}) else [],
        "action_form": forms.ActionForm(agencies=_agencies(user), initial={"agency": case.agency_id})
        if can_cases else None,
        "progress_form": forms.ProgressForm(), "verify_form": forms.VerifyForm(), "waive_form": forms.WaiveForm(),
        "today": timezone.localdate(),
    })


@soc_page
@require_POST
def case_add_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a recommendation as a follow-up action."""
    case = _case(request, pk)
    form = forms.ActionForm(request.POST, agencies=_agencies(request.user))
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{form.fields[field].label if field in form.fields else ''} {error}".strip())
        return redirect("soc:case_detail", pk=case.pk)
    data = form.cleaned_data
    try:
        services.do_add_action(request.user, case.pk, services.ActionInput(
            recommendation=data["recommendation"], agency_id=data["agency"].pk, due_date=data["due_date"],
            owner=data["owner"]))
    except ServiceError as exc:
        _refusal(request, exc)
    return redirect("soc:case_detail", pk=case.pk)


@soc_page
@require_POST
def action_update(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    """Progress (agency), verify or return (bureau), waive (bureau)."""
    action = queries.actions_for(request.user).filter(pk=pk).first()
    if action is None:
        raise Http404
    try:
        if verb == "progress":
            form = forms.ProgressForm(request.POST, request.FILES)
            if form.is_valid():
                services.do_report_progress(request.user, action.pk, form.cleaned_data["status"],
                                            form.cleaned_data["evidence_note"], form.cleaned_data["evidence_file"])
        elif verb == "verify":
            form = forms.VerifyForm(request.POST)
            if form.is_valid():
                services.do_verify_action(request.user, action.pk, form.cleaned_data["accept"],
                                          form.cleaned_data["note"])
        elif verb == "waive":
            form = forms.WaiveForm(request.POST)
            if form.is_valid():
                services.do_waive_action(request.user, action.pk, form.cleaned_data["reason"])
        else:
            raise Http404
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    except ServiceError as exc:
        _refusal(request, exc)
    return redirect(reverse("soc:case_detail", kwargs={"pk": action.case_id}) + f"#action-{action.pk}")


@soc_page
def case_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The case report as a PDF (Traditional Chinese): timeline, findings and every action's state."""
    from citygov.soc.report import case_report_pdf

    case = _case(request, pk)
    actions = list(queries.actions_for(request.user).filter(case=case))
    data = case_report_pdf(case, actions, timezone.localdate())
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="soc-case-{case.pk}.pdf"'
    return response


# --- follow-up ------------------------------------------------------------------------------------

@soc_page
def action_list(request: HttpRequest) -> HttpResponse:
    """Follow-up actions (``?state=overdue`` for the late ones) and per-agency scorecards."""
    user = request.user
    state = request.GET.get("state", "")
    rows = queries.actions_for(user)
    if state == "overdue":
        rows = queries.overdue_actions(user)
    elif state in ActionStatus.values:
        rows = rows.filter(status=state)
    page = Paginator(rows.order_by("due_date", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "soc/action_list.html", {
        "page": page, "state": state, "states": ActionStatus.choices, "scorecards": queries.scorecards(user),
        "today": timezone.localdate(),
    })


# --- imports and networks -------------------------------------------------------------------------

@soc_page
def import_list(request: HttpRequest) -> HttpResponse:
    """Alert imports, newest first (file names and counts; no alert content)."""
    page = Paginator(AlertImport.objects.select_related("imported_by"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "soc/import_list.html", {"page": page})


@soc_page
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One import: counts, rejected lines (line number and reason) and addresses no agency owns."""
    run = AlertImport.objects.filter(pk=pk).first()
    if run is None:
        raise Http404
    return render(request, "soc/import_detail.html", {"run": run})


@soc_page
def network_list(request: HttpRequest) -> HttpResponse:
    """The agency CIDR table; analysts add ranges."""
    user = request.user
    form = None
    if can_act(user, Capability.SOC_TRIAGE):
        form = forms.NetworkForm(request.POST or None, agencies=_agencies(user))
        if request.method == "POST" and form.is_valid():
            try:
                services.do_add_network(user, form.cleaned_data["agency"].pk, form.cleaned_data["cidr"],
                                        form.cleaned_data["note"])
                return redirect("soc:network_list")
            except ServiceError as exc:
                _refusal(request, exc)
    elif request.method == "POST":
        raise PermissionDenied
    networks = AgencyNetwork.objects.for_agency(user).select_related("agency")
    return render(request, "soc/network_list.html", {"networks": networks, "form": form})


# --- incidents ------------------------------------------------------------------------------------

INCIDENT_STATES = (("overdue", gettext_lazy("Overdue")), ("due_soon", gettext_lazy("Due soon")),
                   ("on_time", gettext_lazy("On time")))


@soc_page
def incident_list(request: HttpRequest) -> HttpResponse:
    """Incidents with their legal clocks (``?state=overdue|due_soon|on_time``); the bureau records
    new ones here."""
    user = request.user
    form = None
    if can_act(user, Capability.SOC_CASES):
        form = forms.IncidentForm(request.POST or None, agencies=_agencies(user))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.do_create_incident(user, services.IncidentInput(
                    agency_id=data["agency"].pk, title=data["title"], kind=data["kind"], level=data["level"],
                    aware_at=data["aware_at"], description=data["description"]))
                return redirect("soc:incident_detail", pk=incident.pk)
            except ServiceError as exc:
                _refusal(request, exc)
    elif request.method == "POST":
        raise PermissionDenied
    state = request.GET.get("state", "")
    state = state if state in dict(INCIDENT_STATES) else ""
    return render(request, "soc/incident_list.html", {
        "rows": queries.incident_rows(user, state=state), "state": state, "states": INCIDENT_STATES, "form": form})


def _incident(request: HttpRequest, pk: int):
    incident = queries.incidents_for(request.user).filter(pk=pk).first()
    if incident is None:
        raise Http404
    return incident


@soc_page
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An incident: its clocks (due, met, state), milestones, level, linked alerts and case, notices
    and its change history."""
    from citygov.core.models import ChangeLog

    user = request.user
    incident = _incident(request, pk)
    can_cases = can_act(user, Capability.SOC_CASES)
    can_record = can_cases or can_act(user, Capability.SOC_FOLLOW_UP)
    open_cases = queries.cases_for(user).filter(status=CaseStatus.OPEN, agency_id=incident.agency_id)
    return render(request, "soc/incident_detail.html", {
        "incident": incident, "clocks": incident.clocks(), "now": timezone.now(),
        "alerts": incident.alerts.order_by("-time")[:100], "alert_count": incident.alerts.count(),
        "notices": incident.notices.all()[:50],
        "history": ChangeLog.objects.filter(object_type="soc.incident", object_id=str(incident.pk)).order_by(
            "-id").select_related("actor")[:50],
        "milestone_form": forms.MilestoneForm() if can_record and not incident.is_closed else None,
        "level_form": forms.LevelForm(initial={"level": incident.level}) if can_cases and not incident.is_closed
        else None,
        "link_form": forms.LinkAlertsForm() if can_act(user, Capability.SOC_TRIAGE) or can_cases else None,
        "case_form": forms.LinkCaseForm(cases=open_cases) if can_cases and incident.case_id is None else None,
    })


@soc_page
@require_POST
def incident_update(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    """Record a milestone, change the level, link alerts, or link or open a forensic case."""
    user = request.user
    incident = _incident(request, pk)
    forms_by_verb = {"milestone": lambda: forms.MilestoneForm(request.POST),
                     "level": lambda: forms.LevelForm(request.POST),
                     "alerts": lambda: forms.LinkAlertsForm(request.POST),
                     "case": lambda: forms.LinkCaseForm(request.POST, cases=queries.cases_for(user))}
    if verb not in forms_by_verb:
        raise Http404
    form = forms_by_verb[verb]()
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("soc:incident_detail", pk=incident.pk)
    data = form.cleaned_data
    try:
        if verb == "milestone":
            services.do_record_milestone(user, incident.pk, data["milestone"], data["at"])
        elif verb == "level":
            services.do_change_level(user, incident.pk, data["level"], data["reason"])
        elif verb == "alerts":
            count = services.do_link_alerts(user, incident.pk, data["alerts"], whole_group=data["whole_group"])
            messages.success(request, _("{count} alerts linked.").format(count=count))
        else:
            case = services.do_link_case(user, incident.pk, data["case"].pk if data["case"] else None)
            messages.success(request, _("Linked to the forensic case {title}.").format(title=case.title))
    except ServiceError as exc:
        _refusal(request, exc)
    return redirect("soc:incident_detail", pk=incident.pk)
