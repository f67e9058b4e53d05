"""Demo registry of three agencies, with gateways, signed transfer records and the city CA.

* 地政局 (LAND) provides ``LAND-REG/parcels`` (land parcel look-up) and ``LAND-REG/owners``.
* 中壢區公所 (ZHONGLI) provides ``HOUSEHOLD/residents`` (resident count per village).
* 文化局 (CULTURE) consumes: ``VENUES`` may call ``parcels`` (permanent) and ``residents`` (until a
  sharing grant's end); its grant on ``owners`` has ended, so calls are refused with ``GrantExpired``.
* When data governance holds an approved, current sharing grant of one of 地政局's datasets to 文化局,
  the ``parcels`` right is linked to it (:func:`link_demo_sharing_grant`), so a 地政局 gateway started
  with ``--grant-check`` checks that grant live on every call. The grant is found through the
  sharing-requests seam (``CITYGOV_EXCHANGE_SHARING_REQUESTS``) and confirmed with the grant look-up
  (``CITYGOV_EXCHANGE_GRANT_LOOKUP``): this app imports nothing from data governance. The step runs on
  every seeding, so it also links a grant that data governance's demo created after this one ran.

The city CA and registry key are created in ``$CITYGOV_VAR_DIR/exchange/ca`` when missing; each member's
gateway certificate and keys go to ``$CITYGOV_VAR_DIR/exchange/gateways/<CODE>`` so the walkthrough of
docs/exchange.md runs as is. Transfer records come from real, signed message logs written with each
gateway's key (synthetic traffic over the last two weeks) and imported after the chain is verified.

Idempotent: nothing is seeded again when the LAND member exists (only the grant link is looked for).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import random
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from citygov.agencies.models import Agency
from citygov.exchange import services
from citygov.exchange.engine import ca as ca_engine
from citygov.exchange.engine.hashing import body_hash
from citygov.exchange.engine.messagelog import Exchange, MessageLog
from citygov.exchange.models import AccessRight, Member, Service, Subsystem

log = logging.getLogger(__name__)

# (agency code, member code, name, TLS port of its demo gateway, {subsystem: [(service, title, paths)]})
DEMO_MEMBERS = (
    ("land", "LAND", "桃園市政府地政局", 5501, {"LAND-REG": [
        ("parcels", "地籍資料查詢 Land parcel look-up", ["/parcels/{section}/{number}"]),
        ("owners", "土地所有權人查詢 Land owner look-up", ["/owners/{section}/{number}"])]}),
    ("do-zhongli", "ZHONGLI", "桃園市中壢區公所", 5502, {"HOUSEHOLD": [
        ("residents", "里別人口統計 Residents per village", ["/villages", "/villages/{village}"])]}),
    ("culture", "CULTURE", "桃園市政府文化局", 5503, {"VENUES": []}),
)


def _openapi(title: str, paths: list[str]) -> dict:
    return {"openapi": "3.0.3", "info": {"title": title, "version": "1.0.0"},
            "paths": {p: {"get": {"summary": title, "responses": {"200": {"description": "OK"}}}} for p in paths}}


def exchange_dir() -> Path:
    """Where the demo keeps the CA and gateway material."""
    return Path(settings.VAR_DIR) / "exchange"


def ensure_ca(now: dt.datetime) -> Path:
    """Create the city CA and the registry signing key when missing; returns the CA directory."""
    ca_dir = exchange_dir() / "ca"
    if not (ca_dir / "ca.pem").exists():
        ca_dir.mkdir(parents=True, exist_ok=True)
        root = ca_engine.new_ca("citygov exchange demo CA", now=now)
        (ca_dir / "ca.key.pem").write_bytes(root.key_pem)
        (ca_dir / "ca.key.pem").chmod(0o600)
        (ca_dir / "ca.pem").write_bytes(root.cert_pem)
        private, public = ca_engine.new_signing_key()
        (ca_dir / "registry.key.pem").write_bytes(private)
        (ca_dir / "registry.key.pem").chmod(0o600)
        (ca_dir / "anchor.pem").write_bytes(public)
    return ca_dir


def seed_exchange_demo(admin) -> None:
    """Seed the demo registry (see the module docstring)."""
    if Member.objects.filter(code="LAND").exists():
        link_demo_sharing_grant(admin)
        return
    agencies = {a.code: a for a in Agency.objects.filter(code__in=[m[0] for m in DEMO_MEMBERS])}
    if len(agencies) != len(DEMO_MEMBERS):
        log.warning("exchange demo skipped: agencies %s are missing", sorted({m[0] for m in DEMO_MEMBERS} - set(agencies)))
        return
    now = timezone.now()
    ca_dir = ensure_ca(now)
    ca_key, ca_pem = (ca_dir / "ca.key.pem").read_bytes(), (ca_dir / "ca.pem").read_bytes()
    members: dict[str, Member] = {}
    for agency_code, code, name, port, subsystems in DEMO_MEMBERS:
        member = services.do_register_member(admin, agency_id=agencies[agency_code].pk, code=code, name=name)
        members[code] = member
        for sub_code, offered in subsystems.items():
            sub = services.do_add_subsystem(admin, member.pk, code=sub_code)
            for service_code, title, paths in offered:
                services.do_add_service(admin, sub.pk, services.ServiceInput(service_code, title, _openapi(title, paths)))
        keys = exchange_dir() / "gateways" / code
        issued = ca_engine.issue_gateway_certificate(ca_key, ca_pem, member.identifier, ["127.0.0.1", "localhost"],
                                                     now=now)
        keys.mkdir(parents=True, exist_ok=True)
        (keys / "cert.pem").write_bytes(issued.cert_pem)
        (keys / "key.pem").write_bytes(issued.key_pem)
        (keys / "key.pem").chmod(0o600)
        private, public = ca_engine.new_signing_key()
        (keys / "sign.key.pem").write_bytes(private)
        (keys / "sign.key.pem").chmod(0o600)
        (keys / "sign.pub.pem").write_bytes(public)
        (keys / "payload.key").write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
        (keys / "payload.key").chmod(0o600)
        services.do_register_gateway(admin, member.pk, address=f"127.0.0.1:{port}",
                                     cert_pem=issued.cert_pem.decode("ascii"), ca_cert_pem=ca_pem)
    venues = Subsystem.objects.get(member=members["CULTURE"], code="VENUES")
    service = {s.code: s for s in Service.objects.filter(subsystem__member__in=members.values())}
    services.do_grant_access(admin, service["parcels"].pk, venues.pk)
    services.do_grant_access(admin, service["residents"].pk, venues.pk, not_after=now + dt.timedelta(days=90),
                             grant_ref="DG-2026-0042")
    services.do_grant_access(admin, service["owners"].pk, venues.pk, not_after=now - dt.timedelta(days=3),
                             grant_ref="DG-2026-0017")
    _seed_traffic(admin, members, service, venues, now)
    link_demo_sharing_grant(admin)


def link_demo_sharing_grant(admin) -> AccessRight | None:
    """Link 文化局 VENUES' right on 地政局 ``parcels`` to a current data-governance sharing grant of a
    地政局 dataset to 文化局, if there is one and the right names no dataset yet; returns the linked right.

    Data governance is read only through the configured seams (see the module docstring); without an
    approved grant covering today nothing changes, and the right stays permanent.
    """
    right = AccessRight.objects.select_related("client__member", "service__subsystem__member").filter(
        service__subsystem__member__code="LAND", service__code="parcels", client__member__code="CULTURE",
        client__code="VENUES").first()
    name, lookup = settings.EXCHANGE.sharing_requests, services.grant_lookup()
    if right is None or right.grant_dataset is not None or not name or lookup is None:
        return None
    owner, requester = right.service.subsystem.member.agency_id, right.client.member.agency_id
    today = timezone.localdate()
    rows = import_string(name)(admin)
    if hasattr(rows, "filter"):
        rows = rows.filter(status="approved", agency_id=owner, requesting_agency_id=requester,
                           period_start__lte=today, period_end__gte=today).order_by("pk")
    for row in rows:
        if (getattr(row, "status", ""), getattr(row, "agency_id", None), getattr(row, "requesting_agency_id", None)) \
                != ("approved", owner, requester) or not lookup(row.dataset_id, requester, today):
            continue
        return services.do_link_sharing_grant(admin, right.pk, grant_dataset=row.dataset_id,
                                              grant_ref=f"DG-{row.pk:04d}")
    return None


def _seed_traffic(admin, members, service, venues, now) -> None:
    """Two weeks of synthetic exchanges, logged and signed by both gateways, then imported."""
    rng = random.Random(20261101)  # fixed seed: the same demo every time
    logs = {}
    for code in ("CULTURE", "LAND", "ZHONGLI"):
        keys = exchange_dir() / "gateways" / code
        # The gateway's own log file: a gateway started later continues this chain.
        path = keys / "messages.jsonl"
        path.unlink(missing_ok=True)
        logs[code] = (MessageLog(path, ca_engine.load_signing_key((keys / "sign.key.pem").read_bytes())), path, keys)
    plan = [("LAND", service["parcels"], 0.02, 0), ("ZHONGLI", service["residents"], 0.04, 0),
            ("LAND", service["owners"], 1.0, 1)]
    events = []
    for provider, svc, error_rate, expired in plan:
        for _ in range(140 if not expired else 12):
            events.append((now - dt.timedelta(minutes=rng.randint(5, 14 * 24 * 60)), provider, svc, error_rate, expired))
    for moment, provider, svc, error_rate, expired in sorted(events, key=lambda e: e[0]):
        x_road_id, duration = str(uuid.uuid4()), int(rng.lognormvariate(3.0, 0.5))
        request = body_hash(x_road_id.encode())
        if expired:
            status, error = 403, "Server.ServerProxy.GrantExpired"
        elif rng.random() < error_rate:
            status, error = 504, "Server.ServerProxy.ServiceTimeout"
        else:
            status, error = 200, ""
        response = body_hash(f"{x_road_id}:{status}".encode()) if not error else ""
        logs[provider][0].append(Exchange(moment.isoformat(), "provider", x_road_id, venues.identifier, svc.identifier,
                                          request, response, status, error, duration))
        logs["CULTURE"][0].append(Exchange(moment.isoformat(), "consumer", x_road_id, venues.identifier,
                                           svc.identifier, request, response, status, error, duration + rng.randint(2, 6)))
    for code, (message_log, path, keys) in logs.items():
        message_log.close()
        services.do_import_message_log(admin, members[code].pk, path, (keys / "sign.pub.pem").read_bytes())
