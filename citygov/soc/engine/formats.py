"""Streaming readers for every alert format the SOC receives, with automatic detection.

``read_alerts(stream, ...)`` takes a binary stream and yields, in file order, one normalised
:class:`~citygov.soc.engine.normalise.Alert` per good record and one :class:`Rejected` (line number
and reason) per bad one. Memory stays constant: NDJSON, syslog and CSV files are read line by line,
JSON arrays object by object. Non-alert records (Suricata ``flow``/``dns``/... events) are counted
in :class:`ReadStats`, not rejected.

Formats: ``suricata`` (EVE JSON, NDJSON or one JSON array), ``wazuh`` (alerts.json), ``ecs``
(Elastic Common Schema / Kibana alert documents, nested or dotted keys), ``cef`` and ``leef`` (one
event per line, optionally after a syslog header), ``csv`` (the SOC's notification export with
Chinese or English headers, UTF-8 or Big5, ROC or ISO dates). ``auto`` detects the file kind from
its first bytes and each JSON record's kind from its keys.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import itertools
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from citygov.soc.engine.normalise import (
    TAIPEI,
    Alert,
    BadRecord,
    CidrTable,
    dedup_key,
    make_alert,
    parse_ip,
    parse_port,
    parse_time,
    severity_from_text,
    severity_risk,
    severity_suricata,
    severity_ten,
    severity_wazuh,
)
from citygov.soc.engine.taxonomy import CATEGORIES, Classifier, signature_family

try:  # orjson decodes JSON several times faster than the standard library (the engine's speed target)
    import orjson

    _loads: Callable = orjson.loads
except ImportError:  # pragma: no cover - a declared dependency; the standard library still works
    _loads = json.loads

FORMATS = ("auto", "suricata", "wazuh", "cef", "leef", "ecs", "csv")
JSON_FORMATS = ("suricata", "wazuh", "ecs")
CHUNK = 1 << 16
MAX_RECORD = 8 << 20
REPEAT_WINDOW = 10_000  # a single JSON object larger than this is rejected, not buffered further


@dataclass(frozen=True)
class Rejected:
    """A bad line: its number (1-based, the first line of the record) and why it was skipped."""

    line: int
    reason: str


@dataclass
class ReadStats:
    """Counters of one read: records seen, non-alert records skipped, the detected kind and encoding."""

    records: int = 0
    skipped: int = 0
    detected: str = ""
    encoding: str = ""
    formats: dict[str, int] = field(default_factory=dict)


class Context:
    """What normalisers share: the classifier, the CIDR table and the zone for naive times."""

    def __init__(self, classifier: Classifier | None = None, cidr: CidrTable | None = None,
                 default_zone: dt.tzinfo = TAIPEI) -> None:
        self.classify = classifier or Classifier()
        self.cidr = cidr or CidrTable()
        self.zone = default_zone
        # (signature, source category, source) -> (family, category, rule): alerts repeat a few
        # hundred signatures, so each is classified once (bounded: constant memory).
        self._signatures: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        self._ips: dict[str, str] = {}
        # EVE hot path (normalise_suricata): per-signature fields and per-address-pair fields.
        self._suricata: dict[tuple, tuple[str, dict, bool]] = {}
        self._addresses: dict[tuple, tuple[str, str, str]] = {}

    def ip(self, value) -> str:
        """``parse_ip`` with a bounded cache of the raw values seen."""
        hit = self._ips.get(value) if type(value) is str else None
        if hit is None:
            hit = parse_ip(value)
            if type(value) is str:
                if len(self._ips) > 100_000:
                    self._ips.clear()
                self._ips[value] = hit
        return hit

    def signature_info(self, signature: str, source_category: str, source: str) -> tuple[str, str, str]:
        """(family, category, rule) of a signature without Wazuh groups, cached."""
        key = (signature, source_category, source)
        hit = self._signatures.get(key)
        if hit is None:
            if len(self._signatures) > 50_000:
                self._signatures.clear()
            category, rule = self.classify(signature=signature, source_category=source_category, source=source)
            hit = self._signatures[key] = (signature_family(signature), category, rule or "default")
        return hit

    def build(self, *, source_format: str, key: str, time: dt.datetime, src_ip: str, src_port, dest_ip: str,
              dest_port, protocol: str, signature_id: str, signature: str, source_category: str,
              source_severity: str, severity: str, groups: tuple[str, ...] = (), family: str = "",
              sensor: str = "", action: str = "", category: str | None = None, rule: str | None = None) -> Alert:
        if not signature and not signature_id:
            raise BadRecord("missing signature")
        if category is None:
            category, rule = self.classify(signature=signature, source_category=source_category, groups=groups,
                                           source=source_format)
        return make_alert(source_format, key, time, src_ip, src_port, dest_ip, dest_port, protocol.upper(),
                          signature_id, signature, family or signature_family(signature), source_category,
                          source_severity, category, severity, rule or "default", sensor, action,
                          self.cidr.agency_for(dest_ip, src_ip))


# --- JSON records --------------------------------------------------------------------------------

def _get(obj: dict, path: str):
    """A value by dotted path, nested (``source: {ip}``) or flat (``"source.ip"``) or mixed."""
    if path in obj:
        return obj[path]
    head, _, rest = path.partition(".")
    while rest:
        value = obj.get(head)
        if isinstance(value, dict):
            found = _get(value, rest)
            if found is not None:
                return found
        nxt, _, rest = rest.partition(".")
        head = f"{head}.{nxt}"
        if head in obj:
            return obj[head] if not rest else (_get(obj[head], rest) if isinstance(obj[head], dict) else None)
    return None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def json_kind(obj: dict) -> str | None:
    """Which JSON format a record is, from its keys."""
    if "event_type" in obj and ("alert" in obj or "flow_id" in obj or "src_ip" in obj):
        return "suricata"
    rule = obj.get("rule")
    if isinstance(rule, dict) and "level" in rule:
        return "wazuh"
    if "@timestamp" in obj or "ecs" in obj or "ecs.version" in obj or "kibana.alert.rule.name" in obj \
            or isinstance(obj.get("event"), dict):
        return "ecs"
    return None


def _str(value) -> str:
    """``_text`` with the common cases (a string, an int) first."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    return _text(value)


