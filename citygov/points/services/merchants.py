"""Merchants of the points programme: records, lifecycle, terminals and the CSV import.

Lifecycle (R9)::

    applied ──approve──▶ active ◀──reinstate── suspended
                           │ ──────suspend──────▶ │
                           ├──close / not renewed─┤
                           ▼                      ▼
                        closed | not_renewed  (final)

Suspending, closing or not renewing a merchant voids its open holds in the same transaction, after
the merchant row is locked (lock order: member → merchant → hold → accounts, see ``posting``).

CSV import (``do_import_merchants``)
------------------------------------
One header row, then one merchant per row. The file is UTF-8 (with or without a BOM) or Big5/cp950
(as exported by older Windows Excel); the encoding is detected. Columns, in any order:

================  =========  =============================================================
column            required   value
================  =========  =============================================================
tax_id            yes        統一編號, 8 digits with a valid checksum; the key of the import
name              yes        the merchant's name
category                     free text, e.g. 餐飲
address                      free text; its district is found by the address parser
bank_code                    3 digits (bank) or 7 digits (bank + branch)
bank_account                 6-16 digits (spaces and hyphens are ignored)
contract_start               YYYY-MM-DD, YYYY/MM/DD or ROC 112/01/31, 112-01-31
contract_end                 as contract_start; must be after it
status                       applied, active, suspended, closed, not_renewed
                             (or 申請中, 正常/營業中, 停權/暫停, 歇業/終止, 未續約)
points_enabled               是/否, Y/N, 1/0, true/false
lon, lat                     WGS84 degrees inside Taoyuan (lon 120.9-121.5, lat 24.5-25.2)
================  =========  =============================================================

Rules: columns missing from the header are left alone; a blank cell clears its field, except
``status`` and ``points_enabled``, where blank keeps the stored value (``applied`` / no for a new
merchant). A new merchant takes the file's status as is (the file is a list of contracted
merchants); for a stored merchant a different status is applied only when the lifecycle allows that
transition, otherwise the row is an error. Each row is validated and written in its own transaction;
bad rows are reported as ``line N: ...`` (the physical line where the row starts, so multi-line
quoted cells are counted correctly) and the good rows are imported. Re-importing the same file
changes nothing and writes no change-log rows. A tax_id repeated in one file is an error on the
later row ("duplicate of line N").
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.agencies.queries import district_by_code, locate
from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Conflict, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.permissions import require_capability, require_writer
from citygov.core.roles import Capability
from citygov.core.text.normalize import collapse_spaces, to_halfwidth
from citygov.points.engine.taxid import is_valid_tax_id
from citygov.points.models import Merchant, MerchantStatus, Terminal

S = MerchantStatus

#: Every allowed status change (from, to). Anything else is ``invalid_transition``.
TRANSITIONS: frozenset[tuple[str, str]] = frozenset({
    (S.APPLIED, S.ACTIVE),
    (S.ACTIVE, S.SUSPENDED),
    (S.SUSPENDED, S.ACTIVE),
    (S.ACTIVE, S.CLOSED),
    (S.SUSPENDED, S.CLOSED),
    (S.ACTIVE, S.NOT_RENEWED),
    (S.SUSPENDED, S.NOT_RENEWED),
})
#: Entering one of these statuses voids the merchant's open holds at once (R9).
VOIDS_HOLDS = frozenset({S.SUSPENDED, S.CLOSED, S.NOT_RENEWED})
FINAL_STATUSES = frozenset({S.CLOSED, S.NOT_RENEWED})

# Taoyuan City's bounding box, roughly (WGS84 degrees): coordinates outside are a typo or a swap.
LON_RANGE = (120.9, 121.5)
LAT_RANGE = (24.5, 25.2)

EDITABLE_FIELDS = ("name", "category", "address", "bank_code", "bank_account", "contract_start", "contract_end",
                   "lon", "lat")
# Fields an import row or an input may set, in column order (status and points_enabled are handled apart).
DATA_FIELDS = ("tax_id", "name", *EDITABLE_FIELDS[1:], "points_enabled")

_BANK_CODE = re.compile(r"[0-9]{3}|[0-9]{7}")
_BANK_ACCOUNT = re.compile(r"[0-9]{6,16}")
_TERMINAL_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_MAX_LENGTHS = {"name": 200, "category": 60, "address": 300}


@dataclass(frozen=True)
class MerchantInput:
    """What a person enters for a new merchant. A new merchant always starts as ``applied``."""

    tax_id: str
    name: str
    category: str = ""
    address: str = ""
    bank_code: str = ""
    bank_account: str = ""
    contract_start: dt.date | None = None
    contract_end: dt.date | None = None
    points_enabled: bool = False
    lon: float | None = None
    lat: float | None = None


# --- validation ---------------------------------------------------------------------------------

def _clean(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Normalised field values and the errors per field. ``district`` is derived from ``address``."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    tax_id = to_halfwidth(values.get("tax_id") or "").strip()
    if not tax_id:
        fail("tax_id", _("Required."))
    elif not is_valid_tax_id(tax_id):
        fail("tax_id", _("Not a valid business ID (統一編號): 8 digits with a correct check digit."))
    cleaned["tax_id"] = tax_id

    for name in ("name", "category", "address"):
        text = collapse_spaces(values.get(name) or "").strip()
        if name == "name" and not text:
            fail(name, _("Required."))
        if len(text) > _MAX_LENGTHS[name]:
            fail(name, _("Too long: at most {limit} characters.").format(limit=_MAX_LENGTHS[name]))
        cleaned[name] = text

    bank_code = to_halfwidth(values.get("bank_code") or "").strip()
    if bank_code and not _BANK_CODE.fullmatch(bank_code):
        fail("bank_code", _("A bank code has 3 or 7 digits."))
    cleaned["bank_code"] = bank_code
    # People write account numbers in groups (0012-345-678901); only the digits are the number.
    bank_account = re.sub(r"[\s-]", "", to_halfwidth(values.get("bank_account") or ""))
    if bank_account and not _BANK_ACCOUNT.fullmatch(bank_account):
        fail("bank_account", _("A bank account number has 6 to 16 digits."))
    cleaned["bank_account"] = bank_account

    start, end = values.get("contract_start"), values.get("contract_end")
    if start is not None and end is not None and end <= start:
        fail("contract_end", _("The contract must end after it starts."))
    cleaned["contract_start"], cleaned["contract_end"] = start, end

    lon, lat = values.get("lon"), values.get("lat")
    if (lon is None) != (lat is None):
        fail("lat" if lat is None else "lon", _("Give both longitude and latitude, or neither."))
    if lon is not None and not LON_RANGE[0] <= lon <= LON_RANGE[1]:
        fail("lon", _("Longitude must be between {low} and {high} (Taoyuan).").format(low=LON_RANGE[0],
                                                                                       high=LON_RANGE[1]))
    if lat is not None and not LAT_RANGE[0] <= lat <= LAT_RANGE[1]:
        fail("lat", _("Latitude must be between {low} and {high} (Taoyuan).").format(low=LAT_RANGE[0],
                                                                                      high=LAT_RANGE[1]))
    cleaned["lon"], cleaned["lat"] = lon, lat
    cleaned["points_enabled"] = bool(values.get("points_enabled", False))
    if not errors:
        cleaned["district"] = _district_of(cleaned["address"])
    return cleaned, errors


def _district_of(address: str):
    """The district row of ``address``, or ``None`` when the parser cannot place it (never a guess)."""
    if not address:
        return None
    return district_by_code(locate(address).district_code)


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise InvalidInput(_("The merchant has invalid fields."), fields=errors)


def _current(merchant: Merchant, name: str) -> Any:
    # The district by id: comparing must not load the row.
    return merchant.district_id if name == "district" else getattr(merchant, name)


def _same(current: Any, new: Any) -> bool:
    if hasattr(current, "pk") or hasattr(new, "pk"):
        return getattr(current, "pk", current) == getattr(new, "pk", new)
    return current == new


def _locked(merchant_id: int) -> Merchant:
    """The merchant row, locked for the rest of the transaction (lock order: member → merchant → …)."""
    merchant = Merchant.objects.select_for_update().filter(pk=merchant_id).first()
    if merchant is None:
        raise NotFound(_("No such merchant."))
    return merchant


def _require_manager(actor) -> None:
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_MERCHANTS)


# --- create and edit ----------------------------------------------------------------------------

def check_create_merchant(actor, data: MerchantInput) -> dict[str, Any]:
    """Authorise and validate a new merchant; the cleaned values (with the district) are returned."""
    _require_manager(actor)
    cleaned, errors = _clean(vars(data))
    _raise_if(errors)
    return cleaned


def do_create_merchant(actor, data: MerchantInput) -> Merchant:
    """Create a merchant in status ``applied`` and log it; a known 統一編號 is a conflict."""
    cleaned = check_create_merchant(actor, data)
    try:
        with transaction.atomic():
            if Merchant.objects.filter(tax_id=cleaned["tax_id"]).exists():
                raise Conflict(_("A merchant with this business ID already exists."), code="duplicate_tax_id",
                               fields={"tax_id": [_("A merchant with this business ID already exists.")]})
            merchant = Merchant.objects.create(status=S.APPLIED, **cleaned)
            record_change(actor=actor, action=ChangeAction.CREATE, obj=merchant, after=snapshot(merchant))
    except IntegrityError:
        # Two creations of one tax_id at once: the unique constraint decides, the loser gets the same answer.
        raise Conflict(_("A merchant with this business ID already exists."), code="duplicate_tax_id") from None
    return merchant


def do_update_merchant(actor, merchant_id: int, changes: dict[str, Any]) -> Merchant:
    """Change a merchant's editable fields (not its 統一編號, status or points switch); logs the changed fields.

    A changed address moves the merchant to the address's district (or to none).
    """
    _require_manager(actor)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(_("These fields cannot be changed here: {fields}").format(fields=", ".join(sorted(unknown))),
                           code="not_editable")
    with transaction.atomic():
        merchant = _locked(merchant_id)
        current = {name: getattr(merchant, name) for name in DATA_FIELDS}
        cleaned, errors = _clean({**current, **changes})
        _raise_if(errors)
        _save_fields(actor, merchant, cleaned)
    return merchant


def _save_fields(actor, merchant: Merchant, cleaned: dict[str, Any], *, note: str = "") -> bool:
    """Write the values that differ and log them; whether anything changed."""
    diffs = {name: value for name, value in cleaned.items() if not _same(_current(merchant, name), value)}
    if not diffs:
        return False
    before = snapshot(merchant)
    for name, value in diffs.items():
        setattr(merchant, name, value)
    merchant.save(update_fields=list(diffs))
    record_change(actor=actor, action=ChangeAction.UPDATE, obj=merchant, before=before, after=snapshot(merchant),
                  note=note)
    return True


# --- lifecycle ----------------------------------------------------------------------------------

def _refuse_transition(current: str, target: str) -> InvalidInput:
    message = _("A merchant cannot go from {current} to {target}.").format(current=current, target=target)
    return InvalidInput(message, code="invalid_transition", fields={"status": [message]})


def _apply_transition(actor, merchant: Merchant, target: str, *, now: dt.datetime, note: str = "") -> int:
    """Move a locked merchant to ``target``; void its open holds when the new status forbids redeeming.

    Returns the number of holds voided. Raises ``invalid_transition`` (nothing changed) otherwise.
    """
    if (merchant.status, target) not in TRANSITIONS:
        raise _refuse_transition(merchant.status, target)
    before = snapshot(merchant, ["status"])
    merchant.status = target
    merchant.save(update_fields=["status"])
    voided = 0
    if target in VOIDS_HOLDS:
        # Imported here so this module loads before the ledger service does (it is written separately).
        from citygov.points.services import ledger

        voided = ledger.void_open_holds(merchant.pk, now=now)
    detail = f"{before['status']} → {target}; open holds voided: {voided}"
    record_change(actor=actor, action=ChangeAction.UPDATE, obj=merchant, before=before,
                  after=snapshot(merchant, ["status"]), note=f"{note}; {detail}" if note else detail)
    return voided


def _change_status(actor, merchant_id: int, target: str, *, allowed_from: frozenset[str],
                   now: dt.datetime | None = None) -> Merchant:
    """Lock the merchant, check it is in one of ``allowed_from`` (and the lifecycle allows it), move it."""
    _require_manager(actor)
    with transaction.atomic():
        merchant = _locked(merchant_id)
        if merchant.status not in allowed_from:
            raise _refuse_transition(merchant.status, target)
        # R1: the server clock, read inside the transaction, decides (tests may pin it, like the ledger's).
        _apply_transition(actor, merchant, target, now=now or timezone.now())
    return merchant


def do_approve_merchant(actor, merchant_id: int) -> Merchant:
    """applied → active."""
    return _change_status(actor, merchant_id, S.ACTIVE, allowed_from=frozenset({S.APPLIED}))


def do_reinstate_merchant(actor, merchant_id: int) -> Merchant:
    """suspended → active."""
    return _change_status(actor, merchant_id, S.ACTIVE, allowed_from=frozenset({S.SUSPENDED}))


def do_suspend_merchant(actor, merchant_id: int, *, now: dt.datetime | None = None) -> Merchant:
    """active → suspended; the merchant's open holds are voided in the same transaction (R9)."""
    return _change_status(actor, merchant_id, S.SUSPENDED, allowed_from=frozenset({S.ACTIVE}), now=now)


