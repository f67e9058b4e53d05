"""``points`` command: the points programme from the command line, one sub-command per task.

Examples::

    citygov points import-merchants merchants.csv --user operator          # summary; bad rows on stderr
    citygov points import-merchants merchants.csv --user operator --format jsonl
    citygov points merchants --user operator --status suspended --format jsonl

Exit codes: 0 success, 1 failure (e.g. some rows were rejected — the good ones are still imported —
or the user's role does not allow the action), 2 bad input (unreadable file, bad header, unknown user).

Sub-commands are entries of :data:`SUBCOMMANDS`: a help line, a function adding its arguments, and a
function running it. Add one by writing those two functions and one dict entry.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from citygov.core.errors import ServiceError
from citygov.points.management import report, settle
from citygov.points.models import MerchantStatus

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
# Service error codes that mean the input itself is unusable (exit 2), whatever their HTTP status.
BAD_INPUT_CODES = frozenset({"unreadable_file", "bad_header"})


@dataclass(frozen=True)
class SubCommand:
    """One sub-command: its help line, how it declares its arguments, and how it runs."""

    help: str
    arguments: Callable[[ArgumentParser], None]
    run: Callable[[BaseCommand, dict], None]


# --- shared helpers -----------------------------------------------------------------------------

def acting_user(username: str):
    """The active user ``username``, or exit 2: the command acts with that user's role."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {username!r} (查無此使用者)", returncode=EXIT_BAD_INPUT)
    return user


def service_failure(exc: ServiceError) -> CommandError:
    """A service's refusal as a command error: bad input → 2, anything else (forbidden, conflict) → 1."""
    detail = "; ".join(f"{name}: {' '.join(map(str, messages))}" for name, messages in exc.fields.items())
    bad_input = exc.code in BAD_INPUT_CODES or (exc.status == 400 and exc.code != "invalid_transition")
    return CommandError(f"{exc.message} {detail}".strip(), returncode=EXIT_BAD_INPUT if bad_input else EXIT_FAILURE)


def add_user_and_format(parser: ArgumentParser) -> None:
    """The ``--user`` and ``--format`` options most sub-commands share."""
    parser.add_argument("--user", required=True, help="act as this user (their role applies)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="text for people; jsonl: one JSON object per line")


def write_json(command: BaseCommand, record: dict) -> None:
    """One JSON line on stdout, Chinese kept readable."""
    command.stdout.write(json.dumps(record, ensure_ascii=False))


# --- import-merchants ---------------------------------------------------------------------------

def _import_merchants_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help=(
        "CSV file, UTF-8 or Big5; columns: tax_id,name,category,address,bank_code,bank_account,contract_start,"
        "contract_end,status,points_enabled,lon,lat (tax_id and name required)"))
    add_user_and_format(parser)


