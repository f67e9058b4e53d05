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


@dataclass(frozen=True)
class SecuritySettings:
    """The security app's settings: NVD API access (the key is a secret) and alert thresholds."""

    nvd_api_key: str
    nvd_cve_url: str
    nvd_cpe_url: str
    nvd_dir: Path
    unpatched_days: int
    drill_max_age_days: int

    def __repr__(self) -> str:  # never show the key
        return (f"SecuritySettings(nvd_api_key={'[set]' if self.nvd_api_key else '[unset]'}, "
                f"nvd_cve_url={self.nvd_cve_url!r}, nvd_cpe_url={self.nvd_cpe_url!r}, nvd_dir={self.nvd_dir!r}, "
                f"unpatched_days={self.unpatched_days}, drill_max_age_days={self.drill_max_age_days})")


NVD_CVE_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
NVD_CPE_URL = "https://services.nvd.nist.gov/rest/json/cpes/2.0"


def security_settings(env: Env, var: Path) -> SecuritySettings:
    """``CITYGOV_NVD_API_KEY`` (a UUID from NVD; optional), ``CITYGOV_NVD_CVE_URL``/``CITYGOV_NVD_CPE_URL``
    (default: NVD's 2.0 APIs), ``CITYGOV_NVD_DIR`` (where sync-nvd keeps its index; default ``var/nvd``),
    ``CITYGOV_SECURITY_UNPATCHED_DAYS`` (90) and ``CITYGOV_SECURITY_DRILL_MAX_AGE_DAYS`` (365)."""
    key = env.text("CITYGOV_NVD_API_KEY")
    if key and (len(key) != 36 or any(c not in "0123456789abcdefABCDEF-" for c in key)):
        # The value is a secret: name the variable, never echo it.
        raise ConfigError("CITYGOV_NVD_API_KEY is not an NVD API key (a 36-character UUID) "
                          "(CITYGOV_NVD_API_KEY 格式錯誤)")
    raw_dir = env.text("CITYGOV_NVD_DIR")
    return SecuritySettings(
        nvd_api_key=key,
        nvd_cve_url=env.url("CITYGOV_NVD_CVE_URL", schemes=("https", "http")) or NVD_CVE_URL,
        nvd_cpe_url=env.url("CITYGOV_NVD_CPE_URL", schemes=("https", "http")) or NVD_CPE_URL,
        nvd_dir=(Path(raw_dir).expanduser() if raw_dir else var / "nvd").resolve(),
        unpatched_days=env.integer("CITYGOV_SECURITY_UNPATCHED_DAYS", 90, minimum=1),
        drill_max_age_days=env.integer("CITYGOV_SECURITY_DRILL_MAX_AGE_DAYS", 365, minimum=1),
    )


@dataclass(frozen=True)
class ExchangeSettings:
    """The exchange app's settings (``CITYGOV_EXCHANGE_*``); none of them is a secret."""

    instance: str
    member_classes: tuple[str, ...]
    grant_lookup: str
    grant_check_url: str
    tsa_url: str
    sharing_requests: str


#: One part of an X-Road identifier (instance, member class): 1-64 of ``A-Z a-z 0-9 - _ . :``.
_XROAD_PART = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")
DEFAULT_GRANT_LOOKUP = "citygov.datagov.queries.sharing_grant_is_current"
DEFAULT_SHARING_REQUESTS = "citygov.datagov.queries.sharing_for"


def _dotted(env: Env, name: str, default: str) -> str:
    """A dotted Python name (resolved later with ``import_string``), or "" for ``none``."""
    value = env.text(name, default) or default
    if value.lower() == "none":
        return ""
    if "." not in value or not all(part.isidentifier() for part in value.split(".")):
        raise ConfigError(f"{name}={value!r} is not a dotted Python name such as {default} ({name} 須為 Python 路徑)")
    return value


def _xroad_part(name: str, value: str) -> str:
    if not 1 <= len(value) <= 64 or any(ch not in _XROAD_PART for ch in value):
        raise ConfigError(f"{name} holds {value!r}: use 1-64 letters, digits or - _ . : ({name} 格式錯誤)")
    return value


def exchange_settings(env: Env) -> ExchangeSettings:
    """``CITYGOV_EXCHANGE_INSTANCE`` (X-Road instance, default ``TYC``; T-Road's value can be set),
    ``CITYGOV_EXCHANGE_MEMBER_CLASSES`` (comma-separated, default ``GOV,COM,NGO``),
    ``CITYGOV_EXCHANGE_GRANT_LOOKUP`` (dotted name of ``f(dataset_id, requesting_agency_id, on) -> bool``
    that says whether a sharing grant is current; default the data-governance module's query, ``none``
    to switch the live look-up off) and ``CITYGOV_EXCHANGE_GRANT_CHECK_URL`` (the registry's grant-status
    endpoint that gateways ask on every call under a sharing grant; empty: not asked) and
    ``CITYGOV_EXCHANGE_TSA_URL`` (the city's time-stamping authority gateways stamp their logs at) and
    ``CITYGOV_EXCHANGE_SHARING_REQUESTS`` (dotted name of ``f(user)`` returning the sharing requests the
    user may see, for the pending grants on the exchange page; ``none`` to hide them)."""
    instance = _xroad_part("CITYGOV_EXCHANGE_INSTANCE", env.text("CITYGOV_EXCHANGE_INSTANCE", "TYC") or "TYC")
    raw_classes = env.text("CITYGOV_EXCHANGE_MEMBER_CLASSES", "GOV,COM,NGO") or "GOV,COM,NGO"
    classes = tuple(_xroad_part("CITYGOV_EXCHANGE_MEMBER_CLASSES", c.strip()) for c in raw_classes.split(",")
                    if c.strip())
    if not classes or len(set(classes)) != len(classes):
        raise ConfigError("CITYGOV_EXCHANGE_MEMBER_CLASSES must list distinct classes, e.g. GOV,COM,NGO "
                          "(CITYGOV_EXCHANGE_MEMBER_CLASSES 格式錯誤)")
    return ExchangeSettings(instance=instance, member_classes=classes,
                            grant_lookup=_dotted(env, "CITYGOV_EXCHANGE_GRANT_LOOKUP", DEFAULT_GRANT_LOOKUP),
                            sharing_requests=_dotted(env, "CITYGOV_EXCHANGE_SHARING_REQUESTS",
                                                     DEFAULT_SHARING_REQUESTS),
                            grant_check_url=env.url("CITYGOV_EXCHANGE_GRANT_CHECK_URL", schemes=("http", "https")),
                            tsa_url=env.url("CITYGOV_EXCHANGE_TSA_URL", schemes=("http", "https")))


