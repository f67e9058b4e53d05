"""Background jobs: the housekeeping job runs, through Huey, on SQLite storage or Redis."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from citygov.core import jobs


def make_sessions() -> tuple[str, str]:
    live = SessionStore()
    live["k"] = 1
    live.create()
    expired = SessionStore()
    expired["k"] = 2
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - dt.timedelta(days=1))
    return live.session_key, expired.session_key


@pytest.mark.django_db
def test_prune_expired_sessions_removes_only_expired():
    live, expired = make_sessions()
    assert jobs.prune_expired_sessions.call_local() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]


@pytest.mark.django_db
def test_prune_runs_through_the_queue():
    _live, expired = make_sessions()
    jobs.prune_expired_sessions()  # enqueued; the test queue runs it inline
    assert Session.objects.count() == 1
    assert not Session.objects.filter(session_key=expired).exists()


def test_housekeeping_is_a_periodic_task():
    from huey.contrib.djhuey import HUEY

    due = [task.name for task in HUEY.read_periodic(dt.datetime(2026, 1, 1, 3, 17))]
    assert "core.prune_expired_sessions" in due
    assert HUEY.utc is False  # 03:17 Taipei time, not UTC
    not_due = [task.name for task in HUEY.read_periodic(dt.datetime(2026, 1, 1, 3, 18))]
    assert "core.prune_expired_sessions" not in not_due


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_prune_through_redis_queue():
    """Enqueue into a real Redis-backed Huey, then execute what a worker would dequeue."""
    from huey import RedisHuey

    queue = RedisHuey(name=f"citygov-test-{os.getpid()}", url=os.environ["CITYGOV_REDIS_URL"])
    queue.flush()
    task = queue.task(name="test.prune")(jobs.prune_expired_sessions_now)
    _live, expired = make_sessions()
    result = task()
    assert queue.pending_count() == 1
    message = queue.dequeue()
    queue.execute(message)
    assert result.get() == 1
    assert not Session.objects.filter(session_key=expired).exists()
    queue.flush()


def test_settings_choose_redis_when_configured(settings):
    if os.environ.get("CITYGOV_REDIS_URL"):
        assert settings.HUEY["huey_class"] == "huey.RedisHuey"
    else:
        assert settings.HUEY["huey_class"] == "huey.SqliteHuey"
        assert settings.HUEY["filename"].endswith("huey.sqlite3")
