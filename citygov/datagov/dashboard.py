"""Dashboard tiles of the datagov module."""

from django.utils.translation import gettext_lazy as _

from citygov.core import dashboard


def register() -> None:
    """Register this module's tiles (an empty state until the module holds data)."""
    dashboard.register(
        dashboard.empty_state_tile(
            key="datagov.overview",
            title=_("Datasets overdue for update"),
            module=_("Data governance"),
            order=40,
            audit_finding=_("NT$89 million spent on big-data platforms that were never integrated; cross-agency sharing still hard."),
        )
    )
