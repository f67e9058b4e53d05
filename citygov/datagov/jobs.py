"""Periodic jobs of the datagov module (Huey, Asia/Taipei): the daily freshness snapshot for the trend."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from citygov.datagov.services import do_snapshot_freshness

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="15", hour="1"), name="datagov.snapshot_freshness")
def snapshot_freshness() -> int:
    """Daily (01:15): store each agency's freshness counts (the overdue-rate trend)."""
    written = do_snapshot_freshness(None)
    logger.info("stored %d freshness snapshot rows", written)
    return written
