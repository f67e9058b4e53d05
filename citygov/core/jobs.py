"""Periodic housekeeping jobs of the platform core."""

from __future__ import annotations

import logging

from django.contrib.sessions.models import Session
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

logger = logging.getLogger(__name__)


def prune_expired_sessions_now() -> int:
    """Delete expired sessions; returns how many were removed."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@db_periodic_task(crontab(minute="17", hour="3"), name="core.prune_expired_sessions")
def prune_expired_sessions() -> int:
    """Nightly (03:17): remove expired sessions so the session table does not grow without bound."""
    deleted = prune_expired_sessions_now()
    logger.info("pruned %d expired sessions", deleted)
    return deleted