def _import_merchants(command: BaseCommand, options: dict) -> None:
    from citygov.points.services.merchants import do_import_merchants

    user = acting_user(options["user"])
    path = Path(options["file"])
    if not path.is_file():
        raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
    try:
        report = do_import_merchants(user, path)
    except ServiceError as exc:
        failure = service_failure(exc)
        raise CommandError(f"{path}: {failure}", returncode=failure.returncode) from None
    if options["format"] == "jsonl":
        for problem in report.problems:
            write_json(command, {"file": str(path), "line": problem.line, "tax_id": problem.tax_id,
                                 "error": problem.message})
        write_json(command, {"file": str(path), "encoding": report.encoding, "rows": report.rows,
                             "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                             "errors": len(report.problems)})
    else:
        command.stdout.write(f"{path}: created {report.created}, updated {report.updated}, "
                             f"unchanged {report.unchanged}, errors {len(report.problems)}")
        for error in report.errors:
            command.stderr.write(f"{path}: {error}")
    if report.problems:
        raise CommandError(f"{len(report.problems)} of {report.rows} rows were not imported; "
                           "the other rows were.", returncode=EXIT_FAILURE)


# --- merchants (list) ---------------------------------------------------------------------------

def _merchants_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--status", choices=MerchantStatus.values, help="only merchants in this status")
    add_user_and_format(parser)


def _merchants(command: BaseCommand, options: dict) -> None:
    from citygov.points.services.merchants import list_merchants

    user = acting_user(options["user"])
    try:
        merchants = list_merchants(user, status=options["status"])
    except ServiceError as exc:
        raise service_failure(exc) from None
    for merchant in merchants.iterator(chunk_size=500):
        district = merchant.district.name_zh if merchant.district else None
        if options["format"] == "jsonl":
            write_json(command, {
                "tax_id": merchant.tax_id, "name": merchant.name, "category": merchant.category,
                "address": merchant.address, "district": district, "status": merchant.status,
                "points_enabled": merchant.points_enabled, "lon": merchant.lon, "lat": merchant.lat,
                "contract_start": merchant.contract_start.isoformat() if merchant.contract_start else None,
                "contract_end": merchant.contract_end.isoformat() if merchant.contract_end else None,
            })
        else:
            command.stdout.write(f"{merchant.tax_id}\t{merchant.name}\t{district or '-'}\t{merchant.status}\t"
                                 f"{'points' if merchant.points_enabled else '-'}")


def _verify_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")


def _verify(command: BaseCommand, options: dict) -> None:
    """The ledger auditor: rebuild balances from transfers and check every invariant (exit 1 on any finding)."""
    from citygov.points.queries import check_ledger

    health = check_ledger()
    if options["format"] == "jsonl":
        for figures in health.agencies:
            write_json(command, {"agency_id": figures.agency_id, "purchased": figures.purchased,
                                 "unfunded": figures.unfunded, "funded_unreserved": figures.funded_unreserved,
                                 "campaign_unissued": figures.campaign_unissued,
                                 "member_available": figures.member_available, "held": figures.held,
                                 "merchant_unsettled": figures.merchant_unsettled, "settled": figures.settled,
                                 "expired": figures.expired, "refund_pending": figures.refund_pending,
                                 "refunded": figures.refunded, "balanced": figures.balanced})
        write_json(command, {"ok": health.ok, "accounts": health.accounts_checked,
                             "transfers": health.transfers_checked, "problems": health.problems})
    else:
        command.stdout.write(f"accounts checked: {health.accounts_checked}, transfers: {health.transfers_checked}")
        for figures in health.agencies:
            command.stdout.write(f"agency {figures.agency_id}: purchased {figures.purchased} = accounted "
                                 f"{figures.accounted} ({'ok' if figures.balanced else 'MISMATCH'})")
        for problem in health.problems:
            command.stderr.write(problem)
        command.stdout.write("ledger ok" if health.ok else f"{len(health.problems)} problems")
    if not health.ok:
        raise CommandError("the ledger failed its checks", returncode=EXIT_FAILURE)


def _expire_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")


def _expire(command: BaseCommand, options: dict) -> None:
    """Release timed-out holds and expire lots whose time has come (what the periodic jobs do)."""
    from citygov.points.services import ledger

    holds = ledger.do_expire_holds()
    lots = ledger.do_expire_lots()
    if options["format"] == "jsonl":
        write_json(command, {"holds_released": holds, "lots_expired": lots})
    else:
        command.stdout.write(f"holds released: {holds}, lots expired: {lots}")


SUBCOMMANDS: dict[str, SubCommand] = {
    "verify": SubCommand("Check the ledger: balances rebuilt from transfers, agency identities, holds.",
                         _verify_arguments, _verify),
    "expire": SubCommand("Release timed-out holds and expire due lots now.", _expire_arguments, _expire),
    "import-merchants": SubCommand("Import merchants from a CSV file (idempotent; bad rows reported by line).",
                                   _import_merchants_arguments, _import_merchants),
    "merchants": SubCommand("List merchants.", _merchants_arguments, _merchants),
    "report": SubCommand(report.HELP, report.arguments, report.run),
    "settle": SubCommand(settle.SETTLE_HELP, settle.settle_arguments, settle.settle),
    "keygen": SubCommand(settle.KEYGEN_HELP, settle.keygen_arguments, settle.keygen),
    "sign-batch": SubCommand(settle.SIGN_HELP, settle.sign_arguments, settle.sign),
    "export-batch": SubCommand(settle.EXPORT_HELP, settle.export_arguments, settle.export),
    "verify-instruction": SubCommand(settle.VERIFY_HELP, settle.verify_arguments, settle.verify),
    "approve-final": SubCommand(settle.APPROVE_HELP, settle.approve_arguments, settle.approve),
    "import-statement": SubCommand(settle.STATEMENT_HELP, settle.statement_arguments, settle.import_statement),
    "refund-agency": SubCommand(settle.REFUND_HELP, settle.refund_arguments, settle.refund_agency),
    "month-pack": SubCommand(settle.MONTH_PACK_HELP, settle.month_pack_arguments, settle.month_pack),
}


class Command(BaseCommand):
    """One command for the points app; its sub-commands are listed in :data:`SUBCOMMANDS`."""

    help = "The citizen-card points programme: merchants, members, the ledger."

    def add_arguments(self, parser):
        """Declare every sub-command of :data:`SUBCOMMANDS` with its own arguments."""
        sub = parser.add_subparsers(dest="action", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
        for name, spec in SUBCOMMANDS.items():
            spec.arguments(sub.add_parser(name, help=spec.help))

    def handle(self, *args, **options):
        """Run the chosen sub-command."""
        SUBCOMMANDS[options["action"]].run(self, options)
