"""Dashboard tiles of the points module."""

from django.utils.translation import gettext_lazy as _

from citygov.core import dashboard


def register() -> None:
    """Register this module's tiles (an empty state until the module holds data)."""
    dashboard.register(
        dashboard.empty_state_tile(
            key="points.overview",
            title=_("Points issued, spent and settled"),
            module=_("Citizen-card points"),
            order=60,
            # xgettext:no-python-format
            audit_finding=_("The trust flow was bypassed; 2023 activity fell over 90% unseen; 43.5% of merchants never enabled points payment."),
        )
    )
