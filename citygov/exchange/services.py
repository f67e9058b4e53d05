"""Writes to the exchange registry and the signed configuration built from it.

Every ``do_*`` checks the actor's capability (``exchange.manage``: the city runs the registry), validates
identifiers in X-Road form, writes in one transaction and records the change log. Reading the registry
as a configuration (:func:`configuration_payload`) and signing it (:func:`signed_configuration`) need
no actor: the document is what every gateway downloads.

Sharing grants: an access right may name a sharing grant (``grant_ref``, an end date ``not_after``) and
the data-governance dataset it covers (``grant_dataset``). Whether that grant is current is looked up
live through the callable named by ``settings.EXCHANGE.grant_lookup`` (``CITYGOV_EXCHANGE_GRANT_LOOKUP``,
default ``citygov.datagov.queries.sharing_grant_is_current``), resolved with ``import_string`` so this
module imports nothing from the data-governance app. The published configuration carries the result
(:func:`sharing_grant_not_after`), and gateways ask :func:`grant_status` (through the signed
``/api/exchange/grant-status/`` endpoint) on every call under a grant.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Conflict, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.permissions import require_capability, require_writer
from citygov.core.roles import Capability
from citygov.exchange.engine import ca as ca_engine
from citygov.exchange.engine.conf import FORMAT_VERSION, sign_configuration
from citygov.exchange.engine.identifiers import PART, ClientId, IdentifierError, ServiceId
from citygov.exchange.models import (
    INSTANCE,
    MEMBER_CLASSES,
    AccessRight,
    Gateway,
    Member,
    RevokedCertificate,
    Service,
    Subsystem,
    TransferRecord,
    TrustedCA,
)


def _code(value: str, field_name: str) -> str:
    value = (value or "").strip()
    if not PART.match(value):
        raise InvalidInput(_("Use 1-64 letters, digits or - _ . : (no slashes)."), code="bad_identifier",
                           fields={field_name: [_("Use 1-64 letters, digits or - _ . : (no slashes).")]})
    return value


def check_manage_registry(actor) -> None:
    """Only roles holding ``exchange.manage`` (the city administrators) change the registry."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_EXCHANGE)


@dataclass(frozen=True)
class ServiceInput:
    """A service to add to a subsystem."""

    code: str
    title: str
    openapi: dict[str, Any] = field(default_factory=dict)
    store_payloads: bool = False


def do_register_member(actor, *, agency_id: int, code: str, name: str, member_class: str = "GOV") -> Member:
    """Register an agency as an exchange member ``INSTANCE/CLASS/CODE``."""
    check_manage_registry(actor)
    if member_class not in MEMBER_CLASSES:
        raise InvalidInput(_("Unknown member class."), code="bad_member_class",
                           fields={"member_class": [_("Allowed: %(classes)s") % {"classes": ", ".join(MEMBER_CLASSES)}]})
    code = _code(code, "code")
    if not (name or "").strip():
        raise InvalidInput(_("A name is required."), fields={"name": [_("A name is required.")]})
    try:
        with transaction.atomic():
            member = Member.objects.create(agency_id=agency_id, member_class=member_class, code=code,
                                           name=name.strip())
            record_change(actor=actor, action=ChangeAction.CREATE, obj=member, after=snapshot(member))
    except IntegrityError as exc:
        raise Conflict(_("This member is already registered."), code="duplicate_member") from exc
    return member


def do_add_subsystem(actor, member_id: int, *, code: str, name: str = "") -> Subsystem:
    """Add an information system (subsystem) to a member."""
    check_manage_registry(actor)
    code = _code(code, "code")
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        raise NotFound(_("No such member."))
    try:
        with transaction.atomic():
            sub = Subsystem.objects.create(member=member, code=code, name=name.strip())
            record_change(actor=actor, action=ChangeAction.CREATE, obj=sub, after=snapshot(sub),
                          agency_id=member.agency_id)
    except IntegrityError as exc:
        raise Conflict(_("This subsystem already exists."), code="duplicate_subsystem") from exc
    return sub


