"""Normalised alerts: time, network tuple, signature, source values kept verbatim, our category and
severity, the agency that owns the address (by a CIDR table) and a per-source dedup key."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")


@dataclass(frozen=True)
class Alert:
    """One alert after normalisation (frozen; the raw record is not kept here)."""

    source_format: str
    dedup_key: str
    time: dt.datetime  # aware
    src_ip: str
    src_port: int | None
    dest_ip: str
    dest_port: int | None
    protocol: str
    signature_id: str
    signature: str
    family: str
    source_category: str
    source_severity: str
    category: str
    severity: str
    rule: str
    sensor: str = ""
    action: str = ""
    agency: str = ""  # agency code from the CIDR table, "" when unknown

    @property
    def month(self) -> str:
        """YYYY-MM in Asia/Taipei."""
        return self.time.astimezone(TAIPEI).strftime("%Y-%m")


_ALERT_FIELDS = tuple(Alert.__dataclass_fields__)
_ALERT_SIZE = len(_ALERT_FIELDS)
_new, _set = object.__new__, object.__setattr__


def make_alert(*values) -> Alert:
    """``Alert(*values)`` with every field given, built without the frozen dataclass's per-field
    ``object.__setattr__`` (a quarter of the engine's time per alert). The result is an ordinary,
    still frozen, ``Alert``: equal to and hashing like one built by the constructor."""
    if len(values) != _ALERT_SIZE:
        raise TypeError(f"make_alert takes {_ALERT_SIZE} values, not {len(values)}")
    alert = _new(Alert)
    _set(alert, "__dict__", dict(zip(_ALERT_FIELDS, values, strict=True)))
    return alert


class BadRecord(ValueError):
    """A record that cannot be normalised; the message says why (English; the caller adds the line)."""


def dedup_key(source_format: str, *parts: object) -> str:
    """A stable key for one alert of one source (SHA-1 of the parts)."""
    text = "\x1f".join("" if p is None else str(p) for p in (source_format, *parts))
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


# --- severity ------------------------------------------------------------------------------------

_TEXT_SEVERITY = {
    "高": "high", "中": "medium", "低": "low", "緊急": "high", "嚴重": "high", "critical": "high",
    "very-high": "high", "very high": "high", "high": "high", "major": "high", "medium": "medium",
    "moderate": "medium", "minor": "low", "low": "low", "informational": "low", "info": "low",
}


def severity_from_text(value: str) -> str | None:
    """高/中/低 from a text severity (Chinese or English), ``None`` when not a known word."""
    return _TEXT_SEVERITY.get(value.strip().lower())


def severity_suricata(value: object) -> str:
    """Suricata ``alert.severity`` (classtype priority; 1 highest): 1 high, 2 medium, 3 and above low."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        text = severity_from_text(str(value or ""))
        if text is None:
            raise BadRecord(f"unknown severity {value!r}") from None
        return text
    return "high" if number <= 1 else "medium" if number == 2 else "low"


def severity_wazuh(level: object) -> str:
    """Wazuh ``rule.level`` 0–15: 12 and above high ("high importance"), 7–11 medium, below low."""
    try:
        number = int(level)
    except (TypeError, ValueError):
        raise BadRecord(f"unknown rule level {level!r}") from None
    return "high" if number >= 12 else "medium" if number >= 7 else "low"


def severity_ten(value: object) -> str:
    """CEF (0–10) and LEEF ``sev`` (1–10): 7 and above high, 4–6 medium, 0–3 low (ArcSight bands);
    words (Low, Medium, High, Very-High) as such."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        word = severity_from_text(text)
        if word is None:
            raise BadRecord(f"unknown severity {value!r}") from None
        return word
    return "high" if number >= 7 else "medium" if number >= 4 else "low"


def severity_risk(value: object) -> str:
    """An Elastic risk score 0–100: 48 and above high, 22–47 medium, below low (Elastic's bands,
    with its "critical" folded into high)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRecord(f"unknown severity {value!r}") from None
    return "high" if number >= 48 else "medium" if number >= 22 else "low"


# --- time ----------------------------------------------------------------------------------------

_ROC = re.compile(r"^\s*(\d{2,3})[/.-](\d{1,2})[/.-](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")
_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), start=1)}
_SYSLOG_TIME = re.compile(r"^([A-Za-z]{3}) +(\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: (\S+))?$")


