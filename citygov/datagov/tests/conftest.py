"""Fixtures for the datagov tests: the Taoyuan catalogue imported over the real agencies."""

from __future__ import annotations

import pytest


@pytest.fixture
def taoyuan(reference_data, city_admin):
    """The full Taoyuan catalogue (1,444 datasets) imported by the city administrator."""
    from citygov.datagov.demo import seed_datagov_demo

    return seed_datagov_demo(city_admin)
