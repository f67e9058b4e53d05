"""Writes of the datagov module: catalogue import and the daily freshness snapshot.

Every write runs in one transaction and leaves change-log rows. The import is all-or-nothing for a file
that cannot be read (wrong encoding part-way, missing columns, truncated inside a quoted cell) and
row-by-row otherwise: bad rows are reported by line and skipped, good rows are created or updated
idempotently (re-importing the same file changes nothing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import sqlite3
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import BinaryIO

from django.db import connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.agencies.models import Agency
from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeAction
from citygov.core.roles import Capability
from citygov.datagov import digest as digest_mod
from citygov.datagov import harvest, probe
from citygov.datagov.engine import catalog, ckan, classify, dcat, textindex
from citygov.datagov.engine import frequency as fq
from citygov.datagov.harvest import HarvestSettings
from citygov.datagov.models import (
    Axis,
    ClassificationSuggestion,
    Dataset,
    FreshnessSnapshot,
    ImportRun,
    LinkCheck,
    Resource,
    SharingRequest,
    SharingStatus,
    Source,
    SuggestionStatus,
    VocabularyTerm,
)

BATCH = 1000
MAX_JSONLD_BYTES = 200 * 1024 * 1024  # a JSON-LD document is parsed whole
MAX_REPORTED_ERRORS = 500
# Agencies renamed or merged since the source was published: source name → our agency code.
# 研考會 and 資訊科技局 merged into 智慧城鄉發展委員會 on 2024-01-01.
AGENCY_ALIASES = {
    "研究發展考核委員會": "sccdc",
    "桃園市政府研究發展考核委員會": "sccdc",
    "桃園市政府資訊科技局": "sccdc",
    "資訊科技局": "sccdc",
}
_CITY_PREFIXES = ("桃園市政府", "桃園市")
UPDATE_FIELDS = (
    "title", "description", "agency", "provider_agency", "source_agency_code", "source_agency_name", "category",
    "keywords", "licence", "frequency_text", "frequency_class", "frequency_interval", "frequency_eu_code",
    "frequency_recognised", "data_updated_at", "metadata_updated_at", "published_at", "spatial", "layer_type",
    "contact_name", "contact_phone", "contact_email", "landing_url", "schema", "content_hash", "search_text",
)


@dataclass(frozen=True)
class ImportResult:
    """What an import did (``run`` is the stored record)."""

    run: ImportRun
    layout: str
    errors: tuple[catalog.RowError, ...]
    unmatched: tuple[str, ...]
    created_ids: tuple[int, ...] = field(default_factory=tuple)


class _HashingReader(io.RawIOBase):
    """Passes bytes through while computing their SHA-256 (the file is read once)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


def search_text(*parts: str) -> str:
    """The text catalogue search matches: NFKC-folded, lower-case, 台 → 臺."""
    return unicodedata.normalize("NFKC", " ".join(p for p in parts if p)).lower().replace("台", "臺")


class AgencyMatcher:
    """Match a source's agency (code and name) to one of ours by name, prefixes and known renamings."""

    def __init__(self) -> None:
        self._by_name: dict[str, Agency] = {}
        agencies = list(Agency.objects.all())
        by_code = {a.code: a for a in agencies}
        for agency in agencies:
            self._by_name.setdefault(agency.name_zh, agency)
        for agency in agencies:
            for prefix in _CITY_PREFIXES:
                if agency.name_zh.startswith(prefix):
                    self._by_name.setdefault(agency.name_zh[len(prefix):], agency)
        for alias, code in AGENCY_ALIASES.items():
            if code in by_code:
                self._by_name.setdefault(alias, by_code[code])

    def match(self, name: str) -> Agency | None:
        """Our agency for a source name, or None."""
        name = name.strip()
        if name in self._by_name:
            return self._by_name[name]
        for prefix in _CITY_PREFIXES:
            if name.startswith(prefix) and name[len(prefix):] in self._by_name:
                return self._by_name[name[len(prefix):]]
        return None


def _values(entry: catalog.Entry, matcher: AgencyMatcher, normalise=fq.normalise) -> dict:
    """The stored fields of one entry and its content hash (``search_tokens`` is added by the caller)."""
    freq = normalise(entry.frequency_text)
    agency = matcher.match(entry.agency_name)
    provider = matcher.match(entry.provider_name) if entry.provider_name != entry.agency_name else agency
    values = {
        "title": entry.title[:300], "description": entry.description, "agency": agency, "provider_agency": provider,
        "source_agency_code": entry.agency_code[:20], "source_agency_name": entry.agency_name[:100],
        "category": entry.category[:50], "keywords": list(entry.keywords), "licence": entry.licence[:100],
        "frequency_text": entry.frequency_text[:200], "frequency_class": freq.kind,
        "frequency_interval": freq.iso, "frequency_eu_code": freq.eu_code, "frequency_recognised": freq.recognised,
        "data_updated_at": entry.data_updated, "metadata_updated_at": entry.metadata_updated,
        "published_at": entry.created, "spatial": entry.spatial, "layer_type": entry.layer_type[:20],
        "contact_name": entry.contact_name[:100], "contact_phone": entry.contact_phone[:60],
        "contact_email": entry.contact_email[:200],
        "landing_url": entry.landing_url[:500] if entry.landing_url.startswith(("http://", "https://")) else "",
        "schema": [{"name": f.name, "description": f.description} for f in entry.fields],
        "search_text": search_text(entry.title, entry.description, " ".join(entry.keywords), entry.agency_name,
                                   entry.category, " ".join(f.name for f in entry.fields)),
    }
    digest_source = dict(values)
    digest_source["agency"] = agency.pk if agency is not None else None
    digest_source["provider_agency"] = provider.pk if provider is not None else None
    for name in ("data_updated_at", "metadata_updated_at", "published_at"):
        if values[name] is not None:
            digest_source[name] = values[name].isoformat()
    digest_source["resources"] = [[r.url, r.format, r.encoding, r.size] for r in entry.resources]
    values["content_hash"] = hashlib.sha256(json.dumps(digest_source, sort_keys=True, ensure_ascii=False)
                                            .encode()).hexdigest()
    return values


