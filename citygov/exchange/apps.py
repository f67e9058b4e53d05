from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    """Data exchange."""

    name = "citygov.exchange"
    label = "exchange"
    verbose_name = _("Data exchange")

    def ready(self) -> None:
        from citygov.exchange import dashboard, jobs  # noqa: F401 - importing registers the periodic jobs

        dashboard.register()


# The capability names this app adds to ``citygov.core.roles``; listed here so that this app's own
# catalogue carries their translations.
CAPABILITY_LABELS = (_("View the exchange registry"), _("Manage the exchange registry and CA"))