def do_close_merchant(actor, merchant_id: int, *, now: dt.datetime | None = None) -> Merchant:
    """active or suspended → closed (final); open holds are voided in the same transaction."""
    return _change_status(actor, merchant_id, S.CLOSED, allowed_from=frozenset({S.ACTIVE, S.SUSPENDED}), now=now)


def do_mark_not_renewed(actor, merchant_id: int, *, now: dt.datetime | None = None) -> Merchant:
    """active or suspended → not_renewed (final); open holds are voided in the same transaction."""
    return _change_status(actor, merchant_id, S.NOT_RENEWED, allowed_from=frozenset({S.ACTIVE, S.SUSPENDED}), now=now)


def do_set_points_enabled(actor, merchant_id: int, enabled: bool) -> Merchant:
    """Switch points payment on or off; a closed or not-renewed merchant cannot switch it on.

    Setting the value it already has changes nothing and logs nothing.
    """
    _require_manager(actor)
    with transaction.atomic():
        merchant = _locked(merchant_id)
        if enabled and merchant.status in FINAL_STATUSES:
            raise InvalidInput(_("A closed or not-renewed merchant cannot accept points."), code="merchant_closed")
        _save_fields(actor, merchant, {"points_enabled": bool(enabled)})
    return merchant


# --- terminals ----------------------------------------------------------------------------------

