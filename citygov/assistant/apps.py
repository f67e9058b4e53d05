from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistantConfig(AppConfig):
    """Citizen assistant."""

    name = "citygov.assistant"
    label = "assistant"
    verbose_name = _("Citizen assistant")

    def ready(self) -> None:
        from django.core.exceptions import ImproperlyConfigured

        from citygov.assistant import dashboard, serving
        from citygov.config import ConfigError

        # A malformed CITYGOV_ASSISTANT_* value stops the process at start-up, naming the variable.
        try:
            serving.settings()
        except ConfigError as exc:
            raise ImproperlyConfigured(str(exc)) from None
        dashboard.register()
