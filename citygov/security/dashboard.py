"""Dashboard tiles of the security module."""

from django.utils.translation import gettext_lazy as _

from citygov.core import dashboard


def register() -> None:
    """Register this module's tiles (an empty state until the module holds data)."""
    dashboard.register(
        dashboard.empty_state_tile(
            key="security.overview",
            title=_("IT assets identified to CPE"),
            module=_("Security posture"),
            order=20,
            audit_finding=_("Too many assets were 'not identified (name match N/A)'; by end of 2023 only the official website had off-site backup."),
        )
    )
