"""The signed global configuration: canonical JSON signed with Ed25519, verified against an anchor key.

The registry publishes one JSON document (the *envelope*)::

    {"configuration": {...}, "signature": {"algorithm": "Ed25519", "key_id": "<16 hex>", "value": "<base64>"}}

``value`` is the Ed25519 signature over :func:`canonical_json` of ``configuration``. A gateway holds the
registry's public key (the *anchor*) and refuses a document whose signature fails, whose key id is not
the anchor's, or whose ``expires_at`` has passed. See docs/exchange.md for the fields.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from citygov.exchange.engine.identifiers import ClientId, IdentifierError, MemberId, ServiceId

FORMAT_VERSION = 1


class ConfError(ValueError):
    """The configuration cannot be used: bad signature, wrong key, expired or malformed."""


_SCALARS = (str, int, bool, type(None))


def _check_canonical(value: Any) -> None:
    """Raise :class:`ConfError` for a float anywhere in ``value`` or a non-string object key."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is float:
        raise ConfError("floats are not allowed in canonical JSON (標準化 JSON 不可含浮點數)")
    if kind is dict or isinstance(value, Mapping):
        for k, item in value.items():
            if type(k) is not str:
                raise ConfError("object keys must be strings")
            if type(item) not in _SCALARS:
                _check_canonical(item)
    elif kind is list or kind is tuple or isinstance(value, list | tuple):
        for item in value:
            if type(item) not in _SCALARS:
                _check_canonical(item)
    elif isinstance(value, float):
        raise ConfError("floats are not allowed in canonical JSON (標準化 JSON 不可含浮點數)")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8, no floats (their text form is not canonical)."""
    _check_canonical(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; raises :class:`ConfError`."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise ConfError(f"unreadable anchor key: {exc} (無法讀取信任錨金鑰)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfError("the anchor key is not an Ed25519 key (信任錨金鑰須為 Ed25519)")
    return key


def sign_configuration(private_key: Ed25519PrivateKey, configuration: Mapping[str, Any]) -> bytes:
    """The envelope (as bytes) holding ``configuration`` and its signature."""
    signature = private_key.sign(canonical_json(configuration))
    envelope = {
        "configuration": configuration,
        "signature": {"algorithm": "Ed25519", "key_id": key_id(private_key.public_key()),
                      "value": base64.b64encode(signature).decode("ascii")},
    }
    return canonical_json(envelope)


@dataclass(frozen=True)
class ServiceInfo:
    """One service as the configuration describes it."""

    id: ServiceId
    title: str
    openapi: Mapping[str, Any]
    store_payloads: bool = False


@dataclass(frozen=True)
class GatewayInfo:
    """A member's gateway: where its provider side listens and the SHA-256 of its TLS certificate."""

    member: MemberId
    address: str
    cert_sha256: str


@dataclass(frozen=True)
class AccessRight:
    """``client`` may call ``service`` (until ``not_after`` when a sharing grant limits it)."""

    service: ServiceId
    client: ClientId
    not_after: dt.datetime | None = None
    grant: str = ""


@dataclass(frozen=True)
class GlobalConf:
    """A verified configuration, indexed for the gateway's look-ups."""

    instance: str
    serial: int
    generated_at: dt.datetime
    expires_at: dt.datetime
    members: Mapping[MemberId, str]
    subsystems: frozenset[ClientId]
    services: Mapping[ServiceId, ServiceInfo]
    gateways: tuple[GatewayInfo, ...]
    access_rights: Mapping[tuple[ServiceId, ClientId], AccessRight]
    revoked_serials: frozenset[str]
    ca_certs_pem: str
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def gateway_of(self, member: MemberId) -> GatewayInfo | None:
        """The (first) gateway of ``member``."""
        return next((g for g in self.gateways if g.member == member), None)

    def member_of_cert(self, cert_sha256: str) -> MemberId | None:
        """The member whose registered gateway certificate has this fingerprint."""
        return next((g.member for g in self.gateways if g.cert_sha256 == cert_sha256.lower()), None)

    def services_of(self, provider: ClientId) -> list[ServiceInfo]:
        """Services of one subsystem, sorted by code."""
        return sorted((s for s in self.services.values() if s.id.provider == provider), key=lambda s: s.id)

    def access(self, service: ServiceId, client: ClientId) -> AccessRight | None:
        """The access right of ``client`` on ``service`` if one is configured."""
        return self.access_rights.get((service, client))