def do_create_terminal(actor, merchant_id: int, terminal_id: str | None = None) -> tuple[Terminal, str]:
    """Register a terminal for a merchant and return it with its new signing secret.

    The secret is shown to the caller this once; the change log records only the terminal id.
    Without ``terminal_id`` one is generated from the 統一編號 and random digits.
    """
    _require_manager(actor)
    if terminal_id is not None and not _TERMINAL_ID.fullmatch(terminal_id):
        raise InvalidInput(_("A terminal id has 1 to 40 letters, digits, '-' or '_'."),
                           fields={"terminal_id": [_("A terminal id has 1 to 40 letters, digits, '-' or '_'.")]})
    secret = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            merchant = _locked(merchant_id)
            if merchant.status in FINAL_STATUSES:
                raise InvalidInput(_("A closed or not-renewed merchant cannot get terminals."),
                                   code="merchant_closed")
            chosen = terminal_id or f"T{merchant.tax_id}-{secrets.token_hex(4)}"
            if Terminal.objects.filter(terminal_id=chosen).exists():
                raise Conflict(_("A terminal with this id already exists."), code="duplicate_terminal")
            terminal = Terminal.objects.create(merchant=merchant, terminal_id=chosen, secret=secret)
            record_change(actor=actor, action=ChangeAction.CREATE, obj=terminal,
                          after={"terminal_id": terminal.terminal_id})
    except IntegrityError:
        raise Conflict(_("A terminal with this id already exists."), code="duplicate_terminal") from None
    return terminal, secret


