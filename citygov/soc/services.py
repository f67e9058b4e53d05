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
import queue
import threading
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
from citygov.soc.engine import clocks as clock_engine
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
    Incident,
    IncidentNotice,
    IncidentPolicy,
    Reminder,
)
from citygov.soc.models.cases import OPEN_STATES

logger = logging.getLogger(__name__)

BATCH = 20_000  # alerts per transaction: larger batches aggregate more into each roll-up row and
# commit less often
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
_COLUMNS_SQL: str = ""


def _columns_sql() -> str:
    global _COLUMNS_SQL  # noqa: PLW0603 - computed once from the model
    if not _COLUMNS_SQL:
        _COLUMNS_SQL = ", ".join(connection.ops.quote_name(Alert._meta.get_field(
            f.removesuffix("_id") if f in ("agency_id", "imported_id") else f).column) for f in _INSERT_FIELDS)
    return _COLUMNS_SQL


def _insert_sql(rows: int) -> str:
    table = connection.ops.quote_name(Alert._meta.db_table)
    marks = "(" + ", ".join(["%s"] * len(_INSERT_FIELDS)) + ")"
    # One multi-row INSERT per ROWS_PER_INSERT alerts, without model instances: ingestion has a speed
    # target. ON CONFLICT DO NOTHING (SQLite >= 3.24, PostgreSQL): an alert stored already (by an
    # earlier or a concurrent import) is skipped, not an error; RETURNING names the rows created, so
    # the roll-ups count each alert once. Table and column names come from the model, never input.
    return (f"INSERT INTO {table} ({_columns_sql()}) VALUES {', '.join([marks] * rows)} "  # noqa: S608
            "ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key")


INCOMING = "soc_alert_incoming"  # the per-session temporary table COPY fills on PostgreSQL


# COPY's text format: backslash, tab, newline and carriage return escaped; \N is NULL.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_NULL = "\\N"


def _copy_text(rows: list[tuple]) -> str:
    """The rows in COPY's text format (one string: psycopg's per-row adaptation costs more than the
    whole INSERT on this path). Only the free-text columns, whose text comes from the alert file,
    are escaped; the others are codes, normalised addresses, hex keys, numbers and times."""
    esc, null = _COPY_ESCAPES, _NULL
    out = []
    for (agency, key, fmt, time, src_ip, src_port, dest_ip, dest_port, proto, sid, sig, family, src_cat, src_sev,
         category, severity, rule, sensor, action, status, reason, imported) in rows:
        out.append(f"{null if agency is None else agency}\t{key}\t{fmt}\t{time.isoformat()}\t{src_ip}\t"
                   f"{null if src_port is None else src_port}\t{dest_ip}\t"
                   f"{null if dest_port is None else dest_port}\t{proto.translate(esc)}\t{sid.translate(esc)}\t"
                   f"{sig.translate(esc)}\t{family.translate(esc)}\t{src_cat.translate(esc)}\t"
                   f"{src_sev.translate(esc)}\t{category}\t{severity}\t{rule.translate(esc)}\t"
                   f"{sensor.translate(esc)}\t{action.translate(esc)}\t{status}\t{reason.translate(esc)}\t"
                   f"{imported}\n")
    return "".join(out)


def _insert_postgresql(rows: list[tuple]) -> set[str]:
    """COPY the rows into a temporary table, then one INSERT … SELECT … ON CONFLICT DO NOTHING."""
    table = connection.ops.quote_name(Alert._meta.db_table)
    columns = _columns_sql()
    with connection.cursor() as cursor:
        # Names come from the model, never from input.
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {INCOMING} AS "  # noqa: S608
                       f"SELECT {columns} FROM {table} WITH NO DATA")
        cursor.execute(f"TRUNCATE {INCOMING}")
        with cursor.cursor.copy(f"COPY {INCOMING} ({columns}) FROM STDIN") as copy:
            copy.write(_copy_text(rows).encode("utf-8", "surrogatepass"))
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {INCOMING} "  # noqa: S608
                       "ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key")
        return {key for (key,) in cursor.fetchall()}


def _insert_generic(rows: list[tuple]) -> set[str]:
    adapt_time = connection.ops.adapt_datetimefield_value  # what the ORM would store (UTC on SQLite)
    created: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start:start + ROWS_PER_INSERT]
            cursor.execute(_insert_sql(len(chunk)), [adapt_time(v) if i == 3 else v
                                                     for row in chunk for i, v in enumerate(row)])
            created.update(key for (key,) in cursor.fetchall())
    return created


