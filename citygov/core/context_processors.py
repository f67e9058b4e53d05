"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings

import citygov


def navigation(request) -> dict:
    """The version and language list for the page header."""
    return {"citygov_version": citygov.__version__, "citygov_languages": settings.LANGUAGES}