def _with_tokens(values: dict) -> dict:
    # Derived from search_text, so left out of the content hash (hashes stay those of earlier imports) and
    # computed only for rows that are written: an unchanged row needs no tokens.
    values["search_tokens"] = textindex.index_tokens(values["search_text"])
    return values


def _cached(function):
    """``function`` of one text, remembered for the run (a catalogue declares a few dozen frequencies)."""
    seen: dict = {}

    def call(text):
        found = seen.get(text)
        if found is None:
            found = seen[text] = function(text)
        return found
    return call


class _Inserter:
    """Plain multi-row inserts of new rows of one model, for imports of tens of thousands of rows.

    ``bulk_create`` prepares every value of every row through the ORM's generic path, which costs more
    than the database's own work for a 35-column row. Here each column's conversion is chosen once:
    text, numbers and flags pass as they are, foreign keys as their key, JSON and times through the
    backend's own adapters, anything else through ``get_db_prep_save``. Auto-now fields take one time
    for the batch and fields the rows do not name take their default. The stored rows are the same as
    ``bulk_create`` writes. The keys are not returned: callers read them back by a natural key.
    """

    _AS_IS = (models.CharField, models.TextField, models.BooleanField, models.IntegerField)

    def __init__(self, model, connection, names: tuple[str, ...], now: dt.datetime):
        self.connection = connection
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        columns, self._plan = [], []
        for f in fields:
            columns.append(connection.ops.quote_name(f.column))
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                self._plan.append((None, None, f.get_db_prep_save(now, connection)))
            elif f.name not in names:
                self._plan.append((None, None, f.get_db_prep_save(f.get_default(), connection)))
            elif f.is_relation:
                self._plan.append((f.name, _key, None))
            elif isinstance(f, self._AS_IS):
                self._plan.append((f.name, None, None))
            elif isinstance(f, models.JSONField):  # the lists and dicts the import builds, never None
                self._plan.append((f.name, partial(connection.ops.adapt_json_value, encoder=f.encoder), None))
            elif isinstance(f, models.DateTimeField):  # aware times or None
                self._plan.append((f.name, connection.ops.adapt_datetimefield_value, None))
            else:
                self._plan.append((f.name, partial(_prep, f, connection), None))
        self._head = (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608 - model names
                      f"({', '.join(columns)}) VALUES ")
        self._one = f"({', '.join(['%s'] * len(columns))})"
        self._copy = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) FROM STDIN"
        self._per_statement = max(1, min(BATCH, _max_params(connection) // len(columns)))

    def row(self, values: dict) -> tuple:
        """The parameters of one row's insert."""
        out = []
        for name, convert, constant in self._plan:
            if name is None:
                out.append(constant)
            elif convert is None:
                out.append(values[name])
            else:
                out.append(convert(values[name]))
        return tuple(out)

    def insert(self, rows: list[tuple]) -> None:
        """Insert the rows (each from ``row``): COPY on PostgreSQL, elsewhere as many rows in one statement
        as the database takes.

        One statement per row would cost more on both databases, and on SQLite the FTS5 trigger then
        flushes the full-text index at each statement (about twice the time of the whole insert). The
        PostgreSQL driver binds parameters on the client, parsing the statement in Python, so a long
        multi-row statement costs more than COPY there.
        """
        per = self._per_statement
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":  # COPY: the values are sent as they are, no SQL to parse
                with cursor.cursor.copy(self._copy) as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            for start in range(0, len(rows), per):
                chunk = rows[start:start + per]
                cursor.execute(self._head + ", ".join([self._one] * len(chunk)),
                               [value for row in chunk for value in row])


def _max_params(connection) -> int:
    """How many parameters one statement may hold on this database."""
    if connection.vendor == "sqlite":  # Django assumes 999; the linked SQLite says what it takes
        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return connection.features.max_query_params or 65535


def _key(obj) -> int | None:
    """A related row's key from the row or from its key."""
    return obj if obj is None or isinstance(obj, int) else obj.pk


def _prep(field, connection, value):
    return field.get_db_prep_save(value, connection)


def _resource_values(entry: catalog.Entry):
    for i, r in enumerate(entry.resources):
        yield {"position": i, "url": r.url[:1000], "format": r.format[:40], "encoding": r.encoding[:40],
               "size": r.size[:40]}


def _resources(dataset_id: int, entry: catalog.Entry) -> list[Resource]:
    return [Resource(dataset_id=dataset_id, **values) for values in _resource_values(entry)]


def check_import_catalog(actor) -> None:
    """Only roles that manage the catalogue import, and never a read-only role."""
    if actor is not None and (getattr(actor, "is_read_only", False)
                              or not actor.has_capability(Capability.MANAGE_DATAGOV)):
        raise Forbidden(_("You may not import the dataset catalogue."))


def do_import_catalog(actor, stream: BinaryIO, file_name: str) -> ImportResult:
    """Import a catalogue export: city portal or data.gov.tw CSV (UTF-8 or Big5), or DCAT-AP JSON-LD.

    The file is read once, streaming; an unreadable file raises InvalidInput and writes nothing. Good rows
    are created or updated (matched on source and identifier; unchanged rows are left alone), bad rows
    are reported by line. ``actor`` None is the system (demo data, jobs).
    """
    check_import_catalog(actor)
    started = timezone.now()
    hashing = _HashingReader(stream)
    entries: list[catalog.Entry] = []
    errors: list[catalog.RowError] = []
    buffered = io.BufferedReader(hashing, buffer_size=1 << 16)
    if buffered.peek(256)[:256].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        data = buffered.read(MAX_JSONLD_BYTES + 1)
        if len(data) > MAX_JSONLD_BYTES:
            raise InvalidInput("JSON-LD 檔案超過 200 MB。 The JSON-LD file is larger than 200 MB.", code="unreadable_file")
        try:
            entries, errors = dcat.read_jsonld(data)
        except catalog.CatalogError as exc:
            raise InvalidInput(f"{exc.message_zh} {exc.message}", code="unreadable_file") from exc
        return _write_entries(actor, Source.DCAT, entries, errors, file_name=file_name,
                              sha256=hashing.digest.hexdigest(), encoding="utf-8", layout="dcat_jsonld",
                              started=started)
    try:
        reader = catalog.CatalogReader(buffered)
        for entry, error in reader:
            if entry is not None:
                entries.append(entry)
            else:
                errors.append(error)
    except catalog.CatalogError as exc:
        raise InvalidInput(f"{exc.message_zh} {exc.message}", code="unreadable_file") from exc
    source = Source.CITY_PORTAL if reader.header.layout == catalog.LAYOUT_CITY else Source.DATA_GOV_TW
    return _write_entries(actor, source, entries, errors, file_name=file_name, sha256=hashing.digest.hexdigest(),
                          encoding=reader.header.encoding, layout=reader.header.layout, started=started)


def _write_entries(actor, source: str, entries: list[catalog.Entry], errors: list[catalog.RowError], *,
                   file_name: str, sha256: str, encoding: str, layout: str, started) -> ImportResult:
    """Create or update the datasets of ``entries`` in one transaction and record the import.

    New datasets and their resources are written with plain multi-row inserts (``_Inserter``) in batches
    of ``BATCH``; their keys are then read back by identifier in one query. Changed datasets are updated
    one by one, each with its change-log row.
    """
    matcher = AgencyMatcher()
    normalise = _cached(fq.normalise)
    unmatched: Counter[str] = Counter()
    counts = Counter()
    connection = connections[router.db_for_write(Dataset)]
    with transaction.atomic(using=connection.alias):
        existing = {sid: (pk, digest) for sid, pk, digest in
                    Dataset.objects.filter(source=source).values_list("source_id", "pk", "content_hash")}
        to_create: list[tuple[dict, catalog.Entry]] = []
        for entry in entries:
            values = _values(entry, matcher, normalise)
            if values["agency"] is None and entry.agency_name:
                unmatched[f"{entry.agency_code} {entry.agency_name}".strip()] += 1
            known = existing.get(entry.source_id)
            if known is None:
                values["source"], values["source_id"] = source, entry.source_id
                to_create.append((_with_tokens(values), entry))
            elif known[1] == values["content_hash"]:
                counts["unchanged"] += 1
            else:
                _with_tokens(values)
                dataset = Dataset.objects.select_for_update().get(pk=known[0])
                before = snapshot(dataset, UPDATE_FIELDS)
                for name, value in values.items():
                    setattr(dataset, name, value)
                dataset.save(update_fields=[*UPDATE_FIELDS, "search_tokens", "updated_at"])
                Resource.objects.filter(dataset=dataset).delete()
                Resource.objects.bulk_create(_resources(dataset.pk, entry))
                record_change(actor=actor, action=ChangeAction.UPDATE, obj=dataset, before=before,
                              after=snapshot(dataset, UPDATE_FIELDS), note=f"import {file_name}"[:300])
                counts["updated"] += 1
        created_ids = _insert_new(connection, source, to_create)
        counts["created"] = len(to_create)
        run = ImportRun.objects.create(
            source=source, file_name=file_name[:300], sha256=sha256, encoding=encoding[:20], rows=len(entries) + len(errors), created=counts["created"],
            updated=counts["updated"], unchanged=counts["unchanged"], rejected=len(errors),
            errors=[{"line": e.line, "message": e.message, "message_zh": e.message_zh}
                    for e in errors[:MAX_REPORTED_ERRORS]],
            unmatched_agencies=[{"agency": name, "datasets": n} for name, n in sorted(unmatched.items())],
            started_at=started, finished_at=timezone.now())
        record_change(actor=actor, action=ChangeAction.CREATE, obj=run, after=snapshot(run, (
            "source", "file_name", "sha256", "rows", "created", "updated", "unchanged", "rejected")),
            note=_("{created} datasets created, {updated} updated").format(created=counts["created"],
                                                                          updated=counts["updated"]))
    return ImportResult(run=run, layout=layout, errors=tuple(errors),
                        unmatched=tuple(sorted(unmatched)), created_ids=tuple(created_ids))


def _insert_new(connection, source: str, to_create: list[tuple[dict, catalog.Entry]]) -> list[int]:
    """Insert new datasets and their resources; their keys, in the order given."""
    if not to_create:
        return []
    now = timezone.now()
    datasets = _Inserter(Dataset, connection, tuple(to_create[0][0]), now)
    for start in range(0, len(to_create), BATCH):
        datasets.insert([datasets.row(values) for values, _entry in to_create[start:start + BATCH]])
    new_ids = {values["source_id"] for values, _entry in to_create}
    keys = {sid: pk for sid, pk in Dataset.objects.using(connection.alias).filter(source=source)
            .values_list("source_id", "pk") if sid in new_ids}
    resources = _Inserter(Resource, connection, ("dataset", "position", "url", "format", "encoding", "size"), now)
    rows: list[tuple] = []
    for values, entry in to_create:
        dataset_id = keys[values["source_id"]]
        for resource in _resource_values(entry):
            resource["dataset"] = dataset_id
            rows.append(resources.row(resource))
        if len(rows) >= BATCH:
            resources.insert(rows)
            rows = []
    resources.insert(rows)
    return [keys[values["source_id"]] for values, _entry in to_create]


def do_harvest_ckan(actor, base_url: str, settings: HarvestSettings | None = None) -> ImportResult:
    """Harvest every package of a CKAN portal (Action API ``package_search``) into the catalogue.

    All pages are fetched first; a page that fails after the retries raises InvalidInput and nothing is
    written. Packages without an id or title are reported by their position; the rest are created or
    updated idempotently, like a file import.
    """
    check_import_catalog(actor)
    started = timezone.now()
    entries: list[catalog.Entry] = []
    errors: list[catalog.RowError] = []
    digest = hashlib.sha256()
    try:
        for position, package in enumerate(harvest.packages(base_url, settings), start=1):
            digest.update(json.dumps(package, sort_keys=True, ensure_ascii=False).encode())
            try:
                entries.append(ckan.package_to_entry(package, position))
            except (ValueError, TypeError, AttributeError) as exc:
                errors.append(catalog.RowError(position, f"unreadable package: {exc}", f"無法解讀的資料集：{exc}"))
    except catalog.CatalogError as exc:
        raise InvalidInput(f"{exc.message_zh} {exc.message}", code="harvest_failed") from exc
    return _write_entries(actor, Source.CKAN, entries, errors, file_name=base_url, sha256=digest.hexdigest(),
                          encoding="json", layout="ckan", started=started)


def do_snapshot_freshness(actor, *, as_of: dt.datetime | None = None) -> int:
    """Store today's (or ``as_of``'s) freshness counts per agency for the trend; re-running replaces them.

    Returns the number of snapshot rows written.
    """
    from citygov.datagov.queries import DEFAULT_POLICY, freshness_counts_by_agency

    as_of = as_of or timezone.now()
    day = timezone.localtime(as_of).date()
    written = 0
    with transaction.atomic():
        for agency_id, counts in freshness_counts_by_agency(as_of, DEFAULT_POLICY).items():
            row, created = FreshnessSnapshot.objects.update_or_create(day=day, agency_id=agency_id, defaults=counts)
            record_change(actor=actor, action=ChangeAction.CREATE if created else ChangeAction.UPDATE, obj=row,
                          after=snapshot(row), agency_id=agency_id, note="freshness snapshot")
            written += 1
    return written


# --- sharing requests -----------------------------------------------------------------------------

MAX_SHARING_DAYS = 366
SHARING_FIELDS = ("dataset", "agency", "requesting_agency", "purpose", "fields", "legal_basis", "period_start",
                  "period_end", "status", "renews", "decided_by", "decided_at", "reason")


@dataclass(frozen=True)
class SharingInput:
    """What a requesting agency asks for: which data, why, under which law, for which period."""

    dataset_id: int
    requesting_agency_id: int
    purpose: str
    legal_basis: str
    period_start: dt.date
    period_end: dt.date
    fields: tuple[str, ...] = ()
    renews_id: int | None = None


def check_request_sharing(actor, data: SharingInput) -> Dataset:
    """Authorise and validate a sharing request; the dataset is returned.

    The actor must belong to the requesting agency and may not be read-only; the dataset must have an
    owning agency other than the requester; the period is at most a year; requested fields must be in
    the dataset's field schema when it has one.
    """
    from citygov.core.scoping import can_reach_agency

    if actor is None or actor.is_read_only or not actor.has_capability(Capability.VIEW_DATAGOV) \
            or not can_reach_agency(actor, data.requesting_agency_id):
        raise Forbidden(_("You may not request data for this agency."))
    dataset = Dataset.objects.filter(pk=data.dataset_id).first()
    if dataset is None:
        raise InvalidInput(_("No such dataset."), code="not_found")
    errors: dict[str, list[str]] = {}
    if dataset.agency_id is None:
        errors["dataset"] = [_("This dataset's agency is not one of ours: ask the provider directly.")]
    elif dataset.agency_id == data.requesting_agency_id:
        errors["requesting_agency"] = [_("An agency does not need to request its own data.")]
    if not data.purpose.strip():
        errors["purpose"] = [_("Say what the data is for.")]
    if not data.legal_basis.strip():
        errors["legal_basis"] = [_("Name the legal basis.")]
    if data.period_end < data.period_start:
        errors["period_end"] = [_("The period ends before it starts.")]
    elif (data.period_end - data.period_start).days > MAX_SHARING_DAYS:
        errors["period_end"] = [_("A grant lasts at most a year; renew it when it ends.")]
    known = {f.get("name") for f in dataset.schema}
    unknown = [f for f in data.fields if known and f not in known]
    if unknown:
        errors["fields"] = [_("Not fields of this dataset: {fields}").format(fields="、".join(unknown))]
    if data.renews_id is not None and not SharingRequest.objects.filter(
            pk=data.renews_id, dataset=dataset, requesting_agency_id=data.requesting_agency_id,
            status=SharingStatus.APPROVED).exists():
        errors["renews"] = [_("Only an approved grant of the same dataset and agency can be renewed.")]
    if errors:
        raise InvalidInput(_("The request is incomplete or invalid."), fields=errors)
    return dataset


def do_request_sharing(actor, data: SharingInput):
    """Record a pending sharing request addressed to the dataset's owning agency, and log it."""
    dataset = check_request_sharing(actor, data)
    with transaction.atomic():
        request = SharingRequest.objects.create(
            dataset=dataset, agency_id=dataset.agency_id, requesting_agency_id=data.requesting_agency_id,
            requested_by=actor, purpose=data.purpose.strip(), fields=list(data.fields),
            legal_basis=data.legal_basis.strip()[:300], period_start=data.period_start, period_end=data.period_end,
            renews_id=data.renews_id)
        record_change(actor=actor, action=ChangeAction.CREATE, obj=request, after=snapshot(request, SHARING_FIELDS),
                      note="sharing requested")
    return request


def check_decide_sharing(actor, request_id: int, approve: bool, reason: str):
    """Only a catalogue manager of the owning agency decides, once, and a rejection needs a reason."""
    from citygov.core.scoping import can_reach_agency

    request = SharingRequest.objects.filter(pk=request_id).first()
    if request is None or not can_reach_agency(actor, request.agency_id) and not can_reach_agency(
            actor, request.requesting_agency_id):
        raise InvalidInput(_("No such request."), code="not_found")
    if actor.is_read_only or not actor.has_capability(Capability.MANAGE_DATAGOV) \
            or not can_reach_agency(actor, request.agency_id):
        raise Forbidden(_("Only the owning agency's data steward decides on this request."))
    if request.status != SharingStatus.PENDING:
        raise InvalidInput(_("This request has already been decided."), code="invalid_transition")
    if not approve and not reason.strip():
        raise InvalidInput(_("Give the reason for the rejection."), fields={"reason": [_("Required.")]})
    return request


def do_decide_sharing(actor, request_id: int, *, approve: bool, reason: str = "", now: dt.datetime | None = None):
    """Approve (a time-boxed grant) or reject (with a reason) a pending request, and log it."""
    check_decide_sharing(actor, request_id, approve, reason)
    with transaction.atomic():
        request = SharingRequest.objects.select_for_update().get(pk=request_id)
        if request.status != SharingStatus.PENDING:  # decided by someone else meanwhile
            raise InvalidInput(_("This request has already been decided."), code="invalid_transition")
        before = snapshot(request, SHARING_FIELDS)
        request.status = SharingStatus.APPROVED if approve else SharingStatus.REJECTED
        request.decided_by = actor
        request.decided_at = now or timezone.now()
        request.reason = reason.strip()
        request.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=request, before=before,
                      after=snapshot(request, SHARING_FIELDS), note="sharing approved" if approve else "sharing rejected")
    return request


# --- classification: governed vocabularies, suggestions and their review ---------------------------

SUGGESTION_FIELDS = ("dataset", "axis", "code", "score", "status", "final_code", "decided_by", "decided_at")
VOCABULARY_FIELDS = ("axis", "code", "label_zh", "label_en", "eu_code", "keywords", "active", "position")
MAX_SUGGESTIONS_PER_RUN = 100_000


def _document(dataset_id: int, title: str, keywords, description: str, schema) -> classify.Document:
    return classify.Document(str(dataset_id), title, tuple(keywords or ()), description or "",
                             tuple(f.get("name", "") for f in schema or () if isinstance(f, dict)))


def vocabulary_terms(axis: str) -> list[classify.Term]:
    """The active terms of an axis as the suggester reads them."""
    return [classify.Term(t.code, t.label_zh, tuple(t.keywords)) for t in
            VocabularyTerm.objects.filter(axis=axis, active=True).order_by("position", "code")]


def _labelled(axis: str) -> list[tuple[classify.Document, str]]:
    """Training data: datasets a steward classified (accepted or corrected) or imported with a code."""
    codes = {t.code for t in VocabularyTerm.objects.filter(axis=axis)}
    rows = Dataset.objects.values_list("pk", "title", "keywords", "description", "schema", "theme", "scenarios")
    labelled = []
    for pk, title, keywords, description, schema, theme, scenarios in rows.iterator(chunk_size=2000):
        labels = [theme] if axis == Axis.THEME else list(scenarios or ())
        for label in labels:
            if label in codes:
                labelled.append((_document(pk, title, keywords, description, schema), label))
    return labelled


def check_manage_catalogue(actor) -> None:
    """Catalogue governance (suggestions, vocabularies) needs ``datagov.manage`` and a role that may write."""
    if actor is not None and (getattr(actor, "is_read_only", False)
                              or not actor.has_capability(Capability.MANAGE_DATAGOV)):
        raise Forbidden(_("You may not manage the dataset catalogue."))


def do_suggest_classification(actor, *, axis: str = Axis.THEME, limit: int = MAX_SUGGESTIONS_PER_RUN) -> int:
    """Propose a theme (or scenario) for every unclassified dataset that has no pending proposal.

    The model is trained on the datasets already classified; codes a steward rejected (or corrected away)
    for a dataset are never proposed for it again. Nothing is applied to the datasets. Returns the number
    of suggestions made. ``actor`` None is the nightly job.
    """
    check_manage_catalogue(actor)
    if axis not in Axis.values:
        raise InvalidInput(_("Unknown axis."), code="bad_parameter")
    terms = vocabulary_terms(axis)
    if not terms:
        return 0
    model = classify.Model(_labelled(axis))
    declined: dict[int, set[str]] = {}
    for dataset_id, code in ClassificationSuggestion.objects.filter(
            axis=axis, status__in=[SuggestionStatus.REJECTED, SuggestionStatus.CORRECTED]).values_list(
            "dataset_id", "code"):
        declined.setdefault(dataset_id, set()).add(code)
    candidates = Dataset.objects.exclude(pk__in=ClassificationSuggestion.objects.filter(
        axis=axis, status=SuggestionStatus.PENDING).values("dataset_id"))
    candidates = candidates.filter(theme="") if axis == Axis.THEME else candidates.filter(scenarios=[])
    made = []
    for pk, title, keywords, description, schema in candidates.order_by("pk").values_list(
            "pk", "title", "keywords", "description", "schema")[:limit].iterator(chunk_size=2000):
        found = classify.suggest(_document(pk, title, keywords, description, schema), terms, model,
                                 exclude=frozenset(declined.get(pk, ())))
        if found:
            best = found[0]
            made.append(ClassificationSuggestion(
                dataset_id=pk, axis=axis, code=best.code, score=best.score, reason=best.reason,
                reason_zh=best.reason_zh, alternatives=[{"code": s.code, "score": s.score, "reason": s.reason,
                                                         "reason_zh": s.reason_zh} for s in found[1:]]))
    with transaction.atomic():
        ClassificationSuggestion.objects.bulk_create(made, batch_size=BATCH)
        record_change(actor=actor, action=ChangeAction.ACTION, object_repr="classification suggestions",
                      note=f"{len(made)} {axis} suggestions (model trained on {model.size} datasets)")
    return len(made)


def check_review_suggestion(actor, suggestion_id: int, decision: str, code: str = "") -> ClassificationSuggestion:
    """A steward of the dataset's agency decides a pending suggestion; a correction names an active term."""
    check_manage_catalogue(actor)
    suggestion = ClassificationSuggestion.objects.for_agency(actor).select_related("dataset").filter(
        pk=suggestion_id).first()
    if suggestion is None:
        raise InvalidInput(_("No such suggestion."), code="not_found")
    if suggestion.status != SuggestionStatus.PENDING:
        raise InvalidInput(_("This suggestion has already been decided."), code="invalid_transition")
    if decision not in ("accept", "correct", "reject"):
        raise InvalidInput(_("Decide accept, correct or reject."), code="bad_parameter")
    if decision == "correct" and not VocabularyTerm.objects.filter(axis=suggestion.axis, code=code,
                                                                   active=True).exists():
        raise InvalidInput(_("Choose a term of the vocabulary."), fields={"code": [_("Not a term of this axis.")]})
    return suggestion


def do_review_suggestion(actor, suggestion_id: int, decision: str, code: str = "") -> ClassificationSuggestion:
    """Accept (apply the suggested code), correct (apply another code) or reject a suggestion, and log it.

    The corrected or accepted dataset becomes training data; a rejected or corrected-away code is not
    proposed for that dataset again.
    """
    check_review_suggestion(actor, suggestion_id, decision, code)
    with transaction.atomic():
        suggestion = ClassificationSuggestion.objects.select_for_update().get(pk=suggestion_id)
        if suggestion.status != SuggestionStatus.PENDING:
            raise InvalidInput(_("This suggestion has already been decided."), code="invalid_transition")
        dataset = Dataset.objects.select_for_update().get(pk=suggestion.dataset_id)
        before, before_dataset = snapshot(suggestion, SUGGESTION_FIELDS), snapshot(dataset, ("theme", "scenarios"))
        applied = {"accept": suggestion.code, "correct": code, "reject": ""}[decision]
        suggestion.status = {"accept": SuggestionStatus.ACCEPTED, "correct": SuggestionStatus.CORRECTED,
                             "reject": SuggestionStatus.REJECTED}[decision]
        suggestion.final_code = applied
        suggestion.decided_by = actor
        suggestion.decided_at = timezone.now()
        suggestion.save(update_fields=["status", "final_code", "decided_by", "decided_at"])
        if applied:
            if suggestion.axis == Axis.THEME:
                dataset.theme = applied
            elif applied not in dataset.scenarios:
                dataset.scenarios = [*dataset.scenarios, applied]
            dataset.save(update_fields=["theme", "scenarios", "updated_at"])
            record_change(actor=actor, action=ChangeAction.UPDATE, obj=dataset, before=before_dataset,
                          after=snapshot(dataset, ("theme", "scenarios")), note=f"classification {decision}")
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=suggestion, agency_id=dataset.agency_id,
                      before=before, after=snapshot(suggestion, SUGGESTION_FIELDS), note=f"suggestion {decision}")
    return suggestion


