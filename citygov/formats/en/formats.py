"""English formats: Django's, unchanged (listed so both languages come from one place)."""

from django.conf.locale.en.formats import *  # noqa: F403