def _stored_keys(keys: list[str]) -> set[str]:
    """The dedup keys of ``keys`` that are stored already (one indexed query; on PostgreSQL the keys
    travel as one array parameter instead of one placeholder each)."""
    if connection.vendor != "postgresql":
        return set(Alert.objects.filter(dedup_key__in=keys).values_list("dedup_key", flat=True))
    table = connection.ops.quote_name(Alert._meta.db_table)
    if all(key.isalnum() for key in keys):  # hex digests: an array literal needs no quoting
        sql, param = f"SELECT dedup_key FROM {table} WHERE dedup_key = ANY(%s::text[])", "{" + ",".join(keys) + "}"  # noqa: S608
    else:
        sql, param = f"SELECT dedup_key FROM {table} WHERE dedup_key = ANY(%s)", keys  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [param])
        return {key for (key,) in cursor.fetchall()}


def _tail_text(a, run_pk: int) -> tuple[str, str, str, str]:
    """The COPY text of an alert's per-signature columns (protocol … imported), escaped and
    truncated to the columns' lengths, with the truncated signature id, signature and family."""
    esc = _COPY_ESCAPES
    sid, sig, family = a.signature_id[:60], a.signature[:500], a.family[:120]
    return (f"{a.protocol[:20].translate(esc)}\t{sid.translate(esc)}\t{sig.translate(esc)}\t"
            f"{family.translate(esc)}\t{a.source_category[:300].translate(esc)}\t"
            f"{a.source_severity[:40].translate(esc)}\t{a.category}\t{a.severity}\t{a.rule[:160].translate(esc)}\t"
            f"{a.sensor[:200].translate(esc)}\t{a.action[:40].translate(esc)}\t{AlertStatus.NEW.value}\t\t"
            f"{run_pk}\n", sid, sig, family)


def _write_batch_postgresql(fresh: list, run: AlertImport) -> set[str]:
    """Store ``fresh`` (alerts whose keys were not stored a moment ago, no key twice) with ``COPY``
    straight into the alert table, and add them to the roll-ups: the created keys. Alerts repeat a
    few hundred signatures, so each signature's columns are escaped once. Should another import
    store one of the keys meanwhile, the COPY fails on the unique key and the batch takes the
    general path (temporary table, ``ON CONFLICT DO NOTHING``) instead."""
    from django.db import IntegrityError
    from psycopg.errors import UniqueViolation  # raised by COPY unwrapped (Django wraps execute only)

    from citygov.soc import rollups

    tails: dict[tuple, tuple[str, str, str, str]] = {}
    null = _NULL
    lines, stored = [], []
    for a in fresh:
        d = a.__dict__
        agency = d["agency"]
        tail_key = (d["protocol"], d["signature_id"], d["signature"], d["family"], d["source_category"],
                    d["source_severity"], d["category"], d["severity"], d["rule"], d["sensor"], d["action"])
        tail = tails.get(tail_key)
        if tail is None:
            tail = tails[tail_key] = _tail_text(a, run.pk)
        agency_pk = int(agency) if agency else None
        src_port, dest_port, time = d["src_port"], d["dest_port"], d["time"]
        lines.append(f"{null if agency_pk is None else agency_pk}\t{d['dedup_key']}\t{d['source_format']}\t"
                     f"{time.isoformat()}\t{d['src_ip']}\t{null if src_port is None else src_port}\t{d['dest_ip']}\t"
                     f"{null if dest_port is None else dest_port}\t{tail[0]}")
        stored.append(rollups.StoredAlert(time, agency_pk or 0, d["category"], d["severity"], tail[1], tail[2],
                                          tail[3], d["src_ip"], d["dest_ip"]))
    text = "".join(lines).encode("utf-8", "surrogatepass")
    table = connection.ops.quote_name(Alert._meta.db_table)
    try:
        # Names come from the model, never from input.
        with transaction.atomic(), connection.cursor() as cursor, \
                cursor.cursor.copy(f"COPY {table} ({_columns_sql()}) FROM STDIN") as copy:
            copy.write(text)
    except (IntegrityError, UniqueViolation):  # another import stored one of the keys: settle them
        created = _insert_postgresql([_row(a, run) for a in fresh])
        stored = [s for s, a in zip(stored, fresh, strict=True) if a.dedup_key in created]
    else:
        created = {a.dedup_key for a in fresh}
    rollups.add(stored)
    return created


