"""Settlement sub-commands of ``citygov points``: build batches, sign, export and verify instructions.

Examples::

    citygov points settle --user operator                      # build every batch that is due
    citygov points settle --user operator --day 2026-03-01     # that day (and any missing day before it)
    citygov points keygen --out /etc/citygov/points_signing_key.pem   # prints the public key for the bank
    citygov points sign-batch B-20260301 --user operator
    citygov points export-batch B-20260301 --out DIR           # JSON (as signed), CSV, PDF, .sig
    citygov points verify-instruction DIR/B-20260301.json --signature DIR/B-20260301.sig --public-key bank.pub
    citygov points approve-final 04595257 --user operator --note "合約終止"
    citygov points month-pack --month 2026-10 --out DIR        # the monthly report pack, PDF and XLSX

``verify-instruction`` needs no database: the trust bank can run it on the files it received.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def _common():
    from citygov.points.management.commands import points

    return points


# --- settle --------------------------------------------------------------------------------------

SETTLE_HELP = "Build the settlement batches that are due, or the batch of --day (B-YYYYMMDD)."


def settle_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--day", help="business day YYYY-MM-DD (default: every batch that is due)")
    _common().add_user_and_format(parser)


def settle(command: BaseCommand, options: dict) -> None:
    from citygov.core.errors import ServiceError
    from citygov.points.services import settlement

    common = _common()
    user = common.acting_user(options["user"])
    try:
        if options["day"]:
            try:
                day = dt.date.fromisoformat(options["day"])
            except ValueError:
                raise CommandError(f"--day {options['day']!r}: expected YYYY-MM-DD (日期格式錯誤)",
                                   returncode=EXIT_BAD_INPUT) from None
            result = settlement.do_build_batches_through(user, day)
        else:
            result = settlement.do_build_due_batches_for(user)
    except ServiceError as exc:
        raise common.service_failure(exc) from None
    for batch in result.batches:
        state = "built" if batch in result.built else "already built"
        if options["format"] == "jsonl":
            common.write_json(command, {"batch": batch.batch_id, "state": state, "lines": batch.line_count,
                                        "amount": batch.total_amount, "transfers": batch.transfer_count,
                                        "late": batch.late_count, "status": batch.status,
                                        "content_hash": batch.content_hash})
        else:
            command.stdout.write(f"{batch.batch_id} {state}: {batch.line_count} lines, NT${batch.total_amount}, "
                                 f"{batch.transfer_count} transfers ({batch.late_count} late), {batch.status}, "
                                 f"{batch.content_hash}")


# --- keygen --------------------------------------------------------------------------------------

KEYGEN_HELP = "Create the operator's Ed25519 signing key (file mode 0600); print the public key for the bank."


def keygen_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--out", help="where to write the private key (default: CITYGOV_POINTS_SIGNING_KEY_FILE)")


def keygen(command: BaseCommand, options: dict) -> None:
    from django.conf import settings

    from citygov.core.errors import ServiceError
    from citygov.points.services import settlement

    path = Path(options["out"] or settings.POINTS_SIGNING_KEY_FILE)
    try:
        public_pem = settlement.do_generate_signing_key(path)
    except ServiceError as exc:
        raise CommandError(exc.message, returncode=EXIT_FAILURE) from None
    command.stderr.write(f"private key written to {path} (mode 0600); give the trust bank this public key:")
    command.stdout.write(public_pem.decode("ascii").rstrip("\n"))


# --- sign-batch ----------------------------------------------------------------------------------

SIGN_HELP = "Sign a batch that was built while no signing key was configured."


def sign_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("batch", metavar="BATCH", help="batch id, e.g. B-20260301")
    parser.add_argument("--user", required=True, help="act as this user (their role applies)")


def sign(command: BaseCommand, options: dict) -> None:
    from citygov.core.errors import ServiceError
    from citygov.points.services import settlement

    common = _common()
    user = common.acting_user(options["user"])
    try:
        batch = settlement.do_sign_batch(user, options["batch"])
    except ServiceError as exc:
        raise common.service_failure(exc) from None
    command.stdout.write(f"{batch.batch_id} signed with {batch.key_fingerprint}")


# --- export-batch --------------------------------------------------------------------------------

EXPORT_HELP = "Write a batch's usage instruction for the trust bank: JSON (as signed), CSV, PDF and .sig."


def export_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("batch", metavar="BATCH", help="batch id, e.g. B-20260301")
    parser.add_argument("--out", required=True, help="directory to write the files into")


def export(command: BaseCommand, options: dict) -> None:
    from citygov.core.errors import ServiceError
    from citygov.points.models import SettlementBatch
    from citygov.points.services import settlement

    batch = SettlementBatch.objects.filter(batch_id=options["batch"]).first()
    if batch is None:
        raise CommandError(f"no batch {options['batch']!r} (查無此批次)", returncode=EXIT_BAD_INPUT)
    try:
        files = settlement.instruction_files(batch)
    except ServiceError as exc:
        raise CommandError(exc.message, returncode=EXIT_FAILURE) from None
    out = Path(options["out"])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, data in ((".json", files.json), (".csv", files.csv), (".pdf", files.pdf), (".sig", files.signature)):
        if data is None:
            continue
        path = out / f"{batch.batch_id}{suffix}"
        path.write_bytes(data)
        written.append(path)
    for path in written:
        command.stdout.write(str(path))
    if files.signature is None:
        command.stderr.write(f"{batch.batch_id} is not signed yet: run `citygov points sign-batch {batch.batch_id}`")


# --- verify-instruction --------------------------------------------------------------------------

VERIFY_HELP = "Check an instruction file against its detached signature and the operator's public key (no database)."


def verify_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("file", metavar="JSON", help="the instruction JSON exactly as received")
    parser.add_argument("--signature", required=True, help="the detached signature file (.sig)")
    parser.add_argument("--public-key", required=True, help="the operator's public key (PEM)")


def verify(command: BaseCommand, options: dict) -> None:
    from citygov.points.engine import signing_keys

    paths = [Path(options["file"]), Path(options["signature"]), Path(options["public_key"])]
    for path in paths:
        if not path.is_file():
            raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
    payload, signature, public_key = (path.read_bytes() for path in paths)
    try:
        check = signing_keys.check_signature_file(public_key, payload, signature)
    except ValueError as exc:
        raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None
    if not check.ok:
        raise CommandError(f"{check.message_en} ({check.message_zh})", returncode=EXIT_FAILURE)
    command.stdout.write(f"{paths[0]}: signature ok ({check.message_zh}), {signing_keys.content_hash_of(payload)}")


# --- approve-final -------------------------------------------------------------------------------

APPROVE_HELP = "Approve the one final settlement line of a closed or not-renewed merchant."


def approve_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("tax_id", metavar="TAX_ID", help="the merchant's 統一編號")
    parser.add_argument("--user", required=True, help="act as this user (their role applies)")
    parser.add_argument("--note", default="", help="why (kept in the change log)")


def approve(command: BaseCommand, options: dict) -> None:
    from citygov.core.errors import ServiceError
    from citygov.points.models import Merchant
    from citygov.points.services import settlement

    common = _common()
    user = common.acting_user(options["user"])
    merchant = Merchant.objects.filter(tax_id=options["tax_id"]).first()
    if merchant is None:
        raise CommandError(f"no merchant {options['tax_id']!r} (查無此商店)", returncode=EXIT_BAD_INPUT)
    try:
        settlement.do_approve_final_settlement(user, merchant.pk, note=options["note"])
    except ServiceError as exc:
        raise common.service_failure(exc) from None
    command.stdout.write(f"{merchant.tax_id} {merchant.name}: final settlement approved")


# --- import-statement ----------------------------------------------------------------------------

STATEMENT_HELP = "Import a trust-account statement (CSV) and reconcile it (idempotent by statement id and line)."


def statement_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="statement CSV (UTF-8 or Big5; docs/points_statement_format.md)")
    parser.add_argument("--map", default="", help='column mapping, e.g. "booked_on=日期,amount=金額,reference=附言"')
    parser.add_argument("--statement-id", default=None, help="statement id when the file does not carry one")
    _common().add_user_and_format(parser)


def import_statement(command: BaseCommand, options: dict) -> None:
    from citygov.core.errors import ServiceError
    from citygov.points.engine import statement as statement_engine
    from citygov.points.services import reconciliation

    common = _common()
    user = common.acting_user(options["user"])
    path = Path(options["file"])
    if not path.is_file():
        raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
    mapping = None
    if options["map"]:
        try:
            mapping = statement_engine.parse_mapping(options["map"])
        except ValueError as exc:
            raise CommandError(f"--map: {exc}", returncode=EXIT_BAD_INPUT) from None
    try:
        with path.open("rb") as stream:
            report = reconciliation.do_import_statement(user, stream, file_name=path.name, mapping=mapping,
                                                        statement_id=options["statement_id"])
    except ServiceError as exc:
        failure = common.service_failure(exc)
        raise CommandError(f"{path}: {failure}", returncode=failure.returncode) from None
    summary = {"file": str(path), "statement": report.statement_id, "lines": report.lines, "new": report.new,
               "already_imported": report.already_imported, "deposits": report.matched_deposits,
               "payouts": report.matched_payouts, "agency_refunds": report.matched_refunds,
               "settled_lines": report.settled_lines,
               "exceptions": report.exceptions, "errors": len(report.errors)}
    if options["format"] == "jsonl":
        for error in report.errors:
            common.write_json(command, {"file": str(path), "line": error.line_number, "error": error.message_en,
                                        "error_zh": error.message_zh})
        common.write_json(command, summary)
    else:
        command.stdout.write(" ".join(f"{k}={v}" for k, v in summary.items()))
        for error in report.errors:
            command.stderr.write(f"{path}: line {error.line_number}: {error.message_en} ({error.message_zh})")
    if report.errors:
        raise CommandError(f"{len(report.errors)} rows were not imported; the other rows were.",
                           returncode=EXIT_FAILURE)


# --- refund-agency -------------------------------------------------------------------------------

REFUND_HELP = ("Instruct a refund from the trust account to an agency (funded unreserved or expired points), "
               "signed when a key is configured; --out writes the instruction JSON and signature.")


def refund_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--agency", required=True, help="the agency's code")
    parser.add_argument("--amount", required=True, type=int, help="NT$ (= points)")
    parser.add_argument("--from", dest="source", choices=("funded", "expired"), required=True,
                        help="funded, unreserved points or expired points")
    parser.add_argument("--bank-code", required=True, help="the agency's bank code (3 or 7 digits)")
    parser.add_argument("--bank-account", required=True, help="the agency's bank account")
    parser.add_argument("--request", required=True, help="document number of the agency's written request")
    parser.add_argument("--reason", default="")
    parser.add_argument("--out", default=None, help="directory for RF-….json and RF-….sig")
    _common().add_user_and_format(parser)


def refund_agency(command: BaseCommand, options: dict) -> None:
    from citygov.agencies.models import Agency
    from citygov.core.errors import ServiceError
    from citygov.points.services import agency_refunds

    common = _common()
    user = common.acting_user(options["user"])
    agency = Agency.objects.filter(code=options["agency"]).first()
    if agency is None:
        raise CommandError(f"no agency {options['agency']!r} (查無此機關)", returncode=EXIT_BAD_INPUT)
    try:
        refund = agency_refunds.do_instruct_agency_refund(
            user, agency_id=agency.pk, amount=options["amount"], source=options["source"],
            bank_code=options["bank_code"], bank_account=options["bank_account"],
            request_reference=options["request"], reason=options["reason"])
    except ServiceError as exc:
        raise common.service_failure(exc) from None
    written = []
    if options["out"]:
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{refund.reference}.json").write_bytes(refund.instruction.encode("utf-8"))
        written.append(str(out / f"{refund.reference}.json"))
        signature = agency_refunds.refund_signature_file(refund)
        if signature is not None:
            (out / f"{refund.reference}.sig").write_bytes(signature)
            written.append(str(out / f"{refund.reference}.sig"))
    summary = {"reference": refund.reference, "agency": agency.code, "amount": refund.amount,
               "source": refund.source, "signed": bool(refund.signature), "content_hash": refund.content_hash,
               "files": written}
    if options["format"] == "jsonl":
        common.write_json(command, summary)
    else:
        command.stdout.write(" ".join(f"{k}={v}" for k, v in summary.items()))


# --- month-pack ----------------------------------------------------------------------------------

MONTH_PACK_HELP = "Write the monthly report pack (PDF and XLSX) of --month YYYY-MM into --out."


def month_pack_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--month", required=True, help="calendar month YYYY-MM (Asia/Taipei)")
    parser.add_argument("--out", required=True, help="directory to write the files into")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")


def month_pack(command: BaseCommand, options: dict) -> None:
    from citygov.core.errors import ServiceError
    from citygov.points.engine import report_pack as pack_engine
    from citygov.points.services import report_pack

    try:
        year, month = report_pack.parse_month(options["month"])
        pack = report_pack.month_pack(year, month)
    except ServiceError as exc:
        raise CommandError(exc.message, returncode=EXIT_BAD_INPUT) from None
    out = Path(options["out"])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, render in ((".pdf", pack_engine.to_pdf), (".xlsx", pack_engine.to_xlsx)):
        path = out / f"points-month-{pack.label}{suffix}"
        path.write_bytes(render(pack))
        written.append(str(path))
    summary = {"month": pack.label, "files": written, "issued": pack.points.issued, "spent": pack.points.spent,
               "expired": pack.points.expired, "outstanding": pack.points.outstanding_end,
               "payouts": pack.payout_total, "exceptions": len(pack.exceptions),
               "trust_reconciles": pack.trust.reconciles, "ledger_balanced": pack.ledger_balanced}
    if options["format"] == "jsonl":
        _common().write_json(command, summary)
    else:
        for path in written:
            command.stdout.write(path)
    if not (pack.trust.reconciles and pack.ledger_balanced):
        command.stderr.write(f"{pack.label}: the trust account or the ledger does not reconcile; see the pack "
                             "(信託專戶或帳冊不相符，請見月報)")
