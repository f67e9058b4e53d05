"""``security`` command: software identification and vulnerability matching from the command line.

Examples::

    citygov security identify inventory.csv --format jsonl     # no database needed
    citygov security vulns inventory.csv --format jsonl        # adds the CVEs of every row
    citygov security identify inventory.csv                    # a summary for people
    citygov security import-inventory inventory.csv --agency sccdc --user analyst   # into the database
    citygov security import-inventory programs.json --agency sccdc --user analyst --hostname PC-1
    citygov security import-devices devices.csv --agency sccdc --user analyst
    citygov security import-tests pentests.csv --agency sccdc --user analyst
    citygov security sync-nvd                                  # incremental update from the NVD 2.0 APIs

The CSV needs a ``display_name`` column; ``display_version``, ``publisher`` and ``arch`` are read when
present (osquery's ``name``/``version`` also work) and other columns are ignored. UTF-8 or Big5.
JSON works too (UTF-8): an array of objects with the same names, JSON lines, osquery ``programs`` or
``deb_packages`` results (``osqueryi --json``) and osquery daemon result logs.

Exit codes: 0 success, 1 failure, 2 bad input (missing file, wrong columns, wrong encoding, broken CSV).
"""

from __future__ import annotations

import json
import os
import sys
import time
from argparse import ArgumentParser
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