@dataclass(frozen=True)
class TermInput:
    """A vocabulary term as a steward edits it (created when the axis and code are new)."""

    axis: str
    code: str
    label_zh: str
    label_en: str = ""
    keywords: tuple[str, ...] = ()
    eu_code: str = ""
    active: bool = True


def do_save_vocabulary_term(actor, data: TermInput) -> VocabularyTerm:
    """Create or update a term of a governed vocabulary, and log it."""
    check_manage_catalogue(actor)
    errors: dict[str, list[str]] = {}
    if data.axis not in Axis.values:
        errors["axis"] = [_("Unknown axis.")]
    code = data.code.strip().upper()
    if not code or len(code) > 20 or not code.replace("_", "").isalnum() or not code.isascii():
        errors["code"] = [_("A code is 1 to 20 ASCII letters, digits or underscores.")]
    if not data.label_zh.strip():
        errors["label_zh"] = [_("Give the Chinese name.")]
    if errors:
        raise InvalidInput(_("The term is incomplete or invalid."), fields=errors)
    keywords = [k.strip() for k in data.keywords if k.strip()]
    with transaction.atomic():
        term = VocabularyTerm.objects.select_for_update().filter(axis=data.axis, code=code).first()
        before = snapshot(term, VOCABULARY_FIELDS) if term else None
        if term is None:
            term = VocabularyTerm(axis=data.axis, code=code,
                                  position=VocabularyTerm.objects.filter(axis=data.axis).count())
        term.label_zh, term.label_en = data.label_zh.strip()[:50], data.label_en.strip()[:80]
        term.keywords, term.eu_code, term.active = keywords, data.eu_code.strip()[:10], data.active
        term.save()
        record_change(actor=actor, action=ChangeAction.UPDATE if before else ChangeAction.CREATE, obj=term,
                      before=before, after=snapshot(term, VOCABULARY_FIELDS), note="vocabulary term")
    return term