def _time(value: Any, what: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfError(f"bad {what}: {value!r}") from exc
    if moment.tzinfo is None:
        raise ConfError(f"{what} must carry a time zone")
    return moment


def parse_configuration(data: Mapping[str, Any]) -> GlobalConf:
    """Index a configuration payload (already verified). Raises :class:`ConfError` when malformed."""
    try:
        if data.get("version") != FORMAT_VERSION:
            raise ConfError(f"unsupported configuration version {data.get('version')!r}")
        members: dict[MemberId, str] = {}
        subsystems: set[ClientId] = set()
        services: dict[ServiceId, ServiceInfo] = {}
        gateways: list[GatewayInfo] = []
        for m in data["members"]:
            member = MemberId.parse(m["id"])
            members[member] = str(m.get("name", ""))
            for g in m.get("gateways", []):
                gateways.append(GatewayInfo(member, str(g["address"]), str(g["cert_sha256"]).lower()))
            for sub in m.get("subsystems", []):
                client = ClientId(member.instance, member.member_class, member.member_code, sub["code"])
                subsystems.add(client)
                for s in sub.get("services", []):
                    sid = ServiceId(*str(client).split("/"), s["code"])
                    services[sid] = ServiceInfo(sid, str(s.get("title", "")), s.get("openapi") or {},
                                                bool(s.get("store_payloads", False)))
        rights: dict[tuple[ServiceId, ClientId], AccessRight] = {}
        for r in data.get("access_rights", []):
            right = AccessRight(ServiceId.parse(r["service"]), ClientId.parse(r["client"]),
                                _time(r["not_after"], "not_after") if r.get("not_after") else None,
                                str(r.get("grant") or ""))
            rights[(right.service, right.client)] = right
        return GlobalConf(
            instance=str(data["instance"]), serial=int(data["serial"]),
            generated_at=_time(data["generated_at"], "generated_at"), expires_at=_time(data["expires_at"], "expires_at"),
            members=members, subsystems=frozenset(subsystems), services=services, gateways=tuple(gateways),
            access_rights=rights, revoked_serials=frozenset(str(s).lower() for s in data.get("revoked_serials", [])),
            ca_certs_pem=str(data.get("ca_certs_pem", "")), raw=data,
        )
    except (KeyError, TypeError, IdentifierError) as exc:
        raise ConfError(f"malformed configuration: {exc} (設定格式錯誤)") from exc


def verify_configuration(document: bytes, anchor: Ed25519PublicKey, *, now: dt.datetime | None = None) -> GlobalConf:
    """Verify the envelope's signature against ``anchor`` and return the indexed configuration.

    Raises :class:`ConfError` on a bad signature, a different signing key, an expired or malformed document.
    """
    try:
        envelope = json.loads(document)
        configuration = envelope["configuration"]
        signature = envelope["signature"]
        value = base64.b64decode(signature["value"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfError(f"unreadable configuration document: {exc} (無法讀取設定檔)") from exc
    if signature.get("algorithm") != "Ed25519":
        raise ConfError("unsupported signature algorithm (不支援的簽章演算法)")
    if signature.get("key_id") != key_id(anchor):
        raise ConfError("the configuration was signed by another key than the anchor (簽章金鑰與信任錨不符)")
    try:
        anchor.verify(value, canonical_json(configuration))
    except InvalidSignature as exc:
        raise ConfError("the configuration signature does not verify (設定檔簽章驗證失敗)") from exc
    conf = parse_configuration(configuration)
    moment = now or dt.datetime.now(dt.UTC)
    if conf.expires_at <= moment:
        raise ConfError(f"the configuration expired at {conf.expires_at.isoformat()} (設定檔已過期)")
    return conf
