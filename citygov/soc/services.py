"""SOC services: alert import (streaming, idempotent), triage, cases and follow-up actions.

Every ``do_*`` checks with its ``check_*`` first, writes in one transaction and records the change.
Alert imports write one change-log row per import (with its counts), not one per alert.

Follow-up workflow::

    open ──agency──▶ in_progress ──agency (evidence)──▶ done ──bureau──▶ verified
      │                   ▲                               │
      │                   └──────────bureau returns───────┘
      └──bureau waives (reason)──▶ waived          (open / in_progress past the due date = overdue)
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.roles import Capability
from citygov.core.scoping import can_reach_agency
from citygov.soc.engine import formats
from citygov.soc.engine.normalise import CidrTable
from citygov.soc.engine.taxonomy import DEFAULT_RULES, Classifier, Rule
from citygov.soc.models import (
    ActionStatus,
    AgencyNetwork,
    Alert,
    AlertImport,
    AlertStatus,
    CaseStatus,
    ClassificationRule,
    FollowUpAction,
    ForensicCase,
    Reminder,
)
from citygov.soc.models.cases import OPEN_STATES

logger = logging.getLogger(__name__)

BATCH = 2000
MAX_REJECTED_KEPT = 500  # rejected lines kept on the import row (all are counted)
MAX_UNKNOWN_KEPT = 100
REMIND_DAYS_BEFORE = (7, 1)  # a reminder when an action comes within each of these days of its due date
OVERDUE_EVERY_DAYS = 7  # an overdue reminder on the first run after the due date, then weekly
ESCALATE_AFTER_DAYS = 14  # overdue this long: escalated to the bureau (once)


def _require(user, capability: str) -> None:
    if user is None or not user.is_authenticated or not user.has_capability(capability):
        raise Forbidden(_("Your role does not allow this."))


# --- engine configuration from the database ------------------------------------------------------

def engine_rules() -> tuple[Rule, ...]:
    """The active classification table, or the engine's documented default while it is empty."""
    rows = list(ClassificationRule.objects.filter(active=True).order_by("position", "id"))
    if not rows:
        return DEFAULT_RULES
    return tuple(Rule(r.name, r.kind, r.pattern, r.category, r.source) for r in rows)


def engine_context() -> formats.Context:
    """Classifier and CIDR table (agency ids as codes) from the database."""
    table = CidrTable([(n.cidr, str(n.agency_id)) for n in AgencyNetwork.objects.all()])
    return formats.Context(classifier=Classifier(engine_rules()), cidr=table)


# --- import ---------------------------------------------------------------------------------------

def check_import_alerts(user, fmt: str) -> None:
    """Analysts (``soc.triage``) import alert files; the format must be known."""
    _require(user, Capability.SOC_TRIAGE)
    if fmt not in formats.FORMATS:
        raise InvalidInput(_("Unknown format {format}.").format(format=fmt), code="bad_format")


_INSERT_FIELDS = ("agency_id", "dedup_key", "source_format", "time", "src_ip", "src_port", "dest_ip", "dest_port",
                  "protocol", "signature_id", "signature", "family", "source_category", "source_severity", "category",
                  "severity", "rule", "sensor", "action", "status", "status_reason", "imported_id")


ROWS_PER_INSERT = 400  # 400 rows x 22 columns stays far below SQLite's 32,766 parameters


def _insert_sql(rows: int) -> str:
    table = connection.ops.quote_name(Alert._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(Alert._meta.get_field(f.removesuffix("_id") if f in (
        "agency_id", "imported_id") else f).column) for f in _INSERT_FIELDS)
    marks = "(" + ", ".join(["%s"] * len(_INSERT_FIELDS)) + ")"
    # One multi-row INSERT per ROWS_PER_INSERT alerts, without model instances: ingestion has a speed
    # target. ON CONFLICT DO NOTHING (SQLite >= 3.24, PostgreSQL): a concurrent import of the same
    # alert is skipped, not an error. Table and column names come from the model, never from input.
    return (f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * rows)} "  # noqa: S608
            "ON CONFLICT (dedup_key) DO NOTHING")


