"""``soc`` command: SOC alerts from the command line, one sub-command per task.

Examples::

    citygov soc analyse eve.json wazuh/alerts.json --json      # no database needed
    citygov soc analyse export.csv --format csv --json
    citygov soc import eve.json --user analyst                  # idempotent; bad lines on stderr
    citygov soc import eve.json --user analyst --format jsonl
    citygov soc listen --user analyst --udp 5514 --tcp 5514 --tls 6514   # syslog listener (CEF/LEEF/JSON)
    citygov soc remind                                          # follow-up reminders (also a daily job)

Exit codes: 0 success, 1 failure (e.g. some lines were rejected — the good ones are still counted or
imported — or the user's role does not allow the action), 2 bad input (no such file, unknown user).
"""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from citygov.core.errors import ServiceError
from citygov.soc.engine import formats
from citygov.soc.engine.analyse import Analysis

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


@dataclass(frozen=True)
class SubCommand:
    """One sub-command: its help line, how it declares its arguments, and how it runs."""

    help: str
    arguments: Callable[[ArgumentParser], None]
    run: Callable[[BaseCommand, dict], None]


def acting_user(username: str):
    """The active user ``username``, or exit 2."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {username!r} (查無此使用者)", returncode=EXIT_BAD_INPUT)
    return user


def _files(paths: list[str]) -> list[Path]:
    result = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
        result.append(path)
    return result


def write_json(command: BaseCommand, record: dict) -> None:
    command.stdout.write(json.dumps(record, ensure_ascii=False))


# --- analyse (plain files, no database) ----------------------------------------------------------

def _analyse_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="alert files (any supported format)")
    parser.add_argument("--format", choices=formats.FORMATS, default="auto", help="input format (default: detect)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--top", type=int, default=10, help="length of the top lists (default 10)")


def analyse_files(paths: list[Path], fmt: str = "auto", top: int = 10) -> dict:
    """The analysis document over ``paths`` (the engine only: classification by the default table)."""
    analysis, rejected = Analysis(), []
    ctx = formats.Context()
    skipped = 0
    for path in paths:
        stats = formats.ReadStats()
        with path.open("rb") as stream:
            for item in formats.read_alerts(stream, fmt=fmt, ctx=ctx, stats=stats):
                if isinstance(item, formats.Rejected):
                    rejected.append((str(path), item.line, item.reason))
                else:
                    analysis.add(item)
        skipped += stats.skipped
    report = analysis.report(top=top, rejected=rejected)
    report["skipped_non_alerts"] = skipped
    return report


def _analyse(command: BaseCommand, options: dict) -> None:
    paths = _files(options["files"])
    report = analyse_files(paths, options["format"], options["top"])
    if options["json"]:
        command.stdout.write(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        command.stdout.write(f"alerts {report['total']} (duplicates {report['duplicates']}, "
                             f"rejected lines {len(report['rejected_lines'])})")
        for row in report["by_category"]:
            command.stdout.write(f"  {row['label']}\t{row['count']}\t{row['share']}%")
        for row in report["by_severity"]:
            command.stdout.write(f"  {row['label']}\t{row['count']}\t{row['share']}%")
        command.stdout.write(f"repeat groups {report['repeat_groups']['count']} "
                             f"covering {report['repeat_groups']['alerts']} alerts")
        for row in report["rejected_lines"]:
            command.stderr.write(f"{row['file']}:{row['line']}: {row['reason']}")
    if report["rejected_lines"]:
        raise CommandError(f"{len(report['rejected_lines'])} lines were rejected; the other lines were analysed.",
                           returncode=EXIT_FAILURE)


# --- import ---------------------------------------------------------------------------------------

def _import_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--user", required=True, help="act as this user (needs soc.triage)")
    parser.add_argument("--input-format", dest="input_format", choices=formats.FORMATS, default="auto")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")


def _import(command: BaseCommand, options: dict) -> None:
    from citygov.soc.services import do_import_alerts

    user = acting_user(options["user"])
    rejected = 0
    for path in _files(options["files"]):
        try:
            with path.open("rb") as stream:
                run = do_import_alerts(user, stream, str(path), options["input_format"])
        except ServiceError as exc:
            raise CommandError(f"{path}: {exc.message}", returncode=EXIT_FAILURE if exc.status == 403
                               else EXIT_BAD_INPUT) from None
        rejected += run.rejected
        if options["format"] == "jsonl":
            for row in run.rejected_lines:
                write_json(command, {"file": str(path), **row})
            write_json(command, {"file": str(path), "detected": run.detected, "encoding": run.encoding,
                                 "records": run.records, "created": run.created, "duplicates": run.duplicates,
                                 "skipped": run.skipped, "rejected": run.rejected,
                                 "unknown_networks": run.unknown_networks[:10]})
        else:
            command.stdout.write(f"{path}: {run.detected}, created {run.created}, already imported "
                                 f"{run.duplicates}, not alerts {run.skipped}, rejected {run.rejected}")
            for row in run.rejected_lines:
                command.stderr.write(f"{path}:{row['line']}: {row['reason']}")
    if rejected:
        raise CommandError(f"{rejected} lines were rejected; the good lines were imported.", returncode=EXIT_FAILURE)


# --- listen ---------------------------------------------------------------------------------------

def _listen_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="store alerts as this user (needs soc.triage)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--udp", type=int, default=None, help="UDP port (0: any free port)")
    parser.add_argument("--tcp", type=int, default=None, help="TCP port (0: any free port)")
    parser.add_argument("--tls", type=int, default=None,
                        help="TLS port (RFC 5425; certificate and key from CITYGOV_SOC_SYSLOG_TLS_CERT/_KEY)")
    parser.add_argument("--flush-seconds", type=float, default=1.0)


def _listen(command: BaseCommand, options: dict) -> None:
    from django.conf import settings

    from citygov.soc.listener import serve, tls_context

    user = acting_user(options["user"])
    if options["udp"] is None and options["tcp"] is None and options["tls"] is None:
        raise CommandError("give --udp PORT, --tcp PORT and/or --tls PORT (請指定接收埠)", returncode=EXIT_BAD_INPUT)
    tls = None
    if options["tls"] is not None:
        soc = settings.SOC
        if soc.syslog_tls_cert is None:
            raise CommandError("--tls needs CITYGOV_SOC_SYSLOG_TLS_CERT and CITYGOV_SOC_SYSLOG_TLS_KEY "
                               "(TLS 需設定憑證與私鑰)", returncode=EXIT_BAD_INPUT)
        try:
            tls = tls_context(soc.syslog_tls_cert, soc.syslog_tls_key, soc.syslog_tls_client_ca)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise CommandError(f"cannot load the TLS certificate or key: {exc} (無法載入 TLS 憑證或私鑰)",
                               returncode=EXIT_BAD_INPUT) from None
    serve(user, host=options["host"], udp_port=options["udp"], tcp_port=options["tcp"], tls_port=options["tls"],
          tls=tls, flush_seconds=options["flush_seconds"], out=command.stdout)


# --- remind ---------------------------------------------------------------------------------------

def _remind_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")


def _remind(command: BaseCommand, options: dict) -> None:
    from citygov.soc.services import do_send_reminders

    run = do_send_reminders()
    record = {"due_soon": run.due_soon, "overdue": run.overdue, "escalated": run.escalated}
    if options["format"] == "jsonl":
        write_json(command, record)
    else:
        command.stdout.write(", ".join(f"{k} {v}" for k, v in record.items()))


SUBCOMMANDS: dict[str, SubCommand] = {
    "analyse": SubCommand("analyse alert files without a database (JSON report)", _analyse_arguments, _analyse),
    "import": SubCommand("import alert files into the database (idempotent)", _import_arguments, _import),
    "listen": SubCommand("receive syslog (CEF, LEEF, JSON) over UDP, TCP and/or TLS", _listen_arguments,
                         _listen),
    "remind": SubCommand("send follow-up reminders and escalations due today", _remind_arguments, _remind),
}


class Command(BaseCommand):
    help = "SOC alerts: analyse files, import, listen for syslog, send follow-up reminders."
    requires_system_checks: list = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True)
        for name, sub in SUBCOMMANDS.items():
            sub.arguments(subparsers.add_parser(name, help=sub.help))

    def handle(self, *args, **options) -> None:
        if sys.stdout.encoding and sys.stdout.encoding.lower() not in ("utf-8", "utf8"):
            sys.stdout.reconfigure(encoding="utf-8")
        SUBCOMMANDS[options["subcommand"]].run(self, options)
