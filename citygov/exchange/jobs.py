"""Periodic jobs of the exchange app (Huey, Asia/Taipei): publishing the signed configuration."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from citygov.exchange.services import publish_configuration_file

logger = logging.getLogger(__name__)


def configuration_path() -> Path:
    """Where the registry publishes its signed configuration for gateways that read a file."""
    return Path(settings.VAR_DIR) / "exchange" / "conf.json"


@db_periodic_task(crontab(minute="*/15"), name="exchange.publish_configuration")
def publish_configuration() -> bool:
    """Every 15 minutes: re-sign the registry (new rights, revocations, a fresh expiry) into the file.

    Gateways refresh from it (or from /api/exchange/configuration/); a document is valid for 7 days, so a
    registry that stops publishing lets gateways run on for a week and then stop (fail closed).
    """
    ca_dir = Path(settings.VAR_DIR) / "exchange" / "ca"
    written = publish_configuration_file(ca_dir, configuration_path())
    if not written:
        logger.info("exchange configuration not published: no CA in %s (run `citygov exchange ca-init`)", ca_dir)
    return written