def _write_batch(batch: list, run: AlertImport) -> tuple[int, int]:
    """Insert the alerts of ``batch`` whose keys are not stored yet: (created, duplicates)."""
    keys = {a.dedup_key for a in batch}
    existing = set(Alert.objects.filter(dedup_key__in=keys).values_list("dedup_key", flat=True))
    rows, seen = [], set()
    adapt_time = connection.ops.adapt_datetimefield_value  # what the ORM would store (UTC on SQLite)
    for a in batch:
        if a.dedup_key in existing or a.dedup_key in seen:
            continue
        seen.add(a.dedup_key)
        rows.append((int(a.agency) if a.agency else None, a.dedup_key, a.source_format, adapt_time(a.time), a.src_ip, a.src_port,
                     a.dest_ip, a.dest_port, a.protocol[:20], a.signature_id[:60], a.signature[:500], a.family[:120],
                     a.source_category[:300], a.source_severity[:40], a.category, a.severity, a.rule[:160],
                     a.sensor[:200], a.action[:40], AlertStatus.NEW.value, "", run.pk))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start:start + ROWS_PER_INSERT]
            cursor.execute(_insert_sql(len(chunk)), [value for row in chunk for value in row])
    return len(rows), len(batch) - len(rows)


def do_import_alerts(user, stream: BinaryIO, file_name: str, fmt: str = "auto") -> AlertImport:
    """Read ``stream`` and store its new alerts in batches; bad lines are recorded on the import and
    skipped. Re-importing the same file creates nothing (alerts are unique by dedup key)."""
    check_import_alerts(user, fmt)
    ctx = engine_context()
    stats = formats.ReadStats()
    run = AlertImport.objects.create(file_name=file_name[:300], requested_format=fmt, imported_by=user)
    created = duplicates = rejected = 0
    rejected_lines: list = []
    unknown: Counter = Counter()
    batch: list = []
    for item in formats.read_alerts(stream, fmt=fmt, ctx=ctx, stats=stats):
        if isinstance(item, formats.Rejected):
            rejected += 1
            if len(rejected_lines) < MAX_REJECTED_KEPT:
                rejected_lines.append({"line": item.line, "reason": item.reason})
            continue
        if not item.agency and ctx.cidr:
            unknown[item.dest_ip or item.src_ip] += 1
        batch.append(item)
        if len(batch) >= BATCH:
            with transaction.atomic():
                c, d = _write_batch(batch, run)
            created, duplicates, batch = created + c, duplicates + d, []
    if batch:
        with transaction.atomic():
            c, d = _write_batch(batch, run)
        created, duplicates = created + c, duplicates + d
    with transaction.atomic():
        run.detected, run.encoding = stats.detected, stats.encoding
        run.records, run.skipped = stats.records, stats.skipped
        run.created, run.duplicates, run.rejected = created, duplicates, rejected
        run.rejected_lines = rejected_lines
        run.unknown_networks = [{"ip": ip, "count": n} for ip, n in unknown.most_common(MAX_UNKNOWN_KEPT)]
        run.save()
        record_change(actor=user, action=ChangeAction.CREATE, obj=run,
                      after=snapshot(run, ["file_name", "detected", "records", "created", "duplicates", "rejected"]),
                      object_repr=run.file_name, note="soc alert import")
    return run


# --- CIDR table -----------------------------------------------------------------------------------

def check_add_network(user, agency_id: int, cidr: str) -> str:
    """Analysts maintain the table; ``cidr`` must be a network; returns its normal form."""
    import ipaddress

    _require(user, Capability.SOC_TRIAGE)
    try:
        network = str(ipaddress.ip_network(cidr.strip(), strict=False))
    except ValueError:
        raise InvalidInput(_("Not a network (CIDR): {cidr}").format(cidr=cidr), code="bad_cidr") from None
    if AgencyNetwork.objects.filter(cidr=network).exists():
        raise Conflict(_("This network is already assigned."), code="duplicate_cidr")
    return network


def do_add_network(user, agency_id: int, cidr: str, note: str = "") -> AgencyNetwork:
    """Assign a network to an agency (applies to alerts imported from now on)."""
    network = check_add_network(user, agency_id, cidr)
    with transaction.atomic():
        row = AgencyNetwork.objects.create(agency_id=agency_id, cidr=network, note=note)
        record_change(actor=user, action=ChangeAction.CREATE, obj=row, after=snapshot(row))
    return row


# --- triage ---------------------------------------------------------------------------------------

TRIAGE_TARGETS = {"acknowledge": AlertStatus.ACKNOWLEDGED, "dismiss": AlertStatus.DISMISSED}


def _alert_for(user, alert_id: int) -> Alert:
    alert = Alert.objects.for_agency(user).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(_("No such alert."))
    return alert


def check_triage_alert(user, alert_id: int, verb: str, reason: str = "") -> Alert:
    """Analysts acknowledge or dismiss (a false positive needs a reason) alerts not yet escalated."""
    _require(user, Capability.SOC_TRIAGE)
    alert = _alert_for(user, alert_id)
    if verb not in TRIAGE_TARGETS:
        raise InvalidInput(_("Unknown action."), code="bad_action")
    if alert.status == AlertStatus.ESCALATED:
        raise Conflict(_("The alert is part of a case already."), code="invalid_transition")
    if verb == "dismiss" and not reason.strip():
        raise InvalidInput(_("Say why the alert is a false positive."), fields={"reason": [_("Required.")]})
    return alert


def do_triage_alert(user, alert_id: int, verb: str, reason: str = "", *, whole_group: bool = False) -> int:
    """Acknowledge or dismiss one alert, or every open alert of its recurrence group; returns how many."""
    alert = check_triage_alert(user, alert_id, verb, reason)
    target = TRIAGE_TARGETS[verb]
    with transaction.atomic():
        rows = Alert.objects.for_agency(user).filter(pk=alert.pk)
        if whole_group:
            rows = group_alerts(user, alert)
        rows = list(rows.filter(status__in=(AlertStatus.NEW, AlertStatus.ACKNOWLEDGED)).select_for_update())
        for row in rows:
            before = snapshot(row, ["status", "status_reason"])
            row.status, row.status_reason = target, reason.strip()[:500]
            row.save(update_fields=["status", "status_reason"])
            record_change(actor=user, action=ChangeAction.UPDATE, obj=row, before=before,
                          after=snapshot(row, ["status", "status_reason"]), object_repr=row.signature[:100])
    return len(rows)


def group_alerts(user, alert: Alert):
    """The alerts of ``alert``'s recurrence group (same signature, source and destination)."""
    rows = Alert.objects.for_agency(user).filter(src_ip=alert.src_ip, dest_ip=alert.dest_ip)
    if alert.signature_id:
        return rows.filter(signature_id=alert.signature_id)
    return rows.filter(signature=alert.signature)


# --- cases ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseInput:
    """What a forensic case is opened with."""

    agency_id: int
    title: str
    kind: str = "other"
    vendor: str = ""
    scope: str = ""
    findings: str = ""
    root_cause: str = ""
    aware_at: dt.datetime | None = None


def check_create_case(user, data: CaseInput) -> None:
    """The bureau (``soc.cases``) opens cases for agencies it can reach; a title is required."""
    from citygov.agencies.models import Agency
    from citygov.soc.models import CaseKind

    _require(user, Capability.SOC_CASES)
    if not data.title.strip():
        raise InvalidInput(_("A case needs a title."), fields={"title": [_("Required.")]})
    if data.kind not in CaseKind.values:
        raise InvalidInput(_("Unknown incident type."), fields={"kind": [_("Unknown incident type.")]})
    if not Agency.objects.filter(pk=data.agency_id).exists():
        raise InvalidInput(_("No such agency."), fields={"agency": [_("No such agency.")]})


def do_create_case(user, data: CaseInput, *, report_file=None, now: dt.datetime | None = None) -> ForensicCase:
    """Open a forensic case (optionally with the vendor's report file)."""
    check_create_case(user, data)
    now = now or timezone.now()
    with transaction.atomic():
        case = ForensicCase(agency_id=data.agency_id, title=data.title.strip()[:200], kind=data.kind,
                            vendor=data.vendor.strip(), scope=data.scope.strip(), findings=data.findings.strip(),
                            root_cause=data.root_cause.strip(), aware_at=data.aware_at or now, created_by=user,
                            created_at=now)
        if report_file is not None:
            case.report_file = report_file
        case.save()
        record_change(actor=user, action=ChangeAction.CREATE, obj=case,
                      after=snapshot(case, ["agency", "title", "kind", "vendor", "aware_at"]), object_repr=case.title)
    return case