def _row(a, run: AlertImport) -> tuple:
    return (int(a.agency) if a.agency else None, a.dedup_key, a.source_format, a.time, a.src_ip, a.src_port,
            a.dest_ip, a.dest_port, a.protocol[:20], a.signature_id[:60], a.signature[:500], a.family[:120],
            a.source_category[:300], a.source_severity[:40], a.category, a.severity, a.rule[:160],
            a.sensor[:200], a.action[:40], AlertStatus.NEW.value, "", run.pk)


def _write_batch(batch: list, run: AlertImport) -> tuple[int, int]:
    """Insert the alerts of ``batch`` whose keys are not stored yet and add them to the analytics
    roll-ups: (created, duplicates). Must run inside a transaction."""
    from citygov.soc import rollups

    # Prepared dedup: the keys already stored are looked up first (one indexed query), so a
    # re-import sends nothing; the unique key still settles a concurrent import of the same alert.
    seen = _stored_keys(list({a.dedup_key for a in batch}))
    fresh = []
    for a in batch:
        if a.dedup_key in seen:
            continue
        seen.add(a.dedup_key)
        fresh.append(a)
    if not fresh:
        return 0, len(batch)
    if connection.vendor == "postgresql":
        created = _write_batch_postgresql(fresh, run)
        return len(created), len(batch) - len(created)
    rows = [_row(a, run) for a in fresh]
    created = _insert_generic(rows)
    rollups.add(rollups.StoredAlert(r[3], r[0] or 0, r[14], r[15], r[9], r[10], r[11], r[4], r[6])
                for r in rows if r[1] in created)
    return len(created), len(batch) - len(created)


