"""``assistant`` command: the citizen FAQ assistant from the command line.

Examples::

    citygov assistant answer --bank faq.csv --top 5 --format jsonl < questions.txt   # no database needed
    citygov assistant evaluate --bank faq.csv --queries paraphrases.csv              # top-1/top-5/OOS/latency
    citygov assistant check faq.jsonl                                                # validate a bank file
    citygov assistant ask "停車費怎麼繳"                                              # through the service (logged, masked)
    citygov assistant purge --days 180 --user admin                                   # retention
    citygov assistant import faq.csv --user editor                                    # new/changed rows → versions to review
    citygov assistant review --batch BATCH --user reviewer [--reject]                 # a second person publishes
    citygov assistant export bank.jsonl --user editor                                 # the entries the user reaches

Exit codes: 0 success, 1 failure (rows refused, purge not allowed), 2 bad input (missing or unreadable
file, bad header, unknown user, empty question).
"""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from citygov.core.errors import ServiceError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def _bank(path_text: str, synonyms: str | None):
    from citygov.assistant.serving import build

    path = Path(path_text)
    if not path.is_file():
        raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
    try:
        loaded = build(path, Path(synonyms) if synonyms else None)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: {exc}", returncode=EXIT_BAD_INPUT) from None
    if not loaded.index.entries:
        raise CommandError(f"{path}: no published entries (沒有已發布的問答)", returncode=EXIT_BAD_INPUT)
    return loaded


def _user(username: str):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {username!r} (查無此使用者)", returncode=EXIT_BAD_INPUT)
    return user


def _write(command: BaseCommand, record: dict) -> None:
    command.stdout.write(json.dumps(record, ensure_ascii=False))


def _bank_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--bank", required=True, metavar="FAQ", help="bank file, .csv or .jsonl")
    parser.add_argument("--synonyms", help="synonym file (default: the packaged list)")


