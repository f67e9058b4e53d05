"""Core pages: sign-in, the dashboard, the change log, the language switch and the error pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone, translation

from citygov.core import roles
from citygov.core.models import ChangeAction, ChangeLog
from citygov.core.roles import Role
from citygov.core.views import server_error

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def template_names(response) -> list[str]:
    return [template.name for template in response.templates]


def log_row(agency, *, action=ChangeAction.UPDATE, actor_name="someone", object_type="agencies.agency",
            object_id="1", at=None) -> ChangeLog:
    """A change-log row about ``agency`` (setup only: services write the real ones)."""
    row = ChangeLog(at=at or timezone.now(), actor_name=actor_name, action=action, object_type=object_type,
                    object_id=object_id, object_repr=f"row of {actor_name}", agency=agency,
                    before={"name_zh": "舊"}, after={"name_zh": "新"})
    row.save()
    return row


@pytest.mark.parametrize("path", ["/", "/changelog/"])
def test_anonymous_is_sent_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_login_page_renders_form(client):
    response = client.get("/login/")

    assert response.status_code == 200
    assert template_names(response)[:2] == ["core/login.html", "base.html"]
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content
    assert b'name="csrfmiddlewaretoken"' in response.content


def test_login_with_good_password_goes_to_dashboard_and_is_logged(client, city_admin):
    response = client.post("/login/", {"username": "city-admin", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert list(ChangeLog.objects.filter(object_type="core.user").values_list("action", "actor_name")) == [
        ("login", "city-admin")
    ]


def test_login_with_bad_password_stays_on_form(client, city_admin):
    response = client.post("/login/", {"username": "city-admin", "password": "wrong password!"})

    assert response.status_code == 200
    assert [error.code for error in response.context["form"].errors.as_data()["__all__"]] == ["invalid_login"]
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only_and_signs_out(client_for, city_admin):
    client = client_for(city_admin)

    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_dashboard_shows_reference_counts_and_empty_modules(client_for, city_admin, reference_data):
    response = client_for(city_admin).get("/")

    assert response.status_code == 200
    cards = response.context["cards"]
    figures = {card.tile.key: (card.value.value, card.figure) for card in cards}
    assert list(figures)[:2] == ["agencies.count", "agencies.districts"]
    assert figures["agencies.count"] == (100, "100")
    assert figures["agencies.districts"] == (13, "13")
    # Every domain module shows its empty state on a database with reference data only.
    others = [key for key in figures if not key.startswith("agencies.")]
    assert {key.split(".")[0] for key in others} == {"security", "soc", "datagov", "exchange", "points", "assistant"}
    assert [figures[key] for key in others] == [(None, "")] * len(others)
    html = response.content.decode()
    assert '<span class="tile-value">100</span>' in html
    assert '<span class="tile-value">13</span>' in html
    assert html.count('class="tile-empty-text"') == len(others)
    assert html.count('class="tile-finding"') == sum(1 for card in cards if card.tile.audit_finding)


def test_dashboard_counts_only_the_agency_admins_agencies(client_for, admin_a, agency_b):
    response = client_for(admin_a).get("/")

    figures = {card.tile.key: card.value.value for card in response.context["cards"]}
    assert figures["agencies.count"] == 1


def test_merchant_dashboard_has_no_tiles(client_for, make_user):
    merchant = make_user("shop", Role.MERCHANT)

    response = client_for(merchant).get("/")

    assert response.status_code == 200
    assert response.context["cards"] == []


def test_changelog_forbidden_for_agency_admin(client_for, admin_a, agency_a, agency_b):
    log_row(agency_b, actor_name="b-secret")

    response = client_for(admin_a).get("/changelog/")

    assert response.status_code == 403
    assert "403.html" in template_names(response)
    assert b"b-secret" not in response.content


@pytest.mark.parametrize("who", ["auditor", "city_admin"])
def test_changelog_open_to_auditor_and_city_admin(request, client_for, agency_a, agency_b, who):
    user = request.getfixturevalue(who)
    row_a = log_row(agency_a, actor_name="alice")
    row_b = log_row(agency_b, actor_name="bob")

    response = client_for(user).get("/changelog/")

    assert response.status_code == 200
    assert template_names(response)[:2] == ["core/changelog.html", "base.html"]
    assert [row.pk for row in response.context["page"]] == [row_b.pk, row_a.pk]


def test_changelog_is_read_only(client_for, auditor, agency_a):
    log_row(agency_a)

    response = client_for(auditor).get("/changelog/")

    assert b"/admin/core/changelog" not in response.content
    assert b'method="post" action="/changelog' not in response.content


def test_changelog_scoped_even_when_role_may_view_it(monkeypatch, client_for, admin_a, agency_a, agency_b):
    # Defence in depth: if a later role table grants the change log to agency roles, rows stay scoped.
    monkeypatch.setitem(roles.ROLE_CAPABILITIES, Role.AGENCY_ADMIN,
                        roles.ROLE_CAPABILITIES[Role.AGENCY_ADMIN] | {"changelog.view"})
    row_a = log_row(agency_a, actor_name="alice")
    log_row(agency_b, actor_name="bob")
    log_row(None, actor_name="carol")

    response = client_for(admin_a).get("/changelog/")

    assert response.status_code == 200
    assert [row.pk for row in response.context["page"]] == [row_a.pk]
    assert b"bob" not in response.content
    assert b"carol" not in response.content


def test_changelog_filters(client_for, auditor, agency_a, agency_b):
    old = timezone.make_aware(dt.datetime(2024, 1, 10, 23, 30))
    new = timezone.make_aware(dt.datetime(2024, 3, 5, 9, 0))
    created = log_row(agency_a, action=ChangeAction.CREATE, actor_name="Alice Chen", object_id="7", at=old)
    deleted = log_row(agency_b, action=ChangeAction.DELETE, actor_name="bob", object_type="points.merchant",
                      object_id="9", at=new)
    client = client_for(auditor)

    def pks(query: str) -> list[int]:
        response = client.get("/changelog/?" + query)
        assert response.status_code == 200
        return [row.pk for row in response.context["page"]]

    assert pks("action=create") == [created.pk]
    assert pks("object_type=points.merchant") == [deleted.pk]
    assert pks("object_id=7") == [created.pk]
    assert pks("actor_name=alice") == [created.pk]
    assert pks(f"agency={agency_b.pk}") == [deleted.pk]
    assert pks("at_after=2024-01-10&at_before=2024-01-10") == [created.pk]
    assert pks("at_after=2024-01-11") == [deleted.pk]
    assert pks("at_before=2024-03-04") == [created.pk]
    assert pks("action=create&agency=" + str(agency_b.pk)) == []


def test_changelog_invalid_filter_shows_error_and_no_rows(client_for, auditor, agency_a):
    log_row(agency_a)

    response = client_for(auditor).get("/changelog/?at_after=not-a-date")

    assert response.status_code == 200
    assert list(response.context["page"]) == []
    assert b'class="form-errors"' in response.content


def test_changelog_paginates_fifty_per_page(client_for, auditor, agency_a):
    for number in range(51):
        log_row(agency_a, object_id=str(number))
    client = client_for(auditor)

    first = client.get("/changelog/")
    second = client.get("/changelog/?page=2")

    assert len(first.context["page"]) == 50
    assert [row.object_id for row in second.context["page"]] == ["0"]


def test_changelog_htmx_request_gets_results_fragment(client_for, auditor, agency_a):
    log_row(agency_a, actor_name="alice")

    response = client_for(auditor).get("/changelog/?actor_name=ali", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert template_names(response)[0] == "core/partials/_changelog_results.html"
    assert "base.html" not in template_names(response)
    assert response.content.decode().lstrip().startswith('<div id="changelog-results"')
    assert response["Vary"] == "HX-Request, Accept-Language, Cookie"


def test_changelog_link_only_for_roles_that_may_view_it(client_for, admin_a, auditor):
    assert b'href="/changelog/"' not in client_for(admin_a).get("/").content
    assert b'href="/changelog/"' in client_for(auditor).get("/").content


def test_admin_link_only_for_city_admin(client_for, admin_a, city_admin):
    assert b'href="/admin/"' not in client_for(admin_a).get("/").content
    assert b'href="/admin/"' in client_for(city_admin).get("/").content


def test_pages_are_zh_hant_by_default(client):
    response = client.get("/login/")

    assert '<html lang="zh-hant">' in response.content.decode()


def test_language_switch_to_english(client, city_admin):
    client.force_login(city_admin)

    switch = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/")

    assert switch.status_code == 302
    assert switch["Location"] == "/"
    assert '<html lang="en">' in page.content.decode()


def test_unknown_page_is_404_page(client_for, city_admin):
    response = client_for(city_admin).get("/no-such-page/")

    assert response.status_code == 404
    assert template_names(response)[:2] == ["404.html", "base.html"]
    html = response.content.decode()
    assert '<html lang="zh-hant">' in html
    with translation.override("zh-hant"):
        assert f"<h1>{translation.gettext('Page not found')}</h1>" in html


def test_500_page_renders_without_request_or_database():
    html = render_to_string("500.html")

    assert '<html lang="zh-hant">' in html
    assert '<p class="error-code">500</p>' in html


def test_500_handler_renders_for_a_bare_request():
    # A request that never passed the session or auth middleware, as when they are what failed.
    response = server_error(RequestFactory().get("/broken/"))

    assert response.status_code == 500
    assert '<p class="error-code">500</p>' in response.content.decode()