def _port(value) -> int | None:
    """``parse_port`` with the common case (an int in range) first."""
    if type(value) is int and 0 <= value <= 65535:
        return value
    return parse_port(value)


def _suricata_static(alert: dict, obj_get, ctx: Context) -> tuple[str, dict, bool]:
    """The per-signature part of an EVE alert, computed the general way on a cache miss: ("gid\x1fsid"
    of the dedup key, the alert's attribute dictionary with every per-signature field filled in,
    whether the source's severity is known)."""
    sid = _str(alert.get("signature_id"))
    signature = _str(alert.get("signature"))
    if not signature and not sid:
        raise BadRecord("missing signature")
    gid = alert.get("gid")
    source_category = _str(alert.get("category"))
    raw_severity = alert.get("severity")
    try:
        severity = severity_suricata(raw_severity)
    except BadRecord:
        severity = ""  # raised after the address and port checks, in the general builder's order
    family, category, rule = ctx.signature_info(signature, source_category, "suricata")
    fields = {
        "source_format": "suricata", "dedup_key": "", "time": None, "src_ip": "", "src_port": None, "dest_ip": "",
        "dest_port": None, "protocol": _str(obj_get("proto")).upper(), "signature_id": sid, "signature": signature,
        "family": family, "source_category": source_category, "source_severity": _str(raw_severity),
        "category": category, "severity": severity, "rule": rule,
        "sensor": _str(obj_get("host") or obj_get("in_iface")), "action": _str(alert.get("action")), "agency": ""}
    return f"{'' if gid is None else str(gid)}\x1f{sid}", fields, bool(severity)


# The static cache's key holds the raw values. 1, 1.0 and True are equal keys but not equal texts:
# the numeric fields must be an int, a str or None to look up, and an entry is stored only when the
# text fields are a str or None too (no other JSON value equals one of those).
_KEYED = frozenset((int, str, type(None)))
_TEXT = frozenset((str, type(None)))
_fromisoformat = dt.datetime.fromisoformat
_sha1 = hashlib.sha1
_new_alert = object.__new__
_set_dict = object.__setattr__


