"""Dashboard tiles of the exchange module."""

from django.utils.translation import gettext_lazy as _

from citygov.core import dashboard


def register() -> None:
    """Register this module's tiles (an empty state until the module holds data)."""
    dashboard.register(
        dashboard.empty_state_tile(
            key="exchange.overview",
            title=_("Inter-agency exchange services"),
            module=_("Data exchange"),
            order=50,
            audit_finding=_("Adopting T-Road was recommended for secure, private data transport between agencies."),
        )
    )
