"""``datagov`` command: the dataset catalogue from the command line, one sub-command per task.

Examples::

    citygov datagov freshness catalog.csv --as-of 2026-11-21 --format jsonl   # file only, no database
    citygov datagov import catalog.csv --user steward                          # summary; bad rows on stderr
    citygov datagov check --as-of 2018-07-08 --format jsonl                     # the stored catalogue
    citygov datagov harvest https://demo.ckan.org/ --user steward               # a CKAN portal
    citygov datagov snapshot                                                    # store today's trend point
    citygov datagov probe --user steward [--dataset 12] [--interval 1]          # check resource links
    citygov datagov classify --user steward [--axis scenario]                   # theme suggestions
    citygov datagov digest --user steward [--via email] [--as-of 2018-07-08]    # per-agency digests

Exit codes: 0 success, 1 failure (some rows rejected — the good ones are still imported or checked —
or the user's role does not allow the action), 2 bad input (unreadable file, missing columns, bad date,
unknown user).
"""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
TAIPEI = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")


def _as_of(text: str | None) -> dt.datetime:
    """``YYYY-MM-DD`` → the start of that day in Asia/Taipei; None → now."""
    if not text:
        return dt.datetime.now(TAIPEI)
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of must be YYYY-MM-DD, got {text!r} (日期格式應為 YYYY-MM-DD)",
                           returncode=EXIT_BAD_INPUT) from None
    return dt.datetime.combine(day, dt.time(), TAIPEI)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(TAIPEI).isoformat() if moment else None


def _policy(options: dict):
    from citygov.datagov.engine import frequency as fq
    from citygov.datagov.engine import freshness as fr

    grace = {}
    for kind in ("periodic", "continuous"):
        days = options.get(f"grace_{kind}") or 0
        if days:
            grace[kind] = dt.timedelta(days=days)
    stale = options.get("stale_months")
    return fr.Policy(grace=grace, continuous_interval=fq.Interval(seconds=int(options["continuous_days"] * 86400)),
                     stale_after_months=None if stale == 0 else stale)


def _policy_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--as-of", help="judge as of the start of this day, Asia/Taipei (default: now)")
    parser.add_argument("--grace-periodic", type=int, default=0, metavar="DAYS", help="extra days for periodic")
    parser.add_argument("--grace-continuous", type=int, default=0, metavar="DAYS", help="extra days for 即時")
    parser.add_argument("--continuous-days", type=float, default=1.0, metavar="DAYS",
                        help="interval taken for 即時 (real time); default 1 day")
    parser.add_argument("--stale-months", type=int, default=12, metavar="MONTHS",
                        help="irregular datasets untouched longer are stale; 0 turns the stale bucket off")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")


