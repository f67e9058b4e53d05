"""``exchange`` command: the city CA, the signed configuration, gateways and their message logs.

Examples::

    citygov exchange ca-init                                      # CA + registry signing key in the CA dir
    citygov exchange ca-issue --member TYC/GOV/A001 --host 127.0.0.1 --out /srv/gw-a001
    citygov exchange ca-revoke --serial 1f3a... --user admin
    citygov exchange publish --out /srv/conf.json                 # sign the registry as a configuration
    citygov exchange gateway --member TYC/GOV/A001 --listen 127.0.0.1:8080 --listen-tls 127.0.0.1:5500 \\
        --conf /srv/conf.json --anchor /srv/anchor.pem --keys /srv/gw-a001 --backend HR/persons=http://127.0.0.1:9000
    citygov exchange verify-log /srv/gw-a001/messages.jsonl --key /srv/gw-a001/sign.pub.pem --format jsonl

Exit codes: 0 success, 1 failure (a broken log chain, a refused configuration), 2 bad input.
The CA directory defaults to ``$CITYGOV_VAR_DIR/exchange/ca`` (``--ca-dir``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from citygov.core.errors import ServiceError
from citygov.exchange.engine import ca as ca_engine
from citygov.exchange.engine.conf import ConfError, load_public_key
from citygov.exchange.engine.identifiers import IdentifierError, MemberId
from citygov.exchange.engine.messagelog import verify_log_detail

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def _ca_dir(options) -> Path:
    return Path(options.get("ca_dir") or Path(settings.VAR_DIR) / "exchange" / "ca")


def _read(path: Path | str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {what} {path}: {exc.strerror} (無法讀取檔案)", returncode=EXIT_BAD_INPUT) from exc


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if secret:
        path.chmod(0o600)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"an address is HOST:PORT, not {text!r} (位址格式為 HOST:PORT)", returncode=EXIT_BAD_INPUT)
    return host.strip("[]"), int(port)


def _payload_key(keys: Path) -> bytes | None:
    """The gateway's AES-256 payload key (``KEYS/payload.key``, base64), or None when it has none."""
    path = keys / "payload.key"
    if not path.exists():
        return None
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except ValueError as exc:
        raise CommandError(f"{path} is not base64 (金鑰格式錯誤)", returncode=EXIT_BAD_INPUT) from exc
    if len(key) != 32:
        raise CommandError(f"{path} must hold 32 bytes (金鑰長度錯誤)", returncode=EXIT_BAD_INPUT)
    return key


def _user(username: str):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {username!r} (查無此使用者)", returncode=EXIT_BAD_INPUT)
    return user