def normalise_suricata(obj: dict, ctx: Context) -> Alert | None:
    """An EVE record; ``None`` for non-alert event types.

    The hot path of the engine's speed target: the same alert as ``Context.build`` with
    ``dedup_key`` gives (``test_fast_suricata_path_equals_the_general_builder``), built with the
    per-signature fields (texts, severity, family, category, rule) and the per-address-pair fields
    (normal addresses, agency) looked up in bounded caches, the dedup key text formatted in one
    step (it must stay byte-identical to ``dedup_key``: re-imports rely on it) and the alert's
    attribute dictionary given directly (like :func:`make_alert`)."""
    get = obj.get
    if get("event_type") != "alert":
        return None
    alert = get("alert")
    if type(alert) is not dict and not isinstance(alert, dict):
        raise BadRecord("event_type alert without an alert object")
    stamp = get("timestamp")
    time = None
    if type(stamp) is str and len(stamp) > 19 and stamp[10] == "T":
        try:
            time = _fromisoformat(stamp)
        except ValueError:
            pass
        else:
            if time.tzinfo is None:
                time = time.replace(tzinfo=ctx.zone)
    if time is None:
        time = parse_time(stamp, ctx.zone)
    aget = alert.get
    sid_raw, gid_raw, severity_raw = aget("signature_id"), aget("gid"), aget("severity")
    static = skey = None
    if type(sid_raw) in _KEYED and type(gid_raw) in _KEYED and type(severity_raw) in _KEYED:
        skey = (sid_raw, gid_raw, severity_raw, aget("signature"), aget("category"), aget("action"), get("proto"),
                get("host"), get("in_iface"))
        try:
            static = ctx._suricata.get(skey)
        except TypeError:  # a list or an object where a text belongs
            skey = None
    if static is None:
        static = _suricata_static(alert, get, ctx)
        if skey is not None and all(type(v) in _TEXT for v in skey[3:]):
            cache = ctx._suricata
            if len(cache) > 50_000:  # constant memory on adversarial input
                cache.clear()
            cache[skey] = static
    gid_sid, fields, known_severity = static
    # Two packets of one flow can fire the same signature at the same microsecond: pcap_cnt / tx_id
    # tell them apart when Suricata writes them. Formatting a value with {} is str() for every JSON
    # value type.
    flow_id, pcap_cnt, tx_id = get("flow_id"), get("pcap_cnt"), get("tx_id")
    text = (f"suricata\x1f{'' if flow_id is None else flow_id}\x1f{gid_sid}\x1f{stamp}"
            f"\x1f{'' if pcap_cnt is None else pcap_cnt}\x1f{'' if tx_id is None else tx_id}")
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate (from the standard library's decoder)
        data = text.encode("utf-8", "surrogatepass")
    key = _sha1(data, usedforsecurity=False).hexdigest()
    raw_src, raw_dest = get("src_ip"), get("dest_ip")
    try:
        addresses = ctx._addresses.get((raw_src, raw_dest))
    except TypeError:
        addresses = None
    if addresses is None:
        src_ip, dest_ip = ctx.ip(raw_src), ctx.ip(raw_dest)
        addresses = (src_ip, dest_ip, ctx.cidr.agency_for(dest_ip, src_ip))
        if type(raw_src) is str and type(raw_dest) is str:
            if len(ctx._addresses) > 100_000:
                ctx._addresses.clear()
            ctx._addresses[(raw_src, raw_dest)] = addresses
    src_port, dest_port = get("src_port"), get("dest_port")
    if type(src_port) is not int or not 0 <= src_port <= 65535:
        src_port = parse_port(src_port)
    if type(dest_port) is not int or not 0 <= dest_port <= 65535:
        dest_port = parse_port(dest_port)
    if not known_severity:
        severity_suricata(severity_raw)  # raises: an unknown severity
    fields = fields.copy()  # the cached per-signature fields, then this alert's own
    fields["dedup_key"] = key
    fields["time"] = time
    fields["src_ip"], fields["dest_ip"], fields["agency"] = addresses
    fields["src_port"] = src_port
    fields["dest_port"] = dest_port
    result = _new_alert(Alert)
    _set_dict(result, "__dict__", fields)
    return result


def normalise_wazuh(obj: dict, ctx: Context) -> Alert:
    """A Wazuh alerts.json record (Suricata alerts relayed by Wazuh keep their signature)."""
    rule = obj.get("rule")
    if not isinstance(rule, dict):
        raise BadRecord("missing rule object")
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    agent = obj.get("agent") if isinstance(obj.get("agent"), dict) else {}
    groups = tuple(str(g) for g in rule.get("groups") or ())
    time = parse_time(obj.get("timestamp") or obj.get("@timestamp"), ctx.zone)
    signature = _text(rule.get("description"))
    sid = _text(rule.get("id"))
    category = ",".join(groups)
    relayed = data.get("alert") if isinstance(data.get("alert"), dict) else None
    if relayed and relayed.get("signature"):
        signature, sid = _text(relayed.get("signature")), _text(relayed.get("signature_id"))
        category = _text(relayed.get("category")) or category
    key = dedup_key("wazuh", obj.get("id"), rule.get("id"), obj.get("timestamp"), agent.get("id"))
    src = data.get("srcip") or data.get("src_ip")
    dest = data.get("dstip") or data.get("dest_ip") or agent.get("ip")
    family = signature.split(":", 1)[0] if ":" in signature[:40] else (groups[0] if groups else "")
    return ctx.build(
        source_format="wazuh", key=key, time=time, src_ip=parse_ip(src),
        src_port=parse_port(data.get("srcport") or data.get("src_port")), dest_ip=parse_ip(dest),
        dest_port=parse_port(data.get("dstport") or data.get("dest_port")),
        protocol=_text(data.get("protocol") or data.get("proto")), signature_id=sid, signature=signature,
        source_category=category, source_severity=_text(rule.get("level")), severity=severity_wazuh(rule.get("level")),
        groups=groups, family=family, sensor=_text(agent.get("name")))


def normalise_ecs(obj: dict, ctx: Context) -> Alert:
    """An Elastic Common Schema document (Kibana detection alerts included)."""
    when = _get(obj, "kibana.alert.original_time") or _get(obj, "@timestamp") or _get(obj, "event.created")
    time = parse_time(when, ctx.zone)
    sid = _text(_get(obj, "kibana.alert.rule.rule_id") or _get(obj, "rule.id") or _get(obj, "event.code"))
    signature = _text(_get(obj, "kibana.alert.rule.name") or _get(obj, "rule.name") or _get(obj, "message"))
    source_category = _text(_get(obj, "rule.category") or _get(obj, "threat.tactic.name")
                            or _get(obj, "event.category"))
    text_severity = _get(obj, "kibana.alert.severity") or _get(obj, "log.level")
    risk = _get(obj, "kibana.alert.risk_score")
    numeric = _get(obj, "event.severity")
    if text_severity is not None and severity_from_text(str(text_severity)):
        source_severity, severity = str(text_severity), severity_from_text(str(text_severity))
    elif risk is not None:
        source_severity, severity = _text(risk), severity_risk(risk)
    elif numeric is not None:
        source_severity, severity = _text(numeric), severity_risk(numeric)
    else:
        raise BadRecord("missing severity (kibana.alert.severity, kibana.alert.risk_score or event.severity)")
    ident = _get(obj, "_id") or _get(obj, "kibana.alert.uuid") or _get(obj, "event.id")
    src, dest = _get(obj, "source.ip"), _get(obj, "destination.ip")
    key = dedup_key("ecs", ident) if ident else dedup_key("ecs", when, sid, signature, src, dest,
                                                           _get(obj, "source.port"))
    return ctx.build(
        source_format="ecs", key=key, time=time, src_ip=parse_ip(src), src_port=parse_port(_get(obj, "source.port")),
        dest_ip=parse_ip(dest), dest_port=parse_port(_get(obj, "destination.port")),
        protocol=_text(_get(obj, "network.transport") or _get(obj, "network.protocol")), signature_id=sid,
        signature=signature, source_category=source_category, source_severity=source_severity, severity=severity,
        sensor=_text(_get(obj, "observer.name") or _get(obj, "host.name")), action=_text(_get(obj, "event.action")))


JSON_NORMALISERS: dict[str, Callable[[dict, Context], Alert | None]] = {
    "suricata": normalise_suricata, "wazuh": normalise_wazuh, "ecs": normalise_ecs,
}

# --- CEF and LEEF --------------------------------------------------------------------------------

# ArcSight CEF extension dictionary (the keys a conforming producer may use) plus the custom-field
# families. A key outside it marks a mangled or non-CEF line.
CEF_KEYS = frozenset(["act", "app", "c6a1", "c6a1Label", "c6a2", "c6a2Label", "c6a3", "c6a3Label", "c6a4", "c6a4Label", "cat", "cfp1", "cfp1Label", "cfp2", "cfp2Label", "cfp3", "cfp3Label", "cfp4", "cfp4Label", "cn1", "cn1Label", "cn2", "cn2Label", "cn3", "cn3Label", "cnt", "cs1", "cs1Label", "cs2", "cs2Label", "cs3", "cs3Label", "cs4", "cs4Label", "cs5", "cs5Label", "cs6", "cs6Label", "destinationDnsDomain", "destinationServiceName", "destinationTranslatedAddress", "destinationTranslatedPort", "deviceCustomDate1", "deviceCustomDate1Label", "deviceCustomDate2", "deviceCustomDate2Label", "deviceDirection", "deviceDnsDomain", "deviceExternalId", "deviceFacility", "deviceInboundInterface", "deviceNtDomain", "deviceOutboundInterface", "devicePayloadId", "deviceProcessName", "deviceTranslatedAddress", "dhost", "dmac", "dntdom", "dpid", "dpriv", "dproc", "dpt", "dst", "dtz", "duid", "duser", "dvc", "dvchost", "dvcmac", "dvcpid", "end", "externalId", "fileCreateTime", "fileHash", "fileId", "fileModificationTime", "filePath", "filePermission", "fileType", "flexDate1", "flexDate1Label", "flexString1", "flexString1Label", "flexString2", "flexString2Label", "fname", "fsize", "in", "msg", "oldFileCreateTime", "oldFileHash", "oldFileId", "oldFileModificationTime", "oldFileName", "oldFilePath", "oldFilePermission", "oldFileSize", "oldFileType", "out", "outcome", "proto", "reason", "request", "requestClientApplication", "requestContext", "requestCookies", "requestMethod", "rt", "shost", "smac", "sntdom", "sourceDnsDomain", "sourceServiceName", "sourceTranslatedAddress", "sourceTranslatedPort", "spid", "spriv", "sproc", "spt", "src", "start", "suid", "suser", "type", "agt", "ahost", "aid", "amac", "art", "at", "atz", "av", "cfp", "dlat", "dlong", "slat", "slong", "catdt", "mrt", "deviceZoneURI", "sourceZoneURI", "destinationZoneURI", "agentZoneURI", "eventId", "dvcpid", "deviceSeverity"])
_CEF_KEY = re.compile(r"(?:^|(?<= ))([A-Za-z0-9_.\[\]-]+)=")
_CEF_UNESCAPE = re.compile(r"\\([\\=|nr])")
_SYSLOG_PREFIX = re.compile(r"^<\d{1,3}>")


def _cef_unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _CEF_UNESCAPE.sub(lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value)


def _split_header(text: str, count: int) -> tuple[list[str], str]:
    """The first ``count`` pipe-separated fields (``\\|`` and ``\\\\`` escaped) and the rest."""
    parts = text.split("|", count)
    if len(parts) > count and "\\" not in text[:len(text) - len(parts[count])]:
        return parts[:count], parts[count]  # no escapes in the header: the common case
    fields, current, i = [], [], 0
    while i < len(text) and len(fields) < count:
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "|\\":
            current.append(text[i + 1])
            i += 2
            continue
        if ch == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if len(fields) < count:
        raise BadRecord(f"header has {len(fields)} of {count} fields")
    return fields, text[i:]


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """(header fields after ``CEF:``, extension dict); unknown extension keys are a bad record."""
    start = line.find("CEF:")
    if start < 0:
        raise BadRecord("not a CEF line")
    header, extension = _split_header(line[start + 4:], 7)
    # [text before the first key, key, value, key, value, ...]: a key starts the extension or
    # follows a space; a value runs to the space before the next key.
    parts = _CEF_KEY.split(extension)
    if (len(parts) == 1 or parts[0].strip()) and extension.strip():
        raise BadRecord("malformed CEF extension")
    ext: dict[str, str] = {}
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        if key not in CEF_KEYS:
            raise BadRecord(f"unknown CEF extension {key!r}")
        value = value.rstrip(" ")
        ext[key] = _cef_unescape(value) if "\\" in value else value
    return header, ext


def normalise_cef(line: str, ctx: Context) -> Alert:
    """One CEF event (``CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|ext``)."""
    header, ext = parse_cef(line)
    _version, vendor, product, _dversion, sid, name, severity = header
    when = ext.get("rt") or ext.get("end") or ext.get("start")
    if not when:
        raise BadRecord("missing time (rt, end or start)")
    time = parse_time(when, ctx.zone)
    payload = line[line.find("CEF:"):]
    key = dedup_key("cef", ext["externalId"]) if ext.get("externalId") else dedup_key("cef", payload)
    source_category = ext.get("cat", "")
    family, category, rule = ctx.signature_info(name, source_category, "cef") if name or sid else ("", None, None)
    return ctx.build(
        source_format="cef", key=key, time=time, src_ip=ctx.ip(ext.get("src")), src_port=parse_port(ext.get("spt")),
        dest_ip=ctx.ip(ext.get("dst")), dest_port=parse_port(ext.get("dpt")),
        protocol=ext.get("proto") or ext.get("app") or "", signature_id=sid, signature=name,
        source_category=source_category, source_severity=severity, severity=severity_ten(severity),
        sensor=ext.get("dvchost") or f"{vendor} {product}".strip(), action=ext.get("act", ""), family=family,
        category=category, rule=rule)


_LEEF_FORMATS = {"MMM dd yyyy HH:mm:ss": "%b %d %Y %H:%M:%S", "MMM dd yyyy HH:mm:ss.SSS": "%b %d %Y %H:%M:%S.%f",
                 "yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S", "yyyy-MM-dd'T'HH:mm:ss": "%Y-%m-%dT%H:%M:%S",
                 "yyyy/MM/dd HH:mm:ss": "%Y/%m/%d %H:%M:%S", "dd/MM/yyyy HH:mm:ss": "%d/%m/%Y %H:%M:%S"}


def parse_leef(line: str) -> tuple[list[str], dict[str, str]]:
    """(header fields after ``LEEF:``, attributes); LEEF 2.0's delimiter field is honoured."""
    start = line.find("LEEF:")
    if start < 0:
        raise BadRecord("not a LEEF line")
    rest = line[start + 5:]
    version = rest.split("|", 1)[0]
    if version.startswith("2"):
        header, body = _split_header(rest, 6)
        spec = header[5]
        delimiter = "\t" if spec in ("", "x09", "0x09", "\\t") else (
            chr(int(spec[1:] if spec.startswith("x") else spec[2:], 16)) if re.fullmatch(r"(0?x)[0-9a-fA-F]{2}", spec)
            else spec)
    elif version.startswith("1"):
        header, body = _split_header(rest, 5)
        delimiter = "\t"
    else:
        raise BadRecord(f"unknown LEEF version {version!r}")
    attrs: dict[str, str] = {}
    for part in body.split(delimiter):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise BadRecord(f"malformed LEEF attribute {part[:40]!r}")
        attrs[key.strip()] = value
    return header, attrs


def normalise_leef(line: str, ctx: Context) -> Alert:
    """One LEEF 1.0/2.0 event."""
    header, attrs = parse_leef(line)
    vendor, product, sid = header[1], header[2], header[4]
    when = attrs.get("devTime")
    if not when:
        raise BadRecord("missing time (devTime)")
    fmt = attrs.get("devTimeFormat")
    if fmt and fmt in _LEEF_FORMATS:
        try:
            time = dt.datetime.strptime(when.strip(), _LEEF_FORMATS[fmt]).replace(tzinfo=ctx.zone)
        except ValueError:
            raise BadRecord(f"devTime {when!r} does not match devTimeFormat {fmt!r}") from None
    else:
        time = parse_time(when, ctx.zone)
    if "sev" not in attrs:
        raise BadRecord("missing severity (sev)")
    payload = line[line.find("LEEF:"):]
    return ctx.build(
        source_format="leef", key=dedup_key("leef", payload), time=time, src_ip=parse_ip(attrs.get("src")),
        src_port=parse_port(attrs.get("srcPort")), dest_ip=parse_ip(attrs.get("dst")),
        dest_port=parse_port(attrs.get("dstPort")), protocol=attrs.get("proto", ""), signature_id=sid,
        signature=attrs.get("name") or attrs.get("msg") or sid, source_category=attrs.get("cat", ""),
        source_severity=attrs["sev"], severity=severity_ten(attrs["sev"]),
        sensor=attrs.get("identHostName") or f"{vendor} {product}".strip(), action=attrs.get("action", ""))


# --- CSV -----------------------------------------------------------------------------------------

# Our field -> accepted header names (Chinese headers of the SOC's export, English EVE field names).
CSV_HEADERS: dict[str, tuple[str, ...]] = {
    "time": ("發生時間", "事件時間", "告警時間", "通報時間", "偵測時間", "時間", "timestamp", "time", "@timestamp"),
    "src_ip": ("來源IP", "來源 IP", "攻擊來源IP", "來源位址", "src_ip", "source_ip", "src"),
    "src_port": ("來源埠", "來源Port", "來源埠號", "src_port", "source_port", "spt"),
    "dest_ip": ("目的IP", "目的 IP", "目標IP", "受害IP", "目的位址", "dest_ip", "destination_ip", "dst"),
    "dest_port": ("目的埠", "目的Port", "目的埠號", "dest_port", "destination_port", "dpt"),
    "protocol": ("通訊協定", "協定", "proto", "protocol"),
    "signature_id": ("事件代碼", "規則編號", "規則代碼", "signature_id", "sid"),
    "signature": ("事件名稱", "告警名稱", "規則名稱", "signature", "name"),
    "category": ("事件類型", "事件分類", "告警類型", "category", "classtype"),
    "severity": ("嚴重程度", "風險等級", "嚴重性", "等級", "severity"),
    "agency": ("機關名稱", "機關", "agency"),
    "flow_id": ("flow_id", "事件編號", "告警編號", "序號"),
    "action": ("處置", "action"),
}
_LABEL_TO_CATEGORY = {zh: code for code, (zh, _en) in CATEGORIES.items()} | {
    en.lower(): code for code, (_zh, en) in CATEGORIES.items()} | {"可用性(阻斷服務)": "availability",
                                                                  "阻斷服務": "availability"}


def csv_columns(header: list[str]) -> dict[str, int]:
    """Column index per field; bad header (no time or no signature column) is a :class:`BadRecord`."""
    names = [h.strip().lstrip("\ufeff") for h in header]
    lowered = [n.lower() for n in names]
    columns: dict[str, int] = {}
    for field_name, aliases in CSV_HEADERS.items():
        for alias in aliases:
            if alias.lower() in lowered:
                columns[field_name] = lowered.index(alias.lower())
                break
    missing = [f for f in ("time", "signature", "severity") if f not in columns]
    if missing:
        raise BadRecord(f"CSV header lacks {', '.join(missing)} (表頭缺少欄位)")
    return columns


def normalise_csv(row: list[str], columns: dict[str, int], ctx: Context) -> Alert:
    """One row of the notification export."""
    def cell(name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    if len(row) < max(columns.values()) + 1:
        raise BadRecord(f"row has {len(row)} columns, the header {max(columns.values()) + 1} or more")
    time = parse_time(cell("time"), ctx.zone)
    raw_severity = cell("severity")
    severity = severity_from_text(raw_severity) if not raw_severity.isdigit() else severity_suricata(raw_severity)
    if severity is None:
        raise BadRecord(f"unknown severity {raw_severity!r}")
    source_category = cell("category")
    category = _LABEL_TO_CATEGORY.get(source_category) or _LABEL_TO_CATEGORY.get(source_category.lower())
    ident = cell("flow_id")
    key = dedup_key("csv", ident, cell("signature_id"), cell("signature"), cell("time"), cell("src_ip"),
                    cell("dest_ip"), cell("src_port"), cell("dest_port"))
    return ctx.build(
        source_format="csv", key=key, time=time, src_ip=parse_ip(cell("src_ip")), src_port=parse_port(cell("src_port")),
        dest_ip=parse_ip(cell("dest_ip")), dest_port=parse_port(cell("dest_port")), protocol=cell("protocol"),
        signature_id=cell("signature_id"), signature=cell("signature"), source_category=source_category,
        source_severity=raw_severity, severity=severity, action=cell("action"), sensor=cell("agency"),
        category=category, rule="SOC category as exported" if category else None)


# --- readers -------------------------------------------------------------------------------------

class _Lines:
    """Binary lines decoded with the file's encoding: UTF-8 (BOM allowed); for CSV, Big5 (cp950) when
    the first non-ASCII line is not UTF-8. A line that does not decode is yielded as ``None``."""

    def __init__(self, lines: Iterable[bytes], stats: ReadStats, allow_big5: bool = False) -> None:
        self.lines = lines
        self.stats = stats
        self.encoding = "" if allow_big5 else "utf-8"  # JSON, CEF and LEEF are UTF-8 by definition

    def __iter__(self) -> Iterator[tuple[int, str | None]]:
        for number, raw in enumerate(self.lines, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
                self.encoding = "utf-8"
            if not self.encoding and not raw.isascii():
                try:
                    raw.decode("utf-8")
                    self.encoding = "utf-8"
                except UnicodeDecodeError:
                    self.encoding = "big5"
            try:
                text = raw.decode("cp950" if self.encoding == "big5" else "utf-8")
            except UnicodeDecodeError:
                yield number, None
                continue
            yield number, text.rstrip("\r\n")
        self.stats.encoding = self.encoding or "utf-8"


def _peek_kind(stream: BinaryIO) -> tuple[str, bytes]:
    """('json-array' | 'ndjson' | 'syslog' | 'csv', the bytes read) from the first non-blank bytes."""
    head = stream.read(CHUNK)
    probe = head.lstrip(codecs.BOM_UTF8).lstrip()
    first_line = probe.split(b"\n", 1)[0]
    if probe.startswith(b"["):
        return "json-array", head
    if probe.startswith(b"{"):
        return "ndjson", head
    if b"CEF:" in first_line or b"LEEF:" in first_line:
        return "syslog", head
    return "csv", head


def _chained(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    """Lines of ``head`` + the rest of ``stream`` without reading the rest into memory."""
    pending = head
    while True:
        while True:
            cut = pending.find(b"\n")
            if cut < 0:
                break
            yield pending[:cut + 1]
            pending = pending[cut + 1:]
        chunk = stream.read(CHUNK)
        if not chunk:
            if pending:
                yield pending
            return
        pending += chunk


def _json_record(obj, number: int, fmt: str, ctx: Context, stats: ReadStats) -> Alert | Rejected | None:
    if not isinstance(obj, dict):
        return Rejected(number, "not a JSON object (不是 JSON 物件)")
    kind = json_kind(obj) if fmt == "auto" else fmt
    if kind is None:
        return Rejected(number, "unrecognised JSON record (無法辨識的格式)")
    try:
        alert = JSON_NORMALISERS[kind](obj, ctx)
    except BadRecord as exc:
        return Rejected(number, str(exc))
    if alert is None:
        stats.skipped += 1
        return None
    stats.formats[kind] = stats.formats.get(kind, 0) + 1
    return alert


def _raw_lines(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    """Lines of ``head`` + the rest of ``stream``: ``head``'s complete lines, then its partial last
    line joined with the stream's next line, then the stream's own lines (chained at C speed)."""
    lines = head.split(b"\n")
    last = lines.pop()
    rest = stream.readline()
    if last or rest:
        lines.append(last + rest)
    if not rest:
        return iter(lines)
    return itertools.chain(lines, iter(stream.readline, b""))


def _iter_ndjson_bytes(head: bytes, stream: BinaryIO, fmt: str, ctx: Context, stats: ReadStats):
    """NDJSON from raw byte lines: each line is decoded straight from bytes (UTF-8 is checked by the
    decoder); only a line that fails takes the text path, which gives the exact reason. The counters
    are kept in locals and added to ``stats`` at the end (or when the reader is closed early)."""
    stats.encoding = "utf-8"
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    fixed = JSON_NORMALISERS.get(fmt)
    loads, normalisers = _loads, JSON_NORMALISERS
    records = skipped = 0
    counts: dict[str, int] = {}
    try:
        for number, raw in enumerate(_raw_lines(head, stream), start=1):
            try:
                obj = loads(raw)
            except ValueError:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield Rejected(number, "line is not valid UTF-8 (編碼錯誤)")
                    continue
                if not text.strip():
                    continue
                records += 1
                try:
                    obj = json.loads(text)  # NaN, huge integers, or the standard library's message
                except ValueError as exc:
                    yield Rejected(number, f"invalid JSON (JSON 格式錯誤): {exc.msg}")
                    continue
            else:
                records += 1
            if type(obj) is dict:
                kind = fixed and fmt or json_kind(obj)
                if kind is not None:
                    try:
                        alert = normalisers[kind](obj, ctx)
                    except BadRecord as exc:
                        yield Rejected(number, str(exc))
                        continue
                    if alert is None:
                        skipped += 1
                        continue
                    counts[kind] = counts.get(kind, 0) + 1
                    yield alert
                    continue
            stats.records, stats.skipped = stats.records + records, stats.skipped + skipped
            records = skipped = 0
            result = _json_record(obj, number, fmt, ctx, stats)
            if result is not None:
                yield result
    finally:
        stats.records += records
        stats.skipped += skipped
        for kind, count in counts.items():
            stats.formats[kind] = stats.formats.get(kind, 0) + count


def _iter_ndjson(lines: _Lines, fmt: str, ctx: Context, stats: ReadStats):
    for number, text in lines:
        if text is None:
            yield Rejected(number, "line is not valid UTF-8 (編碼錯誤)")
            continue
        if not text.strip():
            continue
        stats.records += 1
        try:
            obj = json.loads(text)
        except ValueError as exc:
            yield Rejected(number, f"invalid JSON (JSON 格式錯誤): {exc.msg}")
            continue
        result = _json_record(obj, number, fmt, ctx, stats)
        if result is not None:
            yield result


def _iter_json_array(head: bytes, stream: BinaryIO, fmt: str, ctx: Context, stats: ReadStats):
    """Objects of one top-level JSON array, decoded incrementally; a broken object is reported at its
    first line and reading resumes at the next object that starts a line."""
    decoder = json.JSONDecoder()
    incremental = codecs.getincrementaldecoder("utf-8")()
    raw = head.lstrip(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else head
    buffer, pos, line_base, eof, opened = "", 0, 1, False, False
    stats.encoding = "utf-8"

    def more() -> bool:
        nonlocal buffer, pos, line_base, eof, raw
        chunk = raw if raw else stream.read(CHUNK)
        raw = b""
        if not chunk:
            eof = True
            buffer += incremental.decode(b"", final=True)
            return False
        line_base += buffer.count("\n", 0, pos)
        buffer = buffer[pos:] + incremental.decode(chunk)
        pos = 0
        return True

    try:
        more()
        while True:
            while True:
                while pos < len(buffer) and buffer[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(buffer) or eof:
                    break
                more()
            if pos >= len(buffer):
                if not opened:
                    yield Rejected(line_base, "empty file (空白檔案)")
                elif True:
                    yield Rejected(line_base + buffer.count("\n", 0, pos), "truncated JSON array: missing ']' "
                                   "(JSON 陣列不完整)")
                return
            if not opened:
                if buffer[pos] != "[":
                    yield Rejected(line_base, "not a JSON array")
                    return
                opened, pos = True, pos + 1
                continue
            if buffer[pos] == "]":
                return
            number = line_base + buffer.count("\n", 0, pos)
            try:
                obj, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                if not eof and len(buffer) - pos < MAX_RECORD and (
                        exc.pos >= len(buffer) - 2 or "Unterminated" in exc.msg or exc.msg.startswith("Expecting")
                        and exc.pos >= len(buffer) - 64):
                    more()
                    continue
                stats.records += 1
                reason = "truncated JSON (JSON 不完整)" if eof else f"invalid JSON (JSON 格式錯誤): {exc.msg}"
                yield Rejected(number, reason)
                resume = re.compile(r"\n[ \t]*\{").search(buffer, max(exc.pos, pos + 1))
                if resume is None:
                    if eof:
                        return
                    pos = len(buffer)
                    more()
                    continue
                pos = resume.start() + 1
                continue
            stats.records += 1
            pos = end
            result = _json_record(obj, number, fmt, ctx, stats)
            if result is not None:
                yield result
    except UnicodeDecodeError:
        yield Rejected(line_base + buffer.count("\n", 0, pos), "file is not valid UTF-8 from here on (編碼錯誤)")


def _iter_syslog(lines: _Lines, fmt: str, ctx: Context, stats: ReadStats):
    for number, text in lines:
        if text is None:
            yield Rejected(number, "line is not valid UTF-8 (編碼錯誤)")
            continue
        if not text.strip():
            continue
        stats.records += 1
        kind = fmt
        if fmt == "auto":
            kind = "cef" if "CEF:" in text else "leef" if "LEEF:" in text else ""
        if not kind:
            yield Rejected(number, "neither CEF nor LEEF (無法辨識的格式)")
            continue
        try:
            alert = (normalise_cef if kind == "cef" else normalise_leef)(text, ctx)
        except BadRecord as exc:
            yield Rejected(number, str(exc))
            continue
        stats.formats[kind] = stats.formats.get(kind, 0) + 1
        yield alert


def _iter_csv(lines: _Lines, ctx: Context, stats: ReadStats):
    numbered = iter(lines)
    state = {"line": 0}

    def texts():
        for number, text in numbered:
            state["line"] = number
            if text is None:
                yield "\x00BAD"
                continue
            yield text

    reader = csv.reader(texts())
    columns = None
    try:
        for row in reader:
            number = state["line"]
            if row == ["\x00BAD"]:
                yield Rejected(number, "line is neither UTF-8 nor Big5 (編碼錯誤)")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                try:
                    columns = csv_columns(row)
                except BadRecord as exc:
                    yield Rejected(number, str(exc))
                    return
                continue
            stats.records += 1
            try:
                alert = normalise_csv(row, columns, ctx)
            except BadRecord as exc:
                yield Rejected(number, str(exc))
                continue
            stats.formats["csv"] = stats.formats.get("csv", 0) + 1
            yield alert
    except csv.Error as exc:
        yield Rejected(state["line"], f"malformed CSV (CSV 格式錯誤): {exc}")


def read_alerts(stream: BinaryIO, *, fmt: str = "auto", ctx: Context | None = None,
                stats: ReadStats | None = None) -> Iterator[Alert | Rejected]:
    """Alerts and rejected lines of one binary stream, in order (see the module docstring)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    ctx = ctx or Context()
    stats = stats if stats is not None else ReadStats()
    kind, head = _peek_kind(stream)
    if fmt in ("cef", "leef"):
        kind = "syslog"
    elif fmt == "csv":
        kind = "csv"
    elif fmt in JSON_FORMATS and kind not in ("json-array", "ndjson"):
        kind = "ndjson"
    stats.detected = kind
    if kind == "json-array":
        items = _iter_json_array(head, stream, fmt, ctx, stats)
        lines = None
    elif kind == "ndjson":
        items = _iter_ndjson_bytes(head, stream, fmt, ctx, stats)
        lines = None
    else:
        lines = _Lines(_chained(head, stream), stats, allow_big5=kind == "csv")
        if kind == "ndjson":
            items = _iter_ndjson(lines, fmt, ctx, stats)
        elif kind == "syslog":
            items = _iter_syslog(lines, fmt, ctx, stats)
        else:
            items = _iter_csv(lines, ctx, stats)
    # Identical records (a CSV export repeats a row when two alerts share every exported field) are
    # distinct alerts: the n-th repeat gets the key of (key, n). The window is bounded (constant
    # memory); repeats are adjacent in practice because their times are equal.
    window: OrderedDict[str, int] = OrderedDict()
    seen_before, pop = window.get, window.popitem
    for item in items:
        if type(item) is Alert or isinstance(item, Alert):
            key = item.dedup_key
            seen = seen_before(key)
            if seen is None:
                window[key] = 0
                if len(window) > REPEAT_WINDOW:
                    pop(last=False)
            else:
                window[key] = seen + 1
                item = replace(item, dedup_key=dedup_key(item.source_format, key, seen + 1))
        yield item
    if lines is not None:
        stats.encoding = lines.encoding or "utf-8"


def parse_message(text: str, ctx: Context | None = None) -> Alert:
    """One syslog message (CEF or LEEF, or one JSON record) as an alert; :class:`BadRecord` otherwise.
    Used by the syslog listener."""
    ctx = ctx or Context()
    body = _SYSLOG_PREFIX.sub("", text.strip())
    if "CEF:" in body:
        return normalise_cef(body, ctx)
    if "LEEF:" in body:
        return normalise_leef(body, ctx)
    brace = body.find("{")
    if brace >= 0:
        try:
            obj = json.loads(body[brace:])
        except ValueError:
            raise BadRecord("invalid JSON") from None
        kind = json_kind(obj) if isinstance(obj, dict) else None
        if kind is None:
            raise BadRecord("unrecognised JSON record")
        alert = JSON_NORMALISERS[kind](obj, ctx)
        if alert is None:
            raise BadRecord("not an alert event")
        return alert
    raise BadRecord("neither CEF, LEEF nor JSON")