def parse_time(value: object, default_zone: dt.tzinfo = TAIPEI) -> dt.datetime:
    """An aware datetime from ISO 8601 (offset optional: none means ``default_zone``), a ROC date
    (113/05/02 [14:03[:00]]), epoch seconds or milliseconds, or ``MMM dd yyyy HH:mm:ss [zone]``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _epoch(float(value))
    if type(value) is str and len(value) > 19 and value[10] == "T":
        # The common case (EVE, Wazuh, ECS): ISO 8601 with a "+0000" or "+00:00" offset, or none.
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=default_zone)
    text = str(value or "").strip()
    if not text:
        raise BadRecord("missing time")
    if text.isdigit():
        return _epoch(float(text))
    roc = _ROC.match(text)
    if roc and len(roc.group(1)) <= 3 and int(roc.group(1)) < 1000 and ("/" in text or "." in text[:6]):
        year, month, day, hour, minute, second = roc.groups()
        try:
            return dt.datetime(int(year) + 1911, int(month), int(day), int(hour or 0), int(minute or 0),
                               int(second or 0), tzinfo=default_zone)
        except ValueError:
            raise BadRecord(f"invalid ROC date {text!r}") from None
    syslog = _SYSLOG_TIME.match(text)
    if syslog:
        mon, day, year, hour, minute, second, frac, zone = syslog.groups()
        if mon.lower() not in _MONTHS:
            raise BadRecord(f"invalid time {text!r}")
        tz = default_zone
        if zone:
            tz = dt.UTC if zone.upper() in ("UTC", "GMT", "Z") else _zone(zone, text)
        return dt.datetime(int(year), _MONTHS[mon.lower()], int(day), int(hour), int(minute), int(second),
                           int((frac or "0").ljust(6, "0")), tzinfo=tz)
    iso = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    if iso.endswith("Z"):
        iso = iso[:-1] + "+00:00"
    iso = _OFFSET.sub(r"\1:\2", iso) if len(iso) > 19 else iso
    try:
        parsed = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise BadRecord(f"invalid time {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=default_zone)


def _zone(name: str, text: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise BadRecord(f"unknown time zone in {text!r}") from None


def _epoch(number: float) -> dt.datetime:
    if number > 1e11:  # milliseconds
        number /= 1000
    try:
        return dt.datetime.fromtimestamp(number, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise BadRecord(f"invalid epoch time {number!r}") from None


def parse_port(value: object) -> int | None:
    """A port 0–65535, ``None`` when absent; a bad port is a bad record."""
    if value is None or value == "":
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise BadRecord(f"invalid port {value!r}") from None
    if not 0 <= port <= 65535:
        raise BadRecord(f"port out of range {value!r}")
    return port


def parse_ip(value: object) -> str:
    """A normalised IP address text, "" when absent; anything else is a bad record."""
    if value is None or value == "":
        return ""
    try:
        return _normal_ip(str(value).strip())
    except ValueError:
        raise BadRecord(f"invalid IP address {value!r}") from None


@functools.lru_cache(maxsize=65536)
def _normal_ip(text: str) -> str:
    # Alerts repeat the same few thousand addresses; the bounded cache keeps memory constant.
    return str(ipaddress.ip_address(text))


# --- agencies by CIDR ----------------------------------------------------------------------------

class CidrTable:
    """Which agency owns an address: the longest matching prefix of (network, agency code) pairs."""

    def __init__(self, entries: list[tuple[str, str]] | tuple = ()) -> None:
        self._by_length: dict[int, dict[tuple[int, int], str]] = {}
        for cidr, agency in entries:
            network = ipaddress.ip_network(cidr, strict=False)
            self._by_length.setdefault(network.prefixlen, {})[
                (network.version, int(network.network_address))] = agency
        self._lengths = sorted(self._by_length, reverse=True)
        self._cache: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self._lengths)

    def lookup(self, ip: str) -> str:
        """The agency code owning ``ip``, "" when no range covers it."""
        if not ip or not self._lengths:
            return ""
        hit = self._cache.get(ip)
        if hit is not None:
            return hit
        address = ipaddress.ip_address(ip)
        bits = 32 if address.version == 4 else 128
        number = int(address)
        result = ""
        for length in self._lengths:
            if length > bits:
                continue
            masked = number >> (bits - length) << (bits - length)
            agency = self._by_length[length].get((address.version, masked))
            if agency is not None:
                result = agency
                break
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[ip] = result
        return result

    def agency_for(self, dest_ip: str, src_ip: str) -> str:
        """The owning agency: the destination's (the attacked asset), else the source's (an internal
        host attacking out), else ""."""
        return self.lookup(dest_ip) or self.lookup(src_ip)
