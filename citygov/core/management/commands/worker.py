"""``citygov worker``: run the Huey consumer (background and periodic jobs)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the background job consumer (Huey)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, **options):
        call_command("run_huey", workers=options["workers"])