def do_deactivate_terminal(actor, terminal_id: str) -> Terminal:
    """Turn a terminal's credential off (by its terminal id); an inactive terminal stays as it is, unlogged."""
    _require_manager(actor)
    with transaction.atomic():
        terminal = Terminal.objects.select_for_update().filter(terminal_id=terminal_id).first()
        if terminal is None:
            raise NotFound(_("No such terminal."))
        if terminal.is_active:
            terminal.is_active = False
            terminal.save(update_fields=["is_active"])
            record_change(actor=actor, action=ChangeAction.UPDATE, obj=terminal, before={"is_active": True},
                          after={"is_active": False})
    return terminal


# --- reading ------------------------------------------------------------------------------------

def list_merchants(actor, *, status: str | None = None) -> QuerySet[Merchant]:
    """Merchants (optionally of one status) for anyone who may view the points programme."""
    require_capability(actor, Capability.VIEW_POINTS)
    merchants = Merchant.objects.select_related("district").order_by("tax_id")
    if status:
        merchants = merchants.filter(status=status)
    return merchants


# --- CSV import ---------------------------------------------------------------------------------

COLUMNS = ("tax_id", "name", "category", "address", "bank_code", "bank_account", "contract_start", "contract_end",
           "status", "points_enabled", "lon", "lat")
