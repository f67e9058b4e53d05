"""Authentication with lock-out after repeated failures.

Failures are counted from the change log itself (``login_failed`` rows for the user name since
the later of the last successful sign-in and the start of the lock-out window), so the count is
shared by every worker process and survives restarts.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from citygov.core.changelog import client_ip
from citygov.core.models import ChangeAction, ChangeLog
from citygov.core.text.masking import mask_personal_data

AUTH_OBJECT_TYPE = "core.user"


def _window_start(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def _auth_rows(username: str):
    return ChangeLog.objects.filter(object_type=AUTH_OBJECT_TYPE, object_repr=username[:200])


def recent_failures(username: str, *, now: dt.datetime | None = None) -> int:
    """Failed sign-ins for ``username`` in the lock-out window since the last success."""
    now = now or timezone.now()
    since = _window_start(now)
    rows = _auth_rows(username)
    last_ok = rows.filter(action=ChangeAction.LOGIN).order_by("-at").values_list("at", flat=True).first()
    if last_ok is not None and last_ok > since:
        since = last_ok
    return rows.filter(action=ChangeAction.LOGIN_FAILED, at__gt=since).count()


def is_locked_out(username: str, *, now: dt.datetime | None = None) -> bool:
    """Whether ``username`` has reached the failure limit inside the window."""
    return recent_failures(username, now=now) >= settings.LOGIN_MAX_FAILURES


def record_login(user, request) -> None:
    """Log a successful sign-in."""
    log_auth_event(ChangeAction.LOGIN, user.get_username(), request, actor=user)


def record_logout(user, request) -> None:
    """Log a sign-out."""
    log_auth_event(ChangeAction.LOGOUT, user.get_username(), request, actor=user)


def log_auth_event(action: str, username: str, request, *, actor=None, note: str = "") -> None:
    """Append a sign-in/sign-out/failure/lock-out row keyed by ``username``."""
    user_model = get_user_model()
    user = actor or user_model.objects.filter(username=username).first()
    entry_actor = user if user is not None and action in (ChangeAction.LOGIN, ChangeAction.LOGOUT) else None
    ChangeLog(
        actor=entry_actor,
        actor_name=(username if entry_actor is None else entry_actor.get_username())[:150],
        action=action,
        object_type=AUTH_OBJECT_TYPE,
        object_id=str(user.pk) if user is not None else "",
        # A name that matches no account may be a password or an ID typed into the wrong box.
        object_repr=(username if user is not None else mask_personal_data(username))[:200],
        note=note[:300],
        ip_address=client_ip(request),
    ).save()


class LockoutModelBackend(ModelBackend):
    """Django's model backend, refusing locked-out accounts and logging every failure."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if is_locked_out(username):
            log_auth_event(ChangeAction.LOGIN_FAILED, username, request, note="locked out")
            # PermissionDenied stops Django trying other backends.
            raise PermissionDenied("account locked")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            log_auth_event(ChangeAction.LOGIN_FAILED, username, request)
            if is_locked_out(username):
                log_auth_event(ChangeAction.LOCKED_OUT, username, request,
                               note=f"{settings.LOGIN_MAX_FAILURES} failures")
            return None
        return user