def check_escalate_alert(user, alert_id: int) -> Alert:
    """Analysts escalate an alert that is not part of a case yet."""
    _require(user, Capability.SOC_CASES)
    alert = _alert_for(user, alert_id)
    if alert.case_id is not None:
        raise Conflict(_("The alert is part of a case already."), code="invalid_transition")
    if alert.agency_id is None:
        raise InvalidInput(_("The alert's addresses belong to no agency: assign the network first."),
                           code="no_agency")
    return alert


def do_escalate_alert(user, alert_id: int, title: str = "", kind: str = "other",
                      case_id: int | None = None) -> ForensicCase:
    """Escalate an alert together with its whole recurrence group into one case: a new case, or the
    existing case ``case_id``. One case per group, never one case per alert."""
    alert = check_escalate_alert(user, alert_id)
    with transaction.atomic():
        if case_id is not None:
            case = ForensicCase.objects.for_agency(user).filter(pk=case_id).first()
            if case is None:
                raise NotFound(_("No such case."))
        else:
            case = do_create_case(user, CaseInput(agency_id=alert.agency_id, title=title or alert.signature[:200],
                                                  kind=kind, findings=_("Escalated from alert {id}.").format(
                                                      id=alert.pk)))
        rows = list(group_alerts(user, alert).filter(case__isnull=True).select_for_update())
        for row in rows:
            before = snapshot(row, ["status", "case"])
            row.status, row.case = AlertStatus.ESCALATED, case
            row.save(update_fields=["status", "case"])
            record_change(actor=user, action=ChangeAction.UPDATE, obj=row, before=before,
                          after=snapshot(row, ["status", "case"]), object_repr=row.signature[:100])
    return case


# --- follow-up actions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ActionInput:
    """A recommendation of the report, to become a tracked action."""

    recommendation: str
    agency_id: int
    due_date: dt.date
    owner: str = ""


def _case_for(user, case_id: int) -> ForensicCase:
    case = ForensicCase.objects.for_agency(user).filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("No such case."))
    return case


def check_add_action(user, case_id: int, data: ActionInput) -> ForensicCase:
    """The bureau adds recommendations; text and due date are required."""
    from citygov.agencies.models import Agency

    _require(user, Capability.SOC_CASES)
    case = _case_for(user, case_id)
    if not data.recommendation.strip():
        raise InvalidInput(_("A recommendation needs its text."), fields={"recommendation": [_("Required.")]})
    if not Agency.objects.filter(pk=data.agency_id).exists():
        raise InvalidInput(_("No such agency."), fields={"agency": [_("No such agency.")]})
    return case


def do_add_action(user, case_id: int, data: ActionInput) -> FollowUpAction:
    """Turn one recommendation into a tracked follow-up action (re-opens a closed case)."""
    case = check_add_action(user, case_id, data)
    with transaction.atomic():
        action = FollowUpAction.objects.create(case=case, agency_id=data.agency_id,
                                               recommendation=data.recommendation.strip(), owner=data.owner.strip(),
                                               due_date=data.due_date)
        record_change(actor=user, action=ChangeAction.CREATE, obj=action, after=snapshot(action),
                      object_repr=action.recommendation[:100])
        if case.status == CaseStatus.CLOSED:
            _set_case_status(user, case, CaseStatus.OPEN)
    return action


def _action_for(user, action_id: int) -> FollowUpAction:
    action = FollowUpAction.objects.for_agency(user).select_related("case").filter(pk=action_id).first()
    if action is None:
        raise NotFound(_("No such action."))
    return action


def check_report_progress(user, action_id: int, status: str, evidence_note: str = "", has_file: bool = False):
    """The owning agency (``soc.follow_up``) or the bureau moves an open action to in progress or done;
    done needs evidence (a note or a file)."""
    if not (user.has_capability(Capability.SOC_FOLLOW_UP) or user.has_capability(Capability.SOC_CASES)):
        raise Forbidden(_("Your role does not allow this."))
    action = _action_for(user, action_id)
    if not can_reach_agency(user, action.agency_id) and not user.has_capability(Capability.SOC_CASES):
        raise NotFound(_("No such action."))
    if status not in (ActionStatus.IN_PROGRESS, ActionStatus.DONE):
        raise InvalidInput(_("Unknown status."), code="bad_status")
    if action.status not in OPEN_STATES:
        raise Conflict(_("This action is no longer open."), code="invalid_transition")
    if status == ActionStatus.DONE and not evidence_note.strip() and not has_file:
        raise InvalidInput(_("Marking an action done needs evidence: a note or a file."),
                           fields={"evidence_note": [_("Required.")]})
    return action


