"""Periodic jobs of the datagov module (Huey, Asia/Taipei): freshness snapshot, link probe, classification."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from citygov.datagov.services import (
    do_probe_links,
    do_send_freshness_digest,
    do_snapshot_freshness,
    do_suggest_classification,
)

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="15", hour="1"), name="datagov.snapshot_freshness")
def snapshot_freshness() -> int:
    """Daily (01:15): store each agency's freshness counts (the overdue-rate trend)."""
    written = do_snapshot_freshness(None)
    logger.info("stored %d freshness snapshot rows", written)
    return written


@db_periodic_task(crontab(minute="30", hour="2"), name="datagov.probe_links")
def probe_links() -> int:
    """Nightly (02:30): probe every resource URL, store the answers, move data-updated times on new data."""
    summary = do_probe_links(None)
    logger.info("probed %d links: %d broken, %d datasets with new data", summary.checked, summary.broken,
                summary.changed)
    return summary.checked


@db_periodic_task(crontab(minute="45", hour="3"), name="datagov.suggest_classification")
def suggest_classification() -> int:
    """Nightly (03:45): propose themes and scenarios for unclassified datasets (applied only when accepted)."""
    made = do_suggest_classification(None, axis="theme") + do_suggest_classification(None, axis="scenario")
    logger.info("made %d classification suggestions", made)
    return made


@db_periodic_task(crontab(minute="0", hour="8", day_of_week="1"), name="datagov.freshness_digest")
def freshness_digest() -> int:
    """Mondays (08:00): each agency's digest of overdue and stale datasets (console adapter: the log)."""
    return do_send_freshness_digest(None, via="console")
