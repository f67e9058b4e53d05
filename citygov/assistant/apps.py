from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistantConfig(AppConfig):
    """Citizen assistant."""

    name = "citygov.assistant"
    label = "assistant"
    verbose_name = _("Citizen assistant")

    def ready(self) -> None:
        from citygov.assistant import dashboard

        dashboard.register()