class Command(BaseCommand):
    """One command for the assistant app, with sub-commands."""

    help = "The citizen FAQ assistant: answer, evaluate, check a bank, ask, purge logs, import/review/export the bank."

    def add_arguments(self, parser):
        """Declare the sub-commands."""
        sub = parser.add_subparsers(dest="action", required=True, metavar="{answer,evaluate,check,ask,purge,import,review,export}")
        answer = sub.add_parser("answer", help="answer questions from standard input, one per line (no database)")
        _bank_arguments(answer)
        answer.add_argument("--top", type=int, default=5)
        answer.add_argument("--format", choices=("text", "jsonl"), default="jsonl")
        evaluate = sub.add_parser("evaluate", help="top-1, top-5, out-of-scope precision/recall, latency")
        _bank_arguments(evaluate)
        evaluate.add_argument("--queries", required=True, help="CSV with query,expected_faq_id (none = out of scope)")
        evaluate.add_argument("--format", choices=("text", "jsonl"), default="text")
        check = sub.add_parser("check", help="validate a bank file and report bad rows by line")
        check.add_argument("file", metavar="FILE")
        check.add_argument("--format", choices=("text", "jsonl"), default="text")
        ask = sub.add_parser("ask", help="ask one question through the service (logged, masked)")
        ask.add_argument("question")
        ask.add_argument("--format", choices=("text", "jsonl"), default="text")
        purge = sub.add_parser("purge", help="delete conversation logs older than N days")
        purge.add_argument("--days", type=int, required=True)
        purge.add_argument("--user", required=True, help="act as this user (needs assistant.manage)")
        imp = sub.add_parser("import", help="import a CSV/JSONL bank: new or changed rows become versions to review")
        imp.add_argument("file", metavar="FILE")
        imp.add_argument("--user", required=True)
        imp.add_argument("--agency", help="owning agency code for new entries")
        imp.add_argument("--format", choices=("text", "jsonl"), default="text")
        review = sub.add_parser("review", help="approve (publish) or reject an import batch as a second person")
        review.add_argument("--batch", required=True)
        review.add_argument("--user", required=True)
        review.add_argument("--reject", action="store_true")
        export = sub.add_parser("export", help="write the entries the user reaches to a .csv or .jsonl file")
        export.add_argument("file", metavar="FILE")
        export.add_argument("--user", required=True)

    def handle(self, *args, **options):
        """Run the chosen sub-command."""
        getattr(self, "_" + options["action"])(options)

    def _answer(self, options):
        from citygov.assistant.engine.retrieval import answer

        if options["top"] < 1 or options["top"] > 50:
            raise CommandError("--top must be 1-50 (--top 須介於 1 到 50)", returncode=EXIT_BAD_INPUT)
        loaded = _bank(options["bank"], options["synonyms"])
        for line in sys.stdin:
            query = line.strip()
            if not query:
                continue
            reply = answer(loaded.index, query, top=options["top"])
            masked = reply.question_masked
            answers = [{"id": hit.entry.faq_id, "score": round(hit.confidence, 4)} for hit in reply.hits]
            if options["format"] == "jsonl":
                _write(self, {"query": masked, "answers": answers, "decision": reply.decision})
            else:
                best = f"{answers[0]['id']} {answers[0]['score']}" if answers else "-"
                self.stdout.write(f"{reply.decision}\t{best}\t{masked}")

    def _evaluate(self, options):
        from citygov.assistant.engine.evaluate import evaluate, read_queries

        loaded = _bank(options["bank"], options["synonyms"])
        path = Path(options["queries"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
        try:
            pairs = read_queries(path)
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}", returncode=EXIT_BAD_INPUT) from None
        result = evaluate(loaded.index, pairs)
        if options["format"] == "jsonl":
            _write(self, result.__dict__)
            return
        self.stdout.write(
            f"queries {result.queries} (in scope {result.in_scope}, out of scope {result.out_of_scope})\n"
            f"top-1 {result.top1:.3f}  top-5 {result.top5:.3f}  (top-1 by exact id {result.top1_strict:.3f})\n"
            f"out-of-scope precision {result.oos_precision:.3f}  recall {result.oos_recall:.3f}\n"
            f"latency p50 {result.p50_ms:.2f} ms  p95 {result.p95_ms:.2f} ms")

    def _check(self, options):
        from citygov.assistant.engine.bank import read_bank

        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
        try:
            result = read_bank(path)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}", returncode=EXIT_BAD_INPUT) from None
        for error in result.errors:
            if options["format"] == "jsonl":
                _write(self, {"file": str(path), "line": error.line, "error": error.message})
            else:
                self.stderr.write(f"{path}:{error.line}: {error.message}")
        summary = {"file": str(path), "entries": len(result.entries), "errors": len(result.errors)}
        if options["format"] == "jsonl":
            _write(self, summary)
        else:
            self.stdout.write(f"{path}: {summary['entries']} entries, {summary['errors']} errors")
        if result.errors:
            raise CommandError(f"{len(result.errors)} rows refused (有 {len(result.errors)} 列有誤)",
                               returncode=EXIT_BAD_INPUT if not result.entries else EXIT_FAILURE)

    def _ask(self, options):
        from citygov.assistant.api.views import reply_payload
        from citygov.assistant.services import do_ask

        try:
            result = do_ask(options["question"], channel="cli")
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=EXIT_BAD_INPUT) from None
        payload = reply_payload(result)
        if options["format"] == "jsonl":
            _write(self, payload)
        else:
            self.stdout.write(f"[{payload['decision']} {payload['confidence']}] {payload['question']}\n{payload['text']}")
            for suggestion in payload["suggestions"]:
                self.stdout.write(f"  - {suggestion['question']} ({suggestion['faq_id']})")

    def _import(self, options):
        from citygov.agencies.models import Agency
        from citygov.assistant.services import do_import_bank

        user = _user(options["user"])
        agency = None
        if options["agency"]:
            agency = Agency.objects.filter(code=options["agency"]).first()
            if agency is None:
                raise CommandError(f"no agency {options['agency']!r} (查無此機關)", returncode=EXIT_BAD_INPUT)
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file (找不到檔案)", returncode=EXIT_BAD_INPUT)
        try:
            report = do_import_bank(user, path, agency)
        except ServiceError as exc:
            raise CommandError(f"{path}: {exc.message}", returncode=EXIT_BAD_INPUT if exc.status == 400
                               else EXIT_FAILURE) from None
        summary = {"file": str(path), "batch": report.batch, "rows": report.rows, "created": report.created,
                   "changed": report.changed, "unchanged": report.unchanged, "errors": len(report.errors)}
        for error in report.errors:
            if options["format"] == "jsonl":
                _write(self, {"file": str(path), "line": error.line, "error": error.message})
            else:
                self.stderr.write(f"{path}:{error.line}: {error.message}")
        if options["format"] == "jsonl":
            _write(self, summary)
        else:
            self.stdout.write(f"{path}: batch {report.batch}: created {report.created}, changed {report.changed}, "
                              f"unchanged {report.unchanged}, errors {len(report.errors)}; a second person "
                              f"reviews it with: citygov assistant review --batch {report.batch} --user NAME")
        if report.errors:
            raise CommandError(f"{len(report.errors)} rows were not imported; the other rows were "
                               f"(有 {len(report.errors)} 列未匯入)", returncode=EXIT_FAILURE)

    def _review(self, options):
        from citygov.assistant.services import do_review_batch

        user = _user(options["user"])
        try:
            count = do_review_batch(user, options["batch"], not options["reject"])
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=EXIT_FAILURE) from None
        self.stdout.write(f"{'rejected' if options['reject'] else 'approved'} {count} versions")

    def _export(self, options):
        from citygov.assistant.engine.bank import format_of
        from citygov.assistant.queries import write_export

        user = _user(options["user"])
        path = Path(options["file"])
        try:
            fmt = format_of(path)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None
        with path.open("w", encoding="utf-8", newline="") as stream:
            count = write_export(user, stream, fmt)
        self.stdout.write(f"{path}: {count} entries")

    def _purge(self, options):
        from citygov.assistant.services import do_purge_turns

        user = _user(options["user"])
        try:
            count = do_purge_turns(user, options["days"])
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=EXIT_BAD_INPUT if exc.status == 400 else EXIT_FAILURE) from None
        self.stdout.write(f"purged {count} turns")
