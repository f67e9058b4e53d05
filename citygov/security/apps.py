from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    """Security posture."""

    name = "citygov.security"
    label = "security"
    verbose_name = _("Security posture")

    def ready(self) -> None:
        from citygov.security import dashboard

        dashboard.register()
