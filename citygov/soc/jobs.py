"""Periodic jobs of the soc app (Huey, Asia/Taipei): daily follow-up reminders and escalations (with
e-mail), and the incident clocks every 10 minutes."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from citygov.soc.services import do_check_incident_clocks, do_send_reminders

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="15", hour="8"), name="soc.send_reminders")
def send_reminders() -> dict:
    """Every day at 08:15: reminders before and after due dates; escalation of long-overdue actions."""
    run = do_send_reminders()
    logger.info("soc reminders: %d due soon, %d overdue, %d escalated", run.due_soon, run.overdue, run.escalated)
    return {"due_soon": run.due_soon, "overdue": run.overdue, "escalated": run.escalated}


@db_periodic_task(crontab(minute="*/10"), name="soc.check_incident_clocks")
def check_incident_clocks() -> dict:
    """Every 10 minutes: notify incident clocks that became due soon or overdue (the shortest clock,
    the 1-hour notification, needs a check more often than daily)."""
    run = do_check_incident_clocks()
    if run.due_soon or run.overdue:
        logger.info("soc incident clocks: %d due soon, %d overdue", run.due_soon, run.overdue)
    return {"due_soon": run.due_soon, "overdue": run.overdue}
