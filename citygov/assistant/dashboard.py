"""Dashboard tiles of the assistant module."""

from django.utils.translation import gettext_lazy as _

from citygov.core import dashboard


def register() -> None:
    """Register this module's tiles (an empty state until the module holds data)."""
    dashboard.register(
        dashboard.empty_state_tile(
            key="assistant.overview",
            title=_("FAQ answers and hand-offs"),
            module=_("Citizen assistant"),
            order=70,
            audit_finding=_("System logs showed memory problems; answers must improve while protecting personal data."),
        )
    )