# --- link and update probe --------------------------------------------------------------------------

LINK_CHECK_FIELDS = ("resource", "status", "ok", "etag", "last_modified", "data_changed")


@dataclass(frozen=True)
class ProbeSummary:
    """What a probe run found."""

    checked: int
    ok: int
    broken: int
    changed: int


def probe_allow_list() -> tuple[str, ...]:
    """Networks (CIDR) and host names the link probe may reach though not public: ``DATAGOV_PROBE_ALLOW``.

    None by default: catalogue URLs come from the publishers, and the probe must not be a way into the
    city's internal network. An operator lists the internal portals whose links should be checked.
    """
    from django.conf import settings as django_settings

    value = getattr(django_settings, "DATAGOV_PROBE_ALLOW", ()) or ()
    return tuple(value.split(",") if isinstance(value, str) else value)


def do_probe_links(actor, *, dataset_ids: list[int] | None = None, limit: int | None = None,
                   settings: probe.ProbeSettings | None = None, now: dt.datetime | None = None) -> ProbeSummary:
    """Probe the resource URLs (all, or of ``dataset_ids``), store each answer, and record new data.

    Without ``settings``, only public addresses and those of ``probe_allow_list()`` are reached.

    A resource shows new data when its ``ETag`` differs from the one seen last time, or its
    ``Last-Modified`` is later than the dataset's data-updated time; the dataset's data-updated time is
    then moved to that ``Last-Modified`` (else to the probe time), in the change log. The requests run
    before the transaction, so a slow server never holds the database. ``actor`` None is the nightly job.
    """
    check_manage_catalogue(actor)
    resources = Resource.objects.select_related("dataset").order_by("id")
    if dataset_ids is not None:
        resources = resources.filter(dataset_id__in=dataset_ids)
    resources = list(resources[:limit] if limit else resources)
    previous: dict[int, str] = {}
    for resource_id, etag in (LinkCheck.objects.filter(resource__in=resources)
                              .order_by("resource_id", "checked_at", "id").values_list("resource_id", "etag")):
        previous[resource_id] = etag  # the last one wins
    results = probe.probe_many([r.url for r in resources], settings or probe.ProbeSettings(allow=probe_allow_list()))
    now = now or timezone.now()
    checks, newest = [], {}
    for resource, result in zip(resources, results, strict=True):
        dataset = resource.dataset
        changed = result.ok and (
            bool(result.etag and previous.get(resource.pk) and result.etag != previous[resource.pk])
            or bool(result.last_modified and (dataset.data_updated_at is None
                                              or result.last_modified > dataset.data_updated_at)))
        if changed:  # a new ETag with an unchanged Last-Modified: the data changed since the last probe
            last = dataset.data_updated_at
            seen = result.last_modified if result.last_modified and (last is None or result.last_modified > last) \
                else now
            if last is None or seen > last:
                newest[dataset.pk] = max(seen, newest.get(dataset.pk, seen))
        checks.append(LinkCheck(
            resource=resource, checked_at=now, ok=result.ok, status=result.status, method=result.method,
            final_url=result.final_url[:1000] if result.final_url != resource.url else "",
            redirects=result.redirects, content_type=result.content_type, content_length=result.content_length,
            etag=result.etag, last_modified=result.last_modified, error=result.error,
            elapsed_ms=min(result.elapsed_ms, 2**31 - 1), data_changed=changed))
    with transaction.atomic():
        LinkCheck.objects.bulk_create(checks, batch_size=BATCH)
        for dataset in Dataset.objects.select_for_update().filter(pk__in=list(newest)):
            before = snapshot(dataset, ("data_updated_at",))
            dataset.data_updated_at = newest[dataset.pk]
            dataset.save(update_fields=["data_updated_at", "updated_at"])
            record_change(actor=actor, action=ChangeAction.UPDATE, obj=dataset, before=before,
                          after=snapshot(dataset, ("data_updated_at",)), note="link probe: new data")
        summary = ProbeSummary(checked=len(checks), ok=sum(c.ok for c in checks),
                               broken=sum(not c.ok for c in checks), changed=len(newest))
        record_change(actor=actor, action=ChangeAction.ACTION, object_repr="link probe",
                      note=f"{summary.checked} links checked, {summary.broken} broken, {summary.changed} datasets "
                           "with new data")
    return summary


