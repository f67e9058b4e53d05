"""Core API: problem+json errors, users, change log, tokens, schema and docs."""

from __future__ import annotations

import pytest

from citygov.core.models import ApiToken, ChangeAction, ChangeLog, User, hash_token
from citygov.core.roles import Role

PROBLEM = "application/problem+json"


def test_anonymous_gets_problem_json_401(api_client_for):
    response = api_client_for().get("/api/users/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == response.status_code
    assert body["type"].startswith("https://citygov.example/problems/")
    assert set(body) >= {"type", "title", "status", "detail", "code"}


def test_role_without_capability_gets_403(api_client_for, make_user, agency_a):
    analyst = make_user("analyst", Role.SECURITY_ANALYST, [agency_a])
    response = api_client_for(analyst).get("/api/changelog/")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM


def test_validation_error_lists_fields(api_client_for, city_admin):
    response = api_client_for(city_admin).post("/api/users/", {"username": "x", "role": "king"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert set(response.json()["errors"]) == {"username", "role"}
    assert not User.objects.filter(username="x").exists()


def test_agency_admin_lists_only_own_agency_users(api_client_for, admin_a, admin_b):
    response = api_client_for(admin_a).get("/api/users/")
    assert response.status_code == 200
    assert [u["username"] for u in response.json()["results"]] == ["admin-a"]


def test_agency_admin_cannot_read_other_agency_user(api_client_for, admin_a, admin_b):
    response = api_client_for(admin_a).get(f"/api/users/{admin_b.pk}/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_agency_admin_cannot_change_other_agency_user(api_client_for, admin_a, admin_b):
    response = api_client_for(admin_a).patch(f"/api/users/{admin_b.pk}/", {"display_name": "x"}, format="json")
    assert response.status_code == 404
    admin_b.refresh_from_db()
    assert admin_b.display_name == ""
    assert ChangeLog.objects.count() == 0


def test_create_user_returns_generated_password_once(api_client_for, city_admin, agency_a):
    response = api_client_for(city_admin).post(
        "/api/users/", {"username": "steward", "role": "data_steward", "agency_ids": [agency_a.pk]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["agency_ids"] == [agency_a.pk]
    assert User.objects.get(username="steward").check_password(body["initial_password"])
    listed = api_client_for(city_admin).get(f"/api/users/{body['id']}/").json()
    assert "initial_password" not in listed


def test_auditor_reads_changelog_but_cannot_write(api_client_for, auditor, admin_a, agency_a):
    client = api_client_for(auditor)
    assert client.get("/api/changelog/").status_code == 200
    assert client.post("/api/users/", {"username": "zz", "role": "data_steward",
                                       "agency_ids": [agency_a.pk]}, format="json").status_code == 403
    assert client.patch(f"/api/agencies/{agency_a.pk}/", {"name_en": "x"}, format="json").status_code == 403
    assert not User.objects.filter(username="zz").exists()


def test_changelog_api_is_read_only(api_client_for, city_admin, agency_a):
    from citygov.core.changelog import record_change

    row = record_change(actor=city_admin, action=ChangeAction.ACTION, obj=agency_a, note="n")
    client = api_client_for(city_admin)
    assert client.delete(f"/api/changelog/{row.pk}/").status_code == 405
    assert client.patch(f"/api/changelog/{row.pk}/", {"note": "x"}, format="json").status_code == 405
    assert ChangeLog.objects.get(pk=row.pk).note == "n"


def test_changelog_api_filters(api_client_for, city_admin, agency_a, agency_b):
    from citygov.core.changelog import record_change

    record_change(actor=city_admin, action=ChangeAction.ACTION, obj=agency_a)
    record_change(actor=city_admin, action=ChangeAction.UPDATE, obj=agency_b, before={"a": 1}, after={"a": 2})
    client = api_client_for(city_admin)
    body = client.get("/api/changelog/", {"action": "update"}).json()
    assert [r["object_id"] for r in body["results"]] == [str(agency_b.pk)]
    body = client.get("/api/changelog/", {"agency": agency_a.pk}).json()
    assert [r["action"] for r in body["results"]] == ["action"]


def test_token_flow(api_client_for, admin_a):
    anonymous = api_client_for()
    response = anonymous.post("/api/auth/token/", {"username": "admin-a", "password": "correct horse battery",
                                                   "name": "script"}, format="json")
    assert response.status_code == 201
    key = response.json()["token"]
    token = ApiToken.objects.get(user=admin_a)
    assert token.key_hash == hash_token(key)
    assert key not in str(list(ChangeLog.objects.values_list("after", flat=True)))
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anonymous.get("/api/me/").json()["username"] == "admin-a"
    assert anonymous.post(f"/api/tokens/{token.pk}/revoke/").status_code == 204
    assert anonymous.get("/api/me/").status_code == 401


def test_token_wrong_password(api_client_for, admin_a):
    response = api_client_for().post("/api/auth/token/", {"username": "admin-a", "password": "nope nope nope"},
                                     format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert ApiToken.objects.count() == 0


def test_token_endpoint_honours_lockout(api_client_for, admin_a, settings):
    settings.LOGIN_MAX_FAILURES = 2
    client = api_client_for()
    for _ in range(2):
        client.post("/api/auth/token/", {"username": "admin-a", "password": "nope nope nope"}, format="json")
    response = client.post("/api/auth/token/", {"username": "admin-a", "password": "correct horse battery"},
                           format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "locked_out"
    assert ApiToken.objects.count() == 0


def test_token_endpoint_is_rate_limited(api_client_for, admin_a, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"anon": "100/min", "user": "100/min", "login": "3/min"}}
    from rest_framework.throttling import ScopedRateThrottle

    ScopedRateThrottle.THROTTLE_RATES = {"anon": "100/min", "user": "100/min", "login": "3/min"}
    try:
        client = api_client_for()
        codes = [client.post("/api/auth/token/", {"username": "nobody", "password": "x"}, format="json").status_code
                 for _ in range(4)]
        assert codes[:3] == [401, 401, 401]
        assert codes[3] == 429
        last = client.post("/api/auth/token/", {"username": "nobody", "password": "x"}, format="json")
        assert last["Content-Type"] == PROBLEM
        assert int(last["Retry-After"]) >= 1
    finally:
        from rest_framework.settings import api_settings

        ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_expired_token_is_refused(api_client_for, admin_a):
    import datetime as dt

    from django.utils import timezone

    key = ApiToken.new_key()
    ApiToken.objects.create(user=admin_a, name="old", prefix=key[:8], key_hash=hash_token(key),
                            expires_at=timezone.now() - dt.timedelta(seconds=1))
    client = api_client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/me/").status_code == 401


def test_me_lists_capabilities(api_client_for, auditor):
    body = api_client_for(auditor).get("/api/me/").json()
    assert body["role"] == "auditor"
    assert "changelog.view" in body["capabilities"]
    assert "users.manage" not in body["capabilities"]


def test_openapi_schema(api_client_for, city_admin):
    response = api_client_for(city_admin).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "citygov API"
    for path in ("/api/agencies/", "/api/districts/", "/api/users/", "/api/changelog/", "/api/auth/token/"):
        assert path in schema["paths"]


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_no_cdn(client, city_admin, path):
    client.force_login(city_admin)
    response = client.get(path)
    assert response.status_code == 200
    if path == "/api/docs/":
        html = response.content.decode()
        assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
        assert "cdn" not in html.lower()
