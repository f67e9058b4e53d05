"""Shared fixtures of the assistant tests."""

import pytest

from citygov.assistant import serving


@pytest.fixture(scope="session")
def taipei_loaded():
    """The packaged Taipei bank's index, built once for the whole test session (no database)."""
    return serving.build(serving.DEFAULT_BANK)


@pytest.fixture(scope="session")
def taipei_index(taipei_loaded):
    return taipei_loaded.index


@pytest.fixture(autouse=True)
def _serve_the_session_index(taipei_loaded, monkeypatch):
    """Serving starts from the session's index (stamp of an empty database bank), as a worker that has
    already built it would; tests that reset it get it back afterwards."""
    monkeypatch.setattr(serving, "_current", serving.Loaded(taipei_loaded.index, taipei_loaded.path,
                                                            taipei_loaded.version, 0, "0:"))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The shared ``make_user`` fixture hashes a password per user; the default hasher's deliberate
    slowness tests nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
