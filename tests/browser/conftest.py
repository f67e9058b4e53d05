"""Browser test setup: the shared fixtures (``chromium``, ``browser_page``) come from the
``citygov.core.tests.browser`` plugin; this file adds a signed-in city administrator."""

from __future__ import annotations

import pytest


@pytest.fixture
def site_admin(transactional_db, make_user):
    """Reference data loaded and a city administrator who signs in with a known password."""
    from citygov.agencies.services import do_load_reference_data
    from citygov.core.roles import Role

    do_load_reference_data()
    return make_user("browser-admin", Role.CITY_ADMIN, display_name="測試管理員")
