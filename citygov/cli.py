"""The ``citygov`` console script.

``version`` and ``secret-key`` work before Django loads (no settings, no database). Everything else
is a Django management command: ``serve``, ``worker``, ``demo`` and each app's command
(``citygov agencies locate ...``), plus Django's own (``migrate``, ``createsuperuser``...).
Exit codes: 0 success, 1 failure, 2 bad input.
"""

from __future__ import annotations

import os
import sys

import citygov
from citygov import config

USAGE = """usage: citygov <command> [options]

Commands that need no configuration:
  version        print the citygov version
  secret-key     print a new random secret key for CITYGOV_SECRET_KEY

Platform:
  serve          migrate, load reference and demo data, create the administrator, serve
                 (--prod: a real WSGI server; --bind HOST:PORT)
  worker         run the background job consumer (Huey)
  demo           reload the demo data
  agencies       agencies and districts (e.g. `citygov agencies locate "桃園縣中壢市中正路100號"`)
  points         the points programme (verify, expire, import-merchants, merchants)

Any other Django management command also works (`citygov help` lists them).
"""


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if args[0] == "version":
        print(citygov.__version__)
        return 0
    if args[0] == "secret-key":
        print(config.generate_secret_key())
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citygov.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        print(str(exc), file=sys.stderr)
        return 2
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["citygov", *args])
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
