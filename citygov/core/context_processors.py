"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.utils.functional import SimpleLazyObject

import citygov
from citygov.core.roles import Capability


def navigation(request) -> dict:
    """The version, the language list and what the signed-in user may open.

    The capability flags are lazy so that pages that never use them (the 500 page) never touch the
    database.
    """

    def can(capability: str):
        def check() -> bool:
            user = getattr(request, "user", None)
            return bool(user is not None and user.is_authenticated and user.has_capability(capability))

        return SimpleLazyObject(check)

    def is_admin() -> bool:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated and user.has_perm("admin.view_logentry")
                    and user.is_staff)

    return {
        "citygov_version": citygov.__version__,
        "citygov_languages": settings.LANGUAGES,
        "can_view_changelog": can(Capability.VIEW_CHANGELOG),
        "can_view_points": can(Capability.VIEW_POINTS),
        "can_view_settlement": can(Capability.VIEW_SETTLEMENT),
        "can_view_assistant": can(Capability.VIEW_ASSISTANT),
        "can_view_exchange": can(Capability.VIEW_EXCHANGE),
        "can_view_datagov": can(Capability.VIEW_DATAGOV),
        "can_view_soc": can(Capability.VIEW_SOC),
        "can_view_security": can(Capability.VIEW_SECURITY),
        "can_open_admin": SimpleLazyObject(is_admin),
    }