class _BatchReader(threading.Thread):
    """Reads and normalises an alert stream in batches on its own thread while the caller stores the
    previous batch: the engine's CPU work overlaps the database's (the database driver releases the
    interpreter lock while it waits). Batches go through a short queue (memory stays bounded); the
    end is ``None``; an exception of the reader is handed over and raised by the caller."""

    def __init__(self, stream: BinaryIO, fmt: str, ctx: formats.Context, stats: formats.ReadStats) -> None:
        super().__init__(name="soc-import-reader", daemon=True)
        self.stream, self.fmt, self.ctx, self.stats = stream, fmt, ctx, stats
        self.batches: queue.Queue = queue.Queue(maxsize=2)
        self.stopped = threading.Event()
        self.rejected = 0
        self.rejected_lines: list[dict] = []
        self.unknown: Counter = Counter()

    def _hand_over(self, item) -> bool:
        while not self.stopped.is_set():
            try:
                self.batches.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            cidr, rejected_lines, unknown = self.ctx.cidr, self.rejected_lines, self.unknown
            batch: list = []
            for item in formats.read_alerts(self.stream, fmt=self.fmt, ctx=self.ctx, stats=self.stats):
                if isinstance(item, formats.Rejected):
                    self.rejected += 1
                    if len(rejected_lines) < MAX_REJECTED_KEPT:
                        rejected_lines.append({"line": item.line, "reason": item.reason})
                    continue
                if not item.agency and cidr:
                    unknown[item.dest_ip or item.src_ip] += 1
                batch.append(item)
                if len(batch) >= BATCH:
                    if not self._hand_over(batch):
                        return
                    batch = []
            if batch and not self._hand_over(batch):
                return
            self._hand_over(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            self._hand_over(exc)

    def __iter__(self):
        while True:
            item = self.batches.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


def do_import_alerts(user, stream: BinaryIO, file_name: str, fmt: str = "auto") -> AlertImport:
    """Read ``stream`` and store its new alerts in batches; bad lines are recorded on the import and
    skipped. Re-importing the same file creates nothing (alerts are unique by dedup key). The next
    batch is read while the previous one is stored (:class:`_BatchReader`)."""
    check_import_alerts(user, fmt)
    ctx = engine_context()
    stats = formats.ReadStats()
    run = AlertImport.objects.create(file_name=file_name[:300], requested_format=fmt, imported_by=user)
    created = duplicates = 0
    reader = _BatchReader(stream, fmt, ctx, stats)
    reader.start()
    try:
        for batch in reader:
            with transaction.atomic():
                c, d = _write_batch(batch, run)
            created, duplicates = created + c, duplicates + d
    finally:
        reader.stopped.set()
        reader.join()
    rejected, rejected_lines, unknown = reader.rejected, reader.rejected_lines, reader.unknown
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
    from citygov.soc import mail

    today = today or timezone.localdate()
    counts = Counter()
    outbox: list[tuple[Reminder, mail.Mail]] = []
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
                to = mail.agency_addresses(action.agency_id)
                if kind == Reminder.Kind.ESCALATED:
                    action.escalated_at = timezone.now()
                    action.save(update_fields=["escalated_at"])
                    to = tuple(sorted(set(to) | set(mail.bureau_addresses())))
                outbox.append((reminder, _reminder_mail(action, kind, message, to)))
    # Mail after the commit: a slow or failing mail server never rolls back the reminders.
    for (reminder, _mail), reached in zip(outbox, mail.send([m for _r, m in outbox]), strict=True):
        if reached:
            Reminder.objects.filter(pk=reminder.pk).update(recipients=reached)
    return ReminderRun(due_soon=counts[Reminder.Kind.DUE_SOON], overdue=counts[Reminder.Kind.OVERDUE],
                       escalated=counts[Reminder.Kind.ESCALATED])


def _reminder_mail(action: FollowUpAction, kind: str, message: str, to: tuple[str, ...]):
    """The e-mail of one reminder (Traditional Chinese first, English second)."""
    from citygov.soc import mail

    subjects = {Reminder.Kind.DUE_SOON: ("追蹤事項即將到期", "Follow-up action due soon"),
                Reminder.Kind.OVERDUE: ("追蹤事項已逾期", "Follow-up action overdue"),
                Reminder.Kind.ESCALATED: ("逾期追蹤事項陳報", "Overdue follow-up action escalated")}
    zh, en = subjects[kind]
    link = f"citygov /soc/cases/{action.case_id}/#action-{action.pk}"
    body = (f"{zh}／{en}\n\n{message}\n\n案件 Case: {action.case.title}\n到期日 Due: {action.due_date:%Y-%m-%d}\n"
            f"負責人 Owner: {action.owner or '-'}\n{link}\n")
    return mail.Mail(subject=f"[citygov SOC] {zh} {en}: {action.recommendation[:60]}", body=body, to=to)


# --- incidents (資安事件) and their legal clocks ----------------------------------------------------

MILESTONES = {"notify": "notified_at", "review": "reviewed_at", "recover": "recovered_at", "report": "reported_at"}
CLOCK_SKEW = dt.timedelta(minutes=5)  # a recorded time may be this far ahead of the server's clock


@dataclass(frozen=True)
class IncidentInput:
    """What an incident is recorded with: the agency, what happened, its level and type, and when
    the agency became aware of it (the clocks start there)."""

    agency_id: int
    title: str
    level: int
    aware_at: dt.datetime
    kind: str = "other"
    description: str = ""


def do_add_incident_policy(user, name: str, effective_from: dt.date, note: str = "", **deadlines) -> IncidentPolicy:
    """Record a version of the deadlines (``notify_hours``, ``review_hours_low`` … as in the model;
    omitted ones take the 2021 text's values). One policy per effective date."""
    _require(user, Capability.SOC_CASES)
    if not name.strip():
        raise InvalidInput(_("A policy needs the regulation's name."), fields={"name": [_("Required.")]})
    if IncidentPolicy.objects.filter(effective_from=effective_from).exists():
        raise Conflict(_("A policy in force from this day exists already."), code="duplicate_policy")
    policy = IncidentPolicy(name=name.strip()[:200], effective_from=effective_from, note=note.strip(), **deadlines)
    try:
        policy.to_engine()  # the engine's checks (every deadline above zero, …)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="bad_policy") from None
    with transaction.atomic():
        policy.save()
        record_change(actor=user, action=ChangeAction.CREATE, obj=policy, after=snapshot(policy), object_repr=str(policy))
    return policy


def policy_in_force(day: dt.date) -> IncidentPolicy | None:
    """The dated policy in force on ``day`` (the earliest one for a day before all; None when the
    table is empty, and the engine's documented default applies)."""
    return (IncidentPolicy.objects.filter(effective_from__lte=day).order_by("-effective_from").first()
            or IncidentPolicy.objects.order_by("effective_from").first())


def _incident_for(user, incident_id: int) -> Incident:
    incident = Incident.objects.for_agency(user).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(_("No such incident."))
    return incident


def _check_time(value: dt.datetime | None, field: str, now: dt.datetime) -> None:
    if value is None:
        raise InvalidInput(_("Give the date and time."), fields={field: [_("Required.")]})
    if timezone.is_naive(value):
        raise InvalidInput(_("The time needs a time zone."), fields={field: [_("The time needs a time zone.")]})
    if value > now + CLOCK_SKEW:
        raise InvalidInput(_("The time is in the future."), fields={field: [_("The time is in the future.")]})


def check_create_incident(user, data: IncidentInput, now: dt.datetime | None = None) -> None:
    """The bureau (``soc.cases``) records incidents; title, a level 1-4, a known type and agency, and
    an awareness time not in the future are required."""
    from citygov.agencies.models import Agency
    from citygov.soc.models import CaseKind

    _require(user, Capability.SOC_CASES)
    if not data.title.strip():
        raise InvalidInput(_("An incident needs a title."), fields={"title": [_("Required.")]})
    if data.level not in clock_engine.LEVELS:
        raise InvalidInput(_("The level must be 1, 2, 3 or 4."), fields={"level": [_("The level must be 1, 2, 3 or 4.")]})
    if data.kind not in CaseKind.values:
        raise InvalidInput(_("Unknown incident type."), fields={"kind": [_("Unknown incident type.")]})
    if not Agency.objects.filter(pk=data.agency_id).exists():
        raise InvalidInput(_("No such agency."), fields={"agency": [_("No such agency.")]})
    _check_time(data.aware_at, "aware_at", now or timezone.now())


def do_create_incident(user, data: IncidentInput, now: dt.datetime | None = None) -> Incident:
    """Record an incident under the policy in force on the day the agency became aware of it."""
    now = now or timezone.now()
    check_create_incident(user, data, now)
    with transaction.atomic():
        incident = Incident.objects.create(
            agency_id=data.agency_id, title=data.title.strip()[:200], kind=data.kind, level=data.level,
            description=data.description.strip(), aware_at=data.aware_at,
            policy=policy_in_force(timezone.localtime(data.aware_at).date()), created_by=user, created_at=now)
        record_change(actor=user, action=ChangeAction.CREATE, obj=incident,
                      after=snapshot(incident, ["agency", "title", "kind", "level", "aware_at", "policy"]),
                      object_repr=incident.title)
    return incident


def check_record_milestone(user, incident_id: int, milestone: str, at: dt.datetime | None,
                           now: dt.datetime | None = None) -> Incident:
    """Notification, recovery and the report are recorded by the bureau or the incident's agency;
    the level review only by the bureau. Each once, in order, not before awareness nor in the future."""
    if milestone not in MILESTONES:
        raise InvalidInput(_("Unknown milestone."), code="bad_milestone")
    if milestone == "review":
        _require(user, Capability.SOC_CASES)
    elif not (user.has_capability(Capability.SOC_CASES) or user.has_capability(Capability.SOC_FOLLOW_UP)):
        raise Forbidden(_("Your role does not allow this."))
    incident = _incident_for(user, incident_id)
    if not user.has_capability(Capability.SOC_CASES) and not can_reach_agency(user, incident.agency_id):
        raise NotFound(_("No such incident."))
    if getattr(incident, MILESTONES[milestone]) is not None:
        raise Conflict(_("This milestone is recorded already."), code="invalid_transition")
    if milestone == "review" and incident.notified_at is None:
        raise Conflict(_("Record the notification before the level review."), code="invalid_transition")
    if milestone == "report" and incident.recovered_at is None:
        raise Conflict(_("Record the recovery before the report."), code="invalid_transition")
    _check_time(at, "at", now or timezone.now())
    if at < incident.aware_at:
        raise InvalidInput(_("The time is before the agency became aware of the incident."),
                           fields={"at": [_("The time is before the agency became aware of the incident.")]})
    return incident


def do_record_milestone(user, incident_id: int, milestone: str, at: dt.datetime | None = None,
                        now: dt.datetime | None = None) -> Incident:
    """Record when a milestone was met (default: now); recording the report closes the incident."""
    now = now or timezone.now()
    at = at or now
    incident = check_record_milestone(user, incident_id, milestone, at, now)
    field = MILESTONES[milestone]
    with transaction.atomic():
        before = snapshot(incident, [field])
        setattr(incident, field, at)
        incident.save(update_fields=[field])
        record_change(actor=user, action=ChangeAction.UPDATE, obj=incident, before=before,
                      after=snapshot(incident, [field]), object_repr=incident.title, note=f"soc incident {milestone}")
    return incident


def check_change_level(user, incident_id: int, level: int, reason: str) -> Incident:
    """The bureau changes the level of an open incident, saying why."""
    _require(user, Capability.SOC_CASES)
    incident = _incident_for(user, incident_id)
    if incident.is_closed:
        raise Conflict(_("The incident is closed."), code="invalid_transition")
    if level not in clock_engine.LEVELS:
        raise InvalidInput(_("The level must be 1, 2, 3 or 4."), fields={"level": [_("The level must be 1, 2, 3 or 4.")]})
    if level == incident.level:
        raise Conflict(_("The incident has this level already."), code="unchanged")
    if not reason.strip():
        raise InvalidInput(_("Say why the level changes."), fields={"reason": [_("Required.")]})
    return incident


def do_change_level(user, incident_id: int, level: int, reason: str) -> Incident:
    """Change the level (the review and recovery deadlines follow the new level)."""
    incident = check_change_level(user, incident_id, level, reason)
    with transaction.atomic():
        before = snapshot(incident, ["level"])
        incident.level = level
        incident.save(update_fields=["level"])
        record_change(actor=user, action=ChangeAction.UPDATE, obj=incident, before=before,
                      after=snapshot(incident, ["level"]), object_repr=incident.title, note=reason.strip()[:500])
    return incident


def _agency_and_below(agency_id: int) -> set[int]:
    """The agency and every agency below it (a museum's alerts belong to its department's incident)."""
    from citygov.agencies.models import Agency

    parents = dict(Agency.objects.values_list("id", "parent_id"))
    result = set()
    for candidate in parents:
        cursor, seen = candidate, set()
        while cursor is not None and cursor not in seen:
            if cursor == agency_id:
                result.add(candidate)
                break
            seen.add(cursor)
            cursor = parents.get(cursor)
    return result | {agency_id}


def check_link_alerts(user, incident_id: int, alert_ids: list[int]) -> tuple[Incident, list[Alert]]:
    """Analysts link alerts they can see to an incident of the same agency (or of an agency above)."""
    if not (user.has_capability(Capability.SOC_TRIAGE) or user.has_capability(Capability.SOC_CASES)):
        raise Forbidden(_("Your role does not allow this."))
    incident = _incident_for(user, incident_id)
    if not alert_ids:
        raise InvalidInput(_("Name at least one alert."), fields={"alerts": [_("Required.")]})
    alerts = list(Alert.objects.for_agency(user).filter(pk__in=alert_ids))
    missing = sorted(set(alert_ids) - {a.pk for a in alerts})
    if missing:
        raise InvalidInput(_("No such alerts: {ids}").format(ids=", ".join(map(str, missing))),
                           fields={"alerts": [_("No such alerts: {ids}").format(ids=", ".join(map(str, missing)))]})
    allowed = _agency_and_below(incident.agency_id)
    other = [a.pk for a in alerts if a.agency_id is not None and a.agency_id not in allowed]
    if other:
        raise InvalidInput(_("Alerts of another agency: {ids}").format(ids=", ".join(map(str, other))),
                           fields={"alerts": [_("Alerts of another agency: {ids}").format(ids=", ".join(map(str, other)))]})
    return incident, alerts


def do_link_alerts(user, incident_id: int, alert_ids: list[int], *, whole_group: bool = False) -> int:
    """Link alerts (each with its whole recurrence group when asked) to the incident; returns how
    many were newly linked."""
    incident, alerts = check_link_alerts(user, incident_id, alert_ids)
    allowed = _agency_and_below(incident.agency_id)
    with transaction.atomic():
        ids = {a.pk for a in alerts}
        if whole_group:
            for alert in alerts:
                ids |= set(group_alerts(user, alert).filter(agency_id__in=allowed).values_list("pk", flat=True))
        new = sorted(ids - set(incident.alerts.values_list("pk", flat=True)))
        incident.alerts.add(*new)
        if new:
            record_change(actor=user, action=ChangeAction.UPDATE, obj=incident, object_repr=incident.title,
                          after={"alerts_linked": new[:200], "count": len(new)}, note="soc incident alerts linked")
    return len(new)


def check_link_case(user, incident_id: int, case_id: int | None) -> tuple[Incident, ForensicCase | None]:
    """The bureau links an incident to a forensic case of the same agency (or opens one for it)."""
    _require(user, Capability.SOC_CASES)
    incident = _incident_for(user, incident_id)
    if incident.case_id is not None:
        raise Conflict(_("The incident has a forensic case already."), code="invalid_transition")
    case = None
    if case_id is not None:
        case = _case_for(user, case_id)
        if case.agency_id != incident.agency_id:
            raise InvalidInput(_("The case belongs to another agency."), fields={"case": [_("The case belongs to another agency.")]})
    return incident, case


def do_link_case(user, incident_id: int, case_id: int | None = None) -> ForensicCase:
    """Link the incident to case ``case_id``, or open a forensic case for it (same agency, type,
    title and awareness time)."""
    incident, case = check_link_case(user, incident_id, case_id)
    with transaction.atomic():
        if case is None:
            case = do_create_case(user, CaseInput(agency_id=incident.agency_id, title=incident.title, kind=incident.kind,
                                                  scope=incident.description, aware_at=incident.aware_at))
        before = snapshot(incident, ["case"])
        incident.case = case
        incident.save(update_fields=["case"])
        record_change(actor=user, action=ChangeAction.UPDATE, obj=incident, before=before,
                      after=snapshot(incident, ["case"]), object_repr=incident.title)
    return case


@dataclass(frozen=True)
class ClockRun:
    """What one clock check sent."""

    due_soon: int = 0
    overdue: int = 0


def do_check_incident_clocks(now: dt.datetime | None = None) -> ClockRun:
    """Notify the agency and the bureau (a stored notice, the change log and an e-mail) when a clock
    of an open incident becomes due soon and when it becomes overdue — each once."""
    from citygov.soc import mail

    now = now or timezone.now()
    counts: Counter = Counter()
    outbox: list[tuple[IncidentNotice, mail.Mail]] = []
    with transaction.atomic():
        sent = set(IncidentNotice.objects.filter(incident__reported_at__isnull=True).values_list(
            "incident_id", "clock", "state"))
        for incident in Incident.objects.filter(reported_at__isnull=True).select_related("policy", "agency"):
            for clock in incident.clocks(now):
                if clock.state not in (clock_engine.DUE_SOON, clock_engine.OVERDUE):
                    continue
                if (incident.pk, clock.key, clock.state) in sent:
                    continue
                notice = IncidentNotice.objects.create(
                    incident=incident, agency_id=incident.agency_id, clock=clock.key, state=clock.state, due=clock.due,
                    message=_incident_message(incident, clock), created_at=now)
                counts[clock.state] += 1
                record_change(actor=None, action=ChangeAction.ACTION, obj=notice, object_repr=notice.message[:100],
                              note=f"soc incident clock {clock.key} {clock.state}")
                logger.info("soc incident %d clock %s %s", incident.pk, clock.key, clock.state)
                to = tuple(sorted(set(mail.agency_addresses(incident.agency_id)) | set(mail.bureau_addresses())))
                outbox.append((notice, mail.Mail(subject=f"[citygov SOC] {notice.message[:120]}",
                                                 body=f"{notice.message}\n\ncitygov /soc/incidents/{incident.pk}/\n",
                                                 to=to)))
    for (notice, _mail), reached in zip(outbox, mail.send([m for _n, m in outbox]), strict=True):
        if reached:
            IncidentNotice.objects.filter(pk=notice.pk).update(recipients=reached)
    return ClockRun(due_soon=counts[clock_engine.DUE_SOON], overdue=counts[clock_engine.OVERDUE])


def _incident_message(incident: Incident, clock) -> str:
    """Traditional Chinese first, English second: which clock, which incident, when due."""
    due = timezone.localtime(clock.due).strftime("%Y-%m-%d %H:%M")
    zh_state, en_state = {clock_engine.DUE_SOON: ("即將到期", "due soon"), clock_engine.OVERDUE: ("已逾期", "overdue")}[
        clock.state]
    zh, en = clock_engine.CLOCK_LABELS[clock.key]
    return (f"資安事件「{incident.title}」（第{incident.level}級）{zh}{zh_state}，期限 {due}／"
            f"Incident {incident.pk} (level {incident.level}): {en.lower()} {en_state}, due {due}")[:500]


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
