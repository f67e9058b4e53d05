from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DatagovConfig(AppConfig):
    """Data governance."""

    name = "citygov.datagov"
    label = "datagov"
    verbose_name = _("Data governance")

    def ready(self) -> None:
        from citygov.datagov import dashboard, jobs  # noqa: F401 - importing registers the periodic jobs

        dashboard.register()