def do_add_service(actor, subsystem_id: int, data: ServiceInput) -> Service:
    """Add a service, with its OpenAPI 3 description, to a subsystem."""
    check_manage_registry(actor)
    code = _code(data.code, "code")
    if data.openapi and not str(data.openapi.get("openapi", "")).startswith("3."):
        raise InvalidInput(_("The description must be an OpenAPI 3 document."), code="bad_openapi",
                           fields={"openapi": [_("The description must be an OpenAPI 3 document.")]})
    sub = Subsystem.objects.select_related("member").filter(pk=subsystem_id).first()
    if sub is None:
        raise NotFound(_("No such subsystem."))
    try:
        with transaction.atomic():
            service = Service.objects.create(subsystem=sub, code=code, title=data.title.strip() or code,
                                             openapi=data.openapi, store_payloads=data.store_payloads)
            record_change(actor=actor, action=ChangeAction.CREATE, obj=service, after=snapshot(service),
                          agency_id=sub.member.agency_id)
    except IntegrityError as exc:
        raise Conflict(_("This service already exists."), code="duplicate_service") from exc
    return service


def trusted_ca_pems() -> list[bytes]:
    """The imported CA certificates (PEM), oldest first."""
    return [pem.encode("ascii") for pem in TrustedCA.objects.order_by("added_at", "id").values_list("cert_pem",
                                                                                                     flat=True)]


def _verify_gateway_certificate(cert_pem: str, ca_cert_pem: bytes):
    """The certificate if the city CA issued it or it chains to an imported (e.g. government) CA."""
    try:
        data = cert_pem.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ca_engine.CertificateError("the certificate is not PEM (憑證非 PEM 格式)") from exc
    try:
        return ca_engine.verify_issued_by(data, ca_cert_pem)
    except ca_engine.CertificateError as city_error:
        trusted = trusted_ca_pems()
        if not trusted:
            raise city_error
        ca_engine.verify_chain(data, b"".join(trusted), now=timezone.now())
        return ca_engine.load_certificate(data)


def do_import_ca_chain(actor, chain_pem: bytes, *, name: str) -> list[TrustedCA]:
    """Trust the CA certificates of a chain file (e.g. the government CA's root and intermediates): each
    must be a CA, valid now, and chain to the file's self-signed root. Already trusted ones are skipped;
    a bad file changes nothing. Returns the rows added."""
    check_manage_registry(actor)
    try:
        certs = ca_engine.verify_ca_bundle(chain_pem, now=timezone.now())
    except ca_engine.CertificateError as exc:
        raise InvalidInput(_("The chain file is not a valid CA chain."), code="bad_chain",
                           fields={"chain": [str(exc)]}) from exc
    name = (name or "").strip()[:200] or "imported CA"
    have = set(TrustedCA.objects.values_list("cert_sha256", flat=True))
    added = []
    with transaction.atomic():
        for cert in certs:
            sha = ca_engine.fingerprint(cert)
            if sha in have:
                continue
            row = TrustedCA.objects.create(name=name, subject=cert.subject.rfc4514_string()[:500],
                                           cert_pem=ca_engine.pem(cert).decode("ascii"), cert_sha256=sha,
                                           not_after=cert.not_valid_after_utc)
            record_change(actor=actor, action=ChangeAction.CREATE, obj=row,
                          after=snapshot(row, ["name", "subject", "cert_sha256", "not_after"]),
                          note="trusted CA imported from a chain file")
            have.add(sha)
            added.append(row)
    return added


def do_register_gateway(actor, member_id: int, *, address: str, cert_pem: str, ca_cert_pem: bytes) -> Gateway:
    """Register a member's gateway with its TLS certificate, which must be issued by the city CA
    (``ca_cert_pem``) or chain to an imported CA (:func:`do_import_ca_chain`, e.g. the government CA)."""
    check_manage_registry(actor)
    host, _sep, port = (address or "").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(_("The address must be host:port."), code="bad_address",
                           fields={"address": [_("The address must be host:port.")]})
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        raise NotFound(_("No such member."))
    try:
        cert = _verify_gateway_certificate(cert_pem, ca_cert_pem)
    except ca_engine.CertificateError as exc:
        raise InvalidInput(_("The certificate was not issued by the city CA or an imported CA."),
                           code="bad_certificate", fields={"cert_pem": [str(exc)]}) from exc
    try:
        with transaction.atomic():
            gateway = Gateway.objects.create(member=member, address=address, cert_pem=cert_pem,
                                             cert_sha256=ca_engine.fingerprint(cert),
                                             serial=ca_engine.serial_hex(cert))
            record_change(actor=actor, action=ChangeAction.CREATE, obj=gateway,
                          after=snapshot(gateway, ["member", "address", "cert_sha256", "serial"]),
                          agency_id=member.agency_id)
    except IntegrityError as exc:
        raise Conflict(_("This certificate is already registered."), code="duplicate_gateway") from exc
    return gateway


