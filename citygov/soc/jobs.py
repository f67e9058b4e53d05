"""Periodic jobs of the soc app (Huey, Asia/Taipei): daily follow-up reminders and escalations."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from citygov.soc.services import do_send_reminders

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="15", hour="8"), name="soc.send_reminders")
def send_reminders() -> dict:
    """Every day at 08:15: reminders before and after due dates; escalation of long-overdue actions."""
    run = do_send_reminders()
    logger.info("soc reminders: %d due soon, %d overdue, %d escalated", run.due_soon, run.overdue, run.escalated)
    return {"due_soon": run.due_soon, "overdue": run.overdue, "escalated": run.escalated}
