from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgenciesConfig(AppConfig):
    """Agencies (the tenancy unit), districts and memberships."""

    name = "citygov.agencies"
    label = "agencies"
    verbose_name = _("Agencies and districts")

    def ready(self) -> None:
        from citygov.agencies import dashboard

        dashboard.register()
