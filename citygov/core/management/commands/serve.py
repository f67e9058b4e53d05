"""``citygov serve``: migrate, load reference data, seed demo data into an empty database, create the
administrator (printing its generated password once) and serve."""

from __future__ import annotations

import os
import shutil
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from citygov.agencies.services import do_load_reference_data
from citygov.core import serving
from citygov.core.demo import seed_demo
from citygov.core.services import do_ensure_admin, do_set_password


def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port), with a clear error."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--bind {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8000 (格式應為 主機:連接埠)",
                           returncode=2)
    return host, int(port)


class Command(BaseCommand):
    help = "Migrate, load reference and demo data, create the administrator, and serve."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT to listen on")
        parser.add_argument("--prod", action="store_true", help="serve with gunicorn (a production WSGI server)")
        parser.add_argument("--workers", type=int, default=2,
                            help="gunicorn worker processes (with --prod); about one per CPU core")
        parser.add_argument("--threads", type=int, default=4,
                            help="threads per gunicorn worker (with --prod), so a worker keeps its core busy "
                                 "while its requests wait for the database")
        parser.add_argument("--no-demo", action="store_true", help="do not seed demo data")
        parser.add_argument("--reset-admin-password", action="store_true",
                            help="generate and print a new password for the administrator")
        parser.add_argument("--setup-only", action="store_true", help="prepare the database and exit")

    def handle(self, *args, **options):
        host, port = parse_bind(options["bind"])
        self.stdout.write("citygov: migrating the database …")
        call_command("migrate", interactive=False, verbosity=0)
        reports = do_load_reference_data()
        for kind, report in reports.items():
            self.stdout.write(f"citygov: reference {kind}: {report.created} new, {report.updated} updated, "
                              f"{report.unchanged} unchanged")
            for error in report.errors:
                self.stderr.write(f"  {error}")
        empty = not get_user_model().objects.exists()
        admin, password = do_ensure_admin()
        if empty and not options["no_demo"]:
            result = seed_demo()
            if result.password:
                self.stdout.write("citygov: demo accounts (password {}): {}".format(
                    result.password, ", ".join(a.username for a in result.created)))
        if options["reset_admin_password"] and password is None:
            password = do_set_password(admin, admin.pk)
        url = f"http://{host}:{port}/"
        self.stdout.write("")
        self.stdout.write("=" * 64)
        self.stdout.write(f"  citygov is at {url}")
        if password:
            self.stdout.write(f"  administrator: {admin.username}   password: {password}")
            self.stdout.write("  (shown once; reset with `citygov serve --reset-admin-password`)")
        else:
            self.stdout.write(f"  administrator: {admin.username} (password was printed when it was created;")
            self.stdout.write("  reset it with `citygov serve --reset-admin-password`)")
        self.stdout.write("=" * 64)
        self.stdout.flush()
        if options["setup_only"]:
            return
        if options["prod"]:
            self._serve_prod(host, port, options["workers"], options["threads"])
        else:
            call_command("runserver", f"{host}:{port}", use_reloader=False, use_threading=True)

    def _serve_prod(self, host: str, port: int, workers: int, threads: int = 4) -> None:
        call_command("collectstatic", interactive=False, verbosity=0)
        gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
        if gunicorn is None:
            raise CommandError("gunicorn is not installed (pip install gunicorn)", returncode=1)
        argv = [gunicorn, "citygov.wsgi:application", "--bind", f"{host}:{port}", "--workers", str(workers),
                "--worker-class", serving.WORKER_CLASS, "--threads", str(threads), "--keep-alive", "75",
                "--access-logfile", "-", "--forwarded-allow-ips", "127.0.0.1"]
        self.stdout.write(f"citygov: gunicorn on {host}:{port} ({workers} workers × {threads} threads); "
                          f"static files in {settings.STATIC_ROOT}")
        self.stdout.flush()
        os.execv(gunicorn, argv)  # noqa: S606 - replace this process with the server