@dataclass(frozen=True)
class AssistantSettings:
    """The citizen assistant's settings (``CITYGOV_ASSISTANT_*``); none of them is a secret.

    ``bank`` and ``synonyms`` are ``None`` when unset: the app then uses its packaged files.
    """

    bank: Path | None
    synonyms: Path | None
    handoff: str
    rate: str


_RATE_UNITS = frozenset({"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"})
MAX_HANDOFF_TEXT = 500


def _existing_file(env: Env, name: str, suffixes: tuple[str, ...]) -> Path | None:
    raw = env.text(name)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if path.suffix.lower() not in suffixes:
        raise ConfigError(f"{name}={raw!r} must name a {' or '.join(suffixes)} file ({name} 檔案類型須為 "
                          f"{' 或 '.join(suffixes)})")
    if not path.is_file():
        raise ConfigError(f"{name}={raw!r} is not a readable file ({name} 指定的檔案不存在)")
    return path.resolve()


def assistant_settings(env: Env) -> AssistantSettings:
    """``CITYGOV_ASSISTANT_BANK`` (a .csv or .jsonl FAQ bank; default: the packaged Taipei bank),
    ``CITYGOV_ASSISTANT_SYNONYMS`` (a .txt synonym list; default: the packaged list; administrators'
    edits in the database take precedence), ``CITYGOV_ASSISTANT_HANDOFF`` (hand-off text, at most 500
    characters; default: the 1999 hotline text) and ``CITYGOV_ASSISTANT_RATE`` (per-client limit of the
    public chat API, ``N/unit`` with unit s, min, hour or day; default ``30/min``)."""
    handoff = env.text("CITYGOV_ASSISTANT_HANDOFF")
    if len(handoff) > MAX_HANDOFF_TEXT:
        raise ConfigError(f"CITYGOV_ASSISTANT_HANDOFF is {len(handoff)} characters; use at most {MAX_HANDOFF_TEXT} "
                          f"(CITYGOV_ASSISTANT_HANDOFF 不可超過 {MAX_HANDOFF_TEXT} 字)")
    rate = env.text("CITYGOV_ASSISTANT_RATE", "30/min") or "30/min"
    number, _, unit = rate.partition("/")
    if not number.strip().isdigit() or int(number) < 1 or unit.strip().lower() not in _RATE_UNITS:
        raise ConfigError(f"CITYGOV_ASSISTANT_RATE={rate!r} is not a rate such as 30/min or 1000/day "
                          f"(CITYGOV_ASSISTANT_RATE 格式應如 30/min)")
    return AssistantSettings(
        bank=_existing_file(env, "CITYGOV_ASSISTANT_BANK", (".csv", ".jsonl", ".ndjson")),
        synonyms=_existing_file(env, "CITYGOV_ASSISTANT_SYNONYMS", (".txt",)),
        handoff=handoff,
        rate=f"{int(number)}/{unit.strip().lower()}",
    )


@dataclass(frozen=True)
class SocSettings:
    """The soc app's settings: the syslog listener's TLS certificate and private key (RFC 5425) and
    an optional CA whose client certificates it then requires."""

    syslog_tls_cert: Path | None
    syslog_tls_key: Path | None
    syslog_tls_client_ca: Path | None


def _soc_file(env: Env, name: str) -> Path | None:
    raw = env.text(name)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(f"{name}={raw!r} is not a readable file ({name} 指定的檔案不存在)")
    return path.resolve()


def soc_settings(env: Env) -> SocSettings:
    """``CITYGOV_SOC_SYSLOG_TLS_CERT`` and ``CITYGOV_SOC_SYSLOG_TLS_KEY`` (PEM files, both or neither:
    without them ``citygov soc listen --tls`` refuses to start) and ``CITYGOV_SOC_SYSLOG_TLS_CLIENT_CA``
    (optional PEM bundle: senders must then present a certificate it signed)."""
    cert = _soc_file(env, "CITYGOV_SOC_SYSLOG_TLS_CERT")
    key = _soc_file(env, "CITYGOV_SOC_SYSLOG_TLS_KEY")
    if (cert is None) != (key is None):
        raise ConfigError("CITYGOV_SOC_SYSLOG_TLS_CERT and CITYGOV_SOC_SYSLOG_TLS_KEY must be set together "
                          "(憑證與私鑰須一併設定)")
    return SocSettings(syslog_tls_cert=cert, syslog_tls_key=key,
                       syslog_tls_client_ca=_soc_file(env, "CITYGOV_SOC_SYSLOG_TLS_CLIENT_CA"))
