"""Settings from the environment: defaults, parsing and clear errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from citygov import config

ROOT = Path(__file__).resolve().parents[3]


def env(**values):
    return config.environment(values)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("YES", True), ("on", True),
                                               ("0", False), ("false", False), ("no", False), ("", False)])
def test_boolean_words(raw, expected):
    assert env(CITYGOV_DEBUG=raw).boolean("CITYGOV_DEBUG") is expected


def test_boolean_default_when_unset():
    assert env().boolean("CITYGOV_DEBUG", default=True) is True


def test_malformed_boolean_names_the_variable():
    with pytest.raises(config.ConfigError) as caught:
        env(CITYGOV_DEBUG="maybe").boolean("CITYGOV_DEBUG")
    assert "CITYGOV_DEBUG='maybe' is not a boolean" in str(caught.value)


def test_host_list_splits_and_strips():
    assert env(CITYGOV_ALLOWED_HOSTS=" a.gov.tw, 127.0.0.1 ,").host_list("CITYGOV_ALLOWED_HOSTS", []) == [
        "a.gov.tw", "127.0.0.1"]


def test_host_list_rejects_urls():
    with pytest.raises(config.ConfigError) as caught:
        env(CITYGOV_ALLOWED_HOSTS="https://a.gov.tw").host_list("CITYGOV_ALLOWED_HOSTS", [])
    assert "CITYGOV_ALLOWED_HOSTS holds 'https://a.gov.tw'" in str(caught.value)


def test_database_url_default_is_sqlite_under_var(tmp_path):
    assert config.database_url(env(), tmp_path) == f"sqlite:///{tmp_path / 'citygov.sqlite3'}"


def test_database_url_rejects_unknown_scheme(tmp_path):
    with pytest.raises(config.ConfigError) as caught:
        config.database_url(env(DATABASE_URL="mysql://x@y/z"), tmp_path)
    assert str(caught.value).startswith("DATABASE_URL has scheme 'mysql'")


def test_redis_url_rejects_bad_port():
    with pytest.raises(config.ConfigError) as caught:
        env(CITYGOV_REDIS_URL="redis://127.0.0.1:notaport/0").url("CITYGOV_REDIS_URL", schemes=("redis",))
    assert "CITYGOV_REDIS_URL has an invalid port" in str(caught.value)


def test_integer_below_minimum():
    with pytest.raises(config.ConfigError) as caught:
        env(CITYGOV_LOGIN_MAX_FAILURES="0").integer("CITYGOV_LOGIN_MAX_FAILURES", 5, minimum=1)
    assert "CITYGOV_LOGIN_MAX_FAILURES=0 is below the minimum 1" in str(caught.value)


def test_secret_key_generated_once_and_kept_private(tmp_path):
    first = config.secret_key(env(), tmp_path)
    second = config.secret_key(env(), tmp_path)
    assert first == second
    assert len(first) >= config.MIN_SECRET_KEY_LENGTH
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


def test_secret_key_from_environment_wins(tmp_path):
    key = "k" * 40
    assert config.secret_key(env(CITYGOV_SECRET_KEY=key), tmp_path) == key
    assert not (tmp_path / "secret_key").exists()


def test_short_secret_key_is_refused(tmp_path):
    with pytest.raises(config.ConfigError) as caught:
        config.secret_key(env(CITYGOV_SECRET_KEY="short"), tmp_path)
    assert "CITYGOV_SECRET_KEY is 5 characters" in str(caught.value)


def test_start_up_stops_on_malformed_value(tmp_path):
    """A bad value stops the process with exit code 2 and a message naming the variable."""
    environ = {**os.environ, "CITYGOV_VAR_DIR": str(tmp_path), "CITYGOV_DEBUG": "maybe"}
    environ.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "citygov.cli", "check"], cwd=ROOT, env=environ,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "citygov configuration error: CITYGOV_DEBUG='maybe' is not a boolean" in result.stderr


def test_settings_language_and_time_zone(settings):
    assert settings.LANGUAGE_CODE == "zh-hant"
    assert settings.TIME_ZONE == "Asia/Taipei"
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hant", "en"]
