from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PointsConfig(AppConfig):
    """Citizen-card points."""

    name = "citygov.points"
    label = "points"
    verbose_name = _("Citizen-card points")

    def ready(self) -> None:
        from citygov.points import dashboard, jobs  # noqa: F401 - importing registers the periodic jobs
        from citygov.points.api import terminal_auth  # noqa: F401 - registers the OpenAPI terminal scheme

        dashboard.register()
