"""Sign-in: lock-out after repeated failures, and every sign-in event in the change log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from citygov.core.auth import AUTH_OBJECT_TYPE, is_locked_out, recent_failures
from citygov.core.models import ChangeAction, ChangeLog

PASSWORD = "correct horse battery"


def post_login(client, username, password):
    return client.post(reverse("core:login"), {"username": username, "password": password},
                       REMOTE_ADDR="10.1.2.3")


def auth_actions(username):
    return list(ChangeLog.objects.filter(object_type=AUTH_OBJECT_TYPE, object_repr=username)
                .order_by("id").values_list("action", flat=True))


def test_successful_login_is_logged(client, admin_a):
    response = post_login(client, "admin-a", PASSWORD)
    assert response.status_code == 302
    assert auth_actions("admin-a") == [ChangeAction.LOGIN]
    row = ChangeLog.objects.get(action=ChangeAction.LOGIN)
    assert row.actor == admin_a
    assert row.ip_address == "10.1.2.3"


def test_failed_login_is_logged_without_the_password(client, admin_a):
    response = post_login(client, "admin-a", "wrong password!")
    assert response.status_code == 200
    row = ChangeLog.objects.get(action=ChangeAction.LOGIN_FAILED)
    assert row.actor is None
    assert row.object_repr == "admin-a"
    assert "wrong" not in (row.note + str(row.before) + str(row.after))


def test_logout_is_logged_and_needs_post(client, admin_a):
    client.force_login(admin_a)
    assert client.get(reverse("core:logout")).status_code == 405
    response = client.post(reverse("core:logout"))
    assert response.status_code == 302
    assert auth_actions("admin-a") == [ChangeAction.LOGOUT]


def test_lockout_after_max_failures_refuses_the_right_password(client, admin_a, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        post_login(client, "admin-a", "wrong password!")
    assert is_locked_out("admin-a")
    response = post_login(client, "admin-a", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert auth_actions("admin-a") == [ChangeAction.LOGIN_FAILED] * 3 + [ChangeAction.LOCKED_OUT,
                                                                         ChangeAction.LOGIN_FAILED]


def test_lockout_ends_after_the_window(client, admin_a, settings):
    settings.LOGIN_MAX_FAILURES = 2
    settings.LOGIN_LOCKOUT_MINUTES = 15
    old = timezone.now() - dt.timedelta(minutes=16)
    for _ in range(2):
        ChangeLog(action=ChangeAction.LOGIN_FAILED, object_type=AUTH_OBJECT_TYPE, object_repr="admin-a",
                  actor_name="admin-a", at=old).save()
    assert recent_failures("admin-a") == 0
    response = post_login(client, "admin-a", PASSWORD)
    assert response.status_code == 302


def test_success_resets_the_count(client, admin_a, settings):
    settings.LOGIN_MAX_FAILURES = 3
    post_login(client, "admin-a", "wrong password!")
    post_login(client, "admin-a", "wrong password!")
    assert post_login(client, "admin-a", PASSWORD).status_code == 302
    client.logout()
    post_login(client, "admin-a", "wrong password!")
    assert recent_failures("admin-a") == 1
    assert not is_locked_out("admin-a")


def test_lockout_of_one_user_does_not_lock_another(client, admin_a, admin_b, settings):
    settings.LOGIN_MAX_FAILURES = 2
    post_login(client, "admin-a", "wrong password!")
    post_login(client, "admin-a", "wrong password!")
    assert post_login(client, "admin-b", PASSWORD).status_code == 302


@pytest.mark.parametrize("username", ["nobody", "admin-a"])
def test_unknown_and_known_users_fail_alike(client, admin_a, username):
    response = post_login(client, username, "wrong password!")
    assert response.status_code == 200
    assert auth_actions(username) == [ChangeAction.LOGIN_FAILED]