def do_report_progress(user, action_id: int, status: str, evidence_note: str = "", evidence_file=None,
                       now: dt.datetime | None = None) -> FollowUpAction:
    """Record progress; "done" stores the evidence and waits for the bureau's verification."""
    action = check_report_progress(user, action_id, status, evidence_note, evidence_file is not None)
    with transaction.atomic():
        before = snapshot(action)
        action.status = status
        if evidence_note.strip():
            action.evidence_note = evidence_note.strip()
        if evidence_file is not None:
            action.evidence_file = evidence_file
        if status == ActionStatus.DONE:
            action.completed_at = now or timezone.now()
        action.save()
        record_change(actor=user, action=ChangeAction.UPDATE, obj=action, before=before, after=snapshot(action),
                      object_repr=action.recommendation[:100])
    return action


def check_verify_action(user, action_id: int, accept: bool, note: str = "") -> FollowUpAction:
    """The bureau verifies a done action, or returns it (with a note saying why)."""
    _require(user, Capability.SOC_CASES)
    action = _action_for(user, action_id)
    if action.status != ActionStatus.DONE:
        raise Conflict(_("Only an action marked done can be verified."), code="invalid_transition")
    if not accept and not note.strip():
        raise InvalidInput(_("Say why the evidence is not enough."), fields={"note": [_("Required.")]})
    return action


def do_verify_action(user, action_id: int, accept: bool = True, note: str = "",
                     now: dt.datetime | None = None) -> FollowUpAction:
    """Verified (closing the case when nothing else is open) or returned to in progress."""
    action = check_verify_action(user, action_id, accept, note)
    with transaction.atomic():
        before = snapshot(action)
        if accept:
            action.status, action.verified_by, action.verified_at = ActionStatus.VERIFIED, user, now or timezone.now()
        else:
            action.status = ActionStatus.IN_PROGRESS
            returned = _("Returned by the bureau")
            action.evidence_note = f"{action.evidence_note}\n[{returned}] {note.strip()}".strip()
        action.save()
        record_change(actor=user, action=ChangeAction.UPDATE, obj=action, before=before, after=snapshot(action),
                      object_repr=action.recommendation[:100], note="verified" if accept else "returned")
        _close_case_if_done(user, action.case)
    return action


def check_waive_action(user, action_id: int, reason: str) -> FollowUpAction:
    """The bureau waives an action that is not verified yet, with a reason."""
    _require(user, Capability.SOC_CASES)
    action = _action_for(user, action_id)
    if action.status in (ActionStatus.VERIFIED, ActionStatus.WAIVED):
        raise Conflict(_("This action is closed already."), code="invalid_transition")
    if not reason.strip():
        raise InvalidInput(_("Waiving needs a reason."), fields={"reason": [_("Required.")]})
    return action


def do_waive_action(user, action_id: int, reason: str) -> FollowUpAction:
    """Waive (with the reason kept); closes the case when nothing else is open."""
    action = check_waive_action(user, action_id, reason)
    with transaction.atomic():
        before = snapshot(action)
        action.status, action.waived_reason = ActionStatus.WAIVED, reason.strip()
        action.save()
        record_change(actor=user, action=ChangeAction.UPDATE, obj=action, before=before, after=snapshot(action),
                      object_repr=action.recommendation[:100])
        _close_case_if_done(user, action.case)
    return action


def _set_case_status(user, case: ForensicCase, status: str) -> None:
    before = snapshot(case, ["status"])
    case.status = status
    case.save(update_fields=["status"])
    record_change(actor=user, action=ChangeAction.UPDATE, obj=case, before=before, after=snapshot(case, ["status"]),
                  object_repr=case.title)


def _close_case_if_done(user, case: ForensicCase) -> None:
    still_open = case.actions.exclude(status__in=(ActionStatus.VERIFIED, ActionStatus.WAIVED)).exists()
    if not still_open and case.status == CaseStatus.OPEN:
        _set_case_status(user, case, CaseStatus.CLOSED)