REQUIRED_COLUMNS = ("tax_id", "name")
ENCODINGS = ("utf-8-sig", "cp950")
_CHUNK = 1 << 16

_STATUS_WORDS = {
    **{value: value for value in S.values},
    "申請中": S.APPLIED, "申請": S.APPLIED,
    "正常": S.ACTIVE, "營業中": S.ACTIVE, "啟用": S.ACTIVE, "特約中": S.ACTIVE,
    "停權": S.SUSPENDED, "暫停": S.SUSPENDED, "停用": S.SUSPENDED,
    "歇業": S.CLOSED, "終止": S.CLOSED, "解約": S.CLOSED,
    "未續約": S.NOT_RENEWED, "不續約": S.NOT_RENEWED,
}
_YES = frozenset({"是", "y", "yes", "1", "true", "t"})
_NO = frozenset({"否", "n", "no", "0", "false", "f"})
_GREGORIAN = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})")
_ROC = re.compile(r"(?:民國)?([0-9]{2,3})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})")


@dataclass(frozen=True)
class RowError:
    """One rejected row: the physical line it starts on and why."""

    line: int
    tax_id: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    """What an import did: counts of rows created, updated and unchanged, and the rejected rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowError] = field(default_factory=list)
    encoding: str = ""

    @property
    def errors(self) -> list[str]:
        """The rejected rows as ``line N: ...`` messages, in file order."""
        return [str(problem) for problem in self.problems]

    @property
    def rows(self) -> int:
        """Data rows read (blank lines not counted)."""
        return self.created + self.updated + self.unchanged + len(self.problems)


def parse_date(text: str) -> dt.date | None:
    """A date written as YYYY-MM-DD (or with / or .) or as an ROC date (112/01/31 → 2023-01-31).

    Blank is ``None``; anything else raises ``ValueError``.
    """
    text = to_halfwidth(text).strip()
    if not text:
        return None
    match = _GREGORIAN.fullmatch(text)
    year_offset = 0
    if match is None:
        match = _ROC.fullmatch(text)
        year_offset = 1911  # ROC year 1 is 1912
    if match is None:
        raise ValueError(text)
    year, month, day = (int(part) for part in match.groups())
    return dt.date(year + year_offset, month, day)


def parse_yes_no(text: str) -> bool | None:
    """是/否, Y/N, yes/no, 1/0, true/false (any case) as a bool; blank is ``None``; else ``ValueError``."""
    word = to_halfwidth(text).strip().lower()
    if not word:
        return None
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise ValueError(text)


def _parse_row(cells: dict[str, str]) -> tuple[dict[str, Any], str | None, dict[str, list[str]]]:
    """Typed values of the cells present, the wanted status (``None`` = keep), and parse errors."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in ("tax_id", "name", "category", "address", "bank_code", "bank_account"):
        if name in cells:
            values[name] = cells[name]
    for name in ("contract_start", "contract_end"):
        if name in cells:
            try:
                values[name] = parse_date(cells[name])
            except ValueError:
                errors[name] = [_("Not a date: write YYYY-MM-DD or an ROC date such as 112/01/31.")]
    for name in ("lon", "lat"):
        if name in cells:
            text = to_halfwidth(cells[name]).strip()
            try:
                values[name] = float(text) if text else None
            except ValueError:
                errors[name] = [_("Not a number.")]
    if "points_enabled" in cells:
        try:
            enabled = parse_yes_no(cells["points_enabled"])
        except ValueError:
            errors["points_enabled"] = [_("Not a yes/no value: write 是/否, Y/N, 1/0 or true/false.")]
        else:
            if enabled is not None:
                values["points_enabled"] = enabled
    status = None
    if "status" in cells:
        word = to_halfwidth(cells["status"]).strip()
        if word:
            status = _STATUS_WORDS.get(word.lower()) or _STATUS_WORDS.get(word)
            if status is None:
                errors["status"] = [_("Unknown status: {status}").format(status=word)]
    return values, status, errors


