"""``citygov demo``: load reference data and (re)create the demo accounts."""

from django.core.management.base import BaseCommand

from citygov.agencies.services import do_load_reference_data
from citygov.core.demo import seed_demo


class Command(BaseCommand):
    help = "Load reference data and (re)create the demo accounts."

    def handle(self, *args, **options):
        do_load_reference_data()
        result = seed_demo()
        if result.created:
            names = ", ".join(a.username for a in result.created)
            self.stdout.write(f"demo accounts created (password {result.password}): {names}")
        else:
            self.stdout.write("demo accounts already present; nothing to do")
