"""Fixtures for the datagov tests: the Taoyuan catalogue imported over the real agencies."""

from __future__ import annotations

import pytest


@pytest.fixture
def taoyuan(reference_data, city_admin):
    """The full Taoyuan catalogue (1,444 datasets) imported by the city administrator."""
    from citygov.datagov.demo import seed_datagov_demo

    return seed_datagov_demo(city_admin)


@pytest.fixture(autouse=True)
def _default_vocabulary(request):
    """The default themes and scenarios, as the migration loads them.

    A transactional test (live server, browser) empties every table when it ends, the migration's data
    included; a later test in the same process would then find no vocabulary. Tests that use the
    database get it back here.
    """
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names:
        request.getfixturevalue("db")
    else:
        return
    from citygov.datagov.engine.vocabulary import DEFAULTS
    from citygov.datagov.models import VocabularyTerm

    if not VocabularyTerm.objects.exists():
        VocabularyTerm.objects.bulk_create(VocabularyTerm(
            axis=term.axis, code=term.code, label_zh=term.label_zh, label_en=term.label_en, eu_code=term.eu_code,
            keywords=list(term.keywords), position=position) for position, term in enumerate(DEFAULTS))
