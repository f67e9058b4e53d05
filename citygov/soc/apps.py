from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SocConfig(AppConfig):
    """Security operations."""

    name = "citygov.soc"
    label = "soc"
    verbose_name = _("Security operations")

    def ready(self) -> None:
        from citygov.soc import dashboard, jobs  # noqa: F401 - importing registers the periodic jobs

        dashboard.register()
