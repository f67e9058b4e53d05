"""Periodic jobs of the points app (Huey): hold time-outs and idempotency-key pruning."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from citygov.points.services import ledger
from citygov.points.services.idempotency import prune_idempotency_records

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"), name="points.expire_holds")
def expire_holds() -> int:
    """Every minute: release holds whose 120 s ran out (captures also check the time themselves)."""
    released = ledger.do_expire_holds()
    if released:
        logger.info("released %d timed-out holds", released)
    return released


@db_periodic_task(crontab(minute="29", hour="3"), name="points.prune_idempotency_records")
def prune_idempotency() -> int:
    """Nightly (03:29): delete idempotency keys first seen more than 30 days ago (R5 keeps them ≥ 30 days)."""
    deleted = prune_idempotency_records(30)
    logger.info("pruned %d idempotency records", deleted)
    return deleted


@db_periodic_task(crontab(minute="5"), name="points.expire_lots")
def expire_lots() -> int:
    """Hourly (:05): move what is left in lots whose time has come to their agency's expired account."""
    expired = ledger.do_expire_lots()
    if expired:
        logger.info("expired %d lots", expired)
    return expired


@db_periodic_task(crontab(minute="0", hour="9"), name="points.expiry_notices")
def expiry_notices() -> int:
    """Daily (09:00 Taipei): send the due D-60/D-30/D-7 expiry notices."""
    from citygov.points.services.notices import do_send_expiry_notices

    run = do_send_expiry_notices()
    logger.info("sent %d expiry notices (%d members without consent skipped)", run.sent, run.skipped_no_consent)
    return run.sent


@db_periodic_task(crontab(minute="5", hour="0"), name="points.build_settlement_batches")
def build_settlement_batches() -> int:
    """Daily (00:05 Taipei): build yesterday's settlement batch (and any day missed before it)."""
    from citygov.points.services.settlement import do_build_due_batches

    result = do_build_due_batches()
    for batch in result.built:
        logger.info("built %s: %d lines, NT$%d, %d transfers (%d late), %s", batch.batch_id, batch.line_count,
                    batch.total_amount, batch.transfer_count, batch.late_count, batch.status)
    return len(result.built)


@db_periodic_task(crontab(minute="*/10"), name="points.warm_analytics")
def warm_analytics() -> int:
    """Every 10 minutes: fold new transfers into the analytics rollup in the shared cache, so that no
    page request pays for rebuilding it (after a restart or a cache flush the first fold is the slow one)."""
    from citygov.points.analytics import load_rollup

    return load_rollup().final_id
