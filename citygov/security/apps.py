from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    """Security posture."""

    name = "citygov.security"
    label = "security"
    verbose_name = _("Security posture")

    def ready(self) -> None:
        from django.conf import settings

        from citygov import config
        from citygov.security import dashboard
        from citygov.security.engine import bundle

        dashboard.register()
        # Records fetched by ``citygov security sync-nvd`` are merged over the bundled NVD data.
        try:
            sync_dir = config.security_settings(config.environment(), settings.VAR_DIR).nvd_dir
        except config.ConfigError as exc:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(str(exc)) from None
        bundle.configure(sync_dir if (sync_dir / "state.json").exists() else None)