@dataclass(frozen=True)
class SubCommand:
    """One sub-command: its help line, how it declares its arguments, and how it runs."""

    help: str
    arguments: Callable[[ArgumentParser], None]
    run: Callable[[BaseCommand, dict], None]


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal (quiet when piped)."""

    def __init__(self, total: int, stream=None) -> None:
        """``total`` bytes in the file."""
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.last = 0.0

    def __call__(self, done: int) -> None:
        """Redraw at most five times a second."""
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        share = min(done / self.total, 1.0)
        bar = "#" * int(share * 30)
        self.stream.write(f"\r[{bar:<30}] {share:6.1%} {done / 1e6:8.1f} / {self.total / 1e6:.1f} MB")
        self.stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self.enabled:
            self.stream.write("\n")


def _file_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help=(
        "inventory CSV (UTF-8 or Big5) with columns display_name,display_version,publisher (extra columns "
        "are ignored), or JSON: an array of such objects, JSON lines, osquery programs/deb_packages output"))
    parser.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="text: a summary for people; jsonl: one JSON object per row")
    parser.add_argument("--terms", metavar="CSV", help="a zh-TW → English term table replacing the bundled one")


def _identifier(options: dict):
    from citygov.security.engine.bundle import load_products
    from citygov.security.engine.identify import Identifier, default_identifier, load_tables

    if options.get("terms"):
        terms = Path(options["terms"])
        if not terms.is_file():
            raise CommandError(f"{terms}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
        return Identifier(load_tables(terms), load_products())
    return default_identifier()


def _stream(command: BaseCommand, options: dict, with_cves: bool) -> None:
    from citygov.security.engine.bundle import load_vulns
    from citygov.security.engine.inventory import InventoryError, read_inventory
    from citygov.security.engine.pipeline import cves_for, hit_record, identification_record

    path = Path(options["file"])
    if not path.is_file():
        raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
    identifier = _identifier(options)
    vulns = load_vulns() if with_cves else None
    progress = Progress(path.stat().st_size)
    counts: Counter[str] = Counter()
    cve_count = 0
    jsonl = options["format"] == "jsonl"
    out = command.stdout
    try:
        for line, row in read_inventory(path, progress=progress):
            result = identifier.identify(row)
            counts[result.status] += 1
            record = identification_record(line, row, result)
            if vulns is not None:
                analysed, awaiting = cves_for(result, vulns, row.display_name)
                record["cves"] = [hit_record(h) for h in analysed]
                record["awaiting_analysis"] = [hit_record(h) for h in awaiting]
                cve_count += len(analysed)
            if jsonl:
                out.write(json.dumps(record, ensure_ascii=False))
            elif result.status != "identified":
                command.stderr.write(f"{path}:{line}: {result.status}: {row.display_name} — {result.reason}")
    except InventoryError as exc:
        progress.close()
        raise CommandError(f"{path}: {exc}", returncode=EXIT_BAD_INPUT) from None
    progress.close()
    total = sum(counts.values())
    if not jsonl:
        rate = counts["identified"] + counts["product_only"]
        summary = (f"{path}: {total} rows — identified {counts['identified']}, product only "
                   f"{counts['product_only']}, unidentified {counts['unidentified']}"
                   f" ({(rate / total if total else 0):.1%} identified to a product)")
        if vulns is not None:
            summary += f"; {cve_count} CVE matches"
        out.write(summary)


IMPORT_HELP = {
    "inventory": "software inventory: CSV (UTF-8 or Big5) hostname,display_name,display_version,publisher, or "
                 "JSON (array of objects, JSON lines, osquery programs/deb_packages output, osquery daemon logs)",
    "devices": "device list CSV: hostname,device_type,os,owner_agency,vans_enrolled,edr_installed,last_seen",
    "systems": "information systems CSV (columns in docs/security.md)",
    "components": "system components CSV: system,display_name,display_version,publisher",
    "tests": "penetration tests / red-blue exercises CSV, one row per finding: kind,title,performed_on,"
             "conducted_by,system,finding,severity,due_date,remediated_on,note",
}


def _import_arguments_for(kind: str) -> Callable[[ArgumentParser], None]:
    def arguments(parser: ArgumentParser) -> None:
        parser.add_argument("file", metavar="FILE", help=IMPORT_HELP[kind])
        if kind == "devices":
            parser.add_argument("--agency", help="the agency's code (e.g. sccdc); rows may name their "
                                                 "owner_agency instead")
        else:
            parser.add_argument("--agency", required=True, help="the agency's code (e.g. sccdc)")
        parser.add_argument("--user", required=True, help="act as this user (their role and agencies apply)")
        if kind == "inventory":
            parser.add_argument("--hostname", default="", help="the device of rows that name none "
                                                               "(osqueryi output of one machine)")
    return arguments


def _both_languages(message) -> str:
    """A row message in English, then in Traditional Chinese when the translation differs."""
    from django.utils import translation

    with translation.override("en"):
        english = str(message)
    with translation.override("zh-hant"):
        chinese = str(message)
    return english if english == chinese else f"{english} ({chinese})"


def _import_for(kind: str) -> Callable[[BaseCommand, dict], None]:
    def run(command: BaseCommand, options: dict) -> None:
        from django.contrib.auth import get_user_model

        from citygov.agencies.models import Agency
        from citygov.core.errors import ServiceError
        from citygov.security.uploads import IMPORT_KINDS

        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['user']!r} (查無此使用者)", returncode=EXIT_BAD_INPUT)
        agency_id = None
        if options.get("agency"):
            agency = Agency.objects.filter(code=options["agency"]).first()
            if agency is None:
                raise CommandError(f"no agency {options['agency']!r} (查無此機關)", returncode=EXIT_BAD_INPUT)
            agency_id = agency.pk
        path = Path(options["file"])
        try:
            report = IMPORT_KINDS[kind][1](user, agency_id, path, hostname=options.get("hostname") or "")
        except ServiceError as exc:
            code = EXIT_BAD_INPUT if exc.status == 400 else EXIT_FAILURE
            raise CommandError(f"{path}: {_both_languages(exc.message)}", returncode=code) from None
        summary = (f"{path}: {report.rows} rows — created {report.created}, updated {report.updated}, "
                   f"unchanged {report.unchanged}")
        if kind == "inventory":
            summary += f", devices created {report.devices_created}"
        command.stdout.write(f"{summary}, rejected {len(report.problems)}")
        for problem in report.problems:
            command.stderr.write(f"{path}:{problem.line}: {_both_languages(problem.message)}")
        if report.problems:
            raise CommandError(f"{len(report.problems)} of {report.rows} rows were not imported; the other rows "
                               f"were. (有 {len(report.problems)} 列未匯入，其餘已匯入)", returncode=EXIT_FAILURE)
    return run


def _sync_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--since", metavar="DATE", help=(
        "first run only: fetch records modified since this date (YYYY-MM-DD; default 2025-02-25, where the "
        "bundled data ends); later runs continue from the saved cursor"))
    parser.add_argument("--until", metavar="DATE", help="stop at this date (default: now)")
    parser.add_argument("--only", choices=("cve", "cpe"), help="only the CVE API or only the CPE API")
    parser.add_argument("--max-pages", type=int, metavar="N", help="stop after N pages (resume later)")


def _sync(command: BaseCommand, options: dict) -> None:
    import datetime as dt

    from django.conf import settings

    from citygov import config
    from citygov.security.engine import bundle
    from citygov.security.engine.nvd_sync import NvdClient, NvdStore, NvdSyncError, sync

    def moment(text: str | None, name: str) -> dt.datetime | None:
        if not text:
            return None
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--{name} {text!r} is not a date: use YYYY-MM-DD (日期格式錯誤)",
                               returncode=EXIT_BAD_INPUT) from None
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    try:
        conf = config.security_settings(config.environment(), settings.VAR_DIR)
    except config.ConfigError as exc:
        raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None
    since, until = moment(options.get("since"), "since"), moment(options.get("until"), "until")
    until = until or dt.datetime.now(dt.UTC)
    if options.get("max_pages") is not None and options["max_pages"] < 1:
        raise CommandError("--max-pages must be at least 1 (頁數至少為 1)", returncode=EXIT_BAD_INPUT)
    client = NvdClient(conf.nvd_cve_url, conf.nvd_cpe_url, conf.nvd_api_key)
    store = NvdStore(conf.nvd_dir)
    show = command.stderr.isatty() if hasattr(command.stderr, "isatty") else False
    kinds = (options["only"],) if options.get("only") else ("cve", "cpe")
    command.stdout.write(f"NVD sync into {conf.nvd_dir} ({'with' if conf.nvd_api_key else 'without'} an API key: "
                         f"{50 if conf.nvd_api_key else 5} requests per 30 s)")
    try:
        report = sync(client, store, since=since, until=until, kinds=kinds, max_pages=options.get("max_pages"),
                      progress=(lambda text: command.stderr.write(text)) if show else None)
    except NvdSyncError as exc:
        raise CommandError(str(exc), returncode=EXIT_FAILURE) from None
    bundle.configure(conf.nvd_dir)
    resumed = "".join(f", resumed {k} at index {v}" for k, v in report.resumed_from.items())
    command.stdout.write(f"{report.records['cve']} CVE records and {report.records['cpe']} products in "
                         f"{report.pages} pages ({report.requests} requests, {report.windows} windows completed"
                         f"{resumed})")


SUBCOMMANDS: dict[str, SubCommand] = {
    "sync-nvd": SubCommand("update the local NVD index incrementally from the NVD 2.0 CVE and CPE APIs "
                           "(CITYGOV_NVD_API_KEY from the environment; resumable)", _sync_arguments, _sync),
    "import-inventory": SubCommand("import an agency's software inventory (CSV, JSON or osquery JSON) into the "
                                   "database (identifies and matches every row)", _import_arguments_for("inventory"),
                                   _import_for("inventory")),
    "import-devices": SubCommand("import a device list (VANS/EDR enrolment, last seen) into the database",
                                 _import_arguments_for("devices"), _import_for("devices")),
    "import-systems": SubCommand("import an agency's information systems with their off-site backup",
                                 _import_arguments_for("systems"), _import_for("systems")),
    "import-components": SubCommand("import the software components of an agency's information systems",
                                    _import_arguments_for("components"), _import_for("components")),
    "import-tests": SubCommand("import penetration tests and red/blue exercises with their findings",
                               _import_arguments_for("tests"), _import_for("tests")),
    "identify": SubCommand("identify the software of an inventory CSV or JSON (no database needed)", _file_arguments,
                           lambda command, options: _stream(command, options, with_cves=False)),
    "vulns": SubCommand("identify an inventory CSV or JSON and list each row's CVEs (no database needed)",
                        _file_arguments,
                        lambda command, options: _stream(command, options, with_cves=True)),
}


class Command(BaseCommand):
    """One command for the security app; its sub-commands are listed in :data:`SUBCOMMANDS`."""

    help = "Security posture: software identification (CPE) and vulnerability matching (CVE)."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        """Declare every sub-command of :data:`SUBCOMMANDS` with its own arguments."""
        sub = parser.add_subparsers(dest="action", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
        for name, spec in SUBCOMMANDS.items():
            spec.arguments(sub.add_parser(name, help=spec.help))

    def handle(self, *args, **options):
        """Run the chosen sub-command (a reader that stops early, like ``head``, is not an error)."""
        try:
            SUBCOMMANDS[options["action"]].run(self, options)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
