"""Dashboard tiles of the soc module."""

from django.utils.translation import gettext_lazy as _

from citygov.core import dashboard


def register() -> None:
    """Register this module's tiles (an empty state until the module holds data)."""
    dashboard.register(
        dashboard.empty_state_tile(
            key="soc.overview",
            title=_("SOC alerts with tracked follow-up"),
            module=_("Security operations"),
            order=30,
            audit_finding=_("4,611 SOC alerts by end of 2024 with no trend analysis and no follow-up tracking of forensic reports."),
        )
    )
