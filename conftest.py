"""Project-wide pytest fixtures: users of each role, agencies, clients."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache

from citygov.core.roles import Role
from citygov.core.tests.browser import PASSWORD

# Fixtures shared by several apps' tests (the points programme is used by points tests and benches).
pytest_plugins = ["citygov.points.tests.support", "citygov.core.tests.browser"]


def pytest_configure(config):
    """Load the settings, then hide the pytest-xdist worker id from processes the tests start.

    Settings give each xdist worker its own state directory and Redis prefix (``PYTEST_XDIST_WORKER``);
    a console script a test runs is a user's process with the environment the test gives it.
    """
    from django.conf import settings

    assert settings.VAR_DIR
    os.environ.pop("PYTEST_XDIST_WORKER", None)


def pytest_collection_modifyitems(config, items):
    """Skip tests that need a server which is not configured, with the reason."""
    database_url = os.environ.get("DATABASE_URL", "")
    on_postgres = database_url.startswith(("postgres://", "postgresql://", "pgsql://"))
    has_redis = bool(os.environ.get("CITYGOV_REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://..."))
        if "redis" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set CITYGOV_REDIS_URL=redis://..."))


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test gets an empty local cache, so rate limits never leak between tests."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "citygov-tests"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reference_data(db):
    """Taoyuan's districts and agencies loaded from the bundled files."""
    from citygov.agencies.services import do_load_reference_data

    return do_load_reference_data()


@pytest.fixture
def make_agency(db):
    """Create an agency directly (setup only; the code under test uses services)."""
    from citygov.agencies.models import Agency, AgencyKind

    def make(code: str, name_zh: str | None = None, *, parent=None, kind=AgencyKind.DEPARTMENT, district=None):
        return Agency.objects.create(code=code, name_zh=name_zh or code, name_en=code.title(), parent=parent,
                                     kind=kind, district=district)

    return make


@pytest.fixture
def agency_a(make_agency):
    return make_agency("agency-a", "甲局")


@pytest.fixture
def agency_b(make_agency):
    return make_agency("agency-b", "乙局")


@pytest.fixture
def make_user(db):
    """Create a user with a role and memberships (password "correct horse battery")."""
    from citygov.agencies.models import Membership
    from citygov.core.models import User

    def make(username: str, role: str = Role.AGENCY_ADMIN, agencies=(), **extra):
        user = User.objects.create_user(username=username, password=PASSWORD,
                                        role=role, **extra)
        for agency in agencies:
            Membership.objects.create(user=user, agency=agency)
        return user

    return make


@pytest.fixture
def city_admin(make_user):
    return make_user("city-admin", Role.CITY_ADMIN)


@pytest.fixture
def auditor(make_user):
    return make_user("auditor", Role.AUDITOR)


@pytest.fixture
def admin_a(make_user, agency_a):
    return make_user("admin-a", Role.AGENCY_ADMIN, [agency_a])


@pytest.fixture
def admin_b(make_user, agency_b):
    return make_user("admin-b", Role.AGENCY_ADMIN, [agency_b])


@pytest.fixture
def api_client_for():
    """An API client signed in as the given user (session)."""
    from rest_framework.test import APIClient

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def client_for(client):
    """A page client signed in as the given user."""

    def make(user):
        client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True, scope="session")
def _huey_immediate():
    """Tasks enqueued by code under test run inline (in memory), never into var/'s queue."""
    from huey.contrib.djhuey import HUEY

    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous
