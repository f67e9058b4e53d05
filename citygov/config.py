"""Read citygov's configuration from the environment.

Every setting comes from a ``CITYGOV_*`` variable (plus the standard ``DATABASE_URL``) with a safe
default. A malformed value raises :class:`ConfigError` naming the variable and what is wrong, so the
process stops at start-up instead of running half-configured. This module imports nothing from
Django so that the CLI can use it before Django loads.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(ValueError):
    """A configuration value is malformed; the message names the variable."""


@dataclass(frozen=True)
class Env:
    """A read-only view of the environment with typed getters."""

    values: Mapping[str, str]

    def text(self, name: str, default: str = "") -> str:
        return self.values.get(name, default).strip()

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self.values.get(name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ConfigError(
            f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off "
            f"({name} 必須是布林值)"
        )

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        raw = self.values.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a whole number ({name} 必須是整數)") from None
        if value < minimum:
            raise ConfigError(f"{name}={value} is below the minimum {minimum} ({name} 不可小於 {minimum})")
        return value

    def share(self, name: str, default: float) -> float:
        """A fraction in (0, 1], e.g. 0.5 for half."""
        raw = self.values.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number between 0 and 1 ({name} 必須是 0 到 1 之間的數字)") from None
        if not 0 < value <= 1:
            raise ConfigError(f"{name}={value} must be above 0 and at most 1 ({name} 必須大於 0 且不超過 1)")
        return value

    def host_list(self, name: str, default: list[str]) -> list[str]:
        raw = self.values.get(name)
        if raw is None or raw.strip() == "":
            return list(default)
        hosts = [part.strip() for part in raw.split(",") if part.strip()]
        for host in hosts:
            if any(ch in host for ch in "/ @") or "://" in host:
                raise ConfigError(
                    f"{name} holds {host!r}, which is not a host name: give bare names separated by commas, "
                    f"e.g. citygov.example.gov.tw,127.0.0.1 ({name} 格式錯誤)"
                )
        return hosts

    def url(self, name: str, *, schemes: tuple[str, ...]) -> str:
        """Return the URL in ``name`` ("" when unset) after checking its scheme and host."""
        raw = self.text(name)
        if not raw:
            return ""
        parsed = urlparse(raw)
        if parsed.scheme not in schemes:
            raise ConfigError(
                f"{name} has scheme {parsed.scheme!r}; expected one of {', '.join(schemes)} "
                f"({name} 的網址格式錯誤)"
            )
        if parsed.scheme not in ("sqlite",) and not parsed.hostname and not parsed.path:
            raise ConfigError(f"{name}={raw!r} names no host ({name} 缺少主機名稱)")
        try:
            parsed.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ConfigError(f"{name} has an invalid port ({name} 的連接埠錯誤)") from None
        return raw


def environment(values: Mapping[str, str] | None = None) -> Env:
    """Wrap ``values`` (default: ``os.environ``) in an :class:`Env`."""
    return Env(os.environ if values is None else values)


def var_dir(env: Env, base_dir: Path) -> Path:
    """The writable state directory (SQLite file, secret key, queue, cache)."""
    raw = env.text("CITYGOV_VAR_DIR")
    path = Path(raw).expanduser() if raw else base_dir / "var"
    return path.resolve()


def database_url(env: Env, var: Path) -> str:
    """``DATABASE_URL`` or the default SQLite file under ``var``."""
    raw = env.url("DATABASE_URL", schemes=("sqlite", "postgres", "postgresql", "pgsql"))
    return raw or f"sqlite:///{var / 'citygov.sqlite3'}"


def generate_secret_key() -> str:
    """A fresh random secret key."""
    return secrets.token_urlsafe(50)


def secret_key(env: Env, var: Path) -> str:
    """``CITYGOV_SECRET_KEY``, or a key generated once and kept in ``var/secret_key`` (mode 0600).

    The generated key is never printed: it lives only in the file.
    """
    raw = env.text("CITYGOV_SECRET_KEY")
    if raw:
        if len(raw) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"CITYGOV_SECRET_KEY is {len(raw)} characters; use at least {MIN_SECRET_KEY_LENGTH} "
                f"(generate one with `citygov secret-key`) (CITYGOV_SECRET_KEY 長度不足)"
            )
        return raw
    path = var / SECRET_KEY_FILE
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= MIN_SECRET_KEY_LENGTH:
            return key
    var.mkdir(parents=True, exist_ok=True)
    key = generate_secret_key()
    # Create with restrictive permissions from the start, so the key is never world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