def _describe(errors: dict[str, list[str]]) -> str:
    order = {name: index for index, name in enumerate(COLUMNS)}
    return "; ".join(f"{name}: {' '.join(messages)}"
                     for name, messages in sorted(errors.items(), key=lambda item: order.get(item[0], 99)))


def _sniff_encoding(stream: IO[bytes], *, whole: bool) -> str:
    """The first of ``ENCODINGS`` that decodes the stream (all of it, or its first chunk when ``whole`` is false).

    Reads in chunks, so the file is never held in memory. The stream is left where the caller put it back.
    """
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        start = stream.tell()
        try:
            while chunk := stream.read(_CHUNK):
                decoder.decode(chunk)
                if not whole:
                    break
            if whole:
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        else:
            return encoding
        finally:
            stream.seek(start)
    raise InvalidInput(_("The file is neither UTF-8 nor Big5 text."), code="unreadable_file")


class _Replay(io.RawIOBase):
    """A non-seekable byte stream with its already-read head put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _text_stream(source: str | Path | IO) -> tuple[IO[str], str, bool]:
    """A text stream over ``source`` (a path, a byte stream or a text stream), its encoding, and whether
    we opened it (and so must close it)."""
    if isinstance(source, str | Path):
        try:
            binary = open(source, "rb")  # noqa: SIM115 - closed by the caller through the returned flag
        except OSError as exc:
            raise InvalidInput(_("The file cannot be read: {reason}").format(reason=exc.strerror or exc),
                               code="unreadable_file") from None
        try:
            encoding = _sniff_encoding(binary, whole=True)
        except InvalidInput:
            binary.close()
            raise
        return io.TextIOWrapper(binary, encoding=encoding, newline=""), encoding, True
    if isinstance(source, io.TextIOBase):
        return source, getattr(source, "encoding", None) or "text", False
    if getattr(source, "seekable", lambda: False)():
        encoding = _sniff_encoding(source, whole=True)
        wrapper = io.TextIOWrapper(source, encoding=encoding, newline="")
        return wrapper, encoding, False
    head = source.read(_CHUNK)
    encoding = _sniff_encoding(io.BytesIO(head), whole=False)
    wrapper = io.TextIOWrapper(io.BufferedReader(_Replay(head, source)), encoding=encoding, newline="")
    return wrapper, encoding, False


def _rows(text: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) of each non-blank CSV record, header included."""
    reader = csv.reader(text)
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if any(cell.strip() for cell in cells):
                yield start, cells
    except UnicodeDecodeError:
        raise InvalidInput(_("The file is neither UTF-8 nor Big5 text (from line {line} on).").format(line=line),
                           code="unreadable_file") from None
    except csv.Error as exc:
        raise InvalidInput(_("The file is not valid CSV near line {line}: {reason}").format(line=line, reason=exc),
                           code="unreadable_file") from None