def do_import_gateway_certificate(actor, member_id: int, *, address: str, cert_pem: str, chain_pem: bytes,
                                  city_ca_pem: bytes, name: str = "") -> Gateway:
    """Register a gateway whose certificate another CA (e.g. the government CA) issued: the certificate
    must chain through ``chain_pem`` (that CA's intermediates and root) to its root; the chain's CAs are
    trusted (:func:`do_import_ca_chain`) and the gateway registered in one transaction, or nothing changes."""
    check_manage_registry(actor)
    try:
        ca_engine.verify_chain(cert_pem.encode("ascii"), chain_pem, now=timezone.now())
    except (ca_engine.CertificateError, UnicodeEncodeError) as exc:
        raise InvalidInput(_("The certificate does not chain to the CA chain file."), code="bad_certificate",
                           fields={"cert_pem": [str(exc)]}) from exc
    with transaction.atomic():
        do_import_ca_chain(actor, chain_pem, name=name)
        return do_register_gateway(actor, member_id, address=address, cert_pem=cert_pem, ca_cert_pem=city_ca_pem)


def do_grant_access(actor, service_id: int, client_id: int, *, not_after: dt.datetime | None = None,
                    grant_ref: str = "", grant_dataset: int | None = None) -> AccessRight:
    """Allow a client subsystem to call a service (optionally until the end of a sharing grant, and only
    while the data-governance sharing grant on dataset ``grant_dataset`` to the client's agency is current)."""
    check_manage_registry(actor)
    if grant_dataset is not None and (not isinstance(grant_dataset, int) or grant_dataset <= 0):
        raise InvalidInput(_("A dataset id is a positive whole number."), code="bad_dataset",
                           fields={"grant_dataset": [_("A dataset id is a positive whole number.")]})
    service = Service.objects.select_related("subsystem__member").filter(pk=service_id).first()
    client = Subsystem.objects.filter(pk=client_id).first()
    if service is None or client is None:
        raise NotFound(_("No such service or subsystem."))
    try:
        with transaction.atomic():
            right = AccessRight.objects.create(service=service, client=client, not_after=not_after,
                                               grant_ref=grant_ref.strip(), grant_dataset=grant_dataset)
            record_change(actor=actor, action=ChangeAction.CREATE, obj=right, after=snapshot(right),
                          agency_id=service.subsystem.member.agency_id)
    except IntegrityError as exc:
        raise Conflict(_("This access right already exists."), code="duplicate_access_right") from exc
    return right


