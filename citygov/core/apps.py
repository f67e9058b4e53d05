from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Users, roles, change log, API base classes and the dashboard registry."""

    name = "citygov.core"
    label = "core"
    verbose_name = _("Platform core")

    def ready(self) -> None:
        from citygov.core import dashboard, jobs  # noqa: F401 - importing registers the periodic jobs
        from citygov.core.api import schema  # noqa: F401 - registers the OpenAPI token scheme

        dashboard.register_core_tiles()