class Command(BaseCommand):
    help = "Exchange: city CA, signed configuration, gateways and message logs."
    # A gateway is a standalone process that touches no database or URL map: project checks are not its concern.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("ca-init", help="create the city CA and the registry's configuration signing key")
        p.add_argument("--ca-dir")
        p.add_argument("--name", default="citygov exchange CA")
        p.add_argument("--force", action="store_true", help="replace an existing CA")
        p = sub.add_parser("ca-issue", help="issue a gateway TLS certificate and a message-log signing key")
        p.add_argument("--ca-dir")
        p.add_argument("--member", required=True)
        p.add_argument("--host", action="append", default=[], help="host name or IP in the certificate (repeatable)")
        p.add_argument("--out", required=True, help="directory for cert.pem, key.pem, sign.key.pem, sign.pub.pem")
        p.add_argument("--days", type=int, default=365)
        p = sub.add_parser("ca-import", help="trust another CA's chain (e.g. the government CA) and optionally "
                                             "register a gateway certificate it issued")
        p.add_argument("--ca-dir")
        p.add_argument("--chain", required=True, help="PEM file with that CA's intermediates and root")
        p.add_argument("--name", default="", help="a name for the CA, e.g. 政府憑證管理中心")
        p.add_argument("--member", help="register a gateway of this member (INSTANCE/CLASS/MEMBER)…")
        p.add_argument("--address", help="…listening at HOST:PORT…")
        p.add_argument("--cert", help="…with this certificate (PEM) issued through the chain")
        p.add_argument("--user", required=True)
        p = sub.add_parser("ca-issue-tsa", help="issue the time-stamping authority's certificate and key")
        p.add_argument("--ca-dir")
        p.add_argument("--name", default="citygov exchange TSA")
        p.add_argument("--out", required=True, help="directory for tsa.pem and tsa.key.pem")
        p.add_argument("--days", type=int, default=1825)
        p = sub.add_parser("tsa", help="run the city's time-stamping authority (until SIGTERM / Ctrl-C)")
        p.add_argument("--listen", required=True, help="HOST:PORT (plain HTTP, POST /)")
        p.add_argument("--keys", required=True, help="directory written by ca-issue-tsa")
        p = sub.add_parser("ca-revoke", help="revoke a gateway certificate by serial (hex)")
        p.add_argument("--serial", required=True)
        p.add_argument("--reason", default="")
        p.add_argument("--user", required=True)
        p = sub.add_parser("ca-crl", help="write the CA's certificate revocation list (PEM)")
        p.add_argument("--ca-dir")
        p.add_argument("--out", required=True)
        p = sub.add_parser("publish", help="sign the registry as a configuration document")
        p.add_argument("--ca-dir")
        p.add_argument("--out", required=True)
        p.add_argument("--hours", type=int, default=24 * 7, help="validity of the document")
        p = sub.add_parser("gateway", help="run a member's gateway (until SIGTERM / Ctrl-C)")
        p.add_argument("--member", required=True)
        p.add_argument("--listen", required=True, help="consumer side HOST:PORT (plain HTTP, local systems)")
        p.add_argument("--listen-tls", required=True, help="provider side HOST:PORT (mutual TLS, other gateways)")
        p.add_argument("--conf", required=True, help="configuration document: a path or an http(s) URL")
        p.add_argument("--anchor", required=True, help="the registry's public key (PEM)")
        p.add_argument("--keys", required=True, help="directory written by ca-issue")
        p.add_argument("--log", help="message log file (default KEYS/messages.jsonl)")
        p.add_argument("--backend", action="append", default=[], help="SUBSYSTEM/SERVICE=URL (repeatable)")
        p.add_argument("--timeout", type=float, default=10.0)
        p.add_argument("--refresh", type=float, default=60.0, help="seconds between configuration downloads")
        p.add_argument("--max-body", type=int, default=10 * 1024 * 1024)
        p.add_argument("--retention-days", type=float, default=30.0,
                       help="message-log records older than this move to KEYS/archive (checked hourly)")
        p.add_argument("--grant-check", default=None,
                       help="the registry's grant-status URL, asked on every call under a sharing grant "
                            "(default CITYGOV_EXCHANGE_GRANT_CHECK_URL; 'off' to only trust the configuration)")
        p.add_argument("--grant-cache", type=float, default=0.0,
                       help="seconds a 'current' grant answer stands per access right, 0 to 30: a revoked grant is "
                            "refused at the latest this long after the registry last said it was current "
                            "(default 0: ask on every call)")
        p.add_argument("--tsa", default=None,
                       help="time-stamping authority URL (default CITYGOV_EXCHANGE_TSA_URL; 'off' for none)")
        p.add_argument("--timestamp-interval", type=float, default=60.0, help="seconds between log time stamps")
        p.add_argument("--timestamp-max-failure", type=float, default=4 * 3600.0,
                       help="refuse traffic when the log could not be time-stamped for this many seconds")
        p = sub.add_parser("import-log", help="verify a gateway's message log and import its transfer records")
        p.add_argument("path")
        p.add_argument("--member", required=True, help="the gateway's member id INSTANCE/CLASS/MEMBER")
        p.add_argument("--key", required=True, help="the gateway's public signing key (sign.pub.pem)")
        p.add_argument("--user", required=True)
        p = sub.add_parser("read-payload", help="decrypt the stored payload of one exchange (services that store them)")
        p.add_argument("path")
        p.add_argument("--x-road-id", required=True)
        p.add_argument("--keys", required=True, help="the gateway's key directory (payload.key)")
        p = sub.add_parser("verify-log", help="verify a message log's hash chain and signatures")
        p.add_argument("path")
        p.add_argument("--key", required=True, help="the gateway's public signing key (sign.pub.pem)")
        p.add_argument("--tsa-ca", help="CA certificate(s) (PEM) that issue TSA certificates: verify the time stamps")
        p.add_argument("--format", choices=["text", "jsonl"], default="text")

    def handle(self, *args, **options) -> None:
        action = options["action"].replace("-", "_")
        try:
            getattr(self, f"do_{action}")(options)
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=EXIT_FAILURE if exc.status in (403, 409) else EXIT_BAD_INPUT) \
                from exc
        except (ConfError, ca_engine.CertificateError) as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILURE) from exc
        except IdentifierError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from exc

    # --- CA ---------------------------------------------------------------------------------------------
    def do_ca_init(self, options) -> None:
        directory = _ca_dir(options)
        if (directory / "ca.pem").exists() and not options["force"]:
            raise CommandError(f"a CA already exists in {directory} (use --force to replace it) (CA 已存在)",
                               returncode=EXIT_FAILURE)
        issued = ca_engine.new_ca(options["name"], now=dt.datetime.now(dt.UTC))
        _write(directory / "ca.key.pem", issued.key_pem, secret=True)
        _write(directory / "ca.pem", issued.cert_pem)
        private, public = ca_engine.new_signing_key()
        _write(directory / "registry.key.pem", private, secret=True)
        _write(directory / "anchor.pem", public)
        self.stdout.write(f"CA and registry key written to {directory}; anchor key: {directory / 'anchor.pem'}")

    def do_ca_issue(self, options) -> None:
        directory = _ca_dir(options)
        member = MemberId.parse(options["member"])
        issued = ca_engine.issue_gateway_certificate(_read(directory / "ca.key.pem", "the CA key"),
                                                     _read(directory / "ca.pem", "the CA certificate"), str(member),
                                                     options["host"] or ["127.0.0.1", "localhost"],
                                                     now=dt.datetime.now(dt.UTC), days=options["days"])
        out = Path(options["out"])
        _write(out / "key.pem", issued.key_pem, secret=True)
        _write(out / "cert.pem", issued.cert_pem)
        private, public = ca_engine.new_signing_key()
        _write(out / "sign.key.pem", private, secret=True)
        _write(out / "sign.pub.pem", public)
        _write(out / "payload.key", base64.b64encode(os.urandom(32)) + b"\n", secret=True)
        self.stdout.write(json.dumps({"member": str(member), "serial": issued.serial_hex, "sha256": issued.sha256,
                                      "cert": str(out / "cert.pem")}))

    def do_ca_import(self, options) -> None:
        from citygov.exchange.models import Member
        from citygov.exchange.services import do_import_ca_chain, do_import_gateway_certificate

        user = _user(options["user"])
        chain = _read(options["chain"], "the CA chain file")
        wanted = [options["member"], options["address"], options["cert"]]
        if any(wanted) and not all(wanted):
            raise CommandError("--member, --address and --cert go together (三者須一併提供)", returncode=EXIT_BAD_INPUT)
        if not any(wanted):
            added = do_import_ca_chain(user, chain, name=options["name"])
            self.stdout.write(json.dumps({"trusted": [row.subject for row in added]}, ensure_ascii=False))
            return
        member_id = MemberId.parse(options["member"])
        member = Member.objects.filter(member_class=member_id.member_class, code=member_id.member_code).first()
        if member is None:
            raise CommandError(f"no member {member_id} in the registry (查無此成員)", returncode=EXIT_BAD_INPUT)
        cert_pem = _read(options["cert"], "the certificate").decode("ascii", "replace")
        gateway = do_import_gateway_certificate(user, member.pk, address=options["address"], cert_pem=cert_pem,
                                                chain_pem=chain, name=options["name"],
                                                city_ca_pem=_read(_ca_dir(options) / "ca.pem", "the city CA"))
        self.stdout.write(json.dumps({"member": str(member_id), "address": gateway.address,
                                      "sha256": gateway.cert_sha256, "serial": gateway.serial}))

    def do_ca_issue_tsa(self, options) -> None:
        directory = _ca_dir(options)
        issued = ca_engine.issue_tsa_certificate(_read(directory / "ca.key.pem", "the CA key"),
                                                 _read(directory / "ca.pem", "the CA certificate"), options["name"],
                                                 now=dt.datetime.now(dt.UTC), days=options["days"])
        out = Path(options["out"])
        _write(out / "tsa.key.pem", issued.key_pem, secret=True)
        _write(out / "tsa.pem", issued.cert_pem)
        self.stdout.write(json.dumps({"serial": issued.serial_hex, "sha256": issued.sha256,
                                      "cert": str(out / "tsa.pem")}))

    def do_tsa(self, options) -> None:
        from citygov.exchange.engine.timestamp import TimeStampAuthority, TimestampError, serve_tsa

        keys = Path(options["keys"])
        try:
            tsa = TimeStampAuthority(_read(keys / "tsa.key.pem", "the TSA key"), _read(keys / "tsa.pem", "the TSA "
                                                                                        "certificate"))
        except TimestampError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from exc
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())

        def ready(address: str) -> None:
            self.stdout.write(json.dumps({"ready": True, "tsa": address}))
            self.stdout.flush()

        try:
            serve_tsa(tsa, _address(options["listen"]), ready=ready, stop=stop)
        except OSError as exc:
            raise CommandError(f"the TSA cannot start: {exc} (時戳服務無法啟動)", returncode=EXIT_FAILURE) from exc

    def do_ca_revoke(self, options) -> None:
        from citygov.exchange.services import do_revoke_certificate

        row = do_revoke_certificate(_user(options["user"]), options["serial"], reason=options["reason"])
        self.stdout.write(f"revoked {row.serial}; publish a new configuration so gateways refuse it")

    def do_ca_crl(self, options) -> None:
        from citygov.exchange.models import RevokedCertificate

        directory = _ca_dir(options)
        pem = ca_engine.build_crl(_read(directory / "ca.key.pem", "the CA key"),
                                  _read(directory / "ca.pem", "the CA certificate"),
                                  RevokedCertificate.objects.values_list("serial", "revoked_at"),
                                  now=dt.datetime.now(dt.UTC))
        _write(Path(options["out"]), pem)
        self.stdout.write(f"CRL written to {options['out']}")

    # --- configuration --------------------------------------------------------------------------------
    def do_publish(self, options) -> None:
        from citygov.exchange.services import publish_configuration_file

        directory = _ca_dir(options)
        if not publish_configuration_file(directory, Path(options["out"]), hours=options["hours"]):
            raise CommandError(f"no registry key in {directory}: run `citygov exchange ca-init` (尚未建立 CA)",
                               returncode=EXIT_FAILURE)
        self.stdout.write(f"configuration written to {options['out']}")

    # --- gateway ----------------------------------------------------------------------------------------
    def do_gateway(self, options) -> None:
        from citygov.exchange.engine.gateway import GatewaySettings, run
        from citygov.exchange.engine.grants import RegistryGrantChecker

        keys = Path(options["keys"])
        backends = {}
        for item in options["backend"]:
            name, sep, url = item.partition("=")
            if not sep or name.count("/") != 1 or not url.startswith(("http://", "https://")):
                raise CommandError(f"--backend is SUBSYSTEM/SERVICE=URL, not {item!r}", returncode=EXIT_BAD_INPUT)
            backends[name] = url
        anchor_pem = _read(options["anchor"], "the anchor key")
        grant_url = options["grant_check"] if options["grant_check"] is not None else settings.EXCHANGE.grant_check_url
        grant_checker = None
        if grant_url and grant_url != "off":
            try:
                grant_checker = RegistryGrantChecker(grant_url, load_public_key(anchor_pem),
                                                     timeout=min(5.0, options["timeout"]),
                                                     cache_seconds=options["grant_cache"])
            except ValueError as exc:
                raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from exc
        tsa_url = options["tsa"] if options["tsa"] is not None else settings.EXCHANGE.tsa_url
        if tsa_url == "off":
            tsa_url = ""
        if tsa_url and not tsa_url.startswith(("http://", "https://")):
            raise CommandError(f"--tsa is an http(s) URL, not {tsa_url!r} (時戳服務網址錯誤)", returncode=EXIT_BAD_INPUT)
        if options["timestamp_interval"] <= 0 or options["timestamp_max_failure"] <= 0:
            raise CommandError("time-stamp intervals must be positive (時戳間隔須為正數)", returncode=EXIT_BAD_INPUT)
        gw_settings = GatewaySettings(
            member=MemberId.parse(options["member"]), listen=_address(options["listen"]),
            listen_tls=_address(options["listen_tls"]), conf_source=options["conf"],
            anchor_pem=anchor_pem, cert_pem=_read(keys / "cert.pem", "the certificate"),
            key_pem=_read(keys / "key.pem", "the TLS key"), signing_key_pem=_read(keys / "sign.key.pem", "the signing key"),
            log_path=Path(options["log"] or keys / "messages.jsonl"), backends=backends, timeout=options["timeout"],
            refresh_seconds=options["refresh"], max_body=options["max_body"],
            retention_days=options["retention_days"], payload_key=_payload_key(keys), grant_is_current=grant_checker,
            tsa_url=tsa_url, timestamp_interval=options["timestamp_interval"],
            timestamp_max_failure=options["timestamp_max_failure"],
        )
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())

        def ready(addresses: dict[str, str]) -> None:
            self.stdout.write(json.dumps({"ready": True, "member": options["member"], **addresses}))
            self.stdout.flush()

        try:
            run(gw_settings, ready=ready, stop=stop)
        except OSError as exc:
            raise CommandError(f"the gateway cannot start: {exc} (閘道無法啟動)", returncode=EXIT_FAILURE) from exc

    def do_import_log(self, options) -> None:
        from citygov.exchange.models import Member
        from citygov.exchange.services import do_import_message_log

        user = _user(options["user"])
        member_id = MemberId.parse(options["member"])
        member = Member.objects.filter(member_class=member_id.member_class, code=member_id.member_code).first()
        if member is None:
            raise CommandError(f"no member {member_id} in the registry (查無此成員)", returncode=EXIT_BAD_INPUT)
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"no such log {path} (查無紀錄檔)", returncode=EXIT_BAD_INPUT)
        result = do_import_message_log(user, member.pk, path, _read(options["key"], "the public key"))
        for problem in result.problems:
            sys.stderr.write(f"{path}: {problem}\n")
        if result.problems:
            raise CommandError("the message log chain is broken: nothing imported (雜湊鏈斷裂，未匯入)",
                               returncode=EXIT_FAILURE)
        self.stdout.write(f"{result.records} records verified, {result.imported} imported")

    def do_read_payload(self, options) -> None:
        from citygov.exchange.engine.messagelog import PayloadError, open_payload, read_log

        key = _payload_key(Path(options["keys"]))
        if key is None:
            raise CommandError("no payload.key in the key directory (缺少內容加密金鑰)", returncode=EXIT_BAD_INPUT)
        for _line, record, _raw in read_log(Path(options["path"])):
            if record and record.get("x_road_id") == options["x_road_id"] and record.get("payload"):
                try:
                    request, response = open_payload(key, options["x_road_id"], record["payload"])
                except PayloadError as exc:
                    raise CommandError(str(exc), returncode=EXIT_FAILURE) from exc
                self.stdout.write(json.dumps({"x_road_id": options["x_road_id"], "side": record["side"],
                                              "request": request.decode("utf-8", "replace"),
                                              "response": response.decode("utf-8", "replace")}, ensure_ascii=False))
                return
        raise CommandError("no stored payload for this X-Road-Id (查無此筆內容)", returncode=EXIT_FAILURE)

    def do_verify_log(self, options) -> None:
        key = load_public_key(_read(options["key"], "the public key"))
        tsa_ca = _read(options["tsa_ca"], "the TSA's CA certificate") if options["tsa_ca"] else None
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"no such log {path} (查無紀錄檔)", returncode=EXIT_BAD_INPUT)
        result = verify_log_detail(path, key, tsa_ca_pem=tsa_ca)
        count, problems = result.records, result.problems
        stamps = {"timestamps": result.timestamps, "timestamps_verified": tsa_ca is not None}
        if tsa_ca is not None:
            stamps.update({"stamped_through_seq": result.stamped_through, "last_seq": result.last_seq,
                           "last_stamp": result.last_stamp.isoformat() if result.last_stamp else None})
        if options["format"] == "jsonl":
            for p in problems:
                self.stdout.write(json.dumps({"line": p.line, "problem": p.message}, ensure_ascii=False))
            self.stdout.write(json.dumps({"records": count, "ok": not problems, **stamps}))
        else:
            for p in problems:
                sys.stderr.write(f"{path}:{p.line}: {p.message}\n")
            note = f"{result.timestamps} time stamps"
            if tsa_ca is not None:
                note += (f" verified, records through seq {result.stamped_through} of {result.last_seq} stamped "
                         f"(時戳已驗證)")
            self.stdout.write(f"{count} records, {note}, "
                              f"{'intact (完整)' if not problems else f'{len(problems)} problems (有誤)'}")
        if problems:
            raise CommandError("the message log chain is broken (訊息紀錄雜湊鏈斷裂)", returncode=EXIT_FAILURE)