def do_link_sharing_grant(actor, right_id: int, *, grant_dataset: int, grant_ref: str = "") -> AccessRight:
    """Make an existing access right depend on the data-governance sharing grant on dataset
    ``grant_dataset`` to the client's agency (looked up live from then on), and log the change."""
    check_manage_registry(actor)
    if not isinstance(grant_dataset, int) or isinstance(grant_dataset, bool) or grant_dataset <= 0:
        raise InvalidInput(_("A dataset id is a positive whole number."), code="bad_dataset",
                           fields={"grant_dataset": [_("A dataset id is a positive whole number.")]})
    with transaction.atomic():
        right = AccessRight.objects.select_for_update().select_related("service__subsystem__member").filter(
            pk=right_id).first()
        if right is None:
            raise NotFound(_("No such access right."))
        before = snapshot(right)
        right.grant_dataset = grant_dataset
        right.grant_ref = (grant_ref or right.grant_ref).strip()[:100]
        right.save(update_fields=["grant_dataset", "grant_ref"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=right, before=before, after=snapshot(right),
                      agency_id=right.service.subsystem.member.agency_id, note="sharing grant linked")
    return right


def do_revoke_certificate(actor, serial: str, *, reason: str = "") -> RevokedCertificate:
    """Revoke a gateway certificate by serial; the next published configuration lists it."""
    check_manage_registry(actor)
    serial = (serial or "").strip().lower()
    try:
        int(serial, 16)
    except ValueError as exc:
        raise InvalidInput(_("A serial is a hexadecimal number."), code="bad_serial",
                           fields={"serial": [_("A serial is a hexadecimal number.")]}) from exc
    try:
        with transaction.atomic():
            row = RevokedCertificate.objects.create(serial=serial, reason=reason.strip()[:200])
            record_change(actor=actor, action=ChangeAction.CREATE, obj=row, after=snapshot(row))
    except IntegrityError as exc:
        raise Conflict(_("This certificate is already revoked."), code="already_revoked") from exc
    return row


@functools.lru_cache(maxsize=8)
def _import_lookup(name: str) -> Callable[..., bool]:
    try:
        return import_string(name)
    except ImportError as exc:
        raise ImproperlyConfigured(f"CITYGOV_EXCHANGE_GRANT_LOOKUP={name!r} cannot be imported: {exc} "
                                   f"(CITYGOV_EXCHANGE_GRANT_LOOKUP 無法載入)") from exc


def grant_lookup() -> Callable[..., bool] | None:
    """The live sharing-grant look-up ``f(dataset_id, requesting_agency_id, on: date) -> bool`` named by
    ``settings.EXCHANGE.grant_lookup``, or None when it is switched off."""
    name = settings.EXCHANGE.grant_lookup
    return _import_lookup(name) if name else None


def sharing_grant_is_current(right: AccessRight, *, now: dt.datetime | None = None) -> bool:
    """Whether the access right's sharing grant is current at ``now``: its stored end has not passed and,
    when it names a data-governance dataset, that module reports a current grant to the client's agency
    (on the Asia/Taipei date). A right without a grant is always current."""
    now = now or timezone.now()
    if right.not_after is not None and right.not_after <= now:
        return False
    lookup = grant_lookup() if right.grant_dataset is not None else None
    if lookup is None:
        return True
    return bool(lookup(right.grant_dataset, right.client.member.agency_id, timezone.localdate(now)))


def sharing_grant_not_after(right: AccessRight, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """The end of the sharing grant behind an access right as published in the configuration: the stored
    ``not_after``, or ``now`` when the live grant is no longer current (gateways then refuse it)."""
    now = now or timezone.now()
    if right.grant_dataset is not None and not sharing_grant_is_current(right, now=now):
        return min(right.not_after, now) if right.not_after else now
    return right.not_after


@dataclass(frozen=True)
class GrantStatus:
    """Whether ``client`` may call ``service`` under its sharing grant right now (for the gateways)."""

    service: str
    client: str
    current: bool
    grant: str
    checked_at: dt.datetime


def grant_status(service: str, client: str, *, now: dt.datetime | None = None) -> GrantStatus:
    """The live status of the access right of ``client`` on ``service`` (X-Road identifiers).

    No such access right reads as not current. Raises :class:`InvalidInput` for malformed identifiers.
    """
    now = now or timezone.now()
    try:
        sid, cid = ServiceId.parse(service), ClientId.parse(client)
    except IdentifierError as exc:
        raise InvalidInput(_("Malformed X-Road identifier."), code="bad_identifier",
                           fields={"service": [str(exc)]}) from exc
    right = None
    if sid.instance == INSTANCE and cid.instance == INSTANCE:
        right = AccessRight.objects.select_related("client__member").filter(
            service__code=sid.service_code, service__subsystem__code=sid.subsystem,
            service__subsystem__member__member_class=sid.member_class,
            service__subsystem__member__code=sid.member_code,
            client__code=cid.subsystem, client__member__member_class=cid.member_class,
            client__member__code=cid.member_code).first()
    current = right is not None and sharing_grant_is_current(right, now=now)
    return GrantStatus(str(sid), str(cid), current, right.grant_ref if right else "", now)


def configuration_payload(ca_certs_pem: Iterable[bytes], *, now: dt.datetime | None = None,
                          hours: int = 24 * 7) -> dict[str, Any]:
    """The registry as a configuration payload (see ``citygov.exchange.engine.conf``); the imported CAs
    are published after ``ca_certs_pem`` (the city CA)."""
    now = now or timezone.now()
    ca_certs_pem = [*ca_certs_pem, *trusted_ca_pems()]
    members = []
    for member in Member.objects.prefetch_related("gateways", "subsystems__services").order_by("member_class", "code"):
        members.append({
            "id": member.identifier, "name": member.name,
            "gateways": [{"address": g.address, "cert_sha256": g.cert_sha256} for g in member.gateways.all()],
            "subsystems": [{"code": s.code, "services": [
                {"code": v.code, "title": v.title, "openapi": v.openapi, "store_payloads": v.store_payloads}
                for v in s.services.all()]} for s in member.subsystems.all()],
        })
    rights = []
    for right in AccessRight.objects.select_related("service__subsystem__member", "client__member"):
        end = sharing_grant_not_after(right, now=now)
        rights.append({"service": right.service.identifier, "client": right.client.identifier,
                       "not_after": end.isoformat() if end else None, "grant": right.grant_ref or None})
    return {
        "version": FORMAT_VERSION, "instance": INSTANCE,
        "serial": int(now.timestamp()),
        "generated_at": now.isoformat(), "expires_at": (now + dt.timedelta(hours=hours)).isoformat(),
        "members": members, "access_rights": rights,
        "revoked_serials": sorted(RevokedCertificate.objects.values_list("serial", flat=True)),
        "ca_certs_pem": "".join(pem.decode("ascii") for pem in ca_certs_pem),
    }


def signed_configuration(registry_key_pem: bytes, ca_certs_pem: Iterable[bytes], *, hours: int = 24 * 7) -> bytes:
    """The signed configuration document gateways download."""
    key = ca_engine.load_signing_key(registry_key_pem)
    return sign_configuration(key, configuration_payload(ca_certs_pem, hours=hours))


@dataclass(frozen=True)
class LogImport:
    """Outcome of importing a gateway's message log."""

    records: int
    imported: int
    problems: tuple[str, ...] = ()


def do_import_message_log(actor, member_id: int, path, public_key_pem: bytes) -> LogImport:
    """Import a gateway's message log into the transfer records, after verifying its whole chain.

    A log whose chain is broken is refused as a whole (nothing imported; the problems are returned by
    line). Re-importing the same log, or a longer copy of it, imports only the new records.
    """
    from citygov.exchange.engine.conf import ConfError, load_public_key
    from citygov.exchange.engine.messagelog import read_log, verify_log

    check_manage_registry(actor)
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        raise NotFound(_("No such member."))
    try:
        key = load_public_key(public_key_pem)
        count, problems = verify_log(path, key)
    except ConfError as exc:
        raise InvalidInput(str(exc), code="bad_key") from exc
    except OSError as exc:
        raise InvalidInput(_("The log file cannot be read."), code="unreadable_file") from exc
    if problems:
        return LogImport(count, 0, tuple(f"line {p.line}: {p.message}" for p in problems))
    have = set(TransferRecord.objects.filter(member=member).values_list("record_hash", flat=True))
    new = []
    for _line, record, _raw in read_log(path):
        if record.get("checkpoint") or record.get("timestamp") or record["hash"] in have:
            continue
        new.append(TransferRecord(
            member=member, side=record["side"][:10], seq=record["seq"], time=dt.datetime.fromisoformat(record["time"]),
            x_road_id=record["x_road_id"][:100], client=record["client"][:300], service=record["service"][:400],
            request_hash=record["request_hash"][:100], response_hash=record["response_hash"][:100],
            status=record["status"], error=record["error"][:100], duration_ms=max(0, int(record["duration_ms"])),
            record_hash=record["hash"]))
    with transaction.atomic():
        TransferRecord.objects.bulk_create(new, batch_size=1000)
        if new:
            record_change(actor=actor, action=ChangeAction.ACTION, obj=member, agency_id=member.agency_id,
                          note=f"imported {len(new)} transfer records from a verified message log")
    return LogImport(count, len(new))


def publish_configuration_file(ca_dir, out, *, hours: int = 24 * 7) -> bool:
    """Sign the registry into ``out`` (atomically: gateways never read a half-written file).

    Returns False, writing nothing, when the CA directory has no registry key (``exchange ca-init`` not run).
    """
    import os
    from pathlib import Path

    ca_dir, out = Path(ca_dir), Path(out)
    try:
        key, ca_pem = (ca_dir / "registry.key.pem").read_bytes(), (ca_dir / "ca.pem").read_bytes()
    except FileNotFoundError:
        return False
    document = signed_configuration(key, [ca_pem], hours=hours)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(document)
    os.replace(tmp, out)
    return True