# --- per-agency freshness digest -------------------------------------------------------------------

DIGEST_ADAPTERS = ("console", "email")


def build_digests(as_of: dt.datetime, policy=None) -> list[digest_mod.Digest]:
    """One digest per agency that has overdue or stale datasets as of ``as_of``."""
    from citygov.datagov.engine import freshness as fr
    from citygov.datagov.queries import DEFAULT_POLICY, judge

    judged = judge(Dataset.objects.filter(agency__isnull=False), as_of, policy or DEFAULT_POLICY)
    by_agency: dict[int, list] = {}
    for item in judged:
        by_agency.setdefault(item.agency_id, []).append(item)
    late_ids = [j.dataset_id for j in judged if j.result.status in (fr.OVERDUE, fr.STALE)]
    titles = dict(Dataset.objects.filter(pk__in=late_ids).values_list("pk", "title"))
    names = dict(Agency.objects.filter(pk__in=list(by_agency)).values_list("pk", "name_zh"))
    digests = []
    for agency_id, items in sorted(by_agency.items()):
        counts = fr.summarise(i.result for i in items)
        late = sorted((i for i in items if i.result.status in (fr.OVERDUE, fr.STALE)),
                      key=lambda i: (i.result.status != fr.OVERDUE, -i.result.days_overdue, i.dataset_id))
        if not late:
            continue
        lines = tuple(digest_mod.DigestLine(
            i.dataset_id, titles.get(i.dataset_id, ""), i.result.status, i.result.days_overdue,
            timezone.localtime(i.result.due).strftime("%Y-%m-%d") if i.result.due else "")
            for i in late[:digest_mod.MAX_LISTED])
        digests.append(digest_mod.Digest(agency_id, names.get(agency_id, str(agency_id)),
                                         timezone.localtime(as_of).strftime("%Y-%m-%d %H:%M"), counts, lines))
    return digests


def do_send_freshness_digest(actor, *, via: str = "console", as_of: dt.datetime | None = None,
                             stream=None) -> int:
    """Send each agency's digest of overdue and stale datasets through ``via``; returns how many went out."""
    check_manage_catalogue(actor)
    if via not in DIGEST_ADAPTERS:
        raise InvalidInput(_("Unknown digest adapter (console or email)."), code="bad_parameter")
    digests = build_digests(as_of or timezone.now())
    if via == "email":
        sent = digest_mod.send_email(digests)
    else:
        sent = digest_mod.send_console(digests, stream if stream is not None else _LogStream())
    with transaction.atomic():
        record_change(actor=actor, action=ChangeAction.ACTION, object_repr="freshness digest",
                      note=f"{sent} of {len(digests)} agency digests sent via {via}")
    return sent


class _LogStream:
    """A text stream that writes to the log (the console adapter inside the worker)."""

    def write(self, text: str) -> None:
        import logging

        logging.getLogger("citygov.datagov.digest").info("%s", text.rstrip())
