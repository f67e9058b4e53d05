"""``agencies`` command: place addresses in districts (no database needed) and load reference data.

Examples::

    citygov agencies locate 桃園縣中壢市中正路100號          # prints 中壢區
    citygov agencies locate --format jsonl < addresses.txt   # one JSON object per line
    citygov agencies load                                     # districts and agencies, idempotent
    citygov agencies list --user admin --format jsonl          # agencies that user may reach
    citygov agencies set-level culture B --user admin          # change through the service, logged
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from citygov.agencies.engine.address import locate_district
from citygov.agencies.models import Agency
from citygov.agencies.services import do_load_reference_data, do_update_agency
from citygov.core.errors import ServiceError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    """One command for the agencies app, with ``locate`` and ``load`` sub-commands."""

    help = "Taoyuan districts and agencies: locate addresses, load reference data."
    # ``stdin`` lets callers (and tests) hand in a stream for ``locate`` without touching sys.stdin.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        """Declare the sub-commands and their options."""
        sub = parser.add_subparsers(dest="action", required=True, metavar="{locate,load,list,set-level}")

        locate = sub.add_parser("locate", help="Print the district of each address (no database needed).")
        locate.add_argument("addresses", nargs="*", metavar="ADDRESS",
                            help="Addresses; with --format jsonl and none given, read one per line from stdin.")
        locate.add_argument("--format", choices=("text", "jsonl"), default="text",
                            help="text: the district or 'unknown (why)' per line; jsonl: one JSON object per line.")

        sub.add_parser("load", help="Load the bundled districts and agencies (idempotent).")

        listing = sub.add_parser("list", help="List the agencies a user may reach.")
        listing.add_argument("--user", required=True, help="act as this user (their role and agencies apply)")
        listing.add_argument("--format", choices=("text", "jsonl"), default="text")

        level = sub.add_parser("set-level", help="Set an agency's cyber-security responsibility level (A-E).")
        level.add_argument("code", help="agency code")
        level.add_argument("level", help="A, B, C, D or E (empty string clears it)")
        level.add_argument("--user", required=True, help="act as this user (their role and agencies apply)")

    def handle(self, *args, **options):
        """Dispatch to the sub-command."""
        if options["action"] == "locate":
            self._locate(options)
        elif options["action"] == "load":
            self._load()
        elif options["action"] == "list":
            self._list(options)
        elif options["action"] == "set-level":
            self._set_level(options)

    # --- acting as a user -------------------------------------------------------------------------

    @staticmethod
    def _user(username: str):
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r} (查無此使用者)", returncode=EXIT_BAD_INPUT)
        return user

    def _list(self, options) -> None:
        user = self._user(options["user"])
        for agency in Agency.objects.for_agency(user).select_related("district").order_by("code"):
            if options["format"] == "jsonl":
                self.stdout.write(json.dumps({
                    "code": agency.code, "name_zh": agency.name_zh, "name_en": agency.name_en,
                    "kind": agency.kind, "district": agency.district.name_zh if agency.district else None,
                    "security_level": agency.security_level,
                }, ensure_ascii=False))
            else:
                self.stdout.write(f"{agency.code}\t{agency.name_zh}\t{agency.security_level or '-'}")

    def _set_level(self, options) -> None:
        user = self._user(options["user"])
        # Look the agency up inside the user's scope: another agency's code reads as "not found".
        agency = Agency.objects.for_agency(user).filter(code=options["code"]).first()
        if agency is None:
            raise CommandError(f"no agency {options['code']!r} that {user.username} may reach (查無此機關)",
                               returncode=EXIT_FAILURE)
        try:
            agency = do_update_agency(user, agency.pk, {"security_level": options["level"].strip().upper()})
        except ServiceError as exc:
            detail = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {detail}".strip(), returncode=EXIT_BAD_INPUT
                               if exc.status == 400 else EXIT_FAILURE) from None
        self.stdout.write(f"{agency.code}: security level {agency.security_level or '-'}")

    # --- locate -----------------------------------------------------------------------------------

    def _locate(self, options) -> None:
        addresses = list(options["addresses"])
        if options["format"] == "jsonl":
            if not addresses:
                addresses = self._read_addresses(options.get("stdin") or sys.stdin)
            for address in addresses:
                location = locate_district(address)
                self.stdout.write(json.dumps({
                    "address": address,
                    "district_code": location.district_code,
                    "district": location.district,
                    "reason": location.reason,
                    "detail": location.detail,
                }, ensure_ascii=False))
            # jsonl is for pipelines: an unknown address is data (its reason is in the output), not a failure.
            return

        if not addresses:
            raise CommandError("locate: give at least one ADDRESS (or use --format jsonl to read stdin).",
                               returncode=EXIT_BAD_INPUT)
        unknown = 0
        for address in addresses:
            location = locate_district(address)
            if location.is_known:
                self.stdout.write(location.district)
            else:
                unknown += 1
                self.stdout.write(f"{location.district} ({location.detail})")
        if unknown:
            raise CommandError(f"{unknown} of {len(addresses)} addresses could not be placed in a district.",
                               returncode=EXIT_FAILURE)

    @staticmethod
    def _read_addresses(stream) -> list[str]:
        """Non-blank lines of ``stream``, stripped; input that is not UTF-8 is bad input (exit 2)."""
        addresses = []
        try:
            for number, line in enumerate(stream, start=1):
                # A terminal's stdin decodes with surrogateescape: bad bytes arrive as lone surrogates.
                try:
                    line.encode("utf-8")
                except UnicodeEncodeError:
                    raise CommandError(f"locate: line {number} of standard input is not valid UTF-8.",
                                       returncode=EXIT_BAD_INPUT) from None
                if line.strip():
                    addresses.append(line.strip())
        except UnicodeDecodeError as exc:
            raise CommandError(f"locate: standard input is not valid UTF-8 ({exc.reason}).",
                               returncode=EXIT_BAD_INPUT) from None
        return addresses

    # --- load -------------------------------------------------------------------------------------

    def _load(self) -> None:
        reports = do_load_reference_data()
        errors = []
        for kind, report in reports.items():
            self.stdout.write(f"{kind}: created {report.created}, updated {report.updated}, "
                              f"unchanged {report.unchanged}, errors {len(report.errors)}")
            errors.extend(f"{kind}: {error}" for error in report.errors)
        for error in errors:
            self.stderr.write(error)
        if errors:
            raise CommandError(f"{len(errors)} reference rows could not be loaded.", returncode=EXIT_FAILURE)