# --- reminders (the daily job) --------------------------------------------------------------------

@dataclass(frozen=True)
class ReminderRun:
    """What one reminder run sent."""

    due_soon: int = 0
    overdue: int = 0
    escalated: int = 0


def do_send_reminders(today: dt.date | None = None) -> ReminderRun:
    """Remind owners when an action comes within 7 days and within 1 day of its due date, when it is
    overdue (then weekly), and escalate actions 14 days late to the bureau once. Catching up after
    missed days sends one reminder, not one per missed day; running twice a day sends nothing new."""
    today = today or timezone.localdate()
    counts = Counter()
    with transaction.atomic():
        actions = FollowUpAction.objects.filter(status__in=OPEN_STATES).select_related("case").order_by("id")
        for action in actions.prefetch_related("reminders"):
            sent = list(action.reminders.all())
            days_left = (action.due_date - today).days
            late = -days_left
            kinds = []
            crossed = sum(1 for threshold in REMIND_DAYS_BEFORE if 0 <= days_left <= threshold)
            if crossed > sum(1 for r in sent if r.kind == Reminder.Kind.DUE_SOON):
                kinds.append((Reminder.Kind.DUE_SOON, _("Due in {days} days: {text}").format(
                    days=days_left, text=action.recommendation[:200])))
            last_overdue = max((r.day for r in sent if r.kind == Reminder.Kind.OVERDUE), default=None)
            if late >= 1 and (last_overdue is None or (today - last_overdue).days >= OVERDUE_EVERY_DAYS):
                kinds.append((Reminder.Kind.OVERDUE, _("Overdue by {days} days: {text}").format(
                    days=late, text=action.recommendation[:200])))
            if late >= ESCALATE_AFTER_DAYS and action.escalated_at is None:
                kinds.append((Reminder.Kind.ESCALATED, _("Escalated to the bureau, {days} days overdue: {text}").format(
                    days=late, text=action.recommendation[:200])))
            for kind, message in kinds:
                reminder, created = Reminder.objects.get_or_create(
                    action=action, kind=kind, day=today, defaults={"agency_id": action.agency_id, "message": message})
                if not created:
                    continue
                counts[kind] += 1
                record_change(actor=None, action=ChangeAction.ACTION, obj=reminder, object_repr=message[:100],
                              note=f"soc reminder {kind}")
                logger.info("soc reminder %s for action %d (agency %d)", kind, action.pk, action.agency_id)
                if kind == Reminder.Kind.ESCALATED:
                    action.escalated_at = timezone.now()
                    action.save(update_fields=["escalated_at"])
    return ReminderRun(due_soon=counts[Reminder.Kind.DUE_SOON], overdue=counts[Reminder.Kind.OVERDUE],
                       escalated=counts[Reminder.Kind.ESCALATED])


# --- listener batches -----------------------------------------------------------------------------

def check_store_alerts(user) -> None:
    """Storing received alerts needs ``soc.triage`` (the listener runs as an analyst account)."""
    _require(user, Capability.SOC_TRIAGE)


def do_start_listener_run(user, name: str) -> AlertImport:
    """The import row that collects one listener session's counts."""
    check_store_alerts(user)
    with transaction.atomic():
        run = AlertImport.objects.create(file_name=name[:300], requested_format="syslog", detected="syslog",
                                         imported_by=user)
        record_change(actor=user, action=ChangeAction.CREATE, obj=run, after=snapshot(run, ["file_name"]),
                      object_repr=run.file_name, note="soc listener started")
    return run


def do_store_alerts(user, run_id: int, alerts: list, rejected: list[dict]) -> tuple[int, int]:
    """Store one batch received by the listener (idempotent by dedup key) and add its counts to the
    session's import row: (created, duplicates)."""
    check_store_alerts(user)
    with transaction.atomic():
        run = AlertImport.objects.select_for_update().get(pk=run_id)
        created, duplicates = _write_batch(alerts, run) if alerts else (0, 0)
        run.records += len(alerts) + len(rejected)
        run.created += created
        run.duplicates += duplicates
        run.rejected += len(rejected)
        room = MAX_REJECTED_KEPT - len(run.rejected_lines)
        if room > 0:
            run.rejected_lines = run.rejected_lines + rejected[:room]
        run.save()
    return created, duplicates
