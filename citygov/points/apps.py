from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PointsConfig(AppConfig):
    """Citizen-card points."""

    name = "citygov.points"
    label = "points"
    verbose_name = _("Citizen-card points")

    def ready(self) -> None:
        from citygov.points import dashboard

        dashboard.register()