class Command(BaseCommand):
    help = "Dataset catalogue: freshness check on a file, import, check of the stored catalogue, snapshot."
    requires_system_checks: list = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        freshness = sub.add_parser("freshness", help="check a catalogue file (no database needed)")
        freshness.add_argument("file", metavar="CATALOG")
        _policy_arguments(freshness)
        check = sub.add_parser("check", help="check the stored catalogue")
        _policy_arguments(check)
        importer = sub.add_parser("import", help="import a catalogue file (city portal or data.gov.tw layout)")
        importer.add_argument("file", metavar="CATALOG")
        importer.add_argument("--user", required=True, help="act as this user (their role applies)")
        importer.add_argument("--format", choices=("text", "jsonl"), default="text")
        harvester = sub.add_parser("harvest", help="harvest a CKAN portal (Action API package_search)")
        harvester.add_argument("url", metavar="PORTAL_URL", help="e.g. https://demo.ckan.org/")
        harvester.add_argument("--user", required=True, help="act as this user (their role applies)")
        harvester.add_argument("--rows", type=int, default=100, help="packages per page (default 100)")
        harvester.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
        harvester.add_argument("--retries", type=int, default=3, help="retries per page (default 3)")
        harvester.add_argument("--format", choices=("text", "jsonl"), default="text")
        sub.add_parser("snapshot", help="store today's freshness counts per agency (the trend)")
        prober = sub.add_parser("probe", help="check resource URLs (HTTP HEAD/GET) and record new data")
        prober.add_argument("--user", required=True, help="act as this user (their role applies)")
        prober.add_argument("--dataset", type=int, action="append", help="only this dataset id (repeatable)")
        prober.add_argument("--limit", type=int, help="at most this many resources")
        prober.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
        prober.add_argument("--workers", type=int, default=8, help="hosts probed at once (default 8)")
        prober.add_argument("--interval", type=float, default=1.0,
                            help="seconds between two requests to the same host (default 1)")
        digest = sub.add_parser("digest", help="send each agency's digest of overdue and stale datasets")
        digest.add_argument("--user", required=True, help="act as this user (their role applies)")
        digest.add_argument("--via", choices=("console", "email"), default="console")
        digest.add_argument("--as-of", help="as of the start of this day, Asia/Taipei (default: now)")
        classifier = sub.add_parser("classify", help="suggest themes or scenarios for unclassified datasets")
        classifier.add_argument("--user", required=True, help="act as this user (their role applies)")
        classifier.add_argument("--axis", choices=("theme", "scenario"), default="theme")

    def handle(self, *args, **options) -> None:
        handler = {"freshness": self._freshness, "check": self._check, "import": self._import,
                   "harvest": self._import, "snapshot": self._snapshot, "probe": self._probe,
                   "classify": self._classify, "digest": self._digest}[options["subcommand"]]
        handler(options)

    def _line(self, record: dict) -> None:
        self.stdout.write(json.dumps(record, ensure_ascii=False))

    def _freshness(self, options: dict) -> None:
        from citygov.datagov.engine import catalog
        from citygov.datagov.engine import frequency as fq
        from citygov.datagov.engine import freshness as fr

        as_of, policy = _as_of(options["as_of"]), _policy(options)
        counts = dict.fromkeys(fr.STATUSES, 0)
        rejected = 0
        try:
            with open(options["file"], "rb") as stream:
                reader = catalog.CatalogReader(stream)
                for entry, error in reader:
                    if error is not None:
                        rejected += 1
                        self.stderr.write(f"line {error.line}: {error.message} ({error.message_zh})")
                        continue
                    freq = fq.normalise(entry.frequency_text)
                    result = fr.check(fr.Entry(entry.source_id, freq, entry.data_updated, entry.metadata_updated,
                                               entry.created), as_of, policy)
                    counts[result.status] += 1
                    if options["format"] == "jsonl":
                        self._line({"id": entry.source_id, "title": entry.title, "agency": entry.agency_name,
                                    "frequency_text": entry.frequency_text, "frequency_class": freq.kind,
                                    "interval": freq.iso or None, "last_updated": _iso(result.last_updated),
                                    "status": result.status, "due": _iso(result.due),
                                    "days_overdue": result.days_overdue})
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror} (無法讀取檔案)",
                               returncode=EXIT_BAD_INPUT) from None
        except catalog.CatalogError as exc:
            raise CommandError(f"{exc.message} {exc.message_zh}", returncode=EXIT_BAD_INPUT) from None
        summary = " ".join(f"{k}={v}" for k, v in counts.items())
        text = (f"{options['file']}: {reader.header.layout}, {reader.header.encoding}; as of {as_of.isoformat()}: "
                f"{summary} rejected={rejected}")
        if options["format"] == "jsonl":
            self.stderr.write(text)
        else:
            self.stdout.write(text)
        if rejected:
            raise CommandError(f"{rejected} rows rejected (有 {rejected} 列無法讀取)", returncode=EXIT_FAILURE)

    def _check(self, options: dict) -> None:
        from citygov.datagov import queries
        from citygov.datagov.models import Dataset

        as_of, policy = _as_of(options["as_of"]), _policy(options)
        judged = queries.judge(Dataset.objects.all(), as_of, policy)
        if options["format"] == "jsonl":
            datasets = {pk: (sid, title, agency, text) for pk, sid, title, agency, text in Dataset.objects.values_list(
                "pk", "source_id", "title", "source_agency_name", "frequency_text").iterator(chunk_size=5000)}
            for item in judged:
                sid, title, agency, text = datasets[item.dataset_id]
                self._line({"id": sid, "dataset": item.dataset_id, "title": title, "agency": agency,
                            "frequency_text": text, "status": item.result.status,
                            "last_updated": _iso(item.result.last_updated), "due": _iso(item.result.due),
                            "days_overdue": item.result.days_overdue})
        summary = " ".join(f"{k}={v}" for k, v in queries.summary(judged).items())
        text = f"as of {as_of.isoformat()}: {summary}"
        if options["format"] == "jsonl":
            self.stderr.write(text)
        else:
            self.stdout.write(text)

    def _import(self, options: dict) -> None:
        from django.contrib.auth import get_user_model

        from citygov.core.errors import ServiceError
        from citygov.datagov.harvest import HarvestSettings
        from citygov.datagov.services import do_harvest_ckan, do_import_catalog

        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['user']!r} (查無此使用者)", returncode=EXIT_BAD_INPUT)
        if not 1 <= options.get("rows", 1) <= 1000:
            raise CommandError("--rows must be 1 to 1000 (每頁筆數須介於 1 至 1000)", returncode=EXIT_BAD_INPUT)
        try:
            if options["subcommand"] == "harvest":
                result = do_harvest_ckan(user, options["url"], HarvestSettings(
                    rows=options["rows"], timeout=options["timeout"], retries=max(options["retries"], 0)))
            else:
                with open(options["file"], "rb") as stream:
                    result = do_import_catalog(user, stream, options["file"])
        except OSError as exc:
            raise CommandError(f"cannot read {options.get('file')}: {exc.strerror} (無法讀取檔案)",
                               returncode=EXIT_BAD_INPUT) from None
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=EXIT_BAD_INPUT if exc.status == 400 else EXIT_FAILURE) from None
        run = result.run
        for error in result.errors:
            self.stderr.write(f"line {error.line}: {error.message} ({error.message_zh})")
        for name in result.unmatched:
            self.stderr.write(f"agency not matched (機關未對應): {name}")
        record = {"import": run.pk, "layout": result.layout, "encoding": run.encoding, "rows": run.rows,
                  "created": run.created, "updated": run.updated, "unchanged": run.unchanged,
                  "rejected": run.rejected, "unmatched_agencies": list(result.unmatched)}
        if options["format"] == "jsonl":
            self._line(record)
        else:
            self.stdout.write(" ".join(f"{k}={v}" for k, v in record.items() if k != "unmatched_agencies"))
        if run.rejected:
            raise CommandError(f"{run.rejected} rows rejected (有 {run.rejected} 列未匯入)", returncode=EXIT_FAILURE)

    def _snapshot(self, options: dict) -> None:
        from citygov.datagov.services import do_snapshot_freshness

        self.stdout.write(f"{do_snapshot_freshness(None)} snapshot rows written")

    def _user(self, options: dict):
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['user']!r} (查無此使用者)", returncode=EXIT_BAD_INPUT)
        return user

    def _probe(self, options: dict) -> None:
        from citygov.core.errors import ServiceError
        from citygov.datagov.probe import ProbeSettings
        from citygov.datagov.services import do_probe_links, probe_allow_list

        if options["timeout"] <= 0 or options["workers"] < 1 or options["interval"] < 0:
            raise CommandError("--timeout must be > 0, --workers >= 1, --interval >= 0 (參數超出範圍)",
                               returncode=EXIT_BAD_INPUT)
        user = self._user(options)
        try:
            summary = do_probe_links(user, dataset_ids=options["dataset"], limit=options["limit"],
                                     settings=ProbeSettings(timeout=options["timeout"], workers=options["workers"],
                                                            per_host_interval=options["interval"],
                                                            allow=probe_allow_list()))
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=EXIT_FAILURE) from None
        self.stdout.write(f"checked={summary.checked} ok={summary.ok} broken={summary.broken} "
                          f"datasets_with_new_data={summary.changed}")

    def _classify(self, options: dict) -> None:
        from citygov.core.errors import ServiceError
        from citygov.datagov.services import do_suggest_classification

        user = self._user(options)
        try:
            made = do_suggest_classification(user, axis=options["axis"])
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=EXIT_FAILURE) from None
        self.stdout.write(f"{made} {options['axis']} suggestions made (waiting for a steward's review)")

    def _digest(self, options: dict) -> None:
        from citygov.core.errors import ServiceError
        from citygov.datagov.services import do_send_freshness_digest

        as_of = _as_of(options["as_of"])
        user = self._user(options)
        try:
            sent = do_send_freshness_digest(user, via=options["via"], as_of=as_of, stream=self.stdout)
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=EXIT_FAILURE) from None
        self.stderr.write(f"{sent} agency digests sent via {options['via']}")