def check_import_merchants(actor) -> None:
    """Only a writer who manages merchants may import them."""
    _require_manager(actor)


def do_import_merchants(actor, source: str | Path | IO) -> ImportReport:
    """Import merchants from a CSV file (see the module docstring for the columns and rules).

    Streams the rows; each good row is written in its own transaction and logged, each bad row is
    reported by its line. A file that cannot be read, or whose header lacks ``tax_id`` or ``name``
    or has unknown columns, raises ``InvalidInput(code="unreadable_file" | "bad_header")`` with
    nothing imported.
    """
    check_import_merchants(actor)
    text, encoding, owned = _text_stream(source)
    report = ImportReport(encoding=encoding)
    try:
        rows = _rows(text)
        header_row = next(rows, None)
        if header_row is None:
            raise InvalidInput(_("The file has no header row."), code="bad_header")
        header = [cell.strip().lstrip("\ufeff").lower() for cell in header_row[1]]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        unknown = [name for name in header if name not in COLUMNS]
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if missing or unknown or duplicated:
            problems = []
            if missing:
                problems.append(_("missing columns: {columns}").format(columns=", ".join(missing)))
            if unknown:
                problems.append(_("unknown columns: {columns}").format(columns=", ".join(unknown)))
            if duplicated:
                problems.append(_("repeated columns: {columns}").format(columns=", ".join(duplicated)))
            raise InvalidInput(_("Bad header: {problems}").format(problems="; ".join(problems)), code="bad_header")
        seen: dict[str, int] = {}
        for line, cells in rows:
            _import_row(actor, line, header, cells, seen, report)
    finally:
        if owned:
            text.close()
        elif isinstance(text, io.TextIOWrapper) and text is not source:
            text.detach()  # leave the caller's byte stream open
    return report


def _import_row(actor, line: int, header: list[str], cells: list[str], seen: dict[str, int],
                report: ImportReport) -> None:
    tax_id = to_halfwidth(cells[header.index("tax_id")] if len(cells) > header.index("tax_id") else "").strip()

    def reject(message: str) -> None:
        report.problems.append(RowError(line=line, tax_id=tax_id, message=message))

    if len(cells) != len(header):
        reject(_("Expected {expected} cells, found {found}.").format(expected=len(header), found=len(cells)))
        return
    if tax_id and tax_id in seen:
        reject(_("duplicate of line {line}").format(line=seen[tax_id]))
        return
    if tax_id:
        seen[tax_id] = line
    values, status, errors = _parse_row(dict(zip(header, cells, strict=True)))
    try:
        with transaction.atomic():
            merchant = Merchant.objects.select_for_update().filter(tax_id=tax_id).first() if tax_id else None
            if merchant is None:
                cleaned, clean_errors = _clean(values)
                _raise_if({**clean_errors, **errors})
                merchant = Merchant.objects.create(status=status or S.APPLIED, **cleaned)
                record_change(actor=actor, action=ChangeAction.CREATE, obj=merchant, after=snapshot(merchant),
                              note=f"CSV import, line {line}")
                report.created += 1
                return
            current = {name: getattr(merchant, name) for name in DATA_FIELDS}
            cleaned, clean_errors = _clean({**current, **values})
            transition = status if status is not None and status != merchant.status else None
            if transition is not None and (merchant.status, transition) not in TRANSITIONS:
                clean_errors.update(_refuse_transition(merchant.status, transition).fields)
            _raise_if({**clean_errors, **errors})
            changed = _save_fields(actor, merchant, cleaned, note=f"CSV import, line {line}")
            if transition is not None:
                _apply_transition(actor, merchant, transition, now=timezone.now(), note=f"CSV import, line {line}")
            if changed or transition is not None:
                report.updated += 1
            else:
                report.unchanged += 1
    except InvalidInput as exc:
        reject(_describe(exc.fields) if exc.fields else exc.message)
    except IntegrityError:
        # Another import created this tax_id between our read and write: nothing of this row was kept.
        reject(_("A merchant with this business ID already exists."))
